"""Running on the local cores: which process or thread each scheduler runs tasks in, in-memory
outputs across processes, retries, errors that cannot be pickled, WorkflowMulti, progress,
settings in worker processes, two runs at once from two processes, and spawned workers.

Tasks record where they ran (``os.getpid()``, ``threading.get_ident()``) in their outputs.
Tasks that must run at the same time meet at a file barrier (``parallel_tasks.meet``), so
"in different processes" does not depend on timing.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dask.system
import pandas as pd
import pytest
from helpers import RunLog, is_manifest
from parallel_tasks import BothSides, Fan, LeftSide, RightSide, meet, where

import daskflow
from daskflow.errors import TaskError
from daskflow.execute import SUMMARY_HEADER
from daskflow.tasks import TaskCache, TaskCachePandas, TaskPickle

RAN = RunLog()
MEET_TIMEOUT = 5.0

two_cores = pytest.mark.skipif(
    dask.system.CPU_COUNT < 2, reason="the default runs branches in parallel only on 2+ cores"
)


@pytest.fixture(autouse=True)
def _clear_log():
    RAN.clear()
    yield
    RAN.clear()


def _pids(results):
    return [r["pid"] for r in results]


# -- tasks (defined here: forked workers have this module already) --------------------------


class Branch(TaskPickle):
    i = daskflow.IntParameter()
    together = daskflow.IntParameter(default=0)

    def run(self):
        RAN.append(repr(self))
        if self.together:
            meet("branches", self.together, MEET_TIMEOUT)
        self.save({"i": self.i, **where()})


class Join(TaskPickle):
    n = daskflow.IntParameter(default=2)
    together = daskflow.IntParameter(default=0)

    def requires(self):
        return [Branch(i=i, together=self.together) for i in range(self.n)]

    def run(self):
        RAN.append(repr(self))
        self.save({"branches": self.inputLoad(), **where()})


class Chain1(TaskPickle):
    def run(self):
        self.save(where())


@daskflow.requires(Chain1)
class Chain2(TaskPickle):
    def run(self):
        self.save([self.inputLoad(), where()])


@daskflow.requires(Chain2)
class Chain3(TaskPickle):
    def run(self):
        self.save([*self.inputLoad(), where()])


# -- where tasks run -------------------------------------------------------------------------


@two_cores
def test_default_runs_independent_branches_at_once_in_two_processes():
    # the branches wait for each other: they finish only if they run at the same time
    daskflow.Workflow(Join, {"together": 2}).run(execution_summary=False)
    out = Join(together=2).outputLoad()
    pids = _pids(out["branches"])
    assert len(set(pids)) == 2, f"both branches ran in one process: {pids}"
    assert os.getpid() in pids  # the calling process works beside one worker


class Quick(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        self.save(where())


class QuickFan(TaskPickle):
    def requires(self):
        return [Quick(i=i) for i in range(40)]

    def run(self):
        self.save([*self.inputLoad(), where()])


class Slow(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        time.sleep(0.05)  # long enough to be worth a worker process
        self.save(where())


class SlowFan(TaskPickle):
    def requires(self):
        return [Slow(i=i) for i in range(8)]

    def run(self):
        self.save([*self.inputLoad(), where()])


@two_cores
def test_default_runs_quick_tasks_here_and_sends_slow_ones_to_workers():
    daskflow.Workflow(QuickFan).run(execution_summary=False)
    pids = _pids(QuickFan().outputLoad())
    # the first calls pay one-time costs: a few may go out before the group is known quick
    assert pids.count(os.getpid()) >= 37, pids
    daskflow.Workflow(SlowFan).run(execution_summary=False)
    pids = _pids(SlowFan().outputLoad())
    assert len([p for p in pids[:-1] if p != os.getpid()]) >= 3, pids  # workers took them
    assert os.getpid() in pids[:-1]  # ... and the calling process did its share


def test_default_runs_a_chain_in_the_calling_process():
    daskflow.Workflow(Chain3).run(execution_summary=False)
    assert _pids(Chain3().outputLoad()) == [os.getpid()] * 3


def test_workers_1_runs_every_task_in_this_process():
    daskflow.Workflow(Join, {"n": 3}).run(workers=1, execution_summary=False)
    out = Join(n=3).outputLoad()
    assert set(_pids([*out["branches"], out])) == {os.getpid()}


def test_workers_2_runs_on_two_worker_processes():
    daskflow.Workflow(Join, {"n": 4, "together": 2}).run(workers=2, execution_summary=False)
    out = Join(n=4, together=2).outputLoad()
    pids = set(_pids(out["branches"]))
    assert len(pids) == 2, f"expected the 4 branches on 2 processes, got pids {pids}"
    assert os.getpid() not in pids | {out["pid"]}


def test_sync_runs_every_task_in_the_calling_thread():
    daskflow.Workflow(Join, {"n": 3}).run(scheduler="sync", execution_summary=False)
    out = Join(n=3).outputLoad()
    assert {r["thread"] for r in [*out["branches"], out]} == {threading.get_ident()}
    assert set(_pids([*out["branches"], out])) == {os.getpid()}


def test_threads_runs_every_task_in_this_process():
    daskflow.Workflow(Join, {"n": 3}).run(scheduler="threads", execution_summary=False)
    out = Join(n=3).outputLoad()
    assert set(_pids([*out["branches"], out])) == {os.getpid()}


def test_processes_runs_even_a_chain_in_worker_processes():
    daskflow.Workflow(Chain3).run(scheduler="processes", execution_summary=False)
    assert os.getpid() not in _pids(Chain3().outputLoad())


# -- in-memory outputs across processes ------------------------------------------------------


class CacheUp(TaskCache):
    i = daskflow.IntParameter()

    def run(self):
        RAN.append(repr(self))
        self.save({"i": self.i, **where()})


class CacheDown(TaskCachePandas):
    i = daskflow.IntParameter()

    def requires(self):
        return CacheUp(i=self.i)

    def run(self):
        RAN.append(repr(self))
        up = self.inputLoad()
        self.save(pd.DataFrame({"i": [up["i"]], "up_pid": [up["pid"]], "pid": [os.getpid()]}))


class CacheJoin(TaskPickle):
    def requires(self):
        return [CacheDown(i=0), CacheDown(i=1)]

    def run(self):
        RAN.append(repr(self))
        self.save({"frame": pd.concat(self.inputLoad(), ignore_index=True), **where()})


def test_cache_values_flow_across_processes_and_load_in_the_caller():
    result = daskflow.Workflow(CacheJoin).run(
        scheduler="processes", workers=2, execution_summary=False
    )
    assert result.status == "SUCCESS"
    out = CacheJoin().outputLoad()
    frame = out["frame"]
    assert frame["i"].tolist() == [0, 1]
    assert os.getpid() not in [*frame["pid"], *frame["up_pid"], out["pid"]]
    # the values made in worker processes answer here, after the run
    for i in (0, 1):
        assert CacheUp(i=i).complete() and CacheDown(i=i).complete()
        assert CacheUp(i=i).outputLoad()["i"] == i
        assert CacheUp(i=i).outputLoad()["pid"] != os.getpid()
        down = CacheDown(i=i).outputLoad()
        assert isinstance(down, pd.DataFrame)
        assert down.to_dict("records") == frame.iloc[[i]].to_dict("records")
    assert daskflow.Workflow(CacheJoin).complete()
    assert sorted(RAN) == sorted(
        ["CacheUp(i=0)", "CacheUp(i=1)", "CacheDown(i=0)", "CacheDown(i=1)", "CacheJoin()"]
    )


def test_cache_task_complete_before_the_run_reaches_a_worker_process():
    daskflow.Workflow(CacheUp, {"i": 0}).run(scheduler="sync", execution_summary=False)
    assert CacheUp(i=0).outputLoad()["pid"] == os.getpid()
    RAN.clear()

    daskflow.Workflow(CacheJoin).run(scheduler="processes", workers=2, execution_summary=False)
    assert "CacheUp(i=0)" not in RAN
    assert RAN.count("CacheUp(i=1)") == 1
    down = CacheDown(i=0).outputLoad()
    assert down["pid"].item() != os.getpid()  # ran in a worker process ...
    assert down["up_pid"].item() == os.getpid()  # ... on the value made here before
    assert CacheUp(i=0).outputLoad()["pid"] == os.getpid()


# -- retries ---------------------------------------------------------------------------------


class Flaky(TaskPickle):
    retries = 2

    def run(self):
        RAN.append("attempt")
        if RAN.count("attempt") <= 2:
            raise OSError(f"flaky failure {RAN.count('attempt')}")
        self.save(where())


class Steady(TaskPickle):
    def run(self):
        self.save(where())


class FlakyJoin(TaskPickle):
    def requires(self):
        return [Flaky(), Steady()]

    def run(self):
        self.save(self.inputLoad())


@two_cores
def test_retries_in_a_worker_process():
    result = daskflow.Workflow(FlakyJoin).run(execution_summary=False)
    assert result.status == "SUCCESS"
    assert RAN.count("attempt") == 3
    assert Flaky().outputLoad()["pid"] != os.getpid()


# -- errors that cannot be pickled -----------------------------------------------------------


class NeedsTwoArgs(Exception):
    """Unpickling calls ``cls(*args)`` with one argument: it cannot come back."""

    def __init__(self, what, why):
        super().__init__(f"cannot frobnicate {what}: {why}")


class HoldsALock(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


class RaisesTwoArgs(TaskPickle):
    def run(self):
        raise NeedsTwoArgs("the widget", "it is on fire")


class RaisesWithLock(TaskPickle):
    def run(self):
        raise HoldsALock("a locked failure")


class Bystander(TaskPickle):
    def run(self):
        self.save(where())


@daskflow.requires(RaisesTwoArgs)
class AfterRaises(TaskPickle):
    def run(self):
        self.save(1)


@pytest.mark.parametrize(
    ("task", "exc_type", "message"),
    [
        (RaisesTwoArgs, "NeedsTwoArgs", "cannot frobnicate the widget: it is on fire"),
        (RaisesWithLock, "HoldsALock", "a locked failure"),
    ],
)
def test_unpicklable_exception_reports_task_type_and_message(task, exc_type, message, capsys):
    with pytest.raises(RuntimeError) as info:
        daskflow.run([task(), Bystander()], scheduler="processes", workers=2)
    assert str(info.value) == "Exception found running flow, check trace"
    cause = info.value.__cause__
    assert cause is not None
    # the original exception if it could be rebuilt here (dask installs tblib's pickling
    # support, which rebuilds some exceptions without calling __init__), else a TaskError
    # that carries its type and text; either way the traceback line shows both
    shown = "".join(traceback.format_exception_only(cause))
    assert exc_type in shown and message in shown
    out = capsys.readouterr().out
    assert f"* 1 failed:\n    - 1 {task.__name__}()" in out
    assert Bystander().complete()
    assert Bystander().outputLoad()["pid"] != os.getpid()


class LockCache(TaskCache):
    def run(self):
        self.save(threading.Lock())


def test_cache_output_that_cannot_be_pickled_is_a_task_error_naming_the_task():
    with pytest.raises(RuntimeError) as info:
        daskflow.Workflow(LockCache).run(scheduler="processes", execution_summary=False)
    cause = info.value.__cause__
    assert isinstance(cause, TaskError)
    assert "LockCache()" in str(cause)
    assert "lock" in str(cause).lower()
    assert not LockCache().complete()


# -- WorkflowMulti ---------------------------------------------------------------------------


class Shared(TaskPickle):
    def run(self):
        RAN.append(repr(self))
        self.save(where())


class PerFlow(TaskPickle):
    x = daskflow.IntParameter()

    def requires(self):
        return Shared()

    def run(self):
        RAN.append(repr(self))
        meet("flows", 2, MEET_TIMEOUT)
        self.save({"x": self.x, "shared": self.inputLoad(), **where()})


@two_cores
def test_workflow_multi_runs_shared_upstream_once_and_flows_side_by_side():
    multi = daskflow.WorkflowMulti(PerFlow, {"x": [1, 2]})
    results = multi.run(execution_summary=False)
    assert sorted(results) == ["x_1", "x_2"]
    assert all(r.status == "SUCCESS" for r in results.values())
    assert RAN.count("Shared()") == 1
    assert sorted(RAN) == ["PerFlow(x=1)", "PerFlow(x=2)", "Shared()"]
    outs = multi.outputLoad()
    pids = [outs["x_1"]["pid"], outs["x_2"]["pid"]]
    assert len(set(pids)) == 2, f"the flows ran in one process: {pids}"
    assert outs["x_1"]["shared"] == outs["x_2"]["shared"]


# -- progress --------------------------------------------------------------------------------


def _progress_lines(err):
    return [line for line in err.splitlines() if line.startswith("[daskflow]")]


@pytest.mark.parametrize("scheduler", [None, "sync"])
def test_progress_says_how_many_tasks_and_ends_with_all_done(scheduler, capsys):
    daskflow.Workflow(Join, {"n": 2}).run(scheduler=scheduler)
    captured = capsys.readouterr()
    lines = _progress_lines(captured.err)
    assert lines[0].startswith("[daskflow] running 3 tasks")
    assert lines[-1] == "[daskflow] 3/3 tasks done: Branch 2/2, Join 1/1"
    assert SUMMARY_HEADER in captured.out


def test_progress_counts_failures(capsys):
    daskflow.run([RaisesTwoArgs(), Bystander()], scheduler="processes", workers=2, abort=False)
    lines = _progress_lines(capsys.readouterr().err)
    assert lines[0].startswith("[daskflow] running 2 tasks")
    assert lines[-1] == "[daskflow] 1/2 tasks done, 1 failed: Bystander 1/1, RaisesTwoArgs 0/1"


def test_progress_counts_tasks_not_run_apart_from_failures(capsys):
    daskflow.run([AfterRaises(), Bystander()], scheduler="sync", abort=False)
    lines = _progress_lines(capsys.readouterr().err)
    assert lines[-1] == (
        "[daskflow] 1/3 tasks done, 1 failed, 1 not run (a task upstream failed): "
        "AfterRaises 0/1, Bystander 1/1, RaisesTwoArgs 0/1"
    )


def test_no_progress_without_execution_summary(capsys):
    daskflow.Workflow(Join, {"n": 2}).run(execution_summary=False)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "[daskflow]" not in captured.err


def test_no_progress_when_log_level_is_error(capsys):
    daskflow.settings.log_level = "ERROR"
    daskflow.Workflow(Join, {"n": 2}).run()
    assert "[daskflow]" not in capsys.readouterr().err


# -- settings reach worker processes ---------------------------------------------------------


def _spawn_imports_parallel_tasks() -> bool:
    """Whether a spawned process starts with this process's sys.path (so it can import the
    tests' modules by name)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        try:  # without this process's sys.path the child cannot even unpickle _can_import
            return bool(pool.submit(_can_import, "parallel_tasks").result(timeout=60))
        except Exception:
            return False


def _can_import(name):
    import importlib

    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def spawn_ok():
    if not _spawn_imports_parallel_tasks():
        pytest.skip("spawned processes do not inherit sys.path, so they cannot import tasks")


@pytest.mark.parametrize("mp_context", [None, "spawn"])
def test_settings_made_here_are_used_in_worker_processes(mp_context, request):
    if mp_context == "spawn":
        request.getfixturevalue("spawn_ok")
    daskflow.settings.mp_context = mp_context
    daskflow.set_dir("sub/out")
    daskflow.settings.save_with_param = False
    daskflow.Workflow(BothSides).run(workers=2, execution_summary=False)

    root = Path("sub/out")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.pkl")) == [
        "BothSides/data.pkl",
        "RightSide/data.pkl",
    ]
    assert not Path("data").exists()
    out = BothSides().outputLoad()
    assert out["left"]["side"] == "left" and out["right"]["side"] == "right"
    assert os.getpid() not in [out["pid"], out["left"]["pid"], out["right"]["pid"]]
    assert LeftSide().outputLoad()["side"] == "left"
    assert RightSide().output().path == Path("sub/out/RightSide/data.pkl")


def test_spawned_workers_run_a_small_graph(spawn_ok):
    daskflow.settings.mp_context = "spawn"
    result = daskflow.Workflow(Fan, {"n": 3}).run(workers=2, execution_summary=False)
    assert result.status == "SUCCESS"
    out = Fan(n=3).outputLoad()
    assert [leaf["i"] for leaf in out["leaves"]] == [0, 1, 2]
    assert os.getpid() not in [out["pid"], *_pids(out["leaves"])]


# -- two runs at once from two processes -----------------------------------------------------

SCRIPT = """
import os, sys, time
import numpy as np
import pandas as pd
import daskflow
from daskflow.tasks import TaskPickle, TaskPqPandas

LABEL, PEER = sys.argv[1], sys.argv[2]


def meet(name, timeout=60.0):
    # wait until the other process reached the same point; fail loudly if it never does
    open(f".{name}-{LABEL}", "w").close()
    deadline = time.monotonic() + timeout
    while not os.path.exists(f".{name}-{PEER}"):
        if time.monotonic() > deadline:
            raise SystemExit(f"{LABEL}: {PEER} never reached {name!r}")
        time.sleep(0.01)


class Big(TaskPqPandas):
    i = daskflow.IntParameter()

    def run(self):  # (each task runs in one of the two processes: the other waits on its lease)
        time.sleep(0.2)
        n = 400_000
        frame = pd.DataFrame({"a": np.arange(n) * (self.i + 1), "b": np.full(n, self.i)})
        self.save(frame.assign(who=LABEL))


class Blob(TaskPickle):
    def requires(self):
        return [Big(i=0), Big(i=1)]

    def run(self):
        frames = self.inputLoad()
        time.sleep(0.2)
        blob = LABEL.encode()[:1] * 8_000_000
        self.save({"sums": [int(f.a.sum()) for f in frames], "blob": blob})


if __name__ == "__main__":
    meet("start")
    daskflow.Workflow(Blob).run(execution_summary=False)
    print("done", LABEL)
"""


def test_two_processes_running_the_same_flow_at_once(tmp_path):
    script = tmp_path / "flow_script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), me, peer],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me, peer in (("one", "two"), ("two", "one"))
    ]
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=120))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert out.startswith("done")

    n = 400_000
    data = tmp_path / "data"
    found = [p for p in data.rglob("*") if p.is_file() and not is_manifest(p)]
    files = sorted(p.relative_to(data).as_posix() for p in found)
    big0, big1 = (f"Big/Big_{i}_" for i in (0, 1))
    assert len(files) == 3, files  # no temporary file is left beside the outputs
    assert files[0].startswith(big0) and files[0].endswith("-data.parquet")
    assert files[1].startswith(big1) and files[1].endswith("-data.parquet")
    assert files[2] == "Blob/Blob__99914b932b-data.pkl"
    for i, name in enumerate(files[:2]):
        frame = pd.read_parquet(data / name)
        assert len(frame) == n and frame["a"].sum() == sum(range(n)) * (i + 1)
        assert set(frame["b"]) == {i}
        assert frame["who"].nunique() == 1  # written whole by one of the two runs
    blob = pd.read_pickle(data / files[2])
    assert blob["sums"] == [sum(range(n)), 2 * sum(range(n))]
    first = blob["blob"][:1]
    assert first in (b"o", b"t") and blob["blob"] == first * 8_000_000


# -- values and caches around worker processes -----------------------------------------------


class LockHolder(TaskCache):
    def run(self):
        self.save(threading.Lock())


class NeedsLock(TaskPickle):
    def requires(self):
        return LockHolder()

    def run(self):
        self.save("never")


class Independent(TaskPickle):
    def run(self):
        self.save("ran")


def test_unpicklable_complete_cache_value_fails_only_its_dependents():
    daskflow.run(LockHolder(), scheduler="sync", execution_summary=False)
    result = daskflow.run(
        [NeedsLock(), Independent()], scheduler="processes", abort=False, execution_summary=False
    )
    assert [repr(t) for t in result.failed] == ["NeedsLock()"]
    assert "LockHolder()" in str(result.errors[NeedsLock().task_id])
    assert Independent().outputLoad() == "ran"


class Counter_(TaskPickle):
    def run(self):
        RAN.append("Counter_")
        self.save(len(RAN))


def test_cached_load_is_not_stale_after_a_rerun_in_worker_processes():
    flow = daskflow.Workflow(Counter_)
    flow.run(scheduler="sync", execution_summary=False)
    assert flow.outputLoad(cached=True) == 1
    flow.run(forced_all=True, scheduler="processes", execution_summary=False)
    assert flow.outputLoad(cached=True) == 2


class AggLeaf(TaskCache):
    i = daskflow.IntParameter()

    def run(self):
        RAN.append(f"AggLeaf {self.i}")
        self.save(self.i)


class Agg(daskflow.tasks.TaskAggregator):
    def run(self):
        yield AggLeaf(i=1)
        yield AggLeaf(i=2)


def test_aggregator_in_a_worker_does_not_rerun_its_in_memory_tasks():
    daskflow.run(Agg(), scheduler="processes", execution_summary=False)
    assert sorted(RAN) == ["AggLeaf 1", "AggLeaf 2"]
    assert Agg().outputLoad() == [1, 2]


class InMemoryStore(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        self.save(self.i)


class InMemoryJoin(TaskPickle):
    def requires(self):
        return [InMemoryStore(i=1), InMemoryStore(i=2)]

    def run(self):
        self.save(sum(self.inputLoad()))


def test_memory_url_outputs_stay_in_this_process():
    daskflow.set_dir("memory://daskflow-test-root")
    try:
        flow = daskflow.Workflow(InMemoryJoin)
        flow.run(execution_summary=False)  # the default must not pick worker processes
        assert flow.outputLoad() == 3
        with pytest.raises(daskflow.errors.WorkflowError, match="memory://"):
            flow.run(scheduler="processes", forced_all_upstream=True, execution_summary=False)
    finally:
        import fsspec

        fsspec.filesystem("memory").rm("/daskflow-test-root", recursive=True)
