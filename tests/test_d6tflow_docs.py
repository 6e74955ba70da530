"""The examples of d6tflow's documentation page "Running Tasks and Managing Workflows"
(reference/000_592ed216d2110963.txt), as tests, on the page's own pipeline:

    TaskGetData (parquet) -> TaskPreprocess(do_preprocess) (in memory) -> TaskTrain (pickle)
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from pathlib import Path

import pandas as pd
import pytest
from helpers import RunLog

import daskflow as d6tflow

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


class TaskGetData(d6tflow.tasks.TaskPqPandas):  # no parameter dependence
    def run(self):
        _ran(self)
        self.save(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 6.0, 8.0]}))


@d6tflow.requires(TaskGetData)
class TaskPreprocess(d6tflow.tasks.TaskCachePandas):  # save data in memory
    do_preprocess = d6tflow.BoolParameter(default=True)  # parameter for preprocessing yes/no

    def run(self):
        _ran(self)
        df = self.inputLoad()
        if self.do_preprocess:
            df = df.assign(x=df["x"] * 10)
        self.save(df)


@d6tflow.requires(TaskPreprocess)  # pass parameter upstream
class TaskTrain(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        df = self.inputLoad()
        self.save({"coef": float((df["y"] / df["x"]).mean()), "n": len(df)})


class TaskMultiOut(d6tflow.tasks.TaskPickle):
    persist = ["output1", "output2"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        self.save({"output1": 1, "output2": 2})


ANSI = re.compile(r"\x1b\[\d+m")


def tree(text):
    """The tree lines of a preview, without colours."""
    return [ANSI.sub("", line) for line in text.splitlines() if "--[" in line]


def preview(capsys, flow, *args, **kwargs):
    capsys.readouterr()
    flow.preview(*args, **kwargs)
    return capsys.readouterr().out


# -- Define a workflow object ----------------------------------------------------------------------


def test_workflow_with_default_params():
    flow = d6tflow.Workflow(TaskTrain)  # use default params
    flow.run(execution_summary=False)
    assert flow.get_task() == TaskTrain(do_preprocess=True)
    assert flow.outputLoad() == {"coef": 0.2, "n": 4}


def test_workflow_with_custom_params():
    params = {"do_preprocess": False}
    flow = d6tflow.Workflow(TaskTrain, params)
    flow.run(execution_summary=False)
    assert flow.outputLoad() == {"coef": 2.0, "n": 4}
    assert not d6tflow.Workflow(TaskTrain).complete()  # other params: not run yet


def test_workflow_wants_the_class_not_an_instance():
    d6tflow.Workflow(TaskTrain)  # yes
    with pytest.raises(d6tflow.errors.WorkflowError, match="class"):
        d6tflow.Workflow(TaskTrain())  # no


# -- Previewing Task Execution Status --------------------------------------------------------------


def test_preview_before_and_after_run(capsys):
    flow = d6tflow.Workflow(TaskTrain)
    before = preview(capsys, flow)
    assert before.count("PENDING") == 3 and before.count("COMPLETE") == 0
    assert tree(before) == [
        "└─--[TaskTrain-{'do_preprocess': 'True'} (PENDING)]",
        "   └─--[TaskPreprocess-{'do_preprocess': 'True'} (PENDING)]",
        "      └─--[TaskGetData-{} (PENDING)]",
    ]
    flow.run(execution_summary=False)
    after = preview(capsys, flow)
    assert after.count("COMPLETE") == 3 and after.count("PENDING") == 0


def test_preview_single_task_and_multiple_tasks(capsys):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(TaskPreprocess, execution_summary=False)
    single = preview(capsys, flow, TaskTrain)  # single task
    assert single.count("PENDING") == 1 and single.count("COMPLETE") == 2
    multiple = preview(capsys, flow, [TaskPreprocess, TaskTrain])  # multiple tasks
    lines = tree(multiple)
    assert lines[0] == "└─--[TaskPreprocess-{'do_preprocess': 'True'} (COMPLETE)]"
    assert "[TaskTrain-{'do_preprocess': 'True'} (PENDING)]" in multiple
    assert multiple.count("PENDING") == 1


# -- Running Multiple Tasks as Workflows -----------------------------------------------------------


def test_run_default_single_and_multiple_tasks():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(TaskGetData, execution_summary=False)  # single task
    assert RAN == ["TaskGetData()"]
    flow.run([TaskPreprocess, TaskTrain], execution_summary=False)  # multiple tasks
    assert RAN == [
        "TaskGetData()",
        "TaskPreprocess(do_preprocess=True)",
        "TaskTrain(do_preprocess=True)",
    ]
    RAN.clear()
    flow.run(execution_summary=False)  # default task: already complete, does not rerun
    assert RAN == []


def test_force_rerunning_all_tasks():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    RAN.clear()
    flow.run(forced_all_upstream=True, confirm=False, execution_summary=False)
    assert RAN == [
        "TaskGetData()",
        "TaskPreprocess(do_preprocess=True)",
        "TaskTrain(do_preprocess=True)",
    ]


# -- How is a task marked complete? ----------------------------------------------------------------


def test_task_completion_status_and_output_paths():
    flow = d6tflow.Workflow(TaskTrain)
    assert flow.get_task().complete() is False  # status
    flow.run(execution_summary=False)
    assert flow.get_task().complete() is True
    path = flow.get_task().output().path  # where is output saved?
    assert Path(path) == Path("data/TaskTrain/TaskTrain_True_e00389f8b2-data.pkl")
    assert Path(path).is_file()
    multi = d6tflow.Workflow(TaskMultiOut)
    multi.run(execution_summary=False)
    out1 = multi.get_task().output()["output1"].path  # multiple outputs
    assert Path(out1) == Path("data/TaskMultiOut/TaskMultiOut__99914b932b-output1.pkl")
    assert Path(out1).is_file()


# -- Task Completion with Parameters: WorkflowMulti ------------------------------------------------


def test_workflow_multi_runs_each_parameter_set():
    flow = d6tflow.WorkflowMulti(
        TaskTrain, {"flow1": {"do_preprocess": False}, "flow2": {"do_preprocess": True}}
    )
    flow.run(execution_summary=False)  # will run all flow with all parameters
    assert sorted(RAN) == [
        "TaskGetData()",
        "TaskPreprocess(do_preprocess=False)",
        "TaskPreprocess(do_preprocess=True)",
        "TaskTrain(do_preprocess=False)",
        "TaskTrain(do_preprocess=True)",
    ]
    assert flow.outputLoad() == {"flow1": {"coef": 2.0, "n": 4}, "flow2": {"coef": 0.2, "n": 4}}
    assert flow.outputLoad(flow="flow1") == {"coef": 2.0, "n": 4}
    assert d6tflow.Workflow(TaskTrain, {"do_preprocess": False}).complete()


# -- Disable Dependency Checks ---------------------------------------------------------------------


def test_reset_with_and_without_dependency_checks(capsys):
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    flow.reset(TaskGetData, confirm=False)

    d6tflow.settings.check_dependencies = True  # default
    assert tree(preview(capsys, flow)) == [  # TaskGetData is pending so all tasks are pending
        "└─--[TaskTrain-{'do_preprocess': 'True'} (PENDING)]",
        "   └─--[TaskPreprocess-{'do_preprocess': 'True'} (PENDING)]",
        "      └─--[TaskGetData-{} (PENDING)]",
    ]
    d6tflow.settings.check_dependencies = False  # deactivate dependency checks
    assert tree(preview(capsys, flow)) == [
        "└─--[TaskTrain-{'do_preprocess': 'True'} (COMPLETE)]",
        "   └─--[TaskPreprocess-{'do_preprocess': 'True'} (COMPLETE)]",
        "      └─--[TaskGetData-{} (PENDING)]",
    ]
    d6tflow.settings.check_dependencies = True  # set to default
    assert preview(capsys, flow).count("PENDING") == 3


def test_without_dependency_checks_run_leaves_pending_upstream_alone():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    flow.reset(TaskGetData, confirm=False)
    RAN.clear()
    d6tflow.settings.check_dependencies = False
    flow.run(execution_summary=False)
    assert RAN == []
    assert not TaskGetData().complete()
    d6tflow.settings.check_dependencies = True
    flow.run(execution_summary=False)
    assert RAN == [
        "TaskGetData()",
        "TaskPreprocess(do_preprocess=True)",
        "TaskTrain(do_preprocess=True)",
    ]


# -- Debugging Failures ----------------------------------------------------------------------------


@d6tflow.requires(TaskPreprocess)
class TaskTrainBroken(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        df = self.inputLoad()
        self.save(len(df) / 0)  # error is here


@d6tflow.requires(TaskTrainBroken)
class TaskEvaluate(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        self.save(self.inputLoad())


class TaskIndependent(d6tflow.tasks.TaskPickle):
    def run(self):
        _ran(self)
        self.save("independent")


class TaskReport(d6tflow.tasks.TaskCache):
    def requires(self):
        return {"evaluate": TaskEvaluate(), "independent": TaskIndependent()}

    def run(self):
        _ran(self)
        self.save("report")


def test_failing_task_summary_and_exception_as_documented(capsys):
    flow = d6tflow.Workflow(TaskTrainBroken)
    flow.run(TaskPreprocess, execution_summary=False)
    capsys.readouterr()
    with pytest.raises(RuntimeError, match=r"^Exception found running flow, check trace") as info:
        flow.run()
    out = capsys.readouterr().out
    # the page's summary: 2 tasks, 1 complete (TaskPreprocess), 1 failed (TaskTrain)
    body = [line for line in out.splitlines() if line and "=====" not in line]
    assert body == [
        "Scheduled 2 tasks of which:",
        "* 1 complete ones were encountered:",
        "    - 1 TaskPreprocess(do_preprocess=True)",
        "* 1 failed:",
        "    - 1 TaskTrainBroken(do_preprocess=True)",
        "This progress looks :( because there were failed tasks",
    ]
    cause = info.value.__cause__
    assert isinstance(cause, ZeroDivisionError)
    frames = traceback.extract_tb(cause.__traceback__)
    assert any(f.name == "run" and f.filename == __file__ for f in frames)  # the failing line
    assert "len(df) / 0" in "".join(traceback.format_exception(cause))


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_failing_task_stops_only_downstream(scheduler, capsys):
    flow = d6tflow.Workflow(TaskReport)
    with pytest.raises(RuntimeError, match="Exception found running flow, check trace") as info:
        flow.run(scheduler=scheduler)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    out = capsys.readouterr().out
    assert "* 1 failed:\n    - 1 TaskTrainBroken(do_preprocess=True)" in out
    # downstream tasks did not run
    assert "TaskEvaluate(do_preprocess=True)" not in RAN
    assert "TaskReport()" not in RAN
    assert not TaskEvaluate().complete(cascade=False)
    assert not TaskReport().complete(cascade=False)
    assert not Path("data/TaskEvaluate").exists() or not any(Path("data/TaskEvaluate").iterdir())
    # independent branches finished and keep their outputs
    assert "TaskIndependent()" in RAN
    assert TaskIndependent().complete()
    assert TaskIndependent().outputLoad() == "independent"
    assert TaskPreprocess().complete()
    assert TaskGetData().complete()
    assert not TaskTrainBroken().complete()
    # the next run does not redo what finished
    RAN.clear()
    with pytest.raises(RuntimeError):
        flow.run(scheduler=scheduler, execution_summary=False)
    assert RAN == ["TaskTrainBroken(do_preprocess=True)"]


def test_failing_task_with_abort_false_returns_the_result(capsys):
    result = d6tflow.Workflow(TaskReport).run(abort=False)
    assert result.status == "FAILED"
    assert [repr(t) for t in result.failed] == ["TaskTrainBroken(do_preprocess=True)"]
    assert sorted(repr(t) for t in result.upstream_failed) == [
        "TaskEvaluate(do_preprocess=True)",
        "TaskReport()",
    ]
    out = capsys.readouterr().out
    assert "This progress looks :( because there were failed tasks" in out
    assert "had failed dependencies" in out


# -- Rerun Tasks When You Make Changes -------------------------------------------------------------


def test_preferred_way_reset_single_task_reruns_downstream():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    RAN.clear()
    flow.reset(TaskGetData, confirm=False)
    flow.run(execution_summary=False)
    assert RAN == [
        "TaskGetData()",
        "TaskPreprocess(do_preprocess=True)",
        "TaskTrain(do_preprocess=True)",
    ]


def test_force_execution_including_upstream_tasks():
    flow = d6tflow.Workflow(TaskTrain)
    flow.run(execution_summary=False)
    RAN.clear()
    d6tflow.run([TaskTrain()], forced_all=True, confirm=False, execution_summary=False)
    assert RAN == ["TaskTrain(do_preprocess=True)"]
    RAN.clear()
    flow.run(forced_all_upstream=True, confirm=False, execution_summary=False)  # run everything
    assert RAN == [
        "TaskGetData()",
        "TaskPreprocess(do_preprocess=True)",
        "TaskTrain(do_preprocess=True)",
    ]


def test_parameter_change_reruns_only_dependent_tasks():
    d6tflow.Workflow(TaskTrain).run(execution_summary=False)
    RAN.clear()
    d6tflow.WorkflowMulti(
        TaskTrain, {"flow1": {"do_preprocess": False}, "flow2": {"do_preprocess": True}}
    ).run(execution_summary=False)
    assert RAN == ["TaskPreprocess(do_preprocess=False)", "TaskTrain(do_preprocess=False)"]


# -- Forcing a Single Task to Run ------------------------------------------------------------------


def test_running_one_task_by_hand():
    d6tflow.Workflow(TaskTrain).run(TaskPreprocess, execution_summary=False)
    RAN.clear()
    TaskTrain().run()  # forcing execution: only this one task
    assert RAN == ["TaskTrain(do_preprocess=True)"]
    assert TaskTrain().complete()
    assert TaskTrain().outputLoad() == {"coef": 0.2, "n": 4}
    TaskTrain().run()  # runs again even though complete
    assert RAN == ["TaskTrain(do_preprocess=True)"] * 2


# -- Hiding Execution Output -----------------------------------------------------------------------


def test_hide_summary_globally(capsys):
    d6tflow.settings.execution_summary = False  # global
    result = d6tflow.Workflow(TaskTrain).run()
    assert capsys.readouterr().out == ""
    assert result.status == "SUCCESS"
    assert len(RAN) == 3


def test_hide_summary_per_run(capsys):
    d6tflow.Workflow(TaskTrain).run(execution_summary=False)  # at each run
    assert capsys.readouterr().out == ""
    d6tflow.Workflow(TaskTrain).run(execution_summary=False)
    assert capsys.readouterr().out == ""


def test_summary_per_run_overrides_the_global_setting(capsys):
    d6tflow.settings.execution_summary = False
    d6tflow.Workflow(TaskTrain).run(execution_summary=True)
    assert "Scheduled 3 tasks of which:" in capsys.readouterr().out


def test_hidden_summary_on_failure_prints_nothing_but_still_raises(capsys):
    d6tflow.settings.execution_summary = False
    with pytest.raises(RuntimeError) as info:
        d6tflow.Workflow(TaskTrainBroken).run()
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert capsys.readouterr().out == ""


@pytest.fixture
def restore_logger_level():
    logger = logging.getLogger("daskflow")
    level = logger.level
    yield
    logger.setLevel(level)


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
def test_log_level_setting(level, capsys, restore_logger_level):
    d6tflow.settings.log_level = level  # modify before you execute
    result = d6tflow.Workflow(TaskTrain).run(execution_summary=False)
    assert result.status == "SUCCESS"
    assert capsys.readouterr().out == ""
