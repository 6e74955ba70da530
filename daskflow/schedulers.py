"""Schedulers: which one runs a compiled graph, and the thin adapters that drive each.

Chosen as ``dask.compute`` chooses (``dask/base.py`` ``get_scheduler``), from the first of:
the ``scheduler=`` argument, ``daskflow.settings.scheduler``, Dask's own
``dask.config.get("scheduler")``, an active ``distributed.Client``, and finally the local
default:

``"sync"``
    every task in the calling thread, one after another (breakpoints and pdb work);
``"threads"``
    a pool of threads in this process (good for code that releases the GIL);
``"processes"``
    a pool of local worker processes: true parallelism for pure-Python and pandas code. On
    Linux the workers are forked (``settings.mp_context``), so they start in milliseconds
    and classes defined in a script or notebook need no import;
a ``distributed.Client``, or a scheduler address such as ``"tcp://10.0.0.5:8786"``
    the workers of that cluster;
any other callable
    a Dask get-function ``get(dsk, keys, **kwargs)``.

The local default runs the graph in this thread when nothing in it can run in parallel (a
chain, a single task, ``workers=1``), and otherwise on ``min(cores, width)`` worker processes
(``workers=N`` sets N). Only ``"sync"`` and ``"threads"`` keep tasks in this process; the rest
are *portable*: each node carries the caller's settings and working directory, and returns
in-memory outputs and errors in a form that survives pickling.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from . import settings
from .errors import ClusterError, TaskError, WorkflowError
from .graph import TaskGraph, levels
from .progress import Progress
from .runtime import DONE, FAILED, UPSTREAM_FAILED, NodeResult

__all__ = ["Scheduler", "resolve", "width"]

logger = logging.getLogger("daskflow")

NAMES = ("sync", "threads", "processes", "distributed")
_ALIASES = {
    "sync": "sync",
    "synchronous": "sync",
    "single-threaded": "sync",
    "threads": "threads",
    "threading": "threads",
    "processes": "processes",
    "multiprocessing": "processes",
    "distributed": "distributed",
    "dask.distributed": "distributed",
}


def width(graph: TaskGraph, keys: list[str]) -> int:
    """The largest number of ``keys`` on one level of the graph (levels by longest path from
    the sources): 1 means nothing can run in parallel.

    >>> g = TaskGraph({'a': 0, 'b': 0, 'c': 0}, {'a': (), 'b': (), 'c': ('a', 'b')}, ('c',),
    ...               {'a': ('c',), 'b': ('c',), 'c': ()})
    >>> width(g, ['a', 'b', 'c']), width(g, ['a', 'c'])
    (2, 1)
    """
    counts = Counter(levels(graph, keys).values())
    return max(counts.values(), default=0)


def _active_client() -> Any:
    if "distributed" not in sys.modules:
        return None
    from distributed.client import _get_global_client

    return _get_global_client()


def _is_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


@dataclass
class Scheduler:
    """A chosen scheduler; :meth:`run` executes a compiled graph on it."""

    kind: str
    workers: int | None = None
    get: Callable[..., Any] | None = None
    client: Any = None
    address: str | None = None

    @property
    def portable(self) -> bool:
        """Whether tasks may run in another process than this one."""
        return self.kind not in ("sync", "threads")

    def describe(self) -> str:
        if self.kind == "sync":
            return "in this thread"
        if self.kind == "threads":
            return f"on {self.workers or 'the default number of'} threads"
        if self.kind == "processes":
            return f"on {self.workers} local processes"
        if self.kind == "distributed":
            client = self.client
            where = self.address or getattr(client.scheduler, "address", "a cluster")
            link = getattr(client, "dashboard_link", None)
            return f"on {where}" + (f" (dashboard: {link})" if link else "")
        return f"with {getattr(self.get, '__qualname__', self.get)}"

    # -- running -----------------------------------------------------------------------------

    def run(
        self,
        dsk: Mapping[str, Any],
        keys: list[str],
        graph: TaskGraph,
        progress: Progress,
        suffix: str = "",
    ) -> dict[str, NodeResult]:
        """Run the compiled graph (its Dask keys are the task ids + ``suffix``); a
        :class:`NodeResult` for every task id in ``keys``."""
        if self.kind == "distributed":
            return self._run_distributed(dsk, keys, graph, progress, suffix)
        return self._run_local(dsk, keys, graph, progress)

    def _run_local(
        self, dsk: Mapping[str, Any], keys: list[str], graph: TaskGraph, progress: Progress
    ) -> dict[str, NodeResult]:
        finished: dict[str, NodeResult] = {}

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if isinstance(result, NodeResult):
                finished[key] = result
                progress.finished(key, result.state == DONE)

        try:
            if self.kind == "sync":
                run_sync(dict(dsk), keys, lambda key, r: posttask(key, r, None, None, None))
                return _fill(keys, graph, finished, {}, None)
            from dask.callbacks import Callback

            with Callback(posttask=posttask):
                if self.kind == "threads":
                    import dask.threaded

                    dask.threaded.get(dict(dsk), keys, num_workers=self.workers)
                elif self.kind == "processes":
                    self._run_processes(dsk, keys)
                else:
                    assert self.get is not None
                    results = self.get(dict(dsk), keys)
                    finished.update({r.key: r for r in results if isinstance(r, NodeResult)})
        except Exception as e:  # the scheduler itself broke (e.g. a worker process died)
            error = TaskError(f"the {self.kind} scheduler failed: {type(e).__name__}: {e}")
            error.__cause__ = e
            return _fill(keys, graph, finished, {}, error)
        return _fill(keys, graph, finished, {}, None)

    def _run_processes(self, dsk: Mapping[str, Any], keys: list[str]) -> None:
        import dask.multiprocessing

        method = settings.mp_context or ("fork" if sys.platform.startswith("linux") else "spawn")
        context = multiprocessing.get_context(method)
        # a forked worker has this process's modules, __main__ included: a node pickles
        # its task by reference there, instead of cloudpickling the class every time
        dumps = _dumps_by_reference if method == "fork" else None
        with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
            # chunksize=1: each ready task goes to the next free worker, not in batches
            dask.multiprocessing.get(
                dict(dsk), keys, pool=pool, optimize_graph=False, func_dumps=dumps, chunksize=1
            )

    def _run_distributed(
        self,
        dsk: Mapping[str, Any],
        keys: list[str],
        graph: TaskGraph,
        progress: Progress,
        suffix: str,
    ) -> dict[str, NodeResult]:
        from distributed import as_completed

        dask_keys = [k + suffix for k in keys]
        futures = self.client.get(_annotated(dsk, graph, suffix), dask_keys, sync=False)
        finished: dict[str, NodeResult] = {}
        errors: dict[str, BaseException] = {}
        try:
            for future in as_completed(futures, loop=self.client.loop):
                key = future.key[: len(future.key) - len(suffix)]
                if future.status == "finished":
                    result = future.result()
                    finished[key] = result
                    progress.finished(key, result.state == DONE)
                else:
                    errors[key] = future.exception()
                    progress.finished(key, False)
        finally:
            for future in futures:
                future.release()
        return _fill(keys, graph, finished, errors, None)

    def close(self) -> None:
        """Close a client this scheduler opened from an address."""
        if self.address is not None and self.client is not None:
            self.client.close()
            self.client = None


def run_sync(dsk: dict[str, Any], keys: list[str], done: Any = None) -> list[NodeResult]:
    """Run a compiled graph in this thread, ``keys`` in order (dependencies first).

    What ``dask.local.get_sync`` does for these graphs, without importing dask: the sync
    path stays light to start and leaves only daskflow's frames in a debugger.
    ``done(key, result)`` is called after each node.
    """
    results: dict[str, NodeResult] = {}
    for key in keys:
        fn, task, ups, given, env = dsk[key]
        results[key] = fn(task, [results[u] for u in ups], given, env)
        if done is not None:
            done(key, results[key])
    return [results[k] for k in keys]


def _dumps_by_reference(obj: Any) -> bytes:
    """pickle (classes by reference), else cloudpickle (classes defined in a function)."""
    import pickle

    import cloudpickle

    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]


def _failed(key: str, error: BaseException) -> NodeResult:
    import traceback

    return NodeResult(
        key, FAILED, error=error, error_text="".join(traceback.format_exception(error))
    )


def _fill(
    keys: list[str],
    graph: TaskGraph,
    finished: Mapping[str, NodeResult],
    dask_errors: Mapping[str, BaseException],
    error: BaseException | None,
) -> dict[str, NodeResult]:
    """Every key's result, in graph order.

    A key whose node returned has its own result. A key without one (Dask reported an error
    for it: a worker lost too often, a result it could not move; or the scheduler broke)
    is skipped if something upstream of it did not succeed, and failed otherwise, with the
    error Dask gave for it, else ``error``.
    """
    selected = set(keys)
    out: dict[str, NodeResult] = {}
    for k in graph.tasks:
        if k not in selected:
            continue
        if k in finished:
            out[k] = finished[k]
        elif any(out[d].state != DONE for d in graph.deps[k] if d in out):
            out[k] = NodeResult(k, UPSTREAM_FAILED, error_text="upstream failed")
        else:
            out[k] = _failed(k, dask_errors.get(k) or error or TaskError(f"{k} did not run"))
    return out


def _annotated(dsk: Mapping[str, Any], graph: TaskGraph, suffix: str = "") -> Any:
    """The graph, with each task's ``resources`` as a Dask annotation (a layer per set of
    resources, so no graph optimisation can drop them)."""
    groups: dict[Any, dict[str, Any]] = {}
    for key, node in dsk.items():
        res = graph.tasks[key[: len(key) - len(suffix)]].resources
        groups.setdefault(tuple(sorted(res.items())) if res else None, {})[key] = node
    if list(groups) == [None]:
        return dict(dsk)
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    layers = {
        f"daskflow-{i}": MaterializedLayer(
            part, annotations={"resources": dict(res)} if res else None
        )
        for i, (res, part) in enumerate(groups.items())
    }
    return HighLevelGraph(layers, {name: set() for name in layers})


def _cpu_count() -> int:
    import dask.system

    return int(dask.system.CPU_COUNT)


def _connect(address: str) -> Any:
    from distributed import Client

    timeout = settings.connect_timeout
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
            f"({type(e).__name__}: {e}); is it running, and is the address right?"
        ) from e


def resolve(
    scheduler: Any = None, workers: int | None = None, parallel: int = 2, in_process: bool = False
) -> Scheduler:
    """The scheduler a run uses (see the module docstring); nothing is started yet.

    ``parallel`` is how many of the run's tasks could run at once (:func:`width`);
    ``in_process`` says outputs live in this process's memory (``memory://``), so the run
    must stay here: the default becomes threads, and other processes are refused.
    """
    chosen = _resolve(scheduler, workers, parallel)
    if in_process and chosen.portable:
        if scheduler is None and settings.scheduler is None:
            return Scheduler("threads", workers=workers) if parallel > 1 else Scheduler("sync")
        raise WorkflowError(
            f"outputs under memory:// live in this process, so they cannot be made by the "
            f"{chosen.kind} scheduler; use scheduler='sync' or 'threads', or a shared store"
        )
    return chosen


def _resolve(scheduler: Any, workers: int | None, parallel: int) -> Scheduler:
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise WorkflowError(f"workers must be a positive integer, got {workers!r}")
    if scheduler is None:
        scheduler = settings.scheduler
    if scheduler is None and "dask" in sys.modules:  # dask's own choice, if it was made
        import dask

        scheduler = dask.config.get("scheduler", None)
    if scheduler is None:
        client = _active_client()
        if client is not None:
            return Scheduler("distributed", client=client)
        if workers == 1 or (workers is None and parallel <= 1):
            return Scheduler("sync")
        n = workers or max(1, min(_cpu_count(), parallel))
        return Scheduler("processes", workers=n) if n > 1 else Scheduler("sync")
    if _is_client(scheduler):
        return Scheduler("distributed", client=scheduler)
    if isinstance(scheduler, str):
        name = _ALIASES.get(scheduler.lower())
        if name == "distributed":
            client = _active_client()
            if client is None:
                raise WorkflowError(
                    "scheduler='distributed' needs an active distributed.Client; create one, "
                    "or pass the Client or the scheduler's address"
                )
            return Scheduler("distributed", client=client)
        if name == "processes":
            return Scheduler("processes", workers=workers or _cpu_count())
        if name is not None:
            return Scheduler(name, workers=workers)
        if "://" in scheduler or ":" in scheduler:
            return Scheduler("distributed", address=scheduler)
    elif callable(scheduler):
        return Scheduler("custom", get=scheduler)
    raise WorkflowError(
        f"unknown scheduler {scheduler!r}; expected one of {NAMES}, a distributed.Client, "
        "a scheduler address such as 'tcp://127.0.0.1:8786', or a Dask get-function"
    )


def open_scheduler(sched: Scheduler) -> Scheduler:
    """Connect to the cluster of an address (only when there is work to run)."""
    if sched.address is not None and sched.client is None:
        sched.client = _connect(sched.address)
    return sched
