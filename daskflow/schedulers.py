"""Schedulers: get-functions that run a compiled graph, and the resolver that picks one.

In Dask a scheduler is a get-function, ``get(dsk, keys)``; here each takes a ``done(key, ok)``
callback too, for progress, and returns one result per key: the node's
:class:`~daskflow.runtime.NodeResult`, or the exception Dask gave for a node that did not
return one. One small function per kind:

:func:`get_sync`
    every task in the calling thread, one after another (breakpoints and pdb work);
:func:`get_threads`
    a pool of threads in this process (code that releases the GIL), through
    ``dask.threaded``;
:func:`get_processes`
    a pool of local worker processes, through ``dask.multiprocessing``: true parallelism for
    pure-Python and pandas code. On Linux the workers are forked (``settings.mp_context``),
    so they start in milliseconds and classes defined in a script or notebook need no import;
:func:`get_local`
    the default: the calling thread runs every task that is quick, and tasks that take long
    go to forked worker processes, which the calling thread works beside (see its docstring);
:func:`get_distributed`
    the workers of a ``distributed.Client``.

:func:`resolve` chooses as ``dask.compute`` does (``dask/base.py`` ``get_scheduler``), from
the first of: the ``scheduler=`` argument, ``daskflow.settings.scheduler``, Dask's own
``dask.config.get("scheduler")``, an active ``distributed.Client``, and finally the local
default (:func:`get_local` on ``min(cores, width)`` processes, or :func:`get_sync` when
nothing can run in parallel). ``workers=N`` (d6tflow's argument) means N worker processes.

Kept in one module: the get-functions share small helpers (``_args``, ``_report``,
``_callback``, the worker processes' context and pickler), and :func:`resolve` chooses among
all of them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import settings
from .clusters import _active_client, _connect, _describe_client, _is_client, get_distributed
from .errors import WorkflowError
from .graph import TaskGraph, levels
from .runtime import DONE, NodeResult

__all__ = [
    "Choice",
    "get_distributed",
    "get_local",
    "get_processes",
    "get_sync",
    "get_threads",
    "resolve",
    "width",
]

Done = Callable[[str, bool], None]
"""Called with a task's key and whether it succeeded, as each node finishes."""

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


def _nothing(key: str, ok: bool) -> None:
    pass


def _report(done: Done, key: str, result: Any) -> None:
    if isinstance(result, NodeResult):
        done(key, result.state == DONE)


# -- evaluating a node -----------------------------------------------------------------------


def _deps(node: Any, dsk: Mapping[str, Any]) -> list[str]:
    """The keys of ``dsk`` a node ``(func, *args)`` takes, as arguments or lists of them."""
    found: list[str] = []
    for arg in node[1:]:
        if isinstance(arg, str) and arg in dsk:
            found.append(arg)
        elif isinstance(arg, list):
            found.extend(a for a in arg if isinstance(a, str) and a in dsk)
    return found


def _args(node: Any, dsk: Mapping[str, Any], results: Mapping[str, Any]) -> list[Any]:
    """The node's arguments with every key replaced by its result."""

    def value(arg: Any) -> Any:
        if isinstance(arg, str) and arg in dsk:
            return results[arg]
        if isinstance(arg, list):
            return [value(a) for a in arg]
        return arg

    return [value(a) for a in node[1:]]


def get_sync(dsk: Mapping[str, Any], keys: list[str], done: Done = _nothing) -> list[Any]:
    """Run the graph in this thread, in the graph's order (dependencies first).

    What ``dask.local.get_sync`` does for these graphs, without importing dask: the sync
    path stays light to start and leaves only daskflow's frames in a debugger.
    """
    results: dict[str, Any] = {}
    for key, node in dsk.items():
        results[key] = node[0](*_args(node, dsk, results))
        _report(done, key, results[key])
    return [results[k] for k in keys]


@contextlib.contextmanager
def _callback(done: Done) -> Iterator[None]:
    from dask.callbacks import Callback

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        _report(done, key, result)

    with Callback(posttask=posttask):
        yield


def get_threads(
    dsk: Mapping[str, Any],
    keys: list[str],
    done: Done = _nothing,
    num_workers: int | None = None,
) -> list[Any]:
    """Run the graph on a pool of threads (``dask.threaded.get``)."""
    import dask.threaded

    with _callback(done):
        return list(dask.threaded.get(dict(dsk), keys, num_workers=num_workers))


def _context() -> Any:
    method = settings.mp_context or ("fork" if sys.platform.startswith("linux") else "spawn")
    return multiprocessing.get_context(method)


def _dumps_by_reference(obj: Any) -> bytes:
    """pickle (classes by reference), else cloudpickle (classes defined in a function)."""
    import pickle

    import cloudpickle

    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]


def _dumps_for(context: Any) -> Callable[[Any], bytes]:
    """How to send work to workers of ``context``: a forked worker has this process's
    modules, ``__main__`` included, so a task pickles by reference there instead of
    cloudpickling its class every time."""
    if context.get_start_method() == "fork":
        return _dumps_by_reference
    import cloudpickle

    return cloudpickle.dumps  # type: ignore[no-any-return]


def _pool(workers: int | None, context: Any) -> concurrent.futures.ProcessPoolExecutor:
    """A pool of local worker processes that exit when this process dies (killed with
    SIGKILL, its pool never gets to stop them): each watches for it every half second."""
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_watch_caller, initargs=(os.getpid(),)
    )


def _watch_caller(caller: int) -> None:
    """In a worker process: exit at once when process ``caller`` is gone, or the process
    that started this one (the caller, or a fork server) is."""
    parent = os.getppid()

    def gone() -> bool:
        if os.getppid() != parent:  # orphaned: adopted by init
            return True
        try:
            os.kill(caller, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # a process of another user: the caller is not alive
            return True
        return False

    def watch() -> None:
        while not gone():
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="daskflow-watch-caller", daemon=True).start()


def get_processes(
    dsk: Mapping[str, Any],
    keys: list[str],
    done: Done = _nothing,
    num_workers: int | None = None,
) -> list[Any]:
    """Run the graph on a pool of local worker processes (``dask.multiprocessing.get``)."""
    import dask.multiprocessing

    context = _context()
    with (
        _callback(done),
        _pool(num_workers, context) as pool,
    ):
        # chunksize=1: each ready task goes to the next free worker, not in batches
        return list(
            dask.multiprocessing.get(
                dict(dsk),
                keys,
                pool=pool,
                optimize_graph=False,
                func_dumps=_dumps_for(context),
                chunksize=1,
            )
        )


# -- the local default -----------------------------------------------------------------------

QUICK = 0.005
"""Seconds under which a task runs in the calling thread: sending it to a worker process and
its result back costs more than running it."""

WAIT = 1.0  # seconds between checks while only worker processes have work
QUEUED = 2  # tasks sent to a worker process at a time: the one it runs, and the next


def _call(blob: bytes) -> Any:
    """Run a pickled node ``(func, *args)`` in a worker process."""
    import pickle

    node = pickle.loads(blob)
    return node[0](*node[1:])


def get_local(
    dsk: Mapping[str, Any],
    keys: list[str],
    done: Done = _nothing,
    num_workers: int | None = None,
    groups: Mapping[str, str] | None = None,
) -> list[Any]:
    """Run the graph in this thread, with worker processes for the tasks that take long.

    Most tasks of most pipelines take a millisecond (write a file, read it back): a worker
    process would add its round trip to each, and threads would add contention for the GIL.
    Some take seconds of pure Python, and only processes run those in parallel. This get
    learns which is which as it goes, per group of tasks (``groups``: the task family; each
    key alone by default):

    - the calling thread runs ready tasks one after another, quick groups first; a task
      that took under :data:`QUICK` seconds makes its group quick, a longer one slow;
    - while two or more tasks are ready, ``num_workers - 1`` forked worker processes (started
      then, not before) take the slow groups' tasks, and one task of each group not yet
      seen, to learn it; the calling thread runs the rest, slow ones too when it has
      nothing quick to do, so every core works.

    A chain, a single task, or a fan of quick tasks never starts a process.
    """
    groups = groups or {}
    workers = max(0, (num_workers or _cpu_count()) - 1)
    deps = {k: _deps(node, dsk) for k, node in dsk.items()}
    missing = {k: len(set(d)) for k, d in deps.items()}
    dependents: dict[str, list[str]] = {k: [] for k in dsk}
    for k, ds in deps.items():
        for d in set(ds):
            dependents[d].append(k)
    ready: dict[str, deque[str]] = {}  # group -> its ready keys (few groups, many keys)
    n_ready = 0
    results: dict[str, Any] = {}
    took: dict[str, deque[float]] = {}  # group -> seconds its last tasks took
    slow: dict[str, bool] = {}  # group -> takes long (absent: not seen yet)
    probing: Counter[str] = Counter()
    running: dict[concurrent.futures.Future[Any], str] = {}
    pool: concurrent.futures.ProcessPoolExecutor | None = None
    context = _context()
    dumps = _dumps_for(context)

    def make_ready(key: str) -> None:
        nonlocal n_ready
        ready.setdefault(groups.get(key, key), deque()).append(key)
        n_ready += 1

    def take(group: str) -> str:
        nonlocal n_ready
        queue = ready[group]
        key = queue.popleft()
        if not queue:
            del ready[group]
        n_ready -= 1
        return key

    def finish(key: str, result: Any, seconds: float | None = None) -> None:
        results[key] = result
        group = groups.get(key, key)
        if seconds is None and isinstance(result, NodeResult):
            seconds = result.seconds
        if seconds is not None:  # the low median of its last few: robust to one-off costs
            recent = took.setdefault(group, deque(maxlen=5))  # (a first call's import, a hiccup)
            recent.append(seconds)
            slow[group] = sorted(recent)[(len(recent) - 1) // 2] >= QUICK
        _report(done, key, result)
        for k in dependents[key]:
            missing[k] -= 1
            if not missing[k]:
                make_ready(k)

    for k in dsk:
        if not missing[k]:
            make_ready(k)
    try:
        while len(results) < len(dsk):
            for future in [f for f in running if f.done()]:
                key = running.pop(future)
                probing[groups.get(key, key)] -= 1
                finish(key, future.result())
            # workers take slow groups' tasks, one queued behind each running one so a worker
            # never waits for this thread to come back, and one task of a group not seen yet;
            # the calling thread keeps at least one ready task for itself
            for group in list(ready):
                while len(running) < QUEUED * workers and n_ready > 1 and group in ready:
                    if not slow.get(group, group not in slow and not probing[group]):
                        break
                    if group not in slow and len(running) >= workers:
                        break  # a task to learn from waits for a free worker
                    key = take(group)
                    if pool is None:
                        pool = _pool(workers, context)
                    probing[group] += 1
                    node = dsk[key]
                    running[pool.submit(_call, dumps((node[0], *_args(node, dsk, results))))] = key
            if ready:  # groups not seen yet first (to learn them), then quick, then slow
                group = min(ready, key=lambda g: (slow.get(g, False), g in slow))
                key = take(group)
                node = dsk[key]
                start = time.perf_counter()
                result = node[0](*_args(node, dsk, results))
                finish(key, result, time.perf_counter() - start)
            elif running:
                concurrent.futures.wait(
                    running, timeout=WAIT, return_when=concurrent.futures.FIRST_COMPLETED
                )
            elif len(results) < len(dsk):  # nothing ready or running: a broken graph
                raise WorkflowError(f"the graph cannot finish: {sorted(set(dsk) - set(results))}")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return [results[k] for k in keys]


# -- choosing one ----------------------------------------------------------------------------


@dataclass
class Choice:
    """The scheduler a run uses: ``open()`` gives its get-function.

    Attributes
    ----------
    name : str
        ``"sync"``, ``"threads"``, ``"processes"``, ``"local"``, ``"distributed"`` or
        ``"custom"``.
    portable : bool
        Tasks may run in another process than this one: nodes carry the caller's settings.
    workers : int, optional
        Threads or processes, for the local kinds.
    """

    name: str
    portable: bool
    workers: int | None = None
    client: Any = None
    address: str | None = None
    get: Callable[..., Any] | None = None

    def describe(self) -> str:
        if self.name == "sync":
            return "in this thread"
        if self.name == "threads":
            return f"on {self.workers or 'the default number of'} threads"
        if self.name == "processes":
            return f"on {self.workers} local processes"
        if self.name == "local":
            return f"in this process, with up to {(self.workers or 1) - 1} worker processes"
        if self.name == "distributed":
            return _describe_client(self.client, self.address)
        return f"with {getattr(self.get, '__qualname__', self.get)}"

    @contextlib.contextmanager
    def open(self) -> Iterator[Callable[..., list[Any]]]:
        """The get-function ``get(dsk, keys, done)`` (connecting to an address first, and
        closing that connection after)."""
        if self.name == "distributed" and self.client is None:
            self.client = _connect(str(self.address))
            try:
                yield self._get()
            finally:
                self.client.close()
                self.client = None
            return
        yield self._get()

    def _get(self) -> Callable[..., list[Any]]:
        n = self.workers
        if self.name == "sync":
            return get_sync
        if self.name == "threads":
            return lambda dsk, keys, done: get_threads(dsk, keys, done, n)
        if self.name == "processes":
            return lambda dsk, keys, done: get_processes(dsk, keys, done, n)
        if self.name == "local":
            return lambda dsk, keys, done, **kw: get_local(dsk, keys, done, n, **kw)
        if self.name == "distributed":
            client = self.client
            return lambda dsk, keys, done: get_distributed(dsk, keys, done, client)
        custom: Callable[..., Any] = self.get or get_sync

        def get_custom(dsk: Any, keys: list[str], done: Done) -> list[Any]:
            with _callback(done):  # reports progress if it is one of dask's get-functions
                return list(custom(dict(dsk), keys))

        return get_custom


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


def _cpu_count() -> int:
    import dask.system

    return int(dask.system.CPU_COUNT)


def resolve(
    scheduler: Any = None, workers: int | None = None, parallel: int = 2, in_process: bool = False
) -> Choice:
    """The scheduler a run uses (see the module docstring); nothing is started yet.

    ``parallel`` is how many of the run's tasks could run at once (:func:`width`);
    ``in_process`` says outputs live in this process's memory (``memory://``), so the run
    must stay here: the default runs in this thread, and other processes are refused.
    """
    chosen = _resolve(scheduler, workers, parallel)
    if in_process and chosen.portable:
        if scheduler is None and settings.scheduler is None:
            return Choice("sync", portable=False)
        raise WorkflowError(
            f"outputs under memory:// live in this process, so they cannot be made by the "
            f"{chosen.name} scheduler; use scheduler='sync' or 'threads', or a shared store"
        )
    return chosen


def _resolve(scheduler: Any, workers: int | None, parallel: int) -> Choice:
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
            return Choice("distributed", portable=True, client=client)
        if workers is not None:  # d6tflow's argument: that many worker processes
            if workers == 1:
                return Choice("sync", portable=False)
            return Choice("processes", portable=True, workers=workers)
        n = max(1, min(_cpu_count(), parallel))
        return Choice("local", portable=True, workers=n) if n > 1 else Choice("sync", False)
    if _is_client(scheduler):
        return Choice("distributed", portable=True, client=scheduler)
    if isinstance(scheduler, str):
        name = _ALIASES.get(scheduler.lower())
        if name == "distributed":
            client = _active_client()
            if client is None:
                raise WorkflowError(
                    "scheduler='distributed' needs an active distributed.Client; create one, "
                    "or pass the Client or the scheduler's address"
                )
            return Choice("distributed", portable=True, client=client)
        if name == "processes":
            return Choice("processes", portable=True, workers=workers or _cpu_count())
        if name is not None:
            return Choice(name, portable=False, workers=workers)
        if "://" in scheduler or ":" in scheduler:
            return Choice("distributed", portable=True, address=scheduler)
    elif callable(scheduler):
        return Choice("custom", portable=True, get=scheduler)
    raise WorkflowError(
        f"unknown scheduler {scheduler!r}; expected one of {NAMES}, a distributed.Client, "
        "a scheduler address such as 'tcp://127.0.0.1:8786', or a Dask get-function"
    )
