"""The worker processes of the local schedulers: started once, reused across runs, replaced
when the code they would run changed.

Starting worker processes costs a fork (milliseconds) or a spawn (most of a second), so a
process keeps its pool of workers from one run to the next, as a notebook kernel runs flow
after flow. Reuse must never run stale code. A forked worker holds the modules of the
moment it was forked; a spawned one, those it imported when it first ran them. Tasks travel
to workers cloudpickled, so a class defined in ``__main__`` (a script, a notebook cell)
arrives as it is now; a class of an importable module arrives by reference, and so do the
helpers a ``__main__`` class calls. So a pool remembers the code fingerprint
(:mod:`daskflow.fingerprint`) of each task class it was started for, and a run whose classes
are not all among them, each with the same fingerprint, gets a fresh pool: a notebook cell
that redefines a helper, an edited and reloaded module, a flow of new classes. That is
keyed by content, not by time: a run of the same code reuses the pool whatever happened in
between. The same holds for what a forked worker inherits besides its code: a pool serves
only while this process's working directory, ``sys.path`` and environment variables are
what they were when it started.

A worker never waits for processes a task started in it. ``joblib``'s loky executor keeps
its workers for 300 s after their last job, and a multiprocessing worker that exits joins
every child it has; so a worker that is told to stop ends its children and exits at once.
A worker also exits when the process that started it is gone (killed with SIGKILL, the
pool never gets to stop it).

The pools are the one piece of state of the local schedulers that outlives a run, by
design, and it is keyed by what it is: the start method, the number of workers and the code.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WorkerPool", "fresh", "in_daemon", "shutdown", "start_method", "worker_pool"]


def start_method(preferred: str | None) -> str:
    """How worker processes start: ``preferred``, else fork on Linux (milliseconds, and
    classes defined in a notebook need no import) and spawn elsewhere."""
    return preferred or ("fork" if sys.platform.startswith("linux") else "spawn")


def in_daemon() -> bool:
    """Whether this process is daemonic (a ``multiprocessing.Pool`` worker), which may start
    no process of its own."""
    return bool(multiprocessing.current_process().daemon)


@dataclass(eq=False)
class WorkerPool:
    """Worker processes, each behind an executor of its own, and the code they were started
    for.

    Attributes
    ----------
    executors : list of concurrent.futures.ProcessPoolExecutor
        One worker process each: a worker that dies breaks its own executor only (one
        executor of several processes terminates them all when one dies), and its
        replacement is started in its place (:meth:`replace`).
    method : str
        The start method (``"fork"``, ``"spawn"``, ``"forkserver"``).
    code : dict
        ``{task class: fingerprint key}`` of the runs it serves.
    inherited : tuple
        The working directory, ``sys.path`` and environment it was started with.
    users : int
        Runs using it now.
    broken : bool
        A run using it was interrupted: its workers were killed, it takes no more work.
    """

    executors: list[concurrent.futures.ProcessPoolExecutor]
    method: str
    code: dict[str, str] = field(default_factory=dict)
    users: int = 0
    broken: bool = False
    inherited: Any = field(default_factory=lambda: _inherited())

    @property
    def workers(self) -> int:
        return len(self.executors)

    def serves(self, code: Mapping[str, str]) -> bool:
        """Whether its workers run ``code`` as it is now, in the folder, with the paths and
        the environment of this process now."""
        if self.broken or any(self.code.get(k) != v for k, v in code.items()):
            return False
        return bool(self.inherited == _inherited())

    def replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """Start a new worker in place of the one of ``broken`` (once: a second call for the
        same executor does nothing)."""
        with _lock:
            if broken in self.executors:
                self.executors[self.executors.index(broken)] = _executor(self.method)
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self, kill: bool = False) -> None:
        """Stop taking work; the workers exit when they finish what they run (at once, with
        ``kill``). Never waits."""
        for executor in self.executors:
            if kill:
                for process in list((getattr(executor, "_processes", None) or {}).values()):
                    with contextlib.suppress(Exception):
                        process.kill()
            executor.shutdown(wait=False, cancel_futures=True)


def _inherited() -> tuple[str, tuple[str, ...], dict[str, str]]:
    """What a worker inherits from this process at its start besides the code."""
    return os.getcwd(), tuple(sys.path), dict(os.environ)


_pools: dict[tuple[str, int], WorkerPool] = {}
_lock = threading.Lock()


def _executor(method: str) -> concurrent.futures.ProcessPoolExecutor:
    """An executor of one worker process (started at its first task)."""
    return concurrent.futures.ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context(method),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )


def fresh(workers: int, method: str, code: Mapping[str, str]) -> WorkerPool:
    """A new pool, kept by nobody: its user closes it."""
    return WorkerPool([_executor(method) for _ in range(workers)], method, dict(code))


@contextlib.contextmanager
def worker_pool(workers: int, method: str, code: Mapping[str, str]) -> Iterator[WorkerPool]:
    """A pool of ``workers`` processes started with ``method`` that runs ``code``
    (``{task class: fingerprint key}``) as it is now, for the length of the block.

    The pool kept for ``(method, workers)`` when it serves ``code``; else a new one, kept
    in its place (the old one closes, its workers exiting when they are done) unless
    another run is using the old one, when the new one serves this run alone. An exception
    out of the block (an interrupted run) kills the pool's workers: nothing of the run goes
    on behind the caller's back.
    """
    slot = (method, workers)
    with _lock:
        kept = _pools.get(slot)
        if kept is not None and kept.serves(code):
            pool, own = kept, False
        elif kept is None or kept.users == 0:
            if kept is not None:
                kept.close()
            pool, own = fresh(workers, method, code), False
            _pools[slot] = pool
        else:
            pool, own = fresh(workers, method, code), True
        pool.users += 1
    try:
        yield pool
    except BaseException:
        with _lock:
            pool.broken = True
            if _pools.get(slot) is pool:
                del _pools[slot]
        pool.close(kill=True)
        raise
    finally:
        with _lock:
            pool.users -= 1
            if pool.broken and _pools.get(slot) is pool:
                del _pools[slot]
        if own or pool.broken:
            pool.close()


def shutdown() -> None:
    """Close every kept pool (their workers exit at once)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


# -- inside a worker -------------------------------------------------------------------------


def _worker_start(caller: int) -> None:
    """In a new worker process: exit at once when told to stop (below), and when process
    ``caller`` or the process that started this one is gone."""
    from multiprocessing.util import Finalize

    # runs first of the worker's exit handlers, before multiprocessing joins the worker's
    # children (a joblib/loky executor a task started waits 300 s for work): end them, exit
    Finalize(None, _exit_now, exitpriority=1_000_000)
    parent = os.getppid()

    def gone() -> bool:
        if os.getppid() != parent:  # orphaned: adopted by init
            return True
        try:
            os.kill(caller, 0)
        except (ProcessLookupError, PermissionError):  # (another user's: not the caller)
            return True
        return False

    def watch() -> None:
        while not gone():
            time.sleep(0.5)
        _exit_now(1)

    threading.Thread(target=watch, name="daskflow-watch-caller", daemon=True).start()


EXIT_HOOKS = 5.0
"""Seconds a stopping worker gives the exit hooks of the executors its tasks started."""


def _exit_now(code: int = 0) -> None:
    """Stop what the worker's tasks started, end its child processes, and exit without
    waiting for anything else.

    Executors that a task started (``joblib``'s loky, ``concurrent.futures``) stop their
    workers in hooks that run when an interpreter exits normally (before it joins its
    threads), which a worker process never does; they run here, for at most
    :data:`EXIT_HOOKS` seconds, so their workers and resource trackers stop now rather than
    after their idle timeout. Child processes still left are killed.
    """
    hooks = list(getattr(threading, "_threading_atexits", ()))

    def run_hooks() -> None:
        for hook in reversed(hooks):
            with contextlib.suppress(Exception):
                hook()

    if hooks:
        runner = threading.Thread(target=run_hooks, name="daskflow-exit-hooks", daemon=True)
        runner.start()
        runner.join(EXIT_HOOKS)
    for child in multiprocessing.active_children():
        with contextlib.suppress(Exception):
            child.kill()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
