"""FlowExport and FlowImport: share a flow's outputs as a module of external task classes.

The task classes of d6tflow 0.2.8's TestFlowExports (tests/test_workflow.py there) come first;
the generated text differs from d6tflow's only where it must (daskflow instead of luigi).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import daskflow as d6tflow
from daskflow.errors import ParameterError, TaskIncompleteError, WorkflowError
from daskflow.export import FlowExport, FlowImport

HEADER = '''"""Written by daskflow.FlowExport: tasks that load outputs made elsewhere.

Load with daskflow.FlowImport(path=<this folder>, module=<this file>, path_data=<data root>).
"""

'''


class Color(enum.Enum):
    red = 1
    blue = 2


class Task1A0(d6tflow.tasks.TaskCache):
    pass


class Task1A(Task1A0):
    persist = ["df", "df2"]  # noqa: RUF012 (d6tflow style)
    idx = d6tflow.IntParameter(default=1)
    idx2 = d6tflow.Parameter(default="test")

    def run(self):
        self.save({"df": [1], "df2": [2]})


class Task1B(d6tflow.tasks.TaskCache):
    persist = ["df", "df2"]  # noqa: RUF012 (d6tflow style)
    idx3 = d6tflow.Parameter(default="test3")

    def run(self):
        self.save({"df": [3], "df2": [4]})


class Task1C(d6tflow.tasks.TaskCache):
    persist = ["df", "df2"]  # noqa: RUF012 (d6tflow style)
    idx3 = d6tflow.Parameter(default="test3")
    export = False

    def run(self):
        self.save({"df": [5], "df2": [6]})


@d6tflow.requires(Task1A, Task1B, Task1C)
class Task1All(d6tflow.tasks.TaskCache):
    def run(self):
        self.save("all")


@d6tflow.requires(Task1A, Task1B, Task1C)
class Task2(d6tflow.tasks.TaskCache):
    pipename = ["d6tpipe_pipe1"]  # noqa: RUF012 (d6tflow style)


@d6tflow.requires(Task1A, Task1B, Task1C)
class Task2Path(d6tflow.tasks.TaskCache):
    path = "usr/test/"


@d6tflow.requires(Task1A, Task1B, Task1C)
class Task3Flow(d6tflow.tasks.TaskCache):
    task_group = "upwork"

    def run(self):
        self.save("flow")


def render(**kwargs) -> str:
    return FlowExport(**kwargs).render()


# -- the text -----------------------------------------------------------------------------------


def test_tasks_text_first_task_last():
    # d6tflow's test_task2: the first task given is written last
    assert render(tasks=[Task1A(), Task1All()]) == HEADER + (
        "import daskflow\n"
        "\n\n"
        "class Task1All(daskflow.tasks.TaskCache):\n"
        "    external = True\n"
        "    persist = ['data']\n"
        "    idx = daskflow.IntParameter(default=1)\n"
        "    idx2 = daskflow.Parameter(default='test')\n"
        "    idx3 = daskflow.Parameter(default='test3')\n"
        "\n\n"
        "class Task1A(daskflow.tasks.TaskCache):\n"
        "    external = True\n"
        "    persist = ['df', 'df2']\n"
        "    idx = daskflow.IntParameter(default=1)\n"
        "    idx2 = daskflow.Parameter(default='test')\n"
    )


def test_flow_text_upstream_first_with_path_and_task_group():
    # d6tflow's test_task_flow_path: the flow's path and env reach every upstream task;
    # Task1C (export = False) is left out
    flow = d6tflow.Workflow(Task3Flow, path="data/data2/wf_change", env="prod")
    assert render(flows=flow) == HEADER + (
        "import daskflow\n"
        "\n\n"
        "class Task1A(daskflow.tasks.TaskCache):\n"
        "    external = True\n"
        "    persist = ['df', 'df2']\n"
        "    path = 'data/data2/wf_change/env=prod'\n"
        "    idx = daskflow.IntParameter(default=1)\n"
        "    idx2 = daskflow.Parameter(default='test')\n"
        "\n\n"
        "class Task1B(daskflow.tasks.TaskCache):\n"
        "    external = True\n"
        "    persist = ['df', 'df2']\n"
        "    path = 'data/data2/wf_change/env=prod'\n"
        "    idx3 = daskflow.Parameter(default='test3')\n"
        "\n\n"
        "class Task3Flow(daskflow.tasks.TaskCache):\n"
        "    external = True\n"
        "    persist = ['data']\n"
        "    path = 'data/data2/wf_change/env=prod'\n"
        "    task_group = 'upwork'\n"
        "    idx = daskflow.IntParameter(default=1)\n"
        "    idx2 = daskflow.Parameter(default='test')\n"
        "    idx3 = daskflow.Parameter(default='test3')\n"
    )


def test_flow_order_matches_d6tflow_and_tasks_are_written_once():
    flow = d6tflow.Workflow(Task1All)
    text = render(tasks=Task1All(), flows=[flow])
    classes = [line.split("(")[0][6:] for line in text.splitlines() if line.startswith("class ")]
    assert classes == ["Task1A", "Task1B", "Task1All"]  # d6tflow's test_flow order
    text = render(tasks=[Task1A(), Task1B(), Task1A(), Task1All()])
    classes = [line.split("(")[0][6:] for line in text.splitlines() if line.startswith("class ")]
    assert classes == ["Task1B", "Task1All", "Task1A"]  # each once, where it first came


def test_class_attributes_pipename_path_and_export_false():
    text = render(tasks=Task2())
    assert "    pipename = ['d6tpipe_pipe1']\n" in text
    assert "    path = 'usr/test/'\n" in render(tasks=Task2Path())
    assert "class Task1C" not in render(tasks=[Task1C(), Task1A()])
    assert "path =" not in text  # no path of its own: the importer's root applies


def test_flow_params_become_the_defaults():
    flow = d6tflow.Workflow(Task1All, {"idx": 5, "idx2": "other"})
    text = render(flows=flow)
    assert "    idx = daskflow.IntParameter(default=5)\n" in text
    assert "    idx2 = daskflow.Parameter(default='other')\n" in text


def test_location_attributes_that_differ_from_the_base():
    class Located(d6tflow.tasks.TaskPickle):
        task_namespace = "shop"
        target_dir = "models"
        target_ext = "pk"
        save_attrib = False

    text = render(tasks=Located())
    for line in ("task_namespace = 'shop'", "target_dir = 'models'", "target_ext = 'pk'"):
        assert f"    {line}\n" in text
    assert "    save_attrib = False\n" in text
    assert "format =" not in text  # the base's own format is not repeated

    class AsJson(d6tflow.tasks.TaskPickle):  # d6tflow's way to choose a format
        target_class = d6tflow.targets.JsonTarget

    assert "    target_class = daskflow.targets.JsonTarget\n" in render(tasks=AsJson())


def test_print_mode_prints_the_module_and_writes_nothing(tmp_path, capsys):
    export = FlowExport(tasks=Task1All())
    assert export.path_export == "tasks_d6tpipe.py"
    assert export.save is False
    assert export.generate() is None
    assert capsys.readouterr().out == export.render()
    assert list(tmp_path.iterdir()) == []


def test_save_writes_the_file_atomically(tmp_path, monkeypatch):
    target = tmp_path / "shared" / "deep" / "tasks.py"  # folders are made
    FlowExport(tasks=Task1A(), save=True, path_export=target).generate()
    first = target.read_text()
    assert "class Task1A(" in first

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        FlowExport(tasks=Task1B(), save=True, path_export=str(target)).generate()
    assert target.read_text() == first  # the old file is whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["tasks.py"]  # no temporary left
    monkeypatch.undo()
    FlowExport(tasks=Task1B(), save=True, path_export=str(target)).generate()
    assert "class Task1B(" in target.read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["tasks.py"]


def test_default_file_name(tmp_path):
    FlowExport(tasks=Task1A(), save=True).generate()
    assert (tmp_path / "tasks_d6tpipe.py").is_file()


# -- parameters: written so they read back equal -------------------------------------------------


class TaskKinds(d6tflow.tasks.TaskPickle):
    persist = ["a", "b"]  # noqa: RUF012 (d6tflow style)
    n = d6tflow.IntParameter(default=1)
    s = d6tflow.Parameter(default='it\'s "quoted"\n')
    flag = d6tflow.BoolParameter(default=True)
    x = d6tflow.FloatParameter(default=0.1)
    big = d6tflow.FloatParameter(default=float("inf"))
    day = d6tflow.DateParameter(default=dt.date(2020, 1, 2))
    month = d6tflow.MonthParameter(default="2020-03")
    hour = d6tflow.DateHourParameter(default=dt.datetime(2020, 1, 2, 5))
    second = d6tflow.DateSecondParameter(default=dt.datetime(2020, 1, 2, 5, 6, 7))
    span = d6tflow.TimeDeltaParameter(default=dt.timedelta(days=1, seconds=3))
    week = d6tflow.DateIntervalParameter(default="2020-W03")
    items = d6tflow.ListParameter(default=[1, [2, "a"], {"k": [3]}])
    pair = d6tflow.TupleParameter(default=((1, 2), (3,)))
    opts = d6tflow.DictParameter(default={"b": [1, 2], "a": {"c": None}})
    color = d6tflow.EnumParameter(enum=Color, default=Color.blue)
    pick = d6tflow.ChoiceParameter(choices=[1, 2, 3], var_type=int, default=2)
    frac = d6tflow.NumericalParameter(var_type=float, min_value=0.0, max_value=1.0, default=0.5)
    maybe = d6tflow.OptionalParameter()
    noise = d6tflow.IntParameter(default=7, significant=False)
    kind = d6tflow.TaskParameter(default=d6tflow.tasks.TaskPickle)
    raw = d6tflow.Parameter(default=d6tflow.parameters.FrozenDict({"z": 1}))


@pytest.mark.filterwarnings("ignore:.*text also names:daskflow.errors.CompatibilityWarning")
def test_parameters_of_many_kinds_read_back_equal(tmp_path):
    values = {"n": 3, "x": 2.5, "day": "2021-12-31", "color": "red", "opts": {"q": [1, {"r": 2}]}}
    task = TaskKinds(**values)
    FlowExport(tasks=task, save=True, path_export=tmp_path / "kinds.py").generate()
    text = (tmp_path / "kinds.py").read_text()
    assert "import datetime\n" in text
    assert f"import {Color.__module__}\n" in text  # the enum, by its module
    assert "    day = daskflow.DateParameter(default=datetime.date(2021, 12, 31))\n" in text
    assert (
        "    hour = daskflow.DateHourParameter(default=datetime.datetime(2020, 1, 2, 5))\n" in text
    )
    assert "    opts = daskflow.DictParameter(default={'q': (1, {'r': 2})})\n" in text
    assert f"default={Color.__module__}.Color.red, enum={Color.__module__}.Color)" in text
    assert "    noise = daskflow.IntParameter(default=7, significant=False)\n" in text
    assert "default=daskflow.parameters.FrozenDict({'z': 1})" in text  # a plain Parameter

    imported = FlowImport(path=tmp_path, module="kinds", path_data="data")
    copy = imported.tasks.TaskKinds()
    assert copy.task_id == task.task_id
    assert copy.param_kwargs == task.param_kwargs
    assert [type(v) for v in copy.param_kwargs.values()] == [
        type(v) for v in task.param_kwargs.values()
    ]
    assert [t.url for t in copy.output_targets()] == [t.url for t in task.output_targets()]
    assert copy.external


def test_luigi_parameters_are_written_as_daskflow_kinds():
    luigi = pytest.importorskip("luigi")

    class TaskLuigi(d6tflow.tasks.TaskPickle):
        a = luigi.IntParameter(default=3)
        b = luigi.Parameter(default="x")
        c = luigi.ListParameter(default=[1, 2])
        d = luigi.DateParameter(default=dt.date(2020, 1, 1))
        e = luigi.OptionalIntParameter(default=None)
        f = luigi.ChoiceParameter(choices=["b", "a"], default="a")

    text = render(tasks=TaskLuigi())
    assert "luigi" not in text.replace("Load with", "")
    assert "    e = daskflow.IntParameter(default=None, optional=True)\n" in text
    assert "    f = daskflow.ChoiceParameter(default='a', choices=('a', 'b'))\n" in text


@pytest.mark.filterwarnings("ignore:.*text also names:daskflow.errors.CompatibilityWarning")
def test_a_value_without_a_spelling_names_the_task_and_parameter():
    class TaskOdd(d6tflow.tasks.TaskPickle):
        thing = d6tflow.Parameter(default=object())

    with pytest.raises(ParameterError, match=r"parameter 'thing' of TaskOdd\(.*no Python spelling"):
        render(tasks=TaskOdd())


def test_an_enum_that_cannot_be_imported_names_the_task_and_parameter():
    class Local(enum.Enum):
        a = 1

    class TaskLocal(d6tflow.tasks.TaskPickle):
        which = d6tflow.EnumParameter(enum=Local, default=Local.a)

    with pytest.raises(ParameterError, match=r"'which' of TaskLocal\(which=a\).*in a function"):
        render(tasks=TaskLocal())


def test_a_class_that_moves_its_outputs_is_refused():
    class TaskMoved(d6tflow.tasks.TaskPickle):
        def output(self):
            return self._target("elsewhere")

    with pytest.raises(ParameterError, match=r"TaskMoved\(\).*override output\(\)"):
        render(tasks=TaskMoved())


# -- what cannot be exported ---------------------------------------------------------------------


class TaskNeedsX(d6tflow.tasks.TaskPickle):
    x = d6tflow.IntParameter()


def test_two_tasks_of_one_class_in_one_module_are_refused():
    with pytest.raises(WorkflowError, match=r"TaskNeedsX\(x=1\) and TaskNeedsX\(x=2\)"):
        render(tasks=[TaskNeedsX(x=1), TaskNeedsX(x=2)])


def test_a_task_without_stored_outputs_is_refused():
    class Gather(d6tflow.tasks.TaskAggregator):
        def run(self):
            yield TaskNeedsX(x=1)

    with pytest.raises(WorkflowError, match="set export = False on Gather"):
        render(tasks=Gather())


def test_wrong_arguments():
    with pytest.raises(WorkflowError, match="nothing to export"):
        render()
    with pytest.raises(WorkflowError, match="every task given has export = False"):
        render(tasks=Task1C())
    with pytest.raises(WorkflowError, match=r"pass an instance such as Task1A\(\)"):
        FlowExport(tasks=Task1A)
    with pytest.raises(WorkflowError, match="flows must be Workflows"):
        FlowExport(flows="not a flow")


def test_a_class_named_like_an_import_is_refused():
    class datetime(d6tflow.tasks.TaskPickle):
        day = d6tflow.DateParameter(default=dt.date(2020, 1, 1))

    with pytest.raises(WorkflowError, match="cannot name a class datetime: the module imports"):
        render(tasks=datetime())


def test_the_callers_list_is_not_changed():
    given = [Task1A()]
    export = FlowExport(tasks=given, flows=d6tflow.Workflow(Task1All))
    assert given == [Task1A()]
    assert len(export.tasks) == 5  # Task1A, then Task1All and its three upstream tasks


# -- importing -----------------------------------------------------------------------------------


def test_import_cache_flow_gives_the_original_task_ids(tmp_path):
    flow = d6tflow.Workflow(Task3Flow, {"idx": 4}, path="shared", env="prod")
    FlowExport(flows=flow, save=True, path_export=tmp_path / "out" / "tasks_d6tpipe.py").generate()
    scraper = FlowImport(path=tmp_path / "out", module="tasks_d6tpipe.py", path_data="data/")
    assert sorted(scraper.tasks) == ["Task1A", "Task1B", "Task3Flow"]
    assert scraper.dirpath == tmp_path / "out" / "data"
    assert scraper.module_obj.__file__ == str(tmp_path / "out" / "tasks_d6tpipe.py")
    assert scraper.tasks.Task3Flow.task_group == "upwork"
    assert scraper.tasks.Task3Flow.external is True
    for name in scraper.tasks:
        original = flow.get_task(globals()[name])
        assert scraper.tasks[name]().task_id == original.task_id
        assert scraper.tasks[name]()._folder() == original._folder()
    # the classes found the same in-memory outputs once the original flow ran
    flow.run(scheduler="sync", execution_summary=False)
    assert scraper.tasks.Task1A().outputLoad() == [[1], [2]]
    assert "tasks_d6tpipe" not in sys.modules  # the module shadows nothing


def test_import_to_flow_like_d6tflow(tmp_path):
    # d6tflow's test_import_to_flow, with the hand-written module its sdist did not ship
    (tmp_path / "for_import.py").write_text(
        "from daskflow.tasks import TaskPickle\n"
        "class Task1C(TaskPickle):\n"
        "    persist = ['df', 'df2']\n"
        "    def run(self):\n"
        "        self.save({'df': [1, 2], 'df2': [3]})\n"
    )
    scraper = FlowImport(path=str(tmp_path), module="for_import", path_data="data/")
    assert list(scraper.tasks) == ["Task1C"]  # daskflow's own TaskPickle is not a task of it
    flow_scrape = d6tflow.Workflow(path=scraper.dirpath, env="prod")
    with pytest.raises(TaskIncompleteError):
        flow_scrape.outputLoad(scraper.tasks.Task1C)
    flow_scrape.run(scraper.tasks.Task1C, scheduler="sync", execution_summary=False)
    assert flow_scrape.outputLoad(scraper.tasks.Task1C) == [[1, 2], [3]]
    assert (tmp_path / "data" / "env=prod" / "Task1C").is_dir()


def test_tasks_by_attribute():
    (Path("m.py")).write_text("import daskflow\nclass A(daskflow.tasks.TaskJson):\n    pass\n")
    tasks = FlowImport(path=".", module="m", path_data="d").tasks
    assert tasks.A is tasks["A"]
    assert "A" in dir(tasks)
    with pytest.raises(AttributeError, match=r"no task 'B'; the module has \['A'\]"):
        _ = tasks.B


def test_data_root(tmp_path):
    Path("m.py").write_text("")
    Path("sub").mkdir()
    assert FlowImport(path="sub/..", module="m", path_data="d").dirpath == Path("sub/../d")
    assert FlowImport(path=".", module="m", path_data=tmp_path).dirpath == tmp_path
    url = "s3://bucket/data"
    assert FlowImport(path=".", module="m", path_data=url).dirpath == url
    assert FlowImport(path=".", module="m").dirpath is None


def test_import_errors_say_which_file_and_why(tmp_path):
    with pytest.raises(WorkflowError, match=r"module file .*for_imports\.py not found") as e:
        FlowImport(path=tmp_path, module="for_imports", path_data="data/")
    assert isinstance(e.value, ValueError)  # what d6tflow raised

    (tmp_path / "broken.py").write_text("class A(:\n")
    with pytest.raises(WorkflowError, match=r"could not import .*broken\.py: SyntaxError") as e:
        FlowImport(path=tmp_path, module="broken", path_data="data/")
    assert isinstance(e.value.__cause__, SyntaxError)

    (tmp_path / "needs.py").write_text("import no_such_module_for_daskflow\n")
    with pytest.raises(WorkflowError, match="ModuleNotFoundError: No module named 'no_such"):
        FlowImport(path=tmp_path, module="needs", path_data="data/")

    with pytest.raises(WorkflowError, match=r"needs path= .* and module="):
        FlowImport(path=tmp_path)


# -- the round trip: run, export, load in another process -------------------------------------


class TaskGetData(d6tflow.tasks.TaskPickle):
    persist = ["x", "y"]  # noqa: RUF012 (d6tflow style)
    n = d6tflow.IntParameter(default=3)
    day = d6tflow.DateParameter(default=dt.date(2020, 1, 1))

    def run(self):
        self.save({"x": list(range(self.n)), "y": str(self.day)})


@d6tflow.requires(TaskGetData)
class TaskTrain(d6tflow.tasks.TaskJson):
    task_group = "models"
    model = d6tflow.Parameter(default="ols")
    opts = d6tflow.DictParameter(default={"alpha": 0.5})
    cols = d6tflow.ListParameter(default=["a", "b"])

    def run(self):
        x, y = self.inputLoad()
        self.save({"model": self.model, "total": sum(x), "day": y, "alpha": self.opts["alpha"]})


ROUND_TRIP = """
import json, sys
import daskflow
from daskflow.export import FlowImport

export_dir, shared = sys.argv[1:]
scraper = FlowImport(path=export_dir, module="tasks_d6tpipe", path_data=shared)
flow = daskflow.Workflow(path=scraper.dirpath, env="prod")
flow.run(scraper.tasks.TaskTrain, scheduler="sync", execution_summary=False)
print(json.dumps({
    name: {
        "task_id": cls().task_id,
        "complete_by_class_path": cls().complete(),
        "complete": flow.complete(cls),
        "output": flow.outputLoad(cls),
    }
    for name, cls in scraper.tasks.items()
}))
"""


def test_round_trip_in_a_fresh_process(tmp_path):
    shared = tmp_path / "shared"
    flow = d6tflow.Workflow(
        TaskTrain, {"n": 4, "model": "gbm", "day": "2021-02-03"}, path=shared, env="prod"
    )
    flow.run(scheduler="sync", execution_summary=False)
    FlowExport(
        flows=flow, save=True, path_export=tmp_path / "export" / "tasks_d6tpipe.py"
    ).generate()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, str(tmp_path / "export"), str(shared)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "TaskGetData": {
            "task_id": flow.get_task(TaskGetData).task_id,
            "complete_by_class_path": True,
            "complete": True,
            "output": [[0, 1, 2, 3], "2021-02-03"],
        },
        "TaskTrain": {
            "task_id": flow.get_task(TaskTrain).task_id,
            "complete_by_class_path": True,
            "complete": True,
            "output": {"model": "gbm", "total": 6, "day": "2021-02-03", "alpha": 0.5},
        },
    }
    assert list(elsewhere.iterdir()) == []  # nothing was run or written there
