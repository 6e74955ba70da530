"""Running flows: bad input, failures and their results, atomic outputs, retries, dynamic
dependencies, TaskAggregator, and the choice of scheduler."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import dask
import pandas
import pytest
from helpers import RunLog, is_manifest

import daskflow
from daskflow.errors import (
    CompatibilityWarning,
    MissingParameterError,
    ParameterError,
    WorkflowError,
)
from daskflow.execute import RunResult
from daskflow.tasks import TaskAggregator, TaskCache, TaskJson, TaskPickle

SCHEDULERS = ["sync", "threads"]

RAN = RunLog()
THREADS: dict[str, int] = {}
ATTEMPTS: dict[str, int] = {}
_lock = threading.Lock()


def _ran(task):
    with _lock:
        RAN.append(repr(task))
        THREADS[repr(task)] = threading.get_ident()


@pytest.fixture(autouse=True)
def _clear():
    RAN.clear()
    THREADS.clear()
    ATTEMPTS.clear()
    yield
    RAN.clear()


def _files(folder):
    """Every file under ``folder``, hidden ones included, but for the tasks' manifests."""
    root = Path(folder)
    found = [p for p in root.rglob("*") if p.is_file() and not is_manifest(p)]
    return sorted(str(p.relative_to(root)) for p in found)


# -- bad input -------------------------------------------------------------------------------------


class Task1(TaskPickle):
    def run(self):
        _ran(self)
        self.save(1)


class TaskIdx(TaskCache):
    i = daskflow.IntParameter()

    def run(self):
        _ran(self)
        self.save(self.i * 10)


class NeedsIdx(TaskCache):
    def requires(self):
        return TaskIdx()  # forgot i

    def run(self):
        self.save(0)


def test_workflow_given_an_instance_is_a_workflow_error():
    with pytest.raises(WorkflowError) as info:
        daskflow.Workflow(Task1())
    assert "Task1" in str(info.value)
    assert "class" in str(info.value)


@pytest.mark.parametrize("bad", ["Task1", 42, [Task1]])
def test_workflow_given_something_else_is_a_workflow_error(bad):
    with pytest.raises(WorkflowError):
        daskflow.Workflow(bad)


def test_workflow_given_a_dict_first_takes_it_as_params_as_d6tflow_did():
    flow = daskflow.Workflow({"a": 1})
    assert flow.params == {"a": 1}
    assert flow.default_task is None


def test_workflow_params_must_be_a_dict():
    with pytest.raises(WorkflowError):
        daskflow.Workflow(Task1, [1, 2])


def test_workflow_run_given_an_instance_list_works_but_classes_in_top_level_run_do_not():
    daskflow.Workflow(Task1).run([Task1()], execution_summary=False)
    assert RAN == ["Task1()"]
    with pytest.raises(WorkflowError, match=r"Task1\(\)"):
        daskflow.run(Task1)


def test_missing_required_parameter_names_task_and_parameter():
    with pytest.raises(MissingParameterError) as info:
        TaskIdx()
    assert "TaskIdx" in str(info.value) and "'i'" in str(info.value)
    assert isinstance(info.value, ParameterError) and isinstance(info.value, ValueError)
    with pytest.raises(MissingParameterError, match="TaskIdx"):
        daskflow.Workflow(TaskIdx).run()
    with pytest.raises(MissingParameterError, match="TaskIdx"):
        daskflow.Workflow(NeedsIdx).run()
    assert RAN == []


def test_parameter_that_does_not_parse():
    with pytest.raises(ParameterError) as info:
        daskflow.Workflow(TaskIdx, {"i": "abc"}).run()
    assert "TaskIdx" in str(info.value) and "'i'" in str(info.value)


def test_unknown_scheduler_is_a_workflow_error():
    with pytest.raises(WorkflowError, match="nope"):
        daskflow.Workflow(Task1).run(scheduler="nope")
    assert RAN == []
    assert not Task1().complete()


def test_unknown_scheduler_is_reported_even_when_nothing_needs_to_run():
    daskflow.Workflow(Task1).run(execution_summary=False)
    with pytest.raises(WorkflowError, match="nope"):
        daskflow.Workflow(Task1).run(scheduler="nope", execution_summary=False)


def test_unknown_scheduler_in_settings_is_a_workflow_error():
    daskflow.settings.scheduler = "nope"
    with pytest.raises(WorkflowError):
        daskflow.run(Task1())


# -- failures --------------------------------------------------------------------------------------


class FailOk(TaskCache):
    def run(self):
        _ran(self)
        self.save("ok")


@daskflow.requires(FailOk)
class FailBad(TaskCache):
    def run(self):
        _ran(self)
        raise ValueError("boom")


@daskflow.requires(FailBad)
class FailDown(TaskCache):
    def run(self):
        _ran(self)
        self.save("down")


class FailSibling(TaskCache):
    def run(self):
        _ran(self)
        self.save("sib")


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_abort_false_returns_a_failed_result(scheduler, capsys):
    result = daskflow.run([FailDown(), FailSibling()], abort=False, scheduler=scheduler)
    assert isinstance(result, RunResult)
    assert result.status == "FAILED"
    assert result.scheduling_succeeded is False
    assert bool(result) is False
    assert [repr(t) for t in result.failed] == ["FailBad()"]
    assert [repr(t) for t in result.upstream_failed] == ["FailDown()"]
    assert sorted(repr(t) for t in result.ran) == ["FailOk()", "FailSibling()"]
    assert list(result.errors) == [FailBad().task_id]
    assert isinstance(result.errors[FailBad().task_id], ValueError)
    assert sorted(RAN) == ["FailBad()", "FailOk()", "FailSibling()"]
    out = capsys.readouterr().out
    assert out == result.summary_text + "\n"
    assert "* 1 failed:\n    - 1 FailBad()" in out


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_abort_true_raises_with_the_task_error_as_cause(scheduler):
    with pytest.raises(RuntimeError) as info:
        daskflow.run([FailDown(), FailSibling()], scheduler=scheduler, execution_summary=False)
    assert str(info.value) == "Exception found running flow, check trace"
    assert type(info.value) is RuntimeError
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "boom"
    assert FailSibling().complete() and FailSibling().outputLoad() == "sib"
    assert FailOk().complete()
    assert not FailBad().complete() and not FailDown().complete()
    assert "FailDown()" not in RAN


def test_failing_run_calls_status_once(monkeypatch):
    calls = []
    real = daskflow.graph.exists_many
    monkeypatch.setattr(
        daskflow.graph, "exists_many", lambda targets: calls.append(1) or real(targets)
    )
    daskflow.run([FailDown(), FailSibling()], abort=False, execution_summary=False)
    assert len(calls) == 1


# -- atomic outputs --------------------------------------------------------------------------------


class Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot pickle this")


class SaveBreaksMidway(TaskPickle):
    def run(self):
        # a megabyte of data is written before pickling reaches the bad object
        self.save([b"x" * 1_000_000, b"y" * 1_000_000, Unpicklable()])


class MultiBreaksMidway(TaskPickle):
    persist = ["a", "b"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        self.save({"a": [1, 2, 3], "b": Unpicklable()})


class SaveThenFail(TaskPickle):
    def run(self):
        self.save("looks done")
        raise RuntimeError("failed after saving")


class JsonBreaksMidway(TaskJson):
    def run(self):
        self.save({"ok": list(range(100_000)), "bad": object()})


@pytest.mark.parametrize("task", [SaveBreaksMidway, JsonBreaksMidway])
def test_failed_write_leaves_no_file_that_counts_as_complete(task):
    result = daskflow.Workflow(task).run(abort=False, execution_summary=False)
    assert result.status == "FAILED"
    assert not task().complete()
    assert not Path(task().output().path).exists()
    folder = Path(task().output().path).parent
    assert not folder.exists() or _files(folder) == []  # no temporary file left behind


def test_multi_output_task_that_fails_between_outputs_is_not_complete():
    result = daskflow.Workflow(MultiBreaksMidway).run(abort=False, execution_summary=False)
    assert result.status == "FAILED"
    assert not MultiBreaksMidway().complete()
    assert not Path(MultiBreaksMidway().output()["b"].path).exists()
    assert all(not name.startswith(".") for name in _files("data"))


def test_task_that_fails_after_saving_is_not_complete():
    """The run failed, so its output must not make the task count as done on the next run."""
    result = daskflow.Workflow(SaveThenFail).run(abort=False, execution_summary=False)
    assert result.status == "FAILED"
    assert not SaveThenFail().complete()


def test_successful_run_leaves_no_temporary_files():
    daskflow.Workflow(Task1).run(execution_summary=False)
    assert _files("data") == ["Task1/Task1__99914b932b-data.pkl"]
    assert len(list(Path("data/.manifests/Task1").iterdir())) == 1  # and its manifest


# -- retries ---------------------------------------------------------------------------------------


class Flaky(TaskPickle):
    retries = 2
    fail_times = daskflow.IntParameter(default=2, significant=False)

    def run(self):
        with _lock:
            n = ATTEMPTS[self.task_id] = ATTEMPTS.get(self.task_id, 0) + 1
        if n <= self.fail_times:
            raise OSError(f"flaky failure {n}")
        self.save(n)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_retries_run_again_until_success(scheduler):
    result = daskflow.Workflow(Flaky).run(scheduler=scheduler, execution_summary=False)
    assert result.status == "SUCCESS"
    assert ATTEMPTS[Flaky().task_id] == 3
    assert Flaky().outputLoad() == 3


def test_retries_exhausted_fail_with_the_last_error():
    with pytest.raises(RuntimeError) as info:
        daskflow.Workflow(Flaky, {"fail_times": 5}).run(execution_summary=False)
    assert ATTEMPTS[Flaky().task_id] == 3  # one try and two retries
    assert str(info.value.__cause__) == "flaky failure 3"
    assert not Flaky().complete()


def test_no_retries_by_default():
    class Once(TaskPickle):
        def run(self):
            ATTEMPTS["once"] = ATTEMPTS.get("once", 0) + 1
            raise OSError("no")

    daskflow.run(Once(), abort=False, execution_summary=False)
    assert ATTEMPTS["once"] == 1


# -- run() that forgets to save --------------------------------------------------------------------


class ForgetsToSave(TaskPickle):
    def run(self):
        _ran(self)
        self.result = 42  # but no self.save(...)


@daskflow.requires(ForgetsToSave)
class AfterForgets(TaskPickle):
    def run(self):
        _ran(self)
        self.save(self.inputLoad())


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_run_that_forgets_to_save_warns_and_the_task_stays_incomplete(scheduler):
    # d6tflow and luigi allow it: the run succeeds, the task is simply not complete
    with pytest.warns(CompatibilityWarning, match=r"ForgetsToSave\(\)\.run\(\) finished without"):
        result = daskflow.run(ForgetsToSave(), scheduler=scheduler, execution_summary=False)
    assert result.status == "SUCCESS"
    assert RAN == ["ForgetsToSave()"]
    assert not ForgetsToSave().complete()


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_downstream_of_a_task_that_saved_nothing_fails_naming_it(scheduler):
    with pytest.warns(CompatibilityWarning), pytest.raises(RuntimeError) as info:
        daskflow.Workflow(AfterForgets).run(scheduler=scheduler, execution_summary=False)
    cause = info.value.__cause__
    assert "AfterForgets()" in str(cause)
    assert "needs the output of ForgetsToSave()" in str(cause)
    assert "ForgetsToSave__99914b932b-data.pkl" in str(cause)
    assert RAN == ["ForgetsToSave()", "AfterForgets()"]


def test_strict_setting_makes_a_run_that_saves_nothing_a_failure():
    daskflow.settings.strict = True
    result = daskflow.Workflow(AfterForgets).run(abort=False, execution_summary=False)
    assert [repr(t) for t in result.failed] == ["ForgetsToSave()"]
    assert [repr(t) for t in result.upstream_failed] == ["AfterForgets()"]
    assert "ForgetsToSave__99914b932b-data.pkl" in str(result.errors[ForgetsToSave().task_id])
    assert RAN == ["ForgetsToSave()"]  # the downstream task did not run on missing input


class ForgetsOneOutput(TaskPickle):
    persist = ["a", "b"]  # noqa: RUF012 (d6tflow style)
    forget = daskflow.BoolParameter(default=True, significant=False)

    def run(self):
        if self.forget:
            self.output()["a"].save("new")
        else:
            self.save({"a": "old", "b": "old"})


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_run_that_saves_only_some_outputs_keeps_none_of_them(scheduler):
    daskflow.run(ForgetsOneOutput(forget=False), execution_summary=False)
    assert ForgetsOneOutput().outputLoad() == ["old", "old"]
    with pytest.warns(CompatibilityWarning, match=r"ForgetsOneOutput__99914b932b-b\.pkl") as w:
        result = daskflow.run(
            ForgetsOneOutput(), forced_all=True, scheduler=scheduler, execution_summary=False
        )
    assert "saved only some" in str(w[0].message)
    assert result.status == "SUCCESS"
    # never a mix of two runs: neither the new 'a' nor the old 'b' is left
    assert not any(t.exists() for t in ForgetsOneOutput().output().values())
    assert not ForgetsOneOutput().complete()


def test_strict_setting_makes_a_partial_save_a_failure_naming_the_missing_output():
    daskflow.settings.strict = True
    with pytest.raises(RuntimeError) as info:
        daskflow.run(ForgetsOneOutput(), execution_summary=False)
    assert "ForgetsOneOutput__99914b932b-b.pkl" in str(info.value.__cause__)
    assert not ForgetsOneOutput().complete()


# -- dynamic dependencies --------------------------------------------------------------------------


class Dyn(TaskPickle):
    def run(self):
        _ran(self)
        one = yield TaskIdx(i=1)
        several = yield [TaskIdx(i=2), TaskIdx(i=3)]
        named = yield {"four": TaskIdx(i=4)}
        self.save(one.load() + sum(t.load() for t in several) + named["four"].load())


@daskflow.requires(Dyn)
class AfterDyn(TaskPickle):
    def run(self):
        _ran(self)
        self.save(self.inputLoad() + 1)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_dynamic_dependencies_run_and_send_their_outputs_back(scheduler):
    result = daskflow.Workflow(AfterDyn).run(scheduler=scheduler, execution_summary=False)
    assert result.status == "SUCCESS"
    assert Dyn().outputLoad() == 10 + 20 + 30 + 40
    assert AfterDyn().outputLoad() == 101
    assert sorted(RAN) == sorted(
        ["Dyn()", "AfterDyn()", "TaskIdx(i=1)", "TaskIdx(i=2)", "TaskIdx(i=3)", "TaskIdx(i=4)"]
    )
    assert all(TaskIdx(i=i).complete() for i in range(1, 5))


def test_dynamic_dependencies_already_complete_are_not_rerun():
    daskflow.run([TaskIdx(i=1), TaskIdx(i=2)], execution_summary=False)
    RAN.clear()
    daskflow.run(Dyn(), execution_summary=False)
    assert sorted(RAN) == ["Dyn()", "TaskIdx(i=3)", "TaskIdx(i=4)"]


class DynBroken(TaskPickle):
    def run(self):
        _ran(self)
        target = yield FailBad()
        self.save(target.load())


def test_dynamic_dependency_failure_fails_the_parent_with_its_error():
    with pytest.raises(RuntimeError) as info:
        daskflow.run(DynBroken(), execution_summary=False)
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "boom"
    assert not DynBroken().complete()


# -- TaskAggregator --------------------------------------------------------------------------------


class Agg(TaskAggregator):
    def run(self):
        for i in range(3):
            yield TaskIdx(i=i)


class Base(TaskPickle):
    n = daskflow.IntParameter(default=1)

    def run(self):
        _ran(self)
        self.save(self.n)


class Other(TaskPickle):
    n = daskflow.IntParameter(default=1)

    def run(self):
        _ran(self)
        self.save(-self.n)


@daskflow.requires(Base)
class AggClone(TaskAggregator):
    def run(self):
        yield self.clone(Base)
        yield self.clone(Other)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_aggregator_runs_what_it_yields(scheduler):
    flow = daskflow.Workflow(Agg)
    assert flow.complete() is False
    flow.run(scheduler=scheduler, execution_summary=False)
    assert sorted(RAN) == ["TaskIdx(i=0)", "TaskIdx(i=1)", "TaskIdx(i=2)"]
    assert flow.complete() is True
    assert Agg().complete()
    assert flow.outputLoad() == [0, 10, 20]
    assert len(Agg().output()) == 3
    RAN.clear()
    flow.run(scheduler=scheduler, execution_summary=False)
    assert RAN == []


def test_aggregator_complete_needs_every_yielded_task():
    daskflow.run([TaskIdx(i=0), TaskIdx(i=1)], execution_summary=False)
    assert not Agg().complete()
    with pytest.raises(RuntimeError):
        Agg().outputLoad()


def test_aggregator_reset_resets_the_yielded_tasks(monkeypatch):
    daskflow.Workflow(Agg).run(execution_summary=False)
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("prompted"))
    daskflow.Workflow(Agg).reset()
    assert not Agg().complete()
    assert not any(TaskIdx(i=i).complete() for i in range(3))


def test_aggregator_with_requires_and_clone():
    flow = daskflow.Workflow(AggClone, {"n": 5})
    flow.run(execution_summary=False)
    assert flow.outputLoad() == [5, -5]
    assert sorted(RAN) == ["Base(n=5)", "Other(n=5)"]


class CountedAgg(TaskAggregator):
    calls = 0

    def run(self):
        type(self).calls += 1
        yield TaskIdx(i=0)
        yield TaskIdx(i=1)


def test_aggregator_calls_run_once_per_instance(tmp_path):
    agg = CountedAgg()
    agg.deps(), agg.output(), agg.own_targets(), agg.output_targets(), agg.complete()
    assert CountedAgg.calls == 1
    # a copy handed a context (what _hand_down makes) yields the same tasks in that context
    parent = daskflow.tasks.Task(path=str(tmp_path))
    moved = parent._hand_down(agg)
    assert moved is not agg and moved.deps() == agg.deps()
    assert {t.path for t in moved.deps()} == {str(tmp_path)}
    assert all("path" not in t.__dict__ for t in agg.deps())  # the original keeps its own
    # a pickled aggregator (as sent to a worker) carries its yielded tasks
    shipped = pickle.loads(pickle.dumps(agg))
    assert shipped.deps() == agg.deps()
    assert CountedAgg.calls == 1

    CountedAgg.calls = 0
    flow = daskflow.Workflow(CountedAgg)
    flow.run(scheduler="sync", execution_summary=False)
    assert CountedAgg.calls == 1  # the graph's build; its node runs nothing of its own
    CountedAgg.calls = 0
    assert flow.outputLoad() == [0, 10]
    assert CountedAgg.calls == 1


# -- schedulers ------------------------------------------------------------------------------------


class Top(TaskCache):
    def requires(self):
        return {"l": Left(), "r": Right()}

    def run(self):
        _ran(self)
        inputs = self.inputLoad()
        self.save(inputs["l"] + inputs["r"])


class Left(TaskPickle):
    def requires(self):
        return Root()

    def run(self):
        _ran(self)
        self.save([*self.inputLoad(), "left"])


class Right(TaskCache):
    def requires(self):
        return Root()

    def run(self):
        _ran(self)
        self.save([*self.inputLoad(), "right"])


class Root(TaskCache):
    def run(self):
        _ran(self)
        self.save(["root"])


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_schedulers_give_the_same_results(scheduler):
    result = daskflow.Workflow(Top).run(scheduler=scheduler, execution_summary=False)
    assert result.status == "SUCCESS"
    assert Top().outputLoad() == ["root", "left", "root", "right"]
    assert sorted(RAN) == ["Left()", "Right()", "Root()", "Top()"]
    assert RAN[0] == "Root()" and RAN[-1] == "Top()"
    assert sorted(repr(t) for t in result.ran) == sorted(RAN)


def test_sync_scheduler_runs_every_task_in_the_calling_thread():
    daskflow.Workflow(Top).run(scheduler="sync", execution_summary=False)
    assert set(THREADS.values()) == {threading.get_ident()}


def test_threads_scheduler_runs_tasks_in_worker_threads():
    daskflow.Workflow(Top).run(scheduler="threads", workers=2, execution_summary=False)
    assert threading.get_ident() not in set(THREADS.values())


def test_settings_scheduler_is_the_default():
    daskflow.settings.scheduler = "sync"
    daskflow.Workflow(Top).run(execution_summary=False)
    assert set(THREADS.values()) == {threading.get_ident()}


def test_a_dask_get_function_is_a_scheduler():
    daskflow.Workflow(Top).run(scheduler=dask.get, execution_summary=False)
    assert Top().outputLoad() == ["root", "left", "root", "right"]


def test_scheduler_from_dask_config_does_not_break_sync():
    with dask.config.set(scheduler="threads"):
        daskflow.Workflow(Top).run(scheduler="sync", execution_summary=False)
    assert set(THREADS.values()) == {threading.get_ident()}


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_in_memory_outputs_reach_downstream_and_the_caller(scheduler):
    daskflow.Workflow(Top).run(scheduler=scheduler, execution_summary=False)
    assert Right().complete() and Root().complete()
    assert Right().outputLoad() == ["root", "right"]
    assert os.path.isfile(Left().output().path)


def test_aggregator_is_incomplete_while_a_yielded_task_is_even_without_dependency_checks():
    class Part(TaskPickle):
        i = daskflow.IntParameter()

        def run(self):
            self.save(self.i)

    class All(TaskAggregator):
        def run(self):
            yield Part(i=1)
            yield Part(i=2)

    daskflow.settings.check_dependencies = False
    assert All().complete() is False
    daskflow.run(All(), execution_summary=False, scheduler="sync")
    assert All().complete() is True
    Part(i=2).reset()
    assert All().complete() is False


def test_a_plain_task_with_its_own_output_runs_and_completes(tmp_path):
    from daskflow.targets import Target

    class Plain(daskflow.tasks.Task):
        def output(self):
            return Target(str(tmp_path / "plain.pkl"), "pickle")

        def run(self):
            self.output().save("made")

    assert Plain().complete() is False
    result = daskflow.run(Plain(), scheduler="sync", execution_summary=False)
    assert [repr(t) for t in result.ran] == ["Plain()"]
    assert Plain().complete() is True


def test_a_plain_task_without_outputs_is_never_complete():
    class NoOutputs(daskflow.tasks.Task):
        def run(self):
            pass

    assert NoOutputs().complete() is False


def test_tasks_of_two_runs_in_one_worker_each_see_their_own_settings(tmp_path):
    """A worker runs tasks of several runs in threads at once: each node applies the settings
    its caller sent for its own thread only."""
    from daskflow import settings
    from daskflow.runtime import DONE, Environment, run_node

    both_started = threading.Barrier(2, timeout=30)

    class Where(TaskPickle):
        def run(self):
            both_started.wait()  # both nodes are inside their settings now
            self.save(str(self.output().path))

    results = {}

    def node(name):
        snapshot = {**settings.snapshot(), "dirpath": str(tmp_path / name)}
        results[name] = run_node(Where(), [], {}, Environment(snapshot, str(tmp_path)))

    threads = [threading.Thread(target=node, args=(n,)) for n in ("dev", "prod")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [results[n].state for n in ("dev", "prod")] == [DONE, DONE]
    for name in ("dev", "prod"):
        (written,) = (tmp_path / name / "Where").glob("*.pkl")
        assert name in written.parent.parent.name
    assert settings.dirpath != str(tmp_path / "dev")  # the caller's settings are untouched


class CacheForgetsOne(TaskCache):
    persist = ["a", "b"]  # noqa: RUF012 (d6tflow style)
    forget = daskflow.BoolParameter(default=True, significant=False)

    def run(self):
        if self.forget:
            self.output()["a"].save("new")
        else:
            self.save({"a": "old", "b": "old"})


@pytest.mark.parametrize("scheduler", [*SCHEDULERS, "processes"])
def test_a_partial_save_of_in_memory_outputs_leaves_the_caller_none_either(scheduler):
    daskflow.run(CacheForgetsOne(forget=False), scheduler=scheduler, execution_summary=False)
    assert CacheForgetsOne().outputLoad() == ["old", "old"]
    with pytest.warns(CompatibilityWarning, match="saved only some"):
        daskflow.run(
            CacheForgetsOne(), forced_all=True, scheduler=scheduler, execution_summary=False
        )
    assert not CacheForgetsOne().complete()
    assert not [u for u in daskflow.data if "CacheForgetsOne" in u]


class WritesOneItself(TaskPickle):
    persist = ["a", "b"]  # noqa: RUF012 (d6tflow style)

    def run(self):
        self.output()["a"].save(1)
        with open(self.output()["b"].path, "wb") as f:  # d6tflow style: straight to the path
            pickle.dump(2, f)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_an_output_that_run_wrote_itself_counts_beside_saved_ones(scheduler, recwarn):
    daskflow.run(WritesOneItself(), scheduler=scheduler, execution_summary=False)
    assert WritesOneItself().outputLoad() == [1, 2]
    assert not [w for w in recwarn if issubclass(w.category, CompatibilityWarning)]


class SavesOnce(TaskPickle):
    def run(self):
        if not Path("saved-once").exists():
            Path("saved-once").touch()
            self.save("first")


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_forced_rerun_that_saves_nothing_leaves_the_task_incomplete(scheduler):
    # as d6tflow, which removed a forced task's outputs before running it
    daskflow.run(SavesOnce(), execution_summary=False)
    assert SavesOnce().outputLoad() == "first"
    with pytest.warns(CompatibilityWarning, match="finished without saving"):
        daskflow.run(SavesOnce(), forced_all=True, scheduler=scheduler, execution_summary=False)
    assert not SavesOnce().complete()
    assert not SavesOnce().output().exists()


def test_a_run_says_everything_through_the_reporter_it_is_given(capsys):
    import io

    from daskflow.progress import Reporter

    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter({TaskIdx(i=7).task_id: "TaskIdx"}, stream=err, out=out)
    daskflow.run(TaskIdx(i=7), reporter=reporter)
    assert capsys.readouterr() == ("", "")  # the library printed nothing itself
    assert "Execution Summary" in out.getvalue()
    assert "1/1 tasks done" in err.getvalue()


class OutputFailsInTheNode(TaskPickle):
    def output(self):
        raise OSError("no storage here")


def test_a_node_whose_outputs_cannot_be_resolved_fails_and_does_not_raise():
    # a node never raises: the error becomes the task's failure, so independent branches
    # still finish (an output() that works where the run was planned may fail on a worker)
    from daskflow.runtime import FAILED, run_node

    result = run_node(OutputFailsInTheNode(), [])
    assert result.state == FAILED
    assert isinstance(result.error, OSError) and "no storage here" in result.error_text


class Kept(TaskPickle):
    def run(self):
        self.save({"kept": 1})


@daskflow.requires(Kept)
class KeptReader(TaskPickle):
    def run(self):
        self.save(self.inputLoad())


@pytest.mark.parametrize("scheduler", [*SCHEDULERS, "processes", None])
def test_a_run_after_the_output_folder_was_deleted_makes_it_again(tmp_path, scheduler):
    """As a notebook that deletes its output folder and runs again in the same process:
    nothing of the first run's folders is remembered, so the second run makes them again,
    manifests included, and the outputs load."""
    import shutil

    daskflow.set_dir(tmp_path / "out")
    for _ in range(2):
        result = daskflow.run(KeptReader(), scheduler=scheduler, execution_summary=False)
        assert result.status == "SUCCESS"
        assert KeptReader().outputLoad() == {"kept": 1}
        shutil.rmtree(tmp_path / "out")


def test_a_run_keeps_a_level_the_user_set_on_the_logger_until_the_setting_changes():
    import logging

    log = logging.getLogger("daskflow")
    before = log.level
    try:
        daskflow.run(Task1(), scheduler="sync", execution_summary=False)
        log.setLevel(logging.DEBUG)  # the user's own choice, on the logger itself
        daskflow.run(Task1(), scheduler="sync", execution_summary=False)
        assert log.level == logging.DEBUG
        daskflow.settings.log_level = "ERROR"  # the setting changed: it wins
        daskflow.run(Task1(), scheduler="sync", execution_summary=False)
        assert log.level == logging.ERROR
    finally:
        log.setLevel(before)


class NoInputs(daskflow.tasks.TaskPqPandas):
    def run(self):
        self.got = self.inputLoad()
        self.save(pandas.DataFrame({"a": [1]}))


def test_input_load_without_requires_warns_and_gives_what_d6tflow_gave():
    task = NoInputs()
    with pytest.warns(
        daskflow.errors.CompatibilityWarning, match=r"NoInputs\(\)\.inputLoad\(\).*requires no task"
    ):
        assert task.inputLoad() == []
    daskflow.settings.strict = True
    with pytest.raises(daskflow.errors.TaskDefinitionError, match=r"settings\.strict"):
        task.inputLoad()


class SavesADict(daskflow.tasks.TaskPqPandas):
    def run(self):
        self.save({"a": pandas.DataFrame({"x": [1]})})


def test_saving_what_the_format_cannot_write_names_the_output_and_the_fix():
    result = daskflow.Workflow(SavesADict).run(execution_summary=False, abort=False)
    error = result.errors[SavesADict().task_id]
    assert isinstance(error, daskflow.errors.SaveError)
    text = str(error)
    assert "SavesADict" in text and ".to_parquet()" in text and "got dict" in text
    assert "persist = [...]" in text
    assert not SavesADict().complete()


class Exits(daskflow.tasks.TaskPickle):
    def run(self):
        import sys

        sys.exit(3)


class Sibling(daskflow.tasks.TaskPickle):
    def run(self):
        self.save("fine")


@pytest.mark.parametrize("scheduler", ["sync", "threads", None])
def test_sys_exit_in_run_fails_the_task_and_the_run_goes_on(scheduler):
    result = daskflow.run(
        [Exits(), Sibling()], scheduler=scheduler, abort=False, execution_summary=False
    )
    error = result.errors[Exits().task_id]
    assert isinstance(error, daskflow.errors.TaskError)
    assert "Exits().run() called sys.exit(3)" in str(error)
    assert Sibling().complete() and not Exits().complete()


class YieldsANumber(daskflow.tasks.TaskPickle):
    def run(self):
        yield 5
        self.save(1)


def test_yielding_what_is_not_a_task_names_it():
    result = daskflow.run(YieldsANumber(), scheduler="sync", abort=False, execution_summary=False)
    error = result.errors[YieldsANumber().task_id]
    assert isinstance(error, daskflow.errors.TaskDefinitionError)
    assert "YieldsANumber().run() yielded 5; a run() may yield only tasks" in str(error)


class MadeBeforeTheLoss(daskflow.tasks.TaskPickle):
    def run(self):
        self.save(1)


@daskflow.requires(MadeBeforeTheLoss)
class AfterTheLoss(daskflow.tasks.TaskPickle):
    def run(self):
        self.save(2)


def test_a_lost_scheduler_blames_no_task_that_committed_and_prints_no_dask_traceback():
    """The scheduler went away before it reported a task that had committed its outputs:
    that task counts as done; its reader, which never ran, fails with the one message."""
    from daskflow.errors import ClusterError
    from daskflow.execute import _fill
    from daskflow.graph import build

    graph = build([AfterTheLoss()])
    keys = list(graph.tasks)
    MadeBeforeTheLoss().output().save(1)  # committed on a worker; then the scheduler died
    try:
        raise ClusterError("lost the Dask scheduler at tcp://127.0.0.1:1 (CancelledError)")
    except ClusterError as e:
        lost = e
    results = _fill(graph, keys, [lost, lost], None, fresh=keys)
    made, after = results[MadeBeforeTheLoss().task_id], results[AfterTheLoss().task_id]
    assert made.state == "done" and not made.made_by  # it ran (in this run)
    assert after.state == "failed" and after.error_text == str(lost)
