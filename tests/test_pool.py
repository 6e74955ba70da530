"""The local schedulers' worker processes (:mod:`daskflow.pool`): kept across runs of the same
code, replaced when the code or what a worker inherits changed, never waiting for processes a
task started, gone with the caller; a flow run from a daemonic process; a worker that dies.

Scripts that must start from a clean process run as subprocesses, each with a timeout, so a
hang fails the test instead of blocking the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import dask.system
import pytest

import daskflow
from daskflow import pool
from daskflow.errors import TaskError
from daskflow.tasks import TaskPickle

two_cores = pytest.mark.skipif(
    dask.system.CPU_COUNT < 2, reason="the default sends tasks to workers only on 2+ cores"
)


def _script(tmp_path, body: str, timeout: float = 120) -> subprocess.CompletedProcess:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Busy(TaskPickle):
    """Long enough that the default sends it to a worker process."""

    i = daskflow.IntParameter()

    def run(self):
        time.sleep(0.05)
        self.save(os.getpid())


class BusyFan(TaskPickle):
    n = daskflow.IntParameter(default=6)

    def requires(self):
        return [Busy(i=i) for i in range(self.n)]

    def run(self):
        self.save(self.inputLoad())


def _worker_pids():
    return {p for p in BusyFan().outputLoad() if p != os.getpid()}


@two_cores
def test_a_second_run_of_the_same_code_reuses_the_worker_processes():
    daskflow.run(BusyFan(), execution_summary=False)
    first = _worker_pids()
    daskflow.Workflow(BusyFan).reset(confirm=False)
    for t in BusyFan().requires():
        t.reset(confirm=False)
    daskflow.run(BusyFan(), execution_summary=False)
    assert first and _worker_pids() <= first | {os.getpid()}, (first, _worker_pids())


@two_cores
def test_new_code_or_a_new_working_directory_gets_new_worker_processes(tmp_path, monkeypatch):
    daskflow.set_dir(tmp_path / "out")
    daskflow.run(BusyFan(), execution_summary=False)
    first = _worker_pids()
    daskflow.set_dir(tmp_path / "again")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # a notebook that changed its folder
    daskflow.run(BusyFan(), execution_summary=False)
    assert first and not (_worker_pids() & first)
    kept = pool._pools[(pool.start_method(None), 2)]
    assert kept.serves(kept.code)
    changed = {name: key + "x" for name, key in kept.code.items()}  # a class edited since
    assert not kept.serves(changed)


def test_a_pool_that_does_not_serve_is_replaced_only_when_idle():
    code = {"mod.Task": "a"}
    with pool.worker_pool(1, pool.start_method(None), code) as first:
        with pool.worker_pool(1, pool.start_method(None), {"mod.Task": "b"}) as second:
            assert second is not first  # first is in use: the new one serves this run alone
        with pool.worker_pool(1, pool.start_method(None), code) as again:
            assert again is first
    with pool.worker_pool(1, pool.start_method(None), {"mod.Task": "b"}) as third:
        assert third is not first and pool._pools[(pool.start_method(None), 1)] is third


@two_cores
def test_tasks_that_start_joblib_workers_finish_without_waiting_for_them(tmp_path):
    """joblib's loky executor keeps its workers 300 s after their last job; a worker process
    that ran such a task must not wait for them, at the end of a run or of the script."""
    pytest.importorskip("joblib")
    done = _script(
        tmp_path,
        """
        import time
        import daskflow
        from joblib import Parallel, delayed

        def square(x):
            return x * x

        class UsesJoblib(daskflow.tasks.TaskPickle):
            i = daskflow.IntParameter()

            def run(self):
                time.sleep(0.05)
                self.save(sum(Parallel(n_jobs=2)(delayed(square)(x) for x in range(10))))

        class Both(daskflow.tasks.TaskPickle):
            def requires(self):
                return [UsesJoblib(i=0), UsesJoblib(i=1)]

            def run(self):
                self.save(sum(self.inputLoad()))

        if __name__ == "__main__":
            start = time.monotonic()
            daskflow.Workflow(Both).run(execution_summary=False)
            print("result", daskflow.Workflow(Both).outputLoad())
            print("seconds", time.monotonic() - start)
        """,
        timeout=150,  # the stall this guards against lasts 300 s
    )
    assert done.returncode == 0, done.stderr
    assert "result 570" in done.stdout


def test_a_flow_run_from_a_multiprocessing_pool_worker(tmp_path):
    """A daemonic process may not start processes: the default runs the tasks there one
    after another and says so once per process."""
    done = _script(
        tmp_path,
        """
        import multiprocessing
        import time
        import daskflow

        class Part(daskflow.tasks.TaskPickle):
            n = daskflow.IntParameter()

            def run(self):
                time.sleep(0.02)
                self.save(self.n)

        class Sum(daskflow.tasks.TaskPickle):
            n = daskflow.IntParameter()

            def requires(self):
                return [Part(n=self.n * 10 + i) for i in range(3)]

            def run(self):
                self.save(sum(self.inputLoad()))

        def job(n):
            daskflow.Workflow(Sum, {"n": n}).run(execution_summary=False)
            daskflow.Workflow(Sum, {"n": n}).run(execution_summary=False, forced_all=True)
            return daskflow.Workflow(Sum, {"n": n}).outputLoad()

        if __name__ == "__main__":
            with multiprocessing.Pool(2) as workers:
                print("results", workers.map(job, [1, 2, 3, 4]))
        """,
    )
    assert done.returncode == 0, done.stderr
    assert "results [33, 63, 93, 123]" in done.stdout
    said = done.stderr.count("daemonic")
    assert 1 <= said <= 2, done.stderr  # once per pool worker that ran a flow


class Dies(TaskPickle):
    def run(self):
        time.sleep(0.05)
        os._exit(3)


class Lives(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        time.sleep(0.05)
        self.save(self.i)


class DiesBeside(TaskPickle):
    def requires(self):
        return {"dies": Dies(), **{f"l{i}": Lives(i=i) for i in range(4)}}

    def run(self):
        self.save(1)


@pytest.mark.parametrize("scheduler", [None, "processes"])
def test_a_worker_process_that_dies_fails_its_task_and_the_run_goes_on(scheduler):
    result = daskflow.run(DiesBeside(), scheduler=scheduler, workers=None, abort=False)
    assert result.status == "FAILED"
    assert [repr(t) for t in result.failed] == ["Dies()"] or "Dies()" in map(repr, result.failed)
    error = result.errors[Dies().task_id]
    assert isinstance(error, TaskError) and "worker process" in str(error)
    assert [repr(t) for t in result.upstream_failed] == ["DiesBeside()"]
    # the run went on: the tasks that did not share the dead worker's queue finished
    assert Lives(i=3).complete()
    # and the next run has working processes again
    again = daskflow.run([Lives(i=9), Lives(i=10)], scheduler=scheduler, abort=False)
    assert again.status == "SUCCESS"


def test_worker_processes_exit_with_the_caller(tmp_path):
    """Killed with SIGKILL, the caller never stops its workers: they see it gone and exit."""
    done = _script(
        tmp_path,
        """
        import os, signal, time
        import daskflow

        class Slow(daskflow.tasks.TaskPickle):
            i = daskflow.IntParameter()

            def run(self):
                time.sleep(0.1)
                self.save(os.getpid())

        class Fan(daskflow.tasks.TaskPickle):
            def requires(self):
                return [Slow(i=i) for i in range(4)]

            def run(self):
                self.save(self.inputLoad())

        if __name__ == "__main__":
            daskflow.Workflow(Fan).run(execution_summary=False, scheduler="processes")
            pids = set(daskflow.Workflow(Fan).outputLoad())
            print("workers", *sorted(pids), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    pids = [int(p) for p in done.stdout.split("workers", 1)[1].split()]
    deadline = time.monotonic() + 30
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if _alive(p)]
    assert not alive, f"worker processes {alive} outlived their caller"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
