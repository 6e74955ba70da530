"""daskflow.functional: d6tflow's decorator API (``from d6tflow.functional import Workflow``).

Flows are made by factory functions, so each test gets fresh step functions, and the step
functions are local (a distributed worker receives them by value, as from a notebook).
Steps record each run in RAN (a file in the test's working directory, so worker processes
of the default scheduler can write to it).
"""

from __future__ import annotations

import doctest
import functools
import os
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import RunLog, is_manifest

import daskflow as d6tflow
from daskflow import functional
from daskflow.errors import (
    MissingParameterError,
    TaskDefinitionError,
    TaskIncompleteError,
    WorkflowError,
)
from daskflow.functional import Workflow
from daskflow.tasks import task_id_str

RAN = RunLog()


def d6tflow_example():
    """test_functional_Flow of d6tflow 0.2.8's tests/test_main.py, as written there."""
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskCache)
    @flow.persists(["a1", "a2"])
    def get_data0(task):
        df = pd.DataFrame({"a": range(3)})
        task.save({"a1": df, "a2": df})

    @flow.task(d6tflow.tasks.TaskCache)
    @flow.persists(["a1", "a2"])
    def get_data1(task):
        df = pd.DataFrame({"a": range(3)})
        task.save({"a1": df, "a2": df})

    @flow.task(d6tflow.tasks.TaskCache)
    @flow.requires(get_data0)
    def get_data2(task):
        df0 = task.inputLoad(as_dict=True)
        df = pd.DataFrame({"a": range(3)})
        task.save({"b1": df, "b2": df0})

    @flow.task(d6tflow.tasks.TaskCache)
    @flow.requires({"a": get_data1, "b": get_data2})
    @flow.persists(["aa"])
    def use_data(task):
        df0 = task.inputLoad(as_dict=True)
        df = pd.DataFrame({"a": range(3)})
        assert df0["a"]["a1"].equals(df) and df0["a"]["a2"].equals(df)
        assert df0["b"]["b1"].equals(df) and df0["b"]["b2"]["a1"].equals(df)
        assert task.multiplier == 42
        output = pd.DataFrame({"a": range(4)})
        task.save({"aa": output})

    return SimpleNamespace(flow=flow, get_data0=get_data0, get_data1=get_data1, use_data=use_data)


def file_flow(task_type=d6tflow.tasks.TaskPickle):
    """A chain load -> scale with a step parameter, stored by ``task_type``; returns the flow
    and its last step."""
    flow = Workflow()

    @flow.task(task_type)
    def load(task):
        RAN.append(f"load {task.param_kwargs}")
        task.save(pd.DataFrame({"x": [1, 2, 3]}))

    @flow.task(task_type)
    @flow.requires(load)
    @flow.params(factor=d6tflow.IntParameter(default=1))
    def scale(task):
        RAN.append(f"scale {task.param_kwargs}")
        task.save(task.inputLoad() * task.factor)

    return flow, scale


def ran():
    return sorted(RAN)


@pytest.fixture(autouse=True)
def _clear_ran():
    RAN.clear()
    yield
    RAN.clear()


def files(root, step):
    folder = root / "data" / step
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not is_manifest(p))


# -- d6tflow's example ------------------------------------------------------------------------


def test_d6tflow_functional_example_end_to_end():
    ex = d6tflow_example()
    flow, get_data0, get_data1, use_data = ex.flow, ex.get_data0, ex.get_data1, ex.use_data
    flow.add_global_params(multiplier=d6tflow.IntParameter(default=0))
    first = flow.run(
        [use_data, get_data0],
        forced_all_upstream=True,
        confirm=False,
        params={"multiplier": 42},
        execution_summary=False,
    )
    again = flow.run(
        use_data,
        forced_all_upstream=True,
        confirm=False,
        params={"multiplier": 42},
        execution_summary=False,
    )
    dfo = pd.DataFrame({"a": range(4)})
    assert flow.outputLoad(use_data)[0].equals(dfo)
    for result in (first, again):
        assert result.status == "SUCCESS"
        assert sorted(type(t).__name__ for t in result.ran) == [
            "get_data0",
            "get_data1",
            "get_data2",
            "use_data",
        ]
    # every step is a task class named after its function, with the global parameter
    for name, step in flow.steps.items():
        assert issubclass(step, d6tflow.tasks.TaskCache) and step.__name__ == name
        assert step.get_param_names() == ["multiplier"]
    task = flow.steps["use_data"](multiplier=42)
    assert task.task_id == task_id_str("use_data", {"multiplier": "42"})
    assert task.output()["aa"].url == f"data/use_data/{task.task_id}-aa.cache"
    # the upstream steps load with the parameters they ran with
    assert flow.outputLoad("get_data2")["b2"]["a1"].equals(pd.DataFrame({"a": range(3)}))
    assert list(flow.outputLoad(get_data1, as_dict=True)) == ["a1", "a2"]


def test_a_second_run_runs_nothing():
    flow, scale = file_flow()
    assert flow.run(scale, execution_summary=False).status == "SUCCESS"
    result = flow.run(scale, execution_summary=False)
    assert result.status == "SUCCESS" and result.ran == []
    assert ran() == ["load {}", "scale {'factor': 1}"]


# -- decorators -------------------------------------------------------------------------------


def test_decorator_order_does_not_matter(tmp_path):
    made = []
    for order in ("task first", "task last", "task between"):
        flow = Workflow()

        @flow.task(d6tflow.tasks.TaskPickle)
        def up(task):
            task.save(1)

        def decorate(func, order=order, flow=flow, up=up):
            decorators = [
                flow.task(d6tflow.tasks.TaskJson),
                flow.requires(up),
                flow.persists(["a", "b"]),
                flow.params(n=d6tflow.IntParameter(default=2)),
            ]
            if order == "task last":
                decorators.append(decorators.pop(0))
            elif order == "task between":
                decorators.insert(2, decorators.pop(0))
            for deco in reversed(decorators):  # the bottom one first, as Python does
                func = deco(func)
            return func

        def down(task):
            task.save({"a": task.inputLoad() + task.n, "b": task.n})

        assert decorate(down) is down  # the decorators give the function back
        cls = flow.steps["down"]
        assert issubclass(cls, d6tflow.tasks.TaskJson)
        assert cls.persist == ["a", "b"] and cls.get_param_names() == ["n"]
        flow.run(down, execution_summary=False)
        made.append(flow.outputLoad(down))
    assert made == [[3, 2]] * 3


def test_requires_positional_forms_and_inherited_params():
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.params(a=d6tflow.IntParameter(default=1))
    def one(task):
        task.save(task.a)

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.params(b=d6tflow.IntParameter(default=10))
    def two(task):
        task.save(task.b)

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.requires(one, two)
    def both(task):
        task.save(sum(task.inputLoad()) + task.a + task.b)

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.requires(a=one)  # the keyword form is the dict form
    def named(task):
        task.save(task.inputLoad()["a"])

    assert flow.steps["both"].get_param_names() == ["a", "b"]
    flow.run([both, named], params={"a": 2}, execution_summary=False)
    assert flow.outputLoad(both) == 2 + 10 + 2 + 10
    assert flow.outputLoad(named) == 2
    assert flow.outputLoad(one) == 2  # the upstream task ran with the run's params


def test_a_decorator_between_the_flow_decorators_keeps_one_step():
    flow = Workflow()

    def logged(func):
        @functools.wraps(func)
        def wrapper(task):
            RAN.append("wrapped")
            return func(task)

        return wrapper

    @flow.task(d6tflow.tasks.TaskPickle)
    @logged
    @flow.persists(["x"])
    def step(task):
        task.save({"x": 5})

    assert list(flow.steps) == ["step"]
    flow.run(step, execution_summary=False)
    assert flow.outputLoad(step) == [5] and ran() == ["wrapped"]


def test_redefining_a_step_replaces_it_for_the_steps_downstream():
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskPickle)
    def source(task):
        task.save("old")

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.requires(source)
    def sink(task):
        task.save(task.inputLoad() + "!")

    @flow.task(d6tflow.tasks.TaskPickle)  # the cell defining source, run again, changed
    @flow.params(tag=d6tflow.Parameter(default="new"))
    def source(task):
        task.save(task.tag)

    assert flow.steps["sink"].get_param_names() == ["tag"]
    flow.run(sink, execution_summary=False)
    assert flow.outputLoad(sink) == "new!"


def test_steps_redefined_into_a_cycle_name_it():
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskPickle)
    def b(task):
        task.save(1)

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.requires(b)
    def a(task):
        task.save(2)

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.requires(a)
    def b(task):
        task.save(3)

    with pytest.raises(TaskDefinitionError, match="in a cycle: a -> b -> a"):
        flow.run(a)


# -- global parameters ------------------------------------------------------------------------


def test_add_global_params_before_and_after_the_steps(tmp_path):
    flow = Workflow()
    flow.add_global_params(region=d6tflow.Parameter(default="eu"))

    @flow.task(d6tflow.tasks.TaskPickle)
    def early(task):
        task.save(f"{task.region}-{task.year}")

    flow.add_global_params(year=d6tflow.IntParameter(default=2020))

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.requires(early)
    def late(task):
        task.save(f"{task.inputLoad()}/{task.region}-{task.year}")

    for name in ("early", "late"):
        assert flow.steps[name].get_param_names() == ["region", "year"]
    flow.run(late, params={"region": "us", "year": 2021}, execution_summary=False)
    assert flow.outputLoad(late) == "us-2021/us-2021"
    # the global parameters name the outputs, like any parameter
    task_id = task_id_str("early", {"region": "us", "year": "2021"})
    assert files(tmp_path, "early") == [f"{task_id}-data.pkl"]
    assert flow.steps["early"](region="us", year=2021).task_id == task_id


def test_a_global_param_added_after_a_run_reaches_the_steps():
    flow, scale = file_flow()
    flow.run(scale, execution_summary=False)
    old = flow.steps["scale"]
    flow.add_global_params(version=d6tflow.IntParameter(default=1))
    assert flow.steps["scale"] is not old  # rebuilt, with the new parameter
    assert flow.steps["scale"].get_param_names() == ["factor", "version"]
    assert flow.steps["load"].get_param_names() == ["version"]
    assert not flow.steps["scale"]().complete()  # a new task id: not run yet
    flow.run(scale, params={"version": 2}, execution_summary=False)
    assert flow.steps["load"](version=2).complete()


def test_a_steps_own_param_wins_over_a_global_one():
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.params(n=d6tflow.IntParameter(default=7))
    def step(task):
        task.save(task.n)

    flow.add_global_params(n=d6tflow.IntParameter(default=0), m=d6tflow.IntParameter(default=0))
    assert flow.steps["step"]().n == 7
    assert flow.steps["step"].get_param_names() == ["n", "m"]


# -- params and multi_params ------------------------------------------------------------------


def test_params_name_the_outputs_and_are_remembered(tmp_path):
    flow, scale = file_flow()
    flow.run(scale, params={"factor": 3}, execution_summary=False)
    assert flow.outputLoad(scale)["x"].tolist() == [3, 6, 9]
    flow.run(scale, params={"factor": 2}, execution_summary=False)
    assert flow.outputLoad(scale)["x"].tolist() == [2, 4, 6]  # the last run's
    assert flow.outputLoad(scale, params={"factor": 3})["x"].tolist() == [3, 6, 9]
    assert len(files(tmp_path, "scale")) == 2 and len(files(tmp_path, "load")) == 1
    assert ran() == ["load {}", "scale {'factor': 2}", "scale {'factor': 3}"]


def test_multi_params_run_as_one_graph_and_load_per_flow():
    flow, scale = file_flow()
    results = flow.run(
        scale, multi_params={"double": {"factor": 2}, "triple": {"factor": 3}},
        execution_summary=False,
    )  # fmt: skip
    assert set(results) == {"double", "triple"}
    assert all(r.status == "SUCCESS" for r in results.values())
    assert ran() == ["load {}", "scale {'factor': 2}", "scale {'factor': 3}"]  # load once
    loaded = flow.outputLoad(scale)
    assert {k: v["x"].tolist() for k, v in loaded.items()} == {
        "double": [2, 4, 6],
        "triple": [3, 6, 9],
    }
    everything = flow.outputLoadAll(scale)
    assert set(everything) == {"double", "triple"}
    assert set(everything["triple"]) == {"scale", "load"}
    # a later single run leaves multi mode
    flow.run(scale, params={"factor": 5}, execution_summary=False)
    assert flow.outputLoad(scale)["x"].tolist() == [5, 10, 15]


def test_multi_params_grid_with_shared_params():
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.params(a=d6tflow.IntParameter(), b=d6tflow.IntParameter(), c=d6tflow.IntParameter())
    def combo(task):
        task.save(task.a * 100 + task.b * 10 + task.c)

    flow.run(combo, params={"c": 7}, multi_params={"a": [1, 2], "b": [3]}, execution_summary=False)
    assert flow.outputLoad(combo) == {"a_1_b_3": 137, "a_2_b_3": 237}


# -- loading, preview, reset and delete --------------------------------------------------------


def test_outputLoadAll_is_keyed_by_step_name():
    flow, scale = file_flow()
    flow.run(scale, params={"factor": 2}, execution_summary=False)
    everything = flow.outputLoadAll(scale)
    assert set(everything) == {"load", "scale"}
    assert everything["scale"]["x"].tolist() == [2, 4, 6]
    assert everything["load"]["x"].tolist() == [1, 2, 3]


def test_outputLoad_of_a_step_not_run_here_uses_its_defaults():
    flow, scale = file_flow()
    with pytest.raises(TaskIncompleteError, match="run flow first"):
        flow.outputLoad(scale)
    d6tflow.Workflow(flow.steps["scale"]).run(execution_summary=False)
    assert flow.outputLoad(scale)["x"].tolist() == [1, 2, 3]  # outputs of an earlier session


def test_preview_shows_each_parameter_set_run(capsys):
    ex = d6tflow_example()
    flow, get_data0, get_data1, use_data = ex.flow, ex.get_data0, ex.get_data1, ex.use_data
    flow.add_global_params(multiplier=d6tflow.IntParameter(default=0))
    capsys.readouterr()
    flow.preview(use_data, {"multiplier": 42})  # d6tflow's positional params
    out = capsys.readouterr().out
    assert "└─--[use_data-{'multiplier': '42'} (PENDING)]" in out
    assert "   └─--[get_data2-{'multiplier': '42'} (PENDING)]" in out
    assert "      └─--[get_data0-{'multiplier': '42'} (PENDING)]" in out
    flow.run(use_data, params={"multiplier": 42}, execution_summary=False)
    flow.run(get_data0, params={"multiplier": 1}, execution_summary=False)
    capsys.readouterr()
    for params in (None, {}):  # {} is no params, as in d6tflow
        flow.preview(get_data0, params)  # both parameter sets it ran with
        out = capsys.readouterr().out
        assert "[get_data0-{'multiplier': '42'} (COMPLETE)]" in out
        assert "[get_data0-{'multiplier': '1'} (COMPLETE)]" in out
    flow.preview(get_data1)
    out = capsys.readouterr().out
    assert "[get_data1-{'multiplier': '42'} (COMPLETE)]" in out and "'1'" not in out


def test_preview_of_a_step_not_run_shows_its_defaults(capsys):
    flow, scale = file_flow()
    capsys.readouterr()
    flow.preview([scale, "load"], show_params=False)
    out = capsys.readouterr().out
    assert "└─--[scale- (PENDING)]" in out and "factor" not in out
    assert "└─--[load- (PENDING)]" in out  # the second root


def test_reset_one_set_every_set_and_resetAll(tmp_path):
    flow, scale = file_flow()
    flow.run(scale, params={"factor": 2}, execution_summary=False)
    flow.run(scale, params={"factor": 3}, execution_summary=False)
    assert flow.reset(scale, params={"factor": 2}) is True
    assert len(files(tmp_path, "scale")) == 1
    assert flow.reset(scale) == [True, True]  # every set it ran with (2 is gone already)
    assert files(tmp_path, "scale") == [] and len(files(tmp_path, "load")) == 1
    flow.run(scale, params={"factor": 3}, execution_summary=False)
    RAN.clear()
    flow.resetAll()
    assert files(tmp_path, "scale") == [] and files(tmp_path, "load") == []
    flow.run(scale, params={"factor": 3}, execution_summary=False)
    assert ran() == ["load {}", "scale {'factor': 3}"]


def test_reset_by_name_and_confirm_declined(monkeypatch, tmp_path):
    flow, scale = file_flow()
    flow.run(scale, execution_summary=False)
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    assert flow.reset("scale", confirm=True) == [False]
    assert len(files(tmp_path, "scale")) == 1
    assert flow.reset("scale") == [True]
    assert files(tmp_path, "scale") == []


def test_reset_of_a_step_that_has_not_run_in_this_flow_does_nothing(tmp_path):
    # as d6tflow: outputs of an earlier session stay; reset(step, params=...) removes them
    first, scale = file_flow()
    first.run(scale, execution_summary=False)
    again, _ = file_flow()
    assert again.reset("scale") is None
    assert len(files(tmp_path, "scale")) == 1
    again.resetAll()
    assert len(files(tmp_path, "scale")) == 1


def test_delete_removes_every_output_of_the_step(tmp_path):
    flow, scale = file_flow()
    flow.run(scale, multi_params=[{"factor": 1}, {"factor": 2}], execution_summary=False)
    (tmp_path / "data" / "scale" / "by-hand.txt").write_text("from an earlier session")
    flow.delete(scale)
    assert files(tmp_path, "scale") == [] and len(files(tmp_path, "load")) == 1
    flow.delete(scale)  # nothing left: no error
    flow.deleteAll()
    assert files(tmp_path, "load") == []
    assert (tmp_path / "data").exists()


def test_delete_on_object_storage(memory_url):
    import fsspec

    d6tflow.set_dir(memory_url)
    flow, scale = file_flow()
    flow.run(scale, params={"factor": 2}, scheduler="sync", execution_summary=False)
    fs = fsspec.filesystem("memory")
    assert len([p for p in fs.ls(f"{memory_url}/scale", detail=False) if not is_manifest(p)]) == 1
    flow.delete(scale)
    assert not fs.exists(f"{memory_url}/scale") and fs.exists(f"{memory_url}/load")
    assert not flow.steps["scale"](factor=2).complete()


def test_cache_steps_reset_delete_and_deleteAll():
    flow, scale = file_flow(d6tflow.tasks.TaskCachePandas)
    flow.run(scale, multi_params=[{"factor": 1}, {"factor": 2}], execution_summary=False)
    assert len(d6tflow.data) == 3
    assert flow.reset(scale, params={"factor": 2}) is True
    assert len(d6tflow.data) == 2
    flow.delete("scale")
    assert [u.split("/")[1] for u in d6tflow.data] == ["load"]
    flow.run(scale, execution_summary=False)
    flow.deleteAll()
    assert d6tflow.data == {}


def test_parquet_steps_with_several_outputs(tmp_path):
    pytest.importorskip("pyarrow")
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskPqPandas)
    @flow.persists(["train", "test"])
    def split(task):
        df = pd.DataFrame({"x": range(10)})
        task.save({"train": df.iloc[:8], "test": df.iloc[8:]})

    flow.run(split, execution_summary=False)
    assert [len(df) for df in flow.outputLoad(split)] == [8, 2]
    assert len(flow.outputLoad(split, keys="test")) == 2
    task_id = task_id_str("split", {})
    assert files(tmp_path, "split") == [f"{task_id}-test.parquet", f"{task_id}-train.parquet"]


def test_forced_reruns_a_step_and_what_is_downstream():
    flow, scale = file_flow()
    flow.run(scale, execution_summary=False)
    RAN.clear()
    flow.run(scale, forced="load", execution_summary=False)
    assert ran() == ["load {}", "scale {'factor': 1}"]


# -- errors -----------------------------------------------------------------------------------


def test_task_needs_a_daskflow_task_class_with_outputs():
    flow = Workflow()
    with pytest.raises(TaskDefinitionError, match=r"subclass of daskflow.tasks.TaskData.*got 3"):
        flow.task(3)
    with pytest.raises(TaskDefinitionError, match="pass the class TaskCache, not an instance"):
        flow.task(d6tflow.tasks.TaskCache())
    with pytest.raises(TaskDefinitionError, match="Task stores no outputs"):
        flow.task(d6tflow.tasks.Task)
    with pytest.raises(TaskDefinitionError, match=r"decorates a function.*got 'x'"):
        flow.task(d6tflow.tasks.TaskCache)("x")
    with pytest.raises(TaskDefinitionError, match="'<lambda>' is not a valid class name"):
        flow.task(d6tflow.tasks.TaskCache)(lambda task: None)


def test_requires_of_something_that_is_not_a_step():
    flow, scale = file_flow()

    def helper(task):
        pass

    with pytest.raises(WorkflowError, match=r"@flow.requires: <function .*helper.* is not a step"):
        flow.requires(helper)
    with pytest.raises(WorkflowError, match="its steps: load, scale"):
        flow.requires("load", "nope")
    with pytest.raises(TaskDefinitionError, match="one dict of them"):
        flow.requires({"a": "load"}, scale)

    @flow.persists(["a"])
    def half(task):
        pass

    with pytest.raises(TaskDefinitionError, match=r"half has no @flow.task\(TaskType\)"):
        flow.requires(half)


def test_a_step_without_task_fails_when_used_naming_it():
    flow = Workflow()

    @flow.params(n=d6tflow.IntParameter(default=1))
    def orphan(task):
        pass

    with pytest.raises(TaskDefinitionError, match=r"orphan has flow decorators but no @flow.task"):
        flow.run(orphan)


def test_run_and_load_of_unknown_steps():
    flow, scale = file_flow()

    def stranger(task):
        pass

    with pytest.raises(WorkflowError, match=r"run: <function .*stranger.* is not a step"):
        flow.run(stranger)
    with pytest.raises(WorkflowError, match="run: got no steps"):
        flow.run([])
    with pytest.raises(WorkflowError, match=r"outputLoad: 'missing' is not a step"):
        flow.outputLoad("missing")
    with pytest.raises(WorkflowError, match=r"run\(forced=...\): 'x' is not a step"):
        flow.run(scale, forced="x")
    with pytest.raises(WorkflowError, match="params must be a dict"):
        flow.run(scale, params=[1])
    with pytest.raises(WorkflowError, match="multi_params needs at least one parameter set"):
        flow.run(scale, multi_params={})


def test_bad_persists_params_and_duplicates():
    flow = Workflow()
    with pytest.raises(TaskDefinitionError, match=r"non-empty list of output names.*got 'x'"):
        flow.persists("x")
    with pytest.raises(TaskDefinitionError, match=r"n must be a parameter such as .*got 3 \(int\)"):
        flow.params(n=3)
    with pytest.raises(TaskDefinitionError, match="cannot be called 'path'"):
        flow.add_global_params(path=d6tflow.Parameter())
    with pytest.raises(TaskDefinitionError, match=r"step has two @flow.task decorators"):

        @flow.task(d6tflow.tasks.TaskCache)
        @flow.task(d6tflow.tasks.TaskPickle)
        def step(task):
            pass

    with pytest.raises(TaskDefinitionError, match=r"other: parameter\(s\) \['n'\] declared twice"):

        @flow.params(n=d6tflow.IntParameter())
        @flow.params(n=d6tflow.IntParameter())
        def other(task):
            pass

    flow = Workflow()
    with pytest.raises(TaskDefinitionError, match=r"bad.persist names must be unique"):

        @flow.task(d6tflow.tasks.TaskCache)
        @flow.persists(["a", "a"])
        def bad(task):
            pass

        flow.steps  # noqa: B018 - the class is made when first needed


def test_a_required_param_without_value_says_to_pass_params():
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskPickle)
    @flow.params(n=d6tflow.IntParameter())
    def needs_n(task):
        task.save(task.n)

    with pytest.raises(MissingParameterError, match=r"outputLoad\(needs_n\).*run it first"):
        flow.outputLoad(needs_n)
    with pytest.raises(MissingParameterError, match=r"needs parameter 'n'"):
        flow.run(needs_n, execution_summary=False)
    flow.run(needs_n, params={"n": 4}, execution_summary=False)
    assert flow.outputLoad(needs_n) == 4


def test_a_failing_step_raises_d6tflows_error_with_its_cause():
    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskPickle)
    def broken(task):
        raise ZeroDivisionError("no")

    with pytest.raises(RuntimeError, match="Exception found running flow") as info:
        flow.run(broken, execution_summary=False, scheduler="sync")
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert flow.reset(broken) == [True]  # what was attempted is remembered


def test_module_doctests():
    assert doctest.testmod(functional).failed == 0


# -- schedulers -------------------------------------------------------------------------------


@pytest.mark.parametrize("scheduler", [None, "sync", "threads"])
def test_example_on_local_schedulers(scheduler):
    ex = d6tflow_example()
    flow, use_data = ex.flow, ex.use_data
    flow.add_global_params(multiplier=d6tflow.IntParameter(default=0))
    result = flow.run(
        use_data, params={"multiplier": 42}, scheduler=scheduler, execution_summary=False
    )
    assert len(result.ran) == 4
    assert flow.outputLoad(use_data)[0].equals(pd.DataFrame({"a": range(4)}))


def test_file_flow_on_local_worker_processes():
    flow, scale = file_flow()
    flow.run(scale, multi_params=[{"factor": f} for f in (1, 2, 3)], workers=2)
    assert {k: v["x"].sum() for k, v in flow.outputLoad(scale).items()} == {0: 6, 1: 12, 2: 18}
    assert len(RAN) == 4  # load once, scale three times


def test_functional_api_on_a_local_cluster(client, tmp_path):
    d6tflow.set_dir(tmp_path / "data")  # workers have their own working directory
    ex = d6tflow_example()
    flow, get_data0, use_data = ex.flow, ex.get_data0, ex.use_data
    flow.add_global_params(multiplier=d6tflow.IntParameter(default=0))
    result = flow.run(use_data, params={"multiplier": 42}, scheduler=client)
    assert len(result.ran) == 4
    # cache outputs made on the workers load here
    assert flow.outputLoad(use_data)[0].equals(pd.DataFrame({"a": range(4)}))
    assert flow.outputLoad(get_data0, keys="a1").equals(pd.DataFrame({"a": range(3)}))

    worker_pids = set(client.run(os.getpid).values())
    where = Workflow()

    @where.task(d6tflow.tasks.TaskCache)
    def pid(task):
        task.save(os.getpid())

    @where.task(d6tflow.tasks.TaskPickle)
    @where.requires(pid)
    def pids(task):
        task.save([task.inputLoad(), os.getpid()])

    where.run(pids, scheduler=client, execution_summary=False)
    assert set(where.outputLoad(pids)) <= worker_pids
    assert where.outputLoad(pid) in worker_pids and os.getpid() not in worker_pids

    files_flow, scale = file_flow()
    results = files_flow.run(
        scale, multi_params={"two": {"factor": 2}, "three": {"factor": 3}}, scheduler=client
    )
    assert set(results) == {"two", "three"}
    assert files_flow.outputLoad(scale, params={"factor": 3})["x"].tolist() == [3, 6, 9]
    files_flow.deleteAll()
    assert not (tmp_path / "data" / "scale").exists()
