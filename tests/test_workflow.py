"""Workflow, WorkflowMulti and the top-level flow functions (d6tflow 0.2.8's user surface).

Tasks record every run() in the module-level list RAN, so tests can say exactly which tasks a
run executed. Expected values marked "vectors" come from tests/d6tflow_vectors/vectors.json
(recorded from the real d6tflow 0.2.8).
"""

from __future__ import annotations

import builtins
import json
import re
import threading
import warnings
from pathlib import Path

import pandas as pd
import pytest
from helpers import RunLog, is_manifest

import daskflow as d6tflow
from daskflow.errors import TaskIncompleteError, WorkflowError

VECTORS = json.loads(
    (Path(__file__).parent / "d6tflow_vectors" / "vectors.json").read_text(encoding="utf-8")
)
MISC = VECTORS["misc"]

RAN = RunLog()
_lock = threading.Lock()


def _ran(task):
    with _lock:
        RAN.append(repr(task))


@pytest.fixture(autouse=True)
def _clear_ran():
    RAN.clear()
    yield
    RAN.clear()


@pytest.fixture
def no_input(monkeypatch):
    """Fail the test if anything asks the user a question."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"input() was called: {args!r}")

    monkeypatch.setattr(builtins, "input", refuse)


def answer(monkeypatch, reply):
    """Make input() answer ``reply``; returns the list of prompts it was asked."""
    prompts: list[str] = []

    def fake(prompt=""):
        prompts.append(prompt)
        return reply

    monkeypatch.setattr(builtins, "input", fake)
    return prompts


# -- the d6tflow documentation pipeline (as in vectors' pipeline_source) ---------------------------


class TaskGetData(d6tflow.tasks.TaskPqPandas):
    def run(self):
        _ran(self)
        self.save(pd.DataFrame({"a": [1, 2, 3], "y": [0, 1, 0]}))


@d6tflow.requires(TaskGetData)
class TaskPreprocess(d6tflow.tasks.TaskCachePandas):
    do_preprocess = d6tflow.BoolParameter(default=True)

    def run(self):
        _ran(self)
        df = self.inputLoad()
        if self.do_preprocess:
            df["a"] = df["a"] * 2
        self.save(df)


@d6tflow.requires(TaskPreprocess)
class TaskTrain(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        df = self.inputLoad()
        self.save({"model": "ols", "n": len(df), "sum_a": int(df["a"].sum())})


ALL3 = ["TaskGetData()", "TaskPreprocess(do_preprocess=True)", "TaskTrain(do_preprocess=True)"]


# -- the small tasks of vectors' misc section ------------------------------------------------------


class MFile(d6tflow.tasks.TaskPqPandas):
    def run(self):
        _ran(self)
        self.save(pd.DataFrame({"v": [1]}))


@d6tflow.requires(MFile)
class MCache(d6tflow.tasks.TaskCache):
    def run(self):
        _ran(self)
        self.save(int(self.inputLoad()["v"].sum()) + 1)


class MFileMulti(d6tflow.tasks.TaskPickle):
    persist = ["x", "y"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        _ran(self)
        self.save({"x": "vx", "y": "vy"})


class MCachePersists(d6tflow.tasks.TaskCache):
    persists = ["p", "q"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        self.save({"p": 1, "q": 2})


class MUnrelated(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        self.save("unrelated")


class MGrid(d6tflow.tasks.TaskPickle):
    a = d6tflow.IntParameter(default=0)
    b = d6tflow.Parameter(default="x")

    def run(self):
        _ran(self)
        self.save({"a": self.a, "b": self.b})


class MClassPath(d6tflow.tasks.TaskPickle):
    path = "classpath"

    def run(self):
        self.save("cp")


class MMeta(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(pd.DataFrame({"a": [1]}))
        self.metaSave({"m": 1})


@d6tflow.requires(MMeta)
class MMetaDown(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(self.metaLoad())


class TaskIdx(d6tflow.tasks.TaskCache):
    i = d6tflow.IntParameter()

    def run(self):
        _ran(self)
        self.save(self.i * 10)


class TaskTwoIdx(d6tflow.tasks.TaskCache):
    def requires(self):
        return [TaskIdx(i=1), TaskIdx(i=2)]

    def run(self):
        self.save(sum(self.inputLoad()))


def _preview(capsys, fn, *args, **kwargs):
    capsys.readouterr()
    fn(*args, **kwargs)
    return capsys.readouterr().out


def _states(text):
    """[(TaskName, STATE)] of the preview lines, top to bottom."""
    return re.findall(r"\[(\w+)-.*? \((?:\x1b\[\d+m)?(COMPLETE|PENDING)(?:\x1b\[0m)?\)\]", text)


def _complete_map(check_dependencies: bool):
    d6tflow.settings.check_dependencies = check_dependencies
    try:
        return {
            "TaskGetData": TaskGetData().complete(),
            "TaskPreprocess": TaskPreprocess().complete(),
            "TaskTrain": TaskTrain().complete(),
        }
    finally:
        d6tflow.settings.check_dependencies = True


def _assert_states(vector):
    """Compare complete() with and without the dependency cascade to a vectors' dict."""
    cascade = _complete_map(True)
    no_cascade = _complete_map(False)
    for name, expected in vector.items():
        assert cascade[name] is expected["complete"], (name, cascade)
        assert no_cascade[name] is expected["complete_no_cascade"], (name, no_cascade)


# -- construction, get_task, set_default -----------------------------------------------------------


def test_get_task_passes_the_flow_params_to_every_class():
    flow = d6tflow.Workflow(TaskTrain, {"do_preprocess": False})
    assert flow.get_task() == TaskTrain(do_preprocess=False)
    assert flow.get_task(TaskPreprocess) == TaskPreprocess(do_preprocess=False)
    assert flow.get_task(TaskGetData) == TaskGetData()
    assert flow.params == {"do_preprocess": False}


def test_get_task_ignores_params_a_task_does_not_declare():
    flow = d6tflow.Workflow(MGrid, {"a": 1, "zzz": 2})
    got = flow.get_task()
    # vectors: Workflow(MGrid, {"a": 1, "zzz": 2}).get_task() repr
    assert (
        repr(got)
        == MISC["instance_cache_and_kwargs"]['Workflow(MGrid, {"a": 1, "zzz": 2}).get_task() repr']
    )
    assert not hasattr(got, "zzz")


def test_get_task_without_a_default_task_is_a_clear_error():
    with pytest.raises(WorkflowError, match="default"):
        d6tflow.Workflow().get_task()
    with pytest.raises(WorkflowError, match="default"):
        d6tflow.Workflow().run()


def test_set_default_changes_the_task_of_every_method():
    flow = d6tflow.Workflow(params={"do_preprocess": False})
    flow.set_default(TaskPreprocess)
    assert flow.get_task() == TaskPreprocess(do_preprocess=False)
    flow.run(execution_summary=False)
    assert RAN == ["TaskGetData()", "TaskPreprocess(do_preprocess=False)"]
    assert flow.complete()
    assert not flow.complete(TaskTrain)
    flow.set_default(TaskTrain)
    assert not flow.complete()
    with pytest.raises(WorkflowError):
        flow.set_default(TaskTrain())


# -- preview ---------------------------------------------------------------------------------------


def test_preview_default_single_and_list_of_tasks(capsys):
    flow = d6tflow.Workflow(TaskTrain)
    out = _preview(capsys, flow.preview)
    assert _states(out) == [
        ("TaskTrain", "PENDING"),
        ("TaskPreprocess", "PENDING"),
        ("TaskGetData", "PENDING"),
    ]
    out = _preview(capsys, flow.preview, TaskPreprocess)
    assert _states(out) == [("TaskPreprocess", "PENDING"), ("TaskGetData", "PENDING")]
    out = _preview(capsys, flow.preview, [TaskPreprocess, TaskTrain])
    names = [name for name, _ in _states(out)]
    # one tree per task; a subtree already drawn may be abbreviated the second time
    assert names[:4] == ["TaskPreprocess", "TaskGetData", "TaskTrain", "TaskPreprocess"]
    assert names[4:] in ([], ["TaskGetData"])
    assert "COMPLETE" not in out
    assert RAN == []  # preview runs nothing


def test_preview_after_run_shows_complete(capsys):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    out = _preview(capsys, flow.preview)
    assert out.count("COMPLETE") == 3
    assert "PENDING" not in out


def test_preview_shows_the_flow_params(capsys):
    out = _preview(capsys, d6tflow.Workflow(TaskTrain, {"do_preprocess": False}).preview)
    assert "[TaskTrain-{'do_preprocess': 'False'} (PENDING)]" in out
    out = _preview(capsys, d6tflow.Workflow(TaskTrain).preview, show_params=False)
    assert "do_preprocess" not in out
    assert out.count("PENDING") == 3


# -- run -------------------------------------------------------------------------------------------


def test_run_runs_upstream_once_then_nothing():
    flow = d6tflow.Workflow(TaskTrain)
    result = flow.run(execution_summary=False)
    assert RAN == ALL3
    assert result.status == "SUCCESS"
    assert bool(result) is True
    assert [repr(t) for t in result.ran] == ALL3
    RAN.clear()
    result = flow.run(execution_summary=False)
    assert RAN == []
    assert result.ran == []
    assert [repr(t) for t in result.complete] == ["TaskTrain(do_preprocess=True)"]


def test_run_a_list_of_task_classes():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run([TaskPreprocess], execution_summary=False)
    assert ALL3[:2] == RAN
    assert not flow.complete()
    RAN.clear()
    flow.run([TaskPreprocess, TaskTrain], execution_summary=False)
    assert RAN == ["TaskTrain(do_preprocess=True)"]


def test_run_prints_the_execution_summary(capsys):
    d6tflow.Workflow(TaskTrain).run()
    out = capsys.readouterr().out
    assert "Scheduled 3 tasks of which:" in out
    assert "* 3 ran successfully:" in out
    for name in ALL3:
        assert f"    - 1 {name}" in out


def test_run_with_different_params_reuses_shared_upstream():
    d6tflow.Workflow(TaskTrain).run(execution_summary=False)
    RAN.clear()
    flow = d6tflow.Workflow(TaskTrain, {"do_preprocess": False})
    flow.run(execution_summary=False)
    # vectors: summary pipeline_run_do_preprocess_false
    assert VECTORS["summary"]["pipeline_run_do_preprocess_false"]["ran"] == RAN
    assert flow.outputLoad()["sum_a"] == 6
    assert d6tflow.Workflow(TaskTrain).outputLoad()["sum_a"] == 12


# -- loading ---------------------------------------------------------------------------------------


def test_outputLoad_default_and_named_task():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    assert flow.outputLoad() == {"model": "ols", "n": 3, "sum_a": 12}
    pd.testing.assert_frame_equal(
        flow.outputLoad(TaskPreprocess), pd.DataFrame({"a": [2, 4, 6], "y": [0, 1, 0]})
    )
    pd.testing.assert_frame_equal(
        flow.outputLoad(TaskGetData), pd.DataFrame({"a": [1, 2, 3], "y": [0, 1, 0]})
    )


def test_outputLoad_before_run_raises():
    flow = d6tflow.Workflow(TaskTrain)
    with pytest.raises(TaskIncompleteError, match="not complete"):
        flow.outputLoad()
    with pytest.raises(RuntimeError):  # d6tflow raised RuntimeError; still caught as one
        flow.outputLoad(TaskGetData)


def test_outputLoad_multi_output_keys_and_as_dict():
    flow = d6tflow.Workflow(MFileMulti)
    flow.run(execution_summary=False)
    assert flow.outputLoad() == ["vx", "vy"]
    assert flow.outputLoad(as_dict=True) == {"x": "vx", "y": "vy"}
    assert flow.outputLoad(keys="y") == "vy"
    assert flow.outputLoad(keys=["y"]) == ["vy"]


def test_outputLoadAll_loads_the_task_and_everything_upstream():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    everything = flow.outputLoadAll()
    # vectors: misc outputLoadAll -- keys in this order, the values as recorded
    assert list(everything) == ["TaskTrain", "TaskPreprocess", "TaskGetData"]
    assert everything["TaskTrain"] == {"model": "ols", "n": 3, "sum_a": 12}
    assert everything["TaskPreprocess"]["a"].tolist() == [2, 4, 6]
    assert everything["TaskGetData"]["a"].tolist() == [1, 2, 3]


def test_outputLoadAll_keeps_both_instances_of_one_class():
    flow = d6tflow.Workflow(TaskTwoIdx)
    flow.run(execution_summary=False)
    everything = flow.outputLoadAll()
    assert len(everything) == 3
    assert everything["TaskTwoIdx"] == 30
    assert sorted(v for k, v in everything.items() if k != "TaskTwoIdx") == [10, 20]


def test_outputLoadMeta_and_metaLoad():
    flow = d6tflow.Workflow(MMetaDown)
    flow.run(execution_summary=False)
    assert flow.outputLoadMeta(MMeta) == MISC["meta"]["outputLoadMeta"]
    assert flow.outputLoad() == MISC["meta"]["metaLoad in downstream"]
    with pytest.raises(RuntimeError):
        flow.outputLoadMeta()  # MMetaDown saved no metadata


def test_outputPath_types_and_values_match_d6tflow():
    expected = MISC["workflow_outputPath"]
    path = d6tflow.Workflow(MFile).outputPath()
    assert isinstance(path, Path)
    assert path == Path(expected["file_task"]["value"])
    path = d6tflow.Workflow(MCache).outputPath()
    assert isinstance(path, str)
    assert path == expected["cache_task"]["value"]
    paths = d6tflow.Workflow(MFileMulti).outputPath()
    assert paths == {k: Path(v["value"]) for k, v in expected["multi_output_file_task"].items()}
    paths = d6tflow.Workflow(MCachePersists).outputPath()
    assert paths == {k: v["value"] for k, v in expected["persists_alias_cache_task"].items()}


def test_output_gives_targets_with_paths():
    flow = d6tflow.Workflow(MFileMulti)
    out = flow.output()
    assert set(out) == {"x", "y"}
    assert out["x"].path == Path("data/MFileMulti/MFileMulti__99914b932b-x.pkl")
    assert not out["x"].exists()
    flow.run(execution_summary=False)
    assert out["x"].exists() and out["y"].exists()
    assert flow.output(MFile).path == Path("data/MFile/MFile__99914b932b-data.parquet")


def test_complete_default_and_named():
    flow = d6tflow.Workflow(TaskTrain)
    assert flow.complete() is False
    flow.run([TaskGetData], execution_summary=False)
    assert flow.complete(TaskGetData) is True
    assert flow.complete() is False
    flow.run(execution_summary=False)
    assert flow.complete() is True


# -- reset -----------------------------------------------------------------------------------------


def test_reset_deletes_only_that_task_and_the_next_run_rebuilds(no_input):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    _assert_states(MISC["reset"]["after_run"])
    data_file = Path(flow.outputPath(TaskGetData))
    assert data_file.exists()
    assert flow.reset(TaskGetData) is True  # vectors: Workflow.reset(TaskGetData) return
    assert not data_file.exists()
    _assert_states(MISC["reset"]["after Workflow.reset(TaskGetData)"])
    RAN.clear()
    flow.run(execution_summary=False)
    assert MISC["reset"]["rerun_after_Workflow.reset(TaskGetData)"]["ran"] == RAN


def test_reset_default_task_and_cache_task(no_input):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    flow.reset(TaskPreprocess)
    _assert_states(MISC["reset"]["after TaskPreprocess().reset(confirm=False)"])
    flow.reset()
    assert not flow.get_task().complete(cascade=False)
    assert TaskGetData().complete()


def test_reset_of_a_task_that_never_ran(no_input):
    assert d6tflow.Workflow(TaskTrain).reset() is True


def test_reset_multi_output_removes_every_file(no_input):
    flow = d6tflow.Workflow(MFileMulti)
    flow.run(execution_summary=False)
    before = sorted(str(p) for p in Path("data/MFileMulti").iterdir() if not is_manifest(p))
    assert before == MISC["reset"]["multi output reset: files before"]
    flow.reset()
    assert list(Path("data/MFileMulti").iterdir()) == []  # the manifest went with them


def test_reset_never_prompts_without_confirm(no_input):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    TaskTrain().reset()  # d6tflow prompted here by default; daskflow must not
    TaskTrain().invalidate()
    flow.reset()
    flow.reset_upstream(TaskPreprocess)
    flow.run(execution_summary=False)
    flow.reset_downstream(TaskGetData)
    flow.run(execution_summary=False)
    d6tflow.invalidate_upstream(TaskTrain())
    flow.run(execution_summary=False)
    d6tflow.invalidate_downstream(TaskGetData(), TaskTrain())
    assert not flow.complete()


def test_reset_with_confirm_asks_and_respects_the_answer(monkeypatch):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    prompts = answer(monkeypatch, "n")
    assert not flow.reset(confirm=True)
    assert len(prompts) == 1
    assert TaskTrain().complete()
    prompts = answer(monkeypatch, "y")
    flow.reset(confirm=True)
    assert len(prompts) == 1
    assert not TaskTrain().complete(cascade=False)
    assert TaskPreprocess().complete()


def test_reset_upstream_resets_the_task_and_everything_above(no_input):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    flow.reset_upstream(TaskTrain)
    _assert_states(MISC["reset"]["after reset_upstream(TaskTrain)"])
    RAN.clear()
    flow.run(execution_summary=False)
    assert RAN == ALL3


def test_reset_upstream_leaves_downstream_files_alone(no_input):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    flow.reset_upstream(TaskPreprocess)
    assert TaskTrain().complete(cascade=False)
    assert not TaskPreprocess().complete(cascade=False)
    assert not TaskGetData().complete()


def test_reset_downstream_defaults_to_the_default_task(no_input):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    flow.reset_downstream(TaskPreprocess)
    _assert_states(MISC["reset"]["after reset_downstream(TaskPreprocess)"])


def test_reset_downstream_stops_at_the_given_task(no_input):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    flow.reset_downstream(TaskGetData, TaskPreprocess)
    assert not TaskGetData().complete()
    assert not TaskPreprocess().complete(cascade=False)
    assert TaskTrain().complete(cascade=False)


# -- attach_flow -----------------------------------------------------------------------------------


class TaskSource(d6tflow.tasks.TaskPickle):
    n = d6tflow.IntParameter(default=5)

    def run(self):
        _ran(self)
        self.save(list(range(self.n)))


class TaskUsesFlowUp(d6tflow.tasks.TaskCache):
    def run(self):
        _ran(self)
        self.save(len(self.flows["flow"].outputLoad()))


@d6tflow.requires(TaskUsesFlowUp)
class TaskUsesFlow(d6tflow.tasks.TaskCache):
    def run(self):
        _ran(self)
        self.save(sum(self.flows["flow"].outputLoad()) + 100 * self.inputLoad())


class TaskUsesNamedFlow(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(self.flows["source"].outputLoad())


def test_attach_flow_is_reachable_from_run_of_every_task():
    source = d6tflow.Workflow(TaskSource, {"n": 4})
    source.run(execution_summary=False)
    flow = d6tflow.Workflow(TaskUsesFlow)
    flow.attach_flow(source)
    flow.run(execution_summary=False)
    assert flow.outputLoad() == (0 + 1 + 2 + 3) + 100 * 4
    assert flow.outputLoad(TaskUsesFlowUp) == 4


def test_attach_flow_with_a_name():
    source = d6tflow.Workflow(TaskSource, {"n": 3})
    source.run(execution_summary=False)
    flow = d6tflow.Workflow(TaskUsesNamedFlow)
    flow.attach_flow(source, flow_name="source")
    flow.run(execution_summary=False)
    assert flow.outputLoad() == [0, 1, 2]


def test_attach_flow_does_not_leak_into_other_workflows():
    source = d6tflow.Workflow(TaskSource)
    flow = d6tflow.Workflow(TaskUsesNamedFlow)
    flow.attach_flow(source, flow_name="source")
    assert getattr(TaskUsesNamedFlow(), "flows", None) in (None, {})
    assert getattr(d6tflow.Workflow(TaskUsesNamedFlow).get_task(), "flows", None) in (None, {})


# -- path and env ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "kwargs", "name"),
    [
        (MFile, {}, "Workflow(MFile)"),
        (MFile, {"path": "p"}, "Workflow(MFile, path='p')"),
        (MFile, {"env": "prod"}, "Workflow(MFile, env='prod')"),
        (MFile, {"path": "p", "env": "prod"}, "Workflow(MFile, path='p', env='prod')"),
        (MClassPath, {}, "Workflow(MClassPath)"),
        (MClassPath, {"path": "p"}, "Workflow(MClassPath, path='p')"),
        (MClassPath, {"env": "prod"}, "Workflow(MClassPath, env='prod')"),
    ],
)
def test_workflow_path_and_env_give_d6tflow_paths(task, kwargs, name):
    expected = MISC["workflow_paths"][name]
    got = d6tflow.Workflow(task, **kwargs).outputPath()
    assert isinstance(got, Path)
    assert got == Path(expected["value"])


def test_workflow_env_applies_to_upstream_tasks_and_multi_outputs():
    paths = MISC["workflow_paths"]
    flow = d6tflow.Workflow(MCache, env="prod")
    assert (
        flow.outputPath()
        == paths["Workflow(MCache, env='prod').outputPath() [cache task]"]["value"]
    )
    assert flow.outputPath(MFile) == Path(
        paths["Workflow(MCache, env='prod').outputPath(MFile) [upstream]"]["value"]
    )
    multi = d6tflow.Workflow(MFileMulti, env="prod").outputPath()
    assert multi == {
        k: Path(v["value"]) for k, v in paths["Workflow(MFileMulti, env='prod')"].items()
    }


def test_workflow_env_run_writes_the_whole_flow_under_env():
    flow = d6tflow.Workflow(MCache, env="prod")
    flow.run(execution_summary=False)
    assert Path("data/env=prod/MFile/MFile__99914b932b-data.parquet").is_file()
    assert not Path("data/MFile").exists()
    assert flow.complete()
    assert flow.outputLoad() == 2
    assert not d6tflow.Workflow(MCache).complete()
    assert not MFile().complete()


def test_workflow_path_and_env_do_not_leak_into_unrelated_instances():
    """d6tflow's bug: after Workflow(MCache, env='prod'), a bare MFile() wrote to env=prod."""
    unrelated = MUnrelated()
    flow = d6tflow.Workflow(MCache, env="prod")
    flow.run(execution_summary=False)
    d6tflow.Workflow(MFile, path="elsewhere").run(execution_summary=False)
    assert MCache().output().path == "data/MCache/MCache__99914b932b-data.cache"
    assert MFile().output().path == Path("data/MFile/MFile__99914b932b-data.parquet")
    assert unrelated.output().path == Path("data/MUnrelated/MUnrelated__99914b932b-data.pkl")
    assert MUnrelated().output().path == unrelated.output().path
    assert d6tflow.Workflow(MFile).outputPath() == Path("data/MFile/MFile__99914b932b-data.parquet")
    assert not MFile().complete()
    RAN.clear()
    d6tflow.Workflow(MCache).run(execution_summary=False)
    assert RAN == ["MFile()", "MCache()"]  # the default location was still empty


class PathUp(d6tflow.tasks.TaskPickle):
    path = "data/up_own"  # a class path: the flow's path or env still wins, as in d6tflow

    def run(self):
        self.save(1)


@d6tflow.requires(PathUp)
class PathDown(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save(self.inputLoad() + 1)


@pytest.mark.parametrize(
    ("kwargs", "root"),
    [
        ({}, None),
        ({"env": "prod"}, "data/env=prod"),
        ({"path": "data/wf"}, "data/wf"),
        ({"path": "data/wf", "env": "prod"}, "data/wf/env=prod"),
    ],
)
def test_a_flows_path_and_env_override_a_task_classs_own_path(kwargs, root):
    flow = d6tflow.Workflow(PathDown, **kwargs)
    flow.run(execution_summary=False)
    up, down = flow.outputPath(PathUp), flow.outputPath(PathDown)
    if root is None:  # no flow path: each class keeps its own
        assert up == Path(f"data/up_own/PathUp/{PathUp().task_id}-data.pkl")
        assert down == Path(f"data/PathDown/{PathDown().task_id}-data.pkl")
    else:
        assert up == Path(f"{root}/PathUp/{PathUp().task_id}-data.pkl")
        assert down == Path(f"{root}/PathDown/{PathDown().task_id}-data.pkl")
    assert up.is_file() and down.is_file()
    assert flow.outputLoad() == 2


def test_a_flow_without_a_task_places_the_tasks_it_runs_under_its_path():
    flow = d6tflow.Workflow(path="data/wf_run")
    flow.run(PathDown, forced_all=True, execution_summary=False)
    assert flow.outputPath(PathUp) == Path(f"data/wf_run/PathUp/{PathUp().task_id}-data.pkl")
    assert flow.outputPath(PathUp).is_file()


@pytest.mark.parametrize("env", ["../../x", "a/b", "", "..", "a\\b"])
def test_env_must_be_one_folder_name(env):
    with pytest.raises(d6tflow.errors.WorkflowError, match="one folder name"):
        d6tflow.Workflow(PathDown, env=env)
    assert not Path("x").exists()


def test_task_path_kwarg_is_per_instance():
    assert MFile(path="explicit").output().path == Path(
        MISC["workflow_paths"]["MFile(path='explicit').output().path"]
    )
    first = MFile()
    other = MFile(path="other")
    assert first.output().path == Path("data/MFile/MFile__99914b932b-data.parquet")
    assert other.output().path == Path("other/MFile/MFile__99914b932b-data.parquet")


def test_two_envs_keep_separate_outputs():
    prod = d6tflow.Workflow(MGrid, {"a": 1}, env="prod")
    dev = d6tflow.Workflow(MGrid, {"a": 1}, env="dev")
    prod.run(execution_summary=False)
    assert prod.complete()
    assert not dev.complete()
    dev.run(execution_summary=False)
    assert RAN == ["MGrid(a=1, b=x)", "MGrid(a=1, b=x)"]


# -- WorkflowMulti ---------------------------------------------------------------------------------

WM = MISC["workflow_multi"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"exp1": {"a": 1}, "exp2": {"a": 2}}, "{'exp1': {'a': 1}, 'exp2': {'a': 2}}"),
        ([{"a": 1}, {"a": 2}], "[{'a': 1}, {'a': 2}]"),
        ({"a": [1, 2], "b": ["x", "y"]}, "{'a': [1, 2], 'b': ['x', 'y']}"),
        ({"b": ["x", "y"], "a": [1, 2]}, "{'b': ['x', 'y'], 'a': [1, 2]}"),
    ],
)
def test_workflow_multi_flow_names_params_and_paths(params, name):
    expected = WM[name]
    flow = d6tflow.WorkflowMulti(MGrid, params)
    assert list(flow.workflow_objs) == expected["flow_names"]
    for fname in expected["flow_names"]:
        assert flow.get_flow(fname).params == expected["flow_params"][str(fname)]
        assert flow.get_task(flow=fname) == MGrid(**expected["flow_params"][str(fname)])
    paths = flow.outputPath()
    assert {str(k): v for k, v in paths.items()} == {
        k: Path(v) for k, v in expected["outputPath"].items()
    }


def test_workflow_multi_grid_names_like_model_ols_scale_False():
    class TaskModel(d6tflow.tasks.TaskCache):
        model = d6tflow.Parameter(default="ols")
        scale = d6tflow.BoolParameter(default=True)

        def run(self):
            self.save(f"{self.model}-{self.scale}")

    flow = d6tflow.WorkflowMulti(TaskModel, {"model": ["ols", "gbm"], "scale": [False, True]})
    assert sorted(flow.workflow_objs) == [
        "model_gbm_scale_False",
        "model_gbm_scale_True",
        "model_ols_scale_False",
        "model_ols_scale_True",
    ]
    flow.run(execution_summary=False)
    assert flow.outputLoad(flow="model_ols_scale_False") == "ols-False"
    assert flow.outputLoad() == {
        "model_gbm_scale_False": "gbm-False",
        "model_gbm_scale_True": "gbm-True",
        "model_ols_scale_False": "ols-False",
        "model_ols_scale_True": "ols-True",
    }


def test_workflow_multi_env_applies_to_every_flow():
    flow = d6tflow.WorkflowMulti(MGrid, {"a": [1, 2], "b": ["x"]}, env="dev")
    assert {k: str(v) for k, v in flow.outputPath().items()} == WM["env"]


@pytest.mark.parametrize("params", [None, {}, []])
def test_workflow_multi_without_params_is_an_error(params):
    with pytest.raises(WorkflowError, match=r"params|parameters"):
        d6tflow.WorkflowMulti(MGrid, params)


def test_workflow_multi_params_of_the_wrong_kind_is_an_error():
    with pytest.raises(WorkflowError):
        d6tflow.WorkflowMulti(MGrid, "a=1")
    with pytest.raises(WorkflowError):
        d6tflow.WorkflowMulti(MGrid, {"a": [1, 2], "b": "x"})
    with pytest.raises(WorkflowError):
        d6tflow.WorkflowMulti(MGrid(), {"f": {"a": 1}})


def test_workflow_multi_run_outputLoad_and_preview(capsys):
    # vectors: workflow_multi "run_and_outputLoad (grid {a:[1,2], b:[x]})"
    expected = WM["run_and_outputLoad (grid {a:[1,2], b:[x]})"]
    flow = d6tflow.WorkflowMulti(MGrid, {"a": [1, 2], "b": ["x"]})
    results = flow.run(execution_summary=False)
    assert isinstance(results, dict)
    assert sorted(results) == ["a_1_b_x", "a_2_b_x"]
    assert all(r.status == "SUCCESS" for r in results.values())
    assert [repr(t) for t in results["a_1_b_x"].ran] == ["MGrid(a=1, b=x)"]
    assert sorted(RAN) == expected["run"]["ran"]
    assert flow.outputLoad() == {"a_1_b_x": {"a": 1, "b": "x"}, "a_2_b_x": {"a": 2, "b": "x"}}
    assert flow.outputLoad(flow="a_1_b_x") == {"a": 1, "b": "x"}
    assert flow.complete() == {"a_1_b_x": True, "a_2_b_x": True}
    assert flow.outputLoadAll(flow="a_2_b_x") == {"MGrid": {"a": 2, "b": "x"}}
    capsys.readouterr()
    ret = flow.preview()
    out = capsys.readouterr().out
    assert ret == {"a_1_b_x": None, "a_2_b_x": None}
    assert out.count("COMPLETE") == 2
    assert "'a': '1'" in out and "'a': '2'" in out


def test_workflow_multi_run_one_flow():
    flow = d6tflow.WorkflowMulti(MGrid, {"one": {"a": 1}, "two": {"a": 2}})
    result = flow.run(flow="two", execution_summary=False)
    assert result.status == "SUCCESS"
    assert RAN == ["MGrid(a=2, b=x)"]
    assert flow.complete() == {"one": False, "two": True}
    with pytest.raises(WorkflowError, match="three"):
        flow.run(flow="three")


def test_workflow_multi_reset_one_flow_and_all(no_input):
    flow = d6tflow.WorkflowMulti(MGrid, {"one": {"a": 1}, "two": {"a": 2}})
    flow.run(execution_summary=False)
    flow.reset(flow="one")
    assert flow.complete() == {"one": False, "two": True}
    flow.reset()
    assert flow.complete() == {"one": False, "two": False}


def test_workflow_multi_reset_upstream_and_downstream_with_flow(no_input):
    """d6tflow's bug: with flow= these called plain reset()."""
    flow = d6tflow.WorkflowMulti(
        TaskTrain, {"t": {"do_preprocess": True}, "f": {"do_preprocess": False}}
    )
    flow.run(execution_summary=False)
    flow.reset_upstream(TaskTrain, flow="t")
    assert not TaskGetData().complete()  # upstream of flow t went too
    assert not TaskPreprocess(do_preprocess=True).complete(cascade=False)
    assert TaskPreprocess(do_preprocess=False).complete(cascade=False)
    flow.run(execution_summary=False)
    flow.reset_downstream(TaskPreprocess, flow="f")
    assert TaskGetData().complete()
    assert not TaskPreprocess(do_preprocess=False).complete(cascade=False)
    assert not TaskTrain(do_preprocess=False).complete(cascade=False)
    assert TaskTrain(do_preprocess=True).complete()


def test_workflow_multi_outputLoadMeta_and_set_default():
    flow = d6tflow.WorkflowMulti(MGrid, [{"a": 1}, {"a": 2}])
    flow.set_default(MMetaDown)
    with pytest.warns(d6tflow.errors.CompatibilityWarning, match="'a'"):
        flow.run(execution_summary=False)  # 'a' is not a parameter of MMetaDown's flow
    assert flow.outputLoadMeta(MMeta) == {0: {"m": 1}, 1: {"m": 1}}
    assert flow.get_task(flow=1) == MMetaDown()


class TaskShared(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        self.save([1, 2, 3])


@d6tflow.requires(TaskShared)
class TaskModel(d6tflow.tasks.TaskPickle):
    model = d6tflow.Parameter(default="ols")

    def run(self):
        _ran(self)
        self.save((self.model, sum(self.inputLoad())))


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_workflow_multi_runs_all_flows_as_one_graph(scheduler, monkeypatch, capsys):
    calls = []
    real = d6tflow.graph.exists_many

    def counting(targets):
        calls.append(1)
        return real(targets)

    monkeypatch.setattr(d6tflow.graph, "exists_many", counting)
    flow = d6tflow.WorkflowMulti(TaskModel, {"m1": {"model": "ols"}, "m2": {"model": "gbm"}})
    flow.run(scheduler=scheduler)
    out = capsys.readouterr().out
    assert RAN.count("TaskShared()") == 1
    assert sorted(RAN) == ["TaskModel(model=gbm)", "TaskModel(model=ols)", "TaskShared()"]
    assert out.count("Scheduled") == 1  # one run, one summary
    assert "Scheduled 3 tasks of which:" in out
    assert len(calls) == 1  # the status of the whole graph was computed once
    assert flow.outputLoad() == {"m1": ("ols", 6), "m2": ("gbm", 6)}


# -- top-level functions ---------------------------------------------------------------------------


def test_top_level_preview_and_show(capsys):
    out = _preview(capsys, d6tflow.preview, TaskTrain())
    assert out.count("PENDING") == 3
    out = _preview(capsys, d6tflow.preview, [TaskPreprocess(), TaskTrain()])
    assert [n for n, _ in _states(out)][:4] == [
        "TaskPreprocess",
        "TaskGetData",
        "TaskTrain",
        "TaskPreprocess",
    ]
    out = _preview(capsys, d6tflow.show, TaskGetData())
    assert _states(out) == [("TaskGetData", "PENDING")]


def test_top_level_preview_rejects_a_class():
    with pytest.raises(WorkflowError, match=r"TaskTrain\(\)"):
        d6tflow.preview(TaskTrain)


def test_top_level_run_task_and_list():
    result = d6tflow.run(TaskTrain(), execution_summary=False)
    assert RAN == ALL3
    assert bool(result) is True
    RAN.clear()
    d6tflow.run([TaskIdx(i=1), TaskIdx(i=2), TaskTrain()], execution_summary=False)
    assert sorted(RAN) == ["TaskIdx(i=1)", "TaskIdx(i=2)"]


def test_top_level_run_prints_the_complete_summary(capsys):
    d6tflow.run(TaskTrain(), execution_summary=False)
    capsys.readouterr()
    d6tflow.run(TaskTrain())
    out = capsys.readouterr().out
    assert "* 1 complete ones were encountered:" in out
    assert "    - 1 TaskTrain(do_preprocess=True)" in out
    assert "Did not run any tasks" in out


def test_invalidate_upstream_resets_every_upstream_task(no_input):
    d6tflow.run(TaskTrain(), execution_summary=False)
    d6tflow.invalidate_upstream(TaskTrain())
    _assert_states(MISC["reset"]["after reset_upstream(TaskTrain)"])


def test_invalidate_upstream_confirm(monkeypatch):
    d6tflow.run(TaskTrain(), execution_summary=False)
    prompts = answer(monkeypatch, "n")
    d6tflow.invalidate_upstream(TaskTrain(), confirm=True)
    assert len(prompts) == 1
    assert TaskTrain().complete()


def test_invalidate_downstream_resets_the_path_between(no_input):
    d6tflow.run(TaskTrain(), execution_summary=False)
    d6tflow.invalidate_downstream(TaskPreprocess(), TaskTrain())
    assert TaskGetData().complete()
    assert not TaskPreprocess().complete(cascade=False)
    assert not TaskTrain().complete(cascade=False)


def test_invalidate_downstream_with_nothing_complete(no_input, capsys):
    assert d6tflow.invalidate_downstream(TaskGetData(), TaskTrain()) is True
    assert "no tasks to invalidate" in capsys.readouterr().out


def test_taskflow_upstream_and_downstream_match_d6tflow():
    assert [repr(t) for t in d6tflow.taskflow_upstream(TaskTrain())] == MISC[
        "pipeline_taskflow_upstream"
    ]
    got = d6tflow.taskflow_downstream(TaskGetData(), TaskTrain())
    assert sorted(repr(t) for t in got) == sorted(
        MISC["pipeline_taskflow_downstream(TaskGetData, TaskTrain)"]
    )


# -- forced runs (vectors: misc.forced) ------------------------------------------------------------

FORCED = MISC["forced"]


def _run_complete_pipeline():
    d6tflow.run(TaskTrain(), execution_summary=False)
    RAN.clear()


@pytest.mark.parametrize(
    ("name", "call"),
    [
        (
            "Workflow(TaskTrain).run(forced=TaskGetData)",
            lambda: d6tflow.Workflow(TaskTrain).run(forced=TaskGetData, execution_summary=False),
        ),
        (
            "Workflow(TaskTrain).run(forced_all=True)",
            lambda: d6tflow.Workflow(TaskTrain).run(forced_all=True, execution_summary=False),
        ),
        (
            "Workflow(TaskTrain).run(forced_all_upstream=True)",
            lambda: d6tflow.Workflow(TaskTrain).run(
                forced_all_upstream=True, execution_summary=False
            ),
        ),
        (
            "d6tflow.run(TaskTrain(), forced=TaskGetData())",
            lambda: d6tflow.run(TaskTrain(), forced=TaskGetData(), execution_summary=False),
        ),
        (
            "d6tflow.run(TaskTrain(), forced=TaskPreprocess())",
            lambda: d6tflow.run(TaskTrain(), forced=TaskPreprocess(), execution_summary=False),
        ),
        (
            "d6tflow.run(TaskTrain(), forced=[TaskPreprocess()])",
            lambda: d6tflow.run(TaskTrain(), forced=[TaskPreprocess()], execution_summary=False),
        ),
        (
            "d6tflow.run(TaskTrain(), forced_all=True)",
            lambda: d6tflow.run(TaskTrain(), forced_all=True, execution_summary=False),
        ),
        (
            "d6tflow.run(TaskTrain(), forced_all_upstream=True)",
            lambda: d6tflow.run(TaskTrain(), forced_all_upstream=True, execution_summary=False),
        ),
        (
            "forced task not upstream (MFile)",
            lambda: d6tflow.run(TaskTrain(), forced=MFile(), execution_summary=False),
        ),
    ],
)
def test_forced_runs_rerun_what_d6tflow_reruns(name, call):
    _run_complete_pipeline()
    call()
    assert sorted(RAN) == sorted(FORCED[name]["ran"])


def test_forced_given_as_a_class_to_top_level_run():
    """vectors: d6tflow.run(TaskTrain(), forced=TaskGetData) -- a class -- reran all three."""
    _run_complete_pipeline()
    d6tflow.run(TaskTrain(), forced=TaskGetData, execution_summary=False)
    assert sorted(RAN) == sorted(
        FORCED["d6tflow.run(TaskTrain(), forced=TaskGetData (class))"]["ran"]
    )


def test_forced_on_a_never_run_pipeline():
    d6tflow.Workflow(TaskTrain).run(forced=TaskGetData, execution_summary=False)
    assert FORCED["forced on never-run pipeline"]["ran"] == RAN


def test_forced_all_keeps_upstream_outputs():
    _run_complete_pipeline()
    before = Path(TaskGetData().output().path).stat().st_mtime_ns
    d6tflow.Workflow(TaskTrain).run(forced_all=True, execution_summary=False)
    assert Path(TaskGetData().output().path).stat().st_mtime_ns == before
    assert RAN == ["TaskTrain(do_preprocess=True)"]


def test_forced_run_with_confirm_declined_returns_none_without_running(monkeypatch):
    _run_complete_pipeline()
    prompts = answer(monkeypatch, "n")
    result = d6tflow.Workflow(TaskTrain).run(forced_all_upstream=True, confirm=True)
    assert result is None
    assert len(prompts) == 1
    assert RAN == []
    assert TaskTrain().complete() and TaskGetData().complete()


def test_forced_run_with_confirm_top_level_declined(monkeypatch):
    _run_complete_pipeline()
    prompts = answer(monkeypatch, "no")
    assert d6tflow.run(TaskTrain(), forced=TaskPreprocess(), confirm=True) is None
    assert len(prompts) == 1
    assert RAN == []


def test_forced_run_with_confirm_accepted_runs(monkeypatch):
    _run_complete_pipeline()
    prompts = answer(monkeypatch, "y")
    result = d6tflow.Workflow(TaskTrain).run(forced_all=True, confirm=True, execution_summary=False)
    assert len(prompts) == 1
    assert result.status == "SUCCESS"
    assert RAN == ["TaskTrain(do_preprocess=True)"]


def test_run_without_confirm_never_prompts(no_input):
    _run_complete_pipeline()
    d6tflow.Workflow(TaskTrain).run(forced_all_upstream=True, execution_summary=False)
    assert RAN == ALL3


# -- parameters no task declares -----------------------------------------------------------------


class TaskTypo(d6tflow.tasks.TaskPickle):
    do_preprocess = d6tflow.BoolParameter(default=True)

    def run(self):
        self.save(self.do_preprocess)


@d6tflow.requires(TaskTypo)
class TaskTypoDown(d6tflow.tasks.TaskPickle):
    model = d6tflow.Parameter(default="ols")

    def run(self):
        self.save(self.inputLoad())


def test_a_misspelled_parameter_warns_once_with_the_close_match():
    flow = d6tflow.Workflow(TaskTypoDown, {"do_preproces": False})
    with pytest.warns(d6tflow.errors.CompatibilityWarning) as record:
        flow.preview()
        flow.run(execution_summary=False)
    assert len(record) == 1
    text = str(record[0].message)
    assert "'do_preproces'" in text and "Did you mean 'do_preprocess'?" in text
    assert flow.outputLoad() is True  # ignored, as in d6tflow


def test_a_parameter_of_another_task_of_the_flow_does_not_warn(recwarn):
    flow = d6tflow.Workflow(TaskTypoDown, {"model": "gbm", "do_preprocess": False})
    flow.run(TaskTypo, execution_summary=False)  # 'model' is TaskTypoDown's: part of the flow
    flow.preview(TaskTypo)
    assert not [w for w in recwarn if issubclass(w.category, d6tflow.errors.CompatibilityWarning)]


def test_a_parameter_unlike_any_warns_once_and_says_it_may_be_shared():
    shared = d6tflow.Workflow(TaskTypo, {"experiment_owner": "ana"})
    with pytest.warns(d6tflow.errors.CompatibilityWarning, match=r"'experiment_owner'.*shared"):
        shared.run(execution_summary=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shared.preview()  # told once per flow


def test_strict_refuses_a_parameter_no_task_declares():
    d6tflow.settings.strict = True
    with pytest.raises(d6tflow.errors.WorkflowError, match="do_preproces"):
        d6tflow.Workflow(TaskTypoDown, {"do_preproces": False}).run(execution_summary=False)
    assert not TaskTypo().complete()


def test_checking_parameters_builds_the_whole_flow_once(monkeypatch):
    import daskflow.workflow as wf

    built = []
    real = wf.build
    monkeypatch.setattr(wf, "build", lambda roots: built.append(1) or real(roots))
    flow = d6tflow.Workflow(TaskTypoDown, {"model": "gbm"})  # 'model' is only the default's
    for _ in range(3):
        flow.preview(TaskTypo)
    assert len(built) == 3 + 1  # one per preview, and the default task's flow once


def test_workflow_multi_takes_its_params_first_as_workflow_does():
    flow = d6tflow.WorkflowMulti({"a": {"do_preprocess": True}, "b": {"do_preprocess": False}})
    flow.set_default(TaskTypo)
    assert flow.get_task(flow="b").do_preprocess is False
    with pytest.raises(d6tflow.errors.NoDefaultTaskError):
        d6tflow.WorkflowMulti([{"do_preprocess": True}]).run()
