"""d6tflow pipelines run unchanged through ``import daskflow as d6tflow``.

The pipelines are written as a d6tflow 0.2.8 user writes them. Expected values come from
tests/d6tflow_vectors/vectors.json, recorded from the real d6tflow. Where daskflow deliberately
differs, the test says so:

- ``keys`` is applied to each upstream task of a list requirement (d6tflow ignored it);
- ``keys=[...]`` gives the outputs in the order asked (d6tflow: persist order);
- an unknown key raises ``OutputKeyError`` (d6tflow returned ``{}`` or ``[]``);
- ``outputLoad(keys='x', as_dict=True)`` gives ``{'x': v}`` (d6tflow raised KeyError);
- the preview shows every task's parameters (d6tflow only the root's, a bug), and a
  summary/preview header says daskflow instead of Luigi.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import is_manifest

import daskflow as d6tflow
from daskflow.errors import OutputKeyError

VECTORS = json.loads(
    (Path(__file__).parent / "d6tflow_vectors" / "vectors.json").read_text(encoding="utf-8")
)
SUMMARY = VECTORS["summary"]
PREVIEW = VECTORS["preview"]
MISC = VECTORS["misc"]

ANSI = re.compile(r"\x1b\[\d+m")
HEADER = re.compile(r"===== \w+ Execution (Summary|Preview) =====")


def summary_text(text):
    """A summary with the tool's name taken out of its header."""
    return HEADER.sub(r"===== Execution \1 =====", text)


def tree(text):
    """Preview tree lines without colours and parameters: connectors, names, states."""
    lines = [ANSI.sub("", line) for line in text.splitlines() if "--[" in line]
    return [re.sub(r"\[(\w+)-.*? \((COMPLETE|PENDING)\)\].*", r"[\1 (\2)]", x) for x in lines]


def run_out(capsys, fn, *args, **kwargs):
    capsys.readouterr()
    result = fn(*args, **kwargs)
    return result, capsys.readouterr().out


# -- the recorded pipeline (vectors: pipeline_source), verbatim ------------------------------------


class TaskGetData(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(pd.DataFrame({"a": [1, 2, 3], "y": [0, 1, 0]}))


@d6tflow.requires(TaskGetData)
class TaskPreprocess(d6tflow.tasks.TaskCachePandas):
    do_preprocess = d6tflow.BoolParameter(default=True)

    def run(self):
        df = self.inputLoad()
        if self.do_preprocess:
            df["a"] = df["a"] * 2
        self.save(df)


@d6tflow.requires(TaskPreprocess)
class TaskTrain(d6tflow.tasks.TaskPickle):
    def run(self):
        df = self.inputLoad()
        self.save({"model": "ols", "n": len(df), "sum_a": int(df["a"].sum())})


def test_pipeline_runs_and_loads_as_recorded(capsys):
    flow = d6tflow.Workflow(TaskTrain)
    _, out = run_out(capsys, flow.run)
    assert summary_text(out) == summary_text(SUMMARY["pipeline_first_run"]["text"])
    assert flow.outputLoad() == {"model": "ols", "n": 3, "sum_a": 12}  # misc: TaskTrain outputLoad
    files = {str(p) for p in Path("data").rglob("*")}
    assert set(MISC["pipeline_files_on_disk"]) <= files
    assert set(MISC["pipeline_cache_keys"]) <= set(d6tflow.data)
    _, out = run_out(capsys, flow.run)
    assert summary_text(out) == summary_text(SUMMARY["pipeline_rerun_complete"]["text"])
    _, out = run_out(capsys, d6tflow.run, TaskTrain())
    assert summary_text(out) == summary_text(SUMMARY["pipeline_module_run_complete"]["text"])
    _, out = run_out(capsys, d6tflow.Workflow(TaskTrain, {"do_preprocess": False}).run)
    assert summary_text(out) == summary_text(SUMMARY["pipeline_run_do_preprocess_false"]["text"])


def test_pipeline_summary_off_prints_nothing_and_is_truthy(capsys):
    result, out = run_out(capsys, d6tflow.Workflow(TaskTrain).run, execution_summary=False)
    assert out == SUMMARY["pipeline_run_execution_summary_false"]["text"]
    assert bool(result) is True


def test_pipeline_preview_tree_as_recorded(capsys):
    flow = d6tflow.Workflow(TaskTrain)
    _, out = run_out(capsys, flow.preview)
    assert tree(out) == tree(PREVIEW["pipeline_before_run"]["text"])
    _, out = run_out(capsys, d6tflow.preview, TaskTrain())
    assert tree(out) == tree(PREVIEW["pipeline_before_run_module_function"]["text"])
    _, out = run_out(capsys, flow.preview, show_params=False)
    assert ANSI.sub("", out).count("-{") == 0
    assert tree(out) == tree(PREVIEW["pipeline_before_run_show_params_false"]["text"])
    flow.run(execution_summary=False)
    _, out = run_out(capsys, flow.preview)
    assert tree(out) == tree(PREVIEW["pipeline_after_run"]["text"])
    _, out = run_out(capsys, d6tflow.Workflow(TaskTrain, {"do_preprocess": False}).preview)
    assert tree(out) == tree(PREVIEW["pipeline_after_run_do_preprocess_false"]["text"])
    assert "'do_preprocess': 'False'" in out


def test_pipeline_with_cache_cleared_is_rebuilt_from_the_cached_task(capsys):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    d6tflow.data.clear()  # the in-memory TaskPreprocess output is gone
    expected = MISC["complete_cascade"]["after clearing cache (TaskPreprocess is TaskCachePandas)"]
    for cls in (TaskGetData, TaskPreprocess, TaskTrain):
        assert cls().complete() is expected[cls.__name__]["complete"]
        d6tflow.settings.check_dependencies = False
        assert cls().complete() is expected[cls.__name__]["complete_no_cascade"]
        d6tflow.settings.check_dependencies = True
    _, out = run_out(capsys, flow.run)
    assert summary_text(out) == summary_text(
        MISC["complete_cascade"]["rerun after clearing cache"]["text"]
    )


def test_outputLoadAll_as_recorded():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    everything = flow.outputLoadAll()
    assert list(everything) == ["TaskTrain", "TaskPreprocess", "TaskGetData"]
    assert everything["TaskTrain"] == {"model": "ols", "n": 3, "sum_a": 12}
    pd.testing.assert_frame_equal(
        everything["TaskPreprocess"], pd.DataFrame({"a": [2, 4, 6], "y": [0, 1, 0]})
    )


def test_set_dir_moves_every_output():
    assert d6tflow.set_dir("mydata") == Path("mydata")
    assert d6tflow.settings.dirpath == Path("mydata")
    d6tflow.Workflow(TaskTrain).run(execution_summary=False)
    assert Path("mydata/TaskGetData/TaskGetData__99914b932b-data.parquet").is_file()
    assert Path("mydata/TaskTrain/TaskTrain_True_e00389f8b2-data.pkl").is_file()
    assert not Path("data").exists()
    assert d6tflow.set_dir() == Path("mydata")
    d6tflow.set_dir("data")
    assert not TaskTrain().complete()


# -- siblings, dict requirements, failures (vectors: pipeline_source) ------------------------------


class TaskSibA(d6tflow.tasks.TaskCache):
    def run(self):
        self.save("A")


class TaskSibB(d6tflow.tasks.TaskCache):
    n = d6tflow.IntParameter(default=2)

    def run(self):
        self.save(self.n)


class TaskSibLeaf(d6tflow.tasks.TaskCache):
    def run(self):
        self.save("leaf")


class TaskSibBDeep(d6tflow.tasks.TaskCache):
    def requires(self):
        return TaskSibLeaf()

    def run(self):
        self.save("deep")


class TaskTwoReqs(d6tflow.tasks.TaskCache):
    n = d6tflow.IntParameter(default=2)

    def requires(self):
        return [TaskSibA(), TaskSibB(n=self.n)]

    def run(self):
        a, b = self.inputLoad()
        self.save(f"{a}{b}")


class TaskTwoReqsDict(d6tflow.tasks.TaskCache):
    def requires(self):
        return {"b": TaskSibBDeep(), "a": TaskSibA()}

    def run(self):
        self.save(self.inputLoad())


def test_two_requirements_preview_and_summaries(capsys):
    _, out = run_out(capsys, d6tflow.preview, TaskTwoReqs())
    assert tree(out) == tree(PREVIEW["two_requirements_before_run"]["text"])
    _, out = run_out(capsys, d6tflow.run, TaskTwoReqs())
    assert summary_text(out) == summary_text(SUMMARY["two_requirements_run"]["text"])
    _, out = run_out(capsys, d6tflow.preview, TaskTwoReqs())
    assert tree(out) == tree(PREVIEW["two_requirements_after_run"]["text"])
    _, out = run_out(capsys, d6tflow.preview, TaskTwoReqsDict())
    assert tree(out) == tree(PREVIEW["two_requirements_dict_nested_clip_params"]["text"])
    _, out = run_out(capsys, d6tflow.run, TaskTwoReqsDict())
    assert summary_text(out) == summary_text(SUMMARY["two_requirements_dict_nested_run"]["text"])
    assert TaskTwoReqs().outputLoad() == "A2"
    assert TaskTwoReqsDict().outputLoad() == {"b": "deep", "a": "A"}


def test_dict_requirements_preview_before_run(capsys):
    _, out = run_out(capsys, d6tflow.preview, TaskTwoReqsDict())
    assert tree(out) == tree(PREVIEW["two_requirements_dict_nested"]["text"])


class TaskFailOk(d6tflow.tasks.TaskCache):
    def run(self):
        self.save("ok")


@d6tflow.requires(TaskFailOk)
class TaskFailBad(d6tflow.tasks.TaskCache):
    def run(self):
        raise ValueError("boom")


@d6tflow.requires(TaskFailBad)
class TaskFailDown(d6tflow.tasks.TaskCache):
    def run(self):
        self.save("down")


class TaskFailSibling(d6tflow.tasks.TaskCache):
    def run(self):
        self.save("sibling")


def test_failing_flow_summaries_and_previews(capsys):
    _, out = run_out(capsys, d6tflow.preview, [TaskFailDown(), TaskFailSibling()])
    assert tree(out) == tree(PREVIEW["failing_before_run"]["text"])
    result, out = run_out(capsys, d6tflow.run, [TaskFailDown(), TaskFailSibling()], abort=False)
    assert summary_text(out) == summary_text(SUMMARY["failing_abort_false"]["text"])
    assert result.status == "FAILED" and result.scheduling_succeeded is False
    assert out == result.summary_text + "\n"
    _, out = run_out(capsys, d6tflow.preview, [TaskFailDown(), TaskFailSibling()])
    assert tree(out) == tree(PREVIEW["failing_after_run"]["text"])


def test_failing_workflow_abort_false(capsys):
    result, out = run_out(capsys, d6tflow.Workflow(TaskFailDown).run, abort=False)
    assert summary_text(out) == summary_text(SUMMARY["failing_workflow_abort_false"]["text"])
    assert result.status == "FAILED"


def test_failing_flow_raises_d6tflows_runtime_error():
    with pytest.raises(RuntimeError, match=r"^Exception found running flow, check trace"):
        d6tflow.run([TaskFailDown(), TaskFailSibling()], execution_summary=False)
    assert TaskFailSibling().complete()


class TaskIdx(d6tflow.tasks.TaskCache):
    i = d6tflow.IntParameter()

    def run(self):
        self.save(self.i)


def test_same_family_many_instances_summary(capsys):
    _, out = run_out(capsys, d6tflow.run, [TaskIdx(i=i) for i in (1, 2, 3, 7)])
    assert summary_text(out) == summary_text(SUMMARY["same_family_many_instances"]["text"])


# -- @requires with a dict, @inherits, clone -------------------------------------------------------


class TaskLoadA(d6tflow.tasks.TaskPqPandas):
    scale = d6tflow.IntParameter(default=1)

    def run(self):
        self.save(pd.DataFrame({"v": [1, 2, 3]}) * self.scale)


class TaskLoadB(d6tflow.tasks.TaskCSVPandas):
    def run(self):
        self.save(pd.DataFrame({"w": [10, 20, 30]}))


@d6tflow.requires({"a": TaskLoadA, "b": TaskLoadB})
class TaskJoin(d6tflow.tasks.TaskJson):
    def run(self):
        a = self.inputLoad(task="a")
        b = self.inputLoad(task="b")
        both = self.inputLoad()
        assert set(both) == {"a", "b"}
        self.save({"total": int(a["v"].sum() + b["w"].sum()), "scale": self.scale})


@d6tflow.inherits(TaskLoadA)
class TaskInherits(d6tflow.tasks.TaskPickle):
    def requires(self):
        return self.clone(TaskLoadA)

    def run(self):
        self.save(int(self.inputLoad()["v"].sum()))


@d6tflow.inherits(TaskLoadA)
class TaskCloneParent(d6tflow.tasks.TaskPickle):
    def requires(self):
        return self.clone_parent()

    def run(self):
        self.save(int(self.inputLoad()["v"].max()))


@d6tflow.inherits({"a": TaskLoadA, "b": TaskLoadB})
class TaskInheritsDict(d6tflow.tasks.TaskPickle):
    def requires(self):
        return self.clone_parents_dict()

    def run(self):
        self.save(sorted(self.inputLoad()))


def test_requires_dict_and_inputLoad_task():
    flow = d6tflow.Workflow(TaskJoin, {"scale": 2})
    flow.run(execution_summary=False)
    assert flow.outputLoad() == {"total": 12 + 60, "scale": 2}
    assert TaskJoin.get_param_names() == ["scale"]
    assert isinstance(TaskJoin(scale=2).requires(), dict)
    assert TaskJoin(scale=2).requires()["a"] == TaskLoadA(scale=2)


def test_inherits_and_clone():
    assert TaskInherits.get_param_names() == ["scale"]
    d6tflow.Workflow(TaskInherits, {"scale": 3}).run(execution_summary=False)
    assert TaskInherits(scale=3).outputLoad() == 18
    d6tflow.run(TaskCloneParent(scale=3), execution_summary=False)
    assert TaskCloneParent(scale=3).outputLoad() == 9


def test_inherits_dict_and_clone_parents_dict():
    d6tflow.run(TaskInheritsDict(scale=2), execution_summary=False)
    assert TaskInheritsDict(scale=2).outputLoad() == ["a", "b"]


# -- parameters and paths --------------------------------------------------------------------------


class TaskA(d6tflow.tasks.TaskPqPandas):
    do_preprocess = d6tflow.BoolParameter(default=True)
    model = d6tflow.Parameter(default="ols x/y")
    dt = d6tflow.DateParameter(default=datetime.date(2020, 1, 2))
    lst = d6tflow.ListParameter(default=[1, 2])
    insig = d6tflow.IntParameter(default=5, significant=False)

    def run(self):
        self.save(pd.DataFrame({"m": [self.model], "n": [len(self.lst)]}))


class Task_Under(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save("under")


class TaskTargetDir(d6tflow.tasks.TaskPickle):
    target_dir = "custom_dir"

    def run(self):
        self.save(1)


class TaskNoSaveAttrib(d6tflow.tasks.TaskPickle):
    save_attrib = False

    def run(self):
        self.save(1)


def test_output_paths_use_luigis_task_id():
    task = TaskA()
    assert task.task_id == "TaskA_True_2020_01_02__1__2__ols_x_y_c3876276f9"
    assert task.output().path == Path(
        "data/TaskA/TaskA_True_2020_01_02__1__2__ols_x_y_c3876276f9-data.parquet"
    )
    assert TaskA(insig=99).task_id == task.task_id  # insignificant
    assert TaskA(lst=(1, 2)) == task  # lists normalised to tuples
    d6tflow.Workflow(TaskA).run(execution_summary=False)
    assert Path(task.output().path).is_file()
    assert task.outputLoad()["m"].tolist() == ["ols x/y"]
    assert task.param_kwargs["dt"] == datetime.date(2020, 1, 2)


def test_class_attributes_target_dir_save_attrib_and_underscore_names():
    d6tflow.run([Task_Under(), TaskTargetDir(), TaskNoSaveAttrib()], execution_summary=False)
    assert Path("data/Task_Under/Task_Under__99914b932b-data.pkl").is_file()  # d6tflow: data/Task/
    assert Path("data/custom_dir/TaskTargetDir__99914b932b-data.pkl").is_file()
    assert Path("data/TaskNoSaveAttrib/data.pkl").is_file()


def test_save_with_param_setting():
    d6tflow.settings.save_with_param = False
    d6tflow.run(Task_Under(), execution_summary=False)
    assert Path("data/Task_Under/data.pkl").is_file()


def test_task_identity_helpers():
    t = TaskTrain(do_preprocess=False)
    assert t.task_family == "TaskTrain"
    assert t.task_id == "TaskTrain_False_57897150ee"
    assert t.param_kwargs == {"do_preprocess": False}
    assert t.clone(TaskPreprocess) == TaskPreprocess(do_preprocess=False)
    assert t.clone(do_preprocess=True) == TaskTrain()
    assert TaskTrain(foo=1) == TaskTrain()  # unknown kwargs silently dropped
    assert repr(TaskTrain()) == "TaskTrain(do_preprocess=True)"


# -- multiple outputs, metadata --------------------------------------------------------------------


class TaskSplit(d6tflow.tasks.TaskPqPandas):
    persist = ["train", "test"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        df = pd.DataFrame({"v": range(10)})
        self.save({"train": df.iloc[:8], "test": df.iloc[8:]})


@d6tflow.requires(TaskSplit)
class TaskFit(d6tflow.tasks.TaskPickle):
    def run(self):
        train, test = self.inputLoad()
        only_test = self.inputLoad(keys=["test"])
        as_dict = self.inputLoad(as_dict=True)
        self.save(
            {
                "n_train": len(train),
                "n_test": len(test),
                "only_test": len(only_test[0]),
                "keys": sorted(as_dict),
            }
        )
        self.metaSave({"score": 0.9})


@d6tflow.requires(TaskFit)
class TaskReport(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(self.metaLoad())


def test_multiple_outputs_and_metadata():
    flow = d6tflow.Workflow(TaskReport)
    flow.run(execution_summary=False)
    assert flow.outputLoad(TaskFit) == {
        "n_train": 8,
        "n_test": 2,
        "only_test": 2,
        "keys": ["test", "train"],
    }
    train, test = flow.outputLoad(TaskSplit)
    assert len(train) == 8 and len(test) == 2
    assert len(flow.outputLoad(TaskSplit, keys="test")) == 2
    assert list(flow.outputLoad(TaskSplit, as_dict=True)) == ["train", "test"]
    paths = flow.outputPath(TaskSplit)
    assert paths == {
        "train": Path("data/TaskSplit/TaskSplit__99914b932b-train.parquet"),
        "test": Path("data/TaskSplit/TaskSplit__99914b932b-test.parquet"),
    }
    assert flow.outputLoadMeta(TaskFit) == {"score": 0.9}
    assert TaskFit().outputLoadMeta() == {"score": 0.9}
    assert flow.outputLoad() == {"score": 0.9}
    assert Path("data/TaskFit/TaskFit__99914b932b-meta.pickle").is_file()


class MMeta(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(pd.DataFrame({"a": [1]}))
        self.metaSave({"m": 1})


@d6tflow.requires(MMeta)
class MMetaDown(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(self.metaLoad())


def test_meta_as_recorded():
    expected = MISC["meta"]
    d6tflow.Workflow(MMetaDown).run(execution_summary=False)
    files = sorted(str(p) for p in Path("data").rglob("*") if p.is_file() and not is_manifest(p))
    assert files == expected["files"]
    assert expected["meta_path"] in files
    assert MMeta().outputLoadMeta() == expected["outputLoadMeta"]
    assert MMetaDown().outputLoad() == expected["metaLoad in downstream"]
    with pytest.raises(RuntimeError):
        MMetaDown().outputLoadMeta()


def test_save_with_wrong_keys_is_a_clear_error():
    class Bad(d6tflow.tasks.TaskPickle):
        persist = ["x", "y"]  # noqa: RUF012

        def run(self):
            self.save({"x": 1})

    with pytest.raises(ValueError, match="persist"):
        Bad().run()


# -- load shapes (vectors: load_shapes) ------------------------------------------------------------


class LSingle(d6tflow.tasks.TaskCache):
    def run(self):
        self.save("single")


class LMulti(d6tflow.tasks.TaskCache):
    persist = ["x", "y"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        self.save({"x": "mx", "y": "my"})


class LMulti3(d6tflow.tasks.TaskCache):
    persist = ["y", "x", "z"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        self.save({"x": "m3x", "y": "m3y", "z": "m3z"})


class LPq(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(pd.DataFrame({"a": [1]}))


@d6tflow.requires(LSingle)
class LReqOneSingle(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(1)


@d6tflow.requires(LMulti)
class LReqOneMulti(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(1)


class LReqList(d6tflow.tasks.TaskCache):
    def requires(self):
        return [LSingle(), LMulti()]

    def run(self):
        self.save(1)


class LReqListMulti(d6tflow.tasks.TaskCache):
    def requires(self):
        return [LMulti(), LMulti3()]

    def run(self):
        self.save(1)


@d6tflow.requires({"s": LSingle, "m": LMulti})
class LReqDict(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(1)


class LReqDictManual(d6tflow.tasks.TaskCache):
    def requires(self):
        return {"m": LMulti(), "s": LSingle(), "m3": LMulti3()}

    def run(self):
        self.save(1)


@d6tflow.requires(LSingle, LMulti)
class LReqTwoPositional(d6tflow.tasks.TaskCache):
    def run(self):
        self.save(1)


ALL_L = [
    LReqOneSingle,
    LReqOneMulti,
    LReqList,
    LReqListMulti,
    LReqDict,
    LReqDictManual,
    LReqTwoPositional,
    LMulti3,
    LPq,
]


@pytest.fixture
def loaded():
    d6tflow.run([cls() for cls in ALL_L], execution_summary=False)


ERR = OutputKeyError

OUTPUT_LOAD = [
    # (task, kwargs, expected) -- from vectors load_shapes.outputLoad unless noted
    (LMulti, {}, ["mx", "my"]),
    (LMulti, {"as_dict": True}, {"x": "mx", "y": "my"}),
    (LMulti, {"keys": "x"}, "mx"),
    (LMulti, {"keys": ["x"]}, ["mx"]),
    (LMulti, {"keys": ["x"], "as_dict": True}, {"x": "mx"}),
    (LMulti, {"keys": ["y", "x"]}, ["my", "mx"]),  # daskflow: order asked
    (LMulti, {"keys": "x", "as_dict": True}, {"x": "mx"}),  # daskflow: d6tflow raised
    (LMulti, {"keys": "data"}, ERR),
    (LMulti, {"keys": ["data"]}, ERR),
    (LMulti3, {}, ["m3y", "m3x", "m3z"]),
    (LMulti3, {"keys": "x"}, "m3x"),
    (LMulti3, {"keys": ["y", "x"]}, ["m3y", "m3x"]),
    (LMulti3, {"keys": ["x"], "as_dict": True}, {"x": "m3x"}),
    (LSingle, {}, "single"),
    (LSingle, {"as_dict": True}, "single"),
    (LSingle, {"keys": "data"}, "single"),
    (LSingle, {"keys": ["data"]}, "single"),
    (LSingle, {"keys": "x"}, ERR),
    (LSingle, {"keys": ["x"]}, ERR),
    (LSingle, {"keys": ["x"], "as_dict": True}, ERR),
    (LPq, {"keys": "x"}, ERR),
    (LPq, {"keys": ["y", "x"]}, ERR),
]


@pytest.mark.parametrize(("task", "kwargs", "expected"), OUTPUT_LOAD)
def test_outputLoad_shapes(loaded, task, kwargs, expected):
    if expected is ERR:
        with pytest.raises(OutputKeyError) as info:
            task().outputLoad(**kwargs)
        assert isinstance(info.value, IndexError)  # d6tflow raised IndexError
        return
    got = task().outputLoad(**kwargs)
    assert got == expected
    if isinstance(expected, dict):
        assert list(got) == list(expected)


def test_outputLoad_single_parquet(loaded):
    for kwargs in ({}, {"as_dict": True}, {"keys": "data"}, {"keys": ["data"]}):
        pd.testing.assert_frame_equal(LPq().outputLoad(**kwargs), pd.DataFrame({"a": [1]}))


def test_outputLoad_multi_as_dict_keeps_persist_order(loaded):
    assert list(LMulti3().outputLoad(as_dict=True)) == ["y", "x", "z"]


def test_outputLoad_not_complete():
    expected = VECTORS["load_shapes"]["outputLoad"]["not_complete"]
    with pytest.raises(RuntimeError, match="task not complete, run flow first"):
        LSingle().outputLoad()
    assert expected["error"] == "RuntimeError"


def test_workflow_outputLoad_shapes(loaded):
    shapes = VECTORS["load_shapes"]["outputLoad"]
    assert d6tflow.Workflow(LMulti).outputLoad() == shapes["Workflow(LMulti).outputLoad()"]["value"]
    assert d6tflow.Workflow(LMulti).outputLoad(as_dict=True) == {"x": "mx", "y": "my"}
    assert d6tflow.Workflow(LReqDict).outputLoadAll() == {
        "LReqDict": 1,
        "LSingle": "single",
        "LMulti": ["mx", "my"],
    }


INPUT_LOAD = [
    # one task, single output: keys and as_dict do not apply
    (LReqOneSingle, {}, "single"),
    (LReqOneSingle, {"as_dict": True}, "single"),
    (LReqOneSingle, {"keys": "data"}, "single"),
    (LReqOneSingle, {"keys": "x"}, "single"),
    (LReqOneSingle, {"keys": ["x"], "as_dict": True}, "single"),
    # one task, several outputs
    (LReqOneMulti, {}, ["mx", "my"]),
    (LReqOneMulti, {"as_dict": True}, {"x": "mx", "y": "my"}),
    (LReqOneMulti, {"keys": "x"}, "mx"),
    (LReqOneMulti, {"keys": "x", "as_dict": True}, {"x": "mx"}),
    (LReqOneMulti, {"keys": ["x"]}, ["mx"]),
    (LReqOneMulti, {"keys": ["x"], "as_dict": True}, {"x": "mx"}),
    (LReqOneMulti, {"keys": ["y", "x"]}, ["my", "mx"]),  # daskflow: order asked
    (LReqOneMulti, {"keys": "m"}, KeyError),
    (LReqOneMulti, {"keys": ["m"]}, ERR),  # daskflow: d6tflow gave []
    (LReqOneMulti, {"keys": ["data"]}, ERR),  # daskflow: d6tflow gave []
    (LReqOneMulti, {"task": 0}, KeyError),
    (LReqOneMulti, {"task": "m"}, KeyError),
    # a list of tasks
    (LReqList, {}, ["single", ["mx", "my"]]),
    (LReqList, {"as_dict": True}, ["single", {"x": "mx", "y": "my"}]),
    (LReqList, {"task": 0}, "single"),
    (LReqList, {"task": 1}, ["mx", "my"]),
    (LReqList, {"task": 1, "as_dict": True}, {"x": "mx", "y": "my"}),
    (LReqList, {"keys": ["x"]}, ["single", ["mx"]]),  # daskflow: keys per upstream task
    (LReqList, {"keys": "x"}, ["single", "mx"]),  # daskflow: keys per upstream task
    (LReqList, {"keys": ["y", "x"]}, ["single", ["my", "mx"]]),
    (LReqList, {"keys": ["m"]}, ERR),
    (LReqListMulti, {}, [["mx", "my"], ["m3y", "m3x", "m3z"]]),
    (
        LReqListMulti,
        {"as_dict": True},
        [{"x": "mx", "y": "my"}, {"y": "m3y", "x": "m3x", "z": "m3z"}],
    ),
    (LReqListMulti, {"task": 1}, ["m3y", "m3x", "m3z"]),
    (LReqListMulti, {"keys": ["x"]}, [["mx"], ["m3x"]]),  # daskflow: keys per upstream task
    (LReqListMulti, {"keys": "x"}, ["mx", "m3x"]),
    (LReqListMulti, {"keys": ["x"], "as_dict": True}, [{"x": "mx"}, {"x": "m3x"}]),
    (LReqListMulti, {"keys": ["z"]}, ERR),  # LMulti has no z
    (LReqTwoPositional, {}, ["single", ["mx", "my"]]),
    (LReqTwoPositional, {"as_dict": True}, ["single", {"x": "mx", "y": "my"}]),
    (LReqTwoPositional, {"task": 1}, ["mx", "my"]),
    # a dict of tasks: keys= and task= pick requirements by name
    (LReqDict, {}, {"s": "single", "m": ["mx", "my"]}),
    (LReqDict, {"as_dict": True}, {"s": "single", "m": {"x": "mx", "y": "my"}}),
    (LReqDict, {"keys": "s"}, "single"),
    (LReqDict, {"keys": "m"}, ["mx", "my"]),
    (LReqDict, {"keys": ["m"]}, {"m": ["mx", "my"]}),
    (LReqDict, {"keys": ["s", "m"]}, {"s": "single", "m": ["mx", "my"]}),
    (LReqDict, {"keys": ["m", "s"]}, {"s": "single", "m": ["mx", "my"]}),
    (LReqDict, {"keys": "x"}, KeyError),
    (LReqDict, {"keys": ["x"]}, ERR),  # daskflow: d6tflow gave {}
    (LReqDict, {"keys": ["data"]}, ERR),  # daskflow: d6tflow gave {}
    (LReqDict, {"task": "m"}, ["mx", "my"]),
    (LReqDict, {"task": "m", "as_dict": True}, {"x": "mx", "y": "my"}),
    (LReqDict, {"task": "m", "keys": "x"}, "mx"),
    (LReqDict, {"task": "m", "keys": ["x"]}, ["mx"]),
    (LReqDict, {"task": "s"}, "single"),
    (LReqDict, {"task": 0}, KeyError),
    (LReqDictManual, {}, {"m": ["mx", "my"], "s": "single", "m3": ["m3y", "m3x", "m3z"]}),
    (LReqDictManual, {"keys": "m"}, ["mx", "my"]),
    (LReqDictManual, {"keys": ["m", "s"]}, {"m": ["mx", "my"], "s": "single"}),
    (LReqDictManual, {"task": "m", "keys": "x"}, "mx"),
]


@pytest.mark.parametrize(
    ("task", "kwargs", "expected"),
    INPUT_LOAD,
    ids=[f"{t.__name__}-{kw}" for t, kw, _ in INPUT_LOAD],
)
def test_inputLoad_shapes(loaded, task, kwargs, expected):
    if expected is ERR or expected is KeyError:
        with pytest.raises(expected):
            task().inputLoad(**kwargs)
        return
    got = task().inputLoad(**kwargs)
    assert got == expected


def test_inputLoad_dict_keeps_the_requires_order(loaded):
    assert list(LReqDictManual().inputLoad()) == ["m", "s", "m3"]
    assert list(LReqDict().inputLoad()) == ["s", "m"]


def test_requires_shapes_as_recorded():
    kinds = VECTORS["load_shapes"]["requires_type"]
    assert isinstance(LReqTwoPositional().requires(), list)
    assert kinds["LReqTwoPositional"].startswith("list")
    assert isinstance(LReqDict().requires(), dict)
    assert list(LReqDict().requires()) == ["s", "m"]
    assert LReqOneMulti().requires() == LMulti()


def test_outputPath_types_as_recorded():
    # vectors: misc.workflow_outputPath task_output_*_path_type
    assert isinstance(LSingle().output().path, str)
    assert isinstance(LPq().output().path, Path)
    assert d6tflow.Workflow(LMulti).outputPath() == {
        "x": "data/LMulti/LMulti__99914b932b-x.cache",
        "y": "data/LMulti/LMulti__99914b932b-y.cache",
    }


# -- class defaults that do not parse: normalized as luigi does ---------------------------------


def _real_luigi():
    import warnings

    with warnings.catch_warnings():  # luigi warns about its own config on first import
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("luigi")


def _luigi_task_id(family, **params):
    """The task id real luigi gives a task of ``family`` with luigi parameters ``params``."""
    real_luigi = _real_luigi()
    cls = type(family, (real_luigi.Task,), {**params, "__module__": "luigi_ids_" + family})
    return cls().task_id


def test_a_bool_default_that_does_not_parse_is_none_as_in_luigi():
    # d6tflow's own project template declares this
    with pytest.warns(d6tflow.errors.CompatibilityWarning, match=r"TaskRfModel.*'model'.*'rf'"):

        class TaskRfModel(d6tflow.tasks.TaskPickle):
            model = d6tflow.BoolParameter(default="rf")

            def run(self):
                self.save(self.model)

        task = TaskRfModel()
    assert task.model is None
    real_luigi = _real_luigi()
    assert task.task_id == _luigi_task_id(
        "TaskRfModel", model=real_luigi.BoolParameter(default="rf")
    )
    d6tflow.run(task, execution_summary=False)
    assert TaskRfModel().outputLoad() is None


def test_an_int_default_that_does_not_parse_is_kept_as_written_as_in_luigi():
    class TaskBadInt(d6tflow.tasks.TaskPickle):
        n = d6tflow.IntParameter(default="ten")

    with pytest.warns(d6tflow.errors.CompatibilityWarning):
        task = TaskBadInt()
    real_luigi = _real_luigi()
    assert task.n == "ten"
    assert task.task_id == _luigi_task_id("TaskBadInt", n=real_luigi.IntParameter(default="ten"))


def test_an_unparseable_default_warns_once_per_class_and_parameter():
    class TaskWarnOnce(d6tflow.tasks.TaskPickle):
        flag = d6tflow.BoolParameter(default="maybe")

    with pytest.warns(d6tflow.errors.CompatibilityWarning) as record:
        TaskWarnOnce()
        TaskWarnOnce()
        d6tflow.Workflow(TaskWarnOnce).get_task()
    assert len(record) == 1


def test_a_passed_value_that_does_not_parse_is_still_an_error():
    class TaskPassed(d6tflow.tasks.TaskPickle):
        flag = d6tflow.BoolParameter(default=True)

    with pytest.raises(d6tflow.errors.ParameterError, match="TaskPassed parameter 'flag'"):
        TaskPassed(flag="rf")
    with pytest.raises(d6tflow.errors.ParameterError):
        d6tflow.Workflow(TaskPassed, {"flag": "rf"}).get_task()


def test_strict_makes_an_unparseable_default_an_error():
    d6tflow.settings.strict = True

    class TaskStrictDefault(d6tflow.tasks.TaskPickle):
        flag = d6tflow.BoolParameter(default="rf")

    with pytest.raises(d6tflow.errors.ParameterError, match="class default"):
        TaskStrictDefault()
