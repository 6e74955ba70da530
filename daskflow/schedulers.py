"""Schedulers: get-functions that run a compiled graph, and the resolver that picks one.

In Dask a scheduler is a get-function, ``get(dsk, keys)``; here each takes a ``done(key, state)``
callback too, for progress (how each node ended), and returns one result per key: the node's
:class:`~daskflow.runtime.NodeResult`, or the exception Dask gave for a node that did not
return one. One small function per kind:

:func:`get_sync`
    every task in the calling thread, one after another (breakpoints and pdb work);
:func:`get_threads`
    a pool of threads in this process (code that releases the GIL), through
    ``dask.threaded``;
:func:`get_processes`
    every task on local worker processes (:mod:`daskflow.pool`): true parallelism for
    pure-Python and pandas code. On Linux the workers are forked (``settings.mp_context``),
    so they start in milliseconds; they are kept for the next run while the code they
    would run is unchanged;
:func:`get_local`
    the default: the calling thread runs every task that is quick, and tasks that take long
    go to the same worker processes (see :class:`Dispatch`). Both are thin adapters over
    ``dask.local.get_async``, as ``dask.threaded`` and ``dask.multiprocessing`` are;
:func:`get_distributed`
    the workers of a ``distributed.Client``.

:func:`resolve` chooses as ``dask.compute`` does (``dask/base.py`` ``get_scheduler``), from
the first of: the ``scheduler=`` argument, ``daskflow.settings.scheduler``, Dask's own
``dask.config.get("scheduler")``, an active ``distributed.Client``, and finally the local
default (:func:`get_local` with ``min(cores, width)`` worker processes, or :func:`get_sync`
when nothing can run in parallel). ``workers=N`` (d6tflow's argument) means N worker processes.

Kept in one module: the get-functions share small helpers (``_args``,
``_callbacks``), and :func:`resolve` chooses among all of them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
import os
import pickle
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import settings
from .clusters import _active_client, _connect, _describe_client, _is_client, get_distributed
from .errors import TaskError, WorkflowError
from .graph import TaskGraph, levels
from .pool import WorkerPool, in_daemon, start_method, worker_pool
from .runtime import FAILED, BatchResult, NodeResult, report

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

logger = logging.getLogger("daskflow")

Done = Callable[[str, str], None]
"""Called with a task's key and how its node ended (``runtime.DONE``, ``FAILED`` or
``UPSTREAM_FAILED``: not tried, since a task upstream failed), as each node finishes."""

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


def _nothing(key: str, state: str) -> None:
    pass


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
        if not (isinstance(node, tuple) and node and callable(node[0])):
            results[key] = node  # a value (an earlier part's result), not a node
            continue
        results[key] = node[0](*_args(node, dsk, results))
        report(done, key, results[key])
    return [results[k] for k in keys]


@contextlib.contextmanager
def _callback(done: Done) -> Iterator[None]:
    """Report each node Dask finishes to ``done``, for a get-function that takes no
    ``callbacks`` argument (Dask's callbacks registered process-wide, for this block)."""
    from dask.callbacks import Callback

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        report(done, key, result)

    with Callback(posttask=posttask):
        yield


def _callbacks(done: Done) -> list[tuple[Any, ...]]:
    """Dask's callbacks tuple ``(start, start_state, pretask, posttask, finish)`` that
    reports each finished node to ``done``, for this run alone."""

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        report(done, key, result)

    return [(None, None, None, posttask, None)]


def get_threads(
    dsk: Mapping[str, Any],
    keys: list[str],
    done: Done = _nothing,
    num_workers: int | None = None,
) -> list[Any]:
    """Run the graph on a pool of threads (``dask.threaded.get``)."""
    import dask.threaded

    return list(
        dask.threaded.get(dict(dsk), keys, num_workers=num_workers, callbacks=_callbacks(done))
    )


def get_processes(
    dsk: Mapping[str, Any],
    keys: list[str],
    done: Done = _nothing,
    num_workers: int | None = None,
    code: Mapping[str, str] | None = None,
) -> list[Any]:
    """Run every node of the graph on local worker processes (:mod:`daskflow.pool`)."""
    if in_daemon():
        raise WorkflowError(
            "scheduler='processes' cannot start worker processes here: this process is "
            "daemonic (a multiprocessing.Pool worker?); use the default or scheduler='sync'"
        )
    return _get_pooled(dsk, keys, done, num_workers or _cpu_count(), code or {}, here=False)


def get_local(
    dsk: Mapping[str, Any],
    keys: list[str],
    done: Done = _nothing,
    num_workers: int | None = None,
    groups: Mapping[str, str] | None = None,
    code: Mapping[str, str] | None = None,
) -> list[Any]:
    """The default: quick nodes in the calling thread, slow ones on ``num_workers`` local
    worker processes (:mod:`daskflow.pool`, reused across runs).

    Most tasks of most pipelines take a millisecond (write a file, read it back): a worker
    process would add its round trip to each, and threads would add contention for the GIL.
    Some take seconds of pure Python, and only processes run those in parallel. So this get
    learns which is which as it goes, per group of nodes (``groups``: the task family; each
    key alone by default), from how long each took (the low median of its last few, against
    :data:`QUICK`): see :class:`Dispatch`. A chain, a single task, or a fan of quick tasks
    runs in this thread; both cores work whenever two slow tasks are ready.

    In a daemonic process (a ``multiprocessing.Pool`` worker), which may start no process,
    every node runs in this thread, and the first such run says so.
    """
    if in_daemon():
        _say_daemon()
        return get_sync(dsk, keys, done)
    workers = num_workers or _cpu_count()
    return _get_pooled(dsk, keys, done, workers, code or {}, here=True, groups=groups)


_told_daemon: list[int] = []  # the pid that said so (a forked child says so again)


def _say_daemon() -> None:
    if os.getpid() not in _told_daemon:
        _told_daemon.append(os.getpid())
        logger.warning(
            "this process is daemonic (a multiprocessing.Pool worker?) and may not start "
            "worker processes: the flow's tasks run one after another in this process"
        )


def _get_pooled(
    dsk: Mapping[str, Any],
    keys: list[str],
    done: Done,
    workers: int,
    code: Mapping[str, str],
    here: bool,
    groups: Mapping[str, str] | None = None,
) -> list[Any]:
    import dask.local

    method = start_method(settings.current("mp_context"))
    with worker_pool(workers, method, code) as pool:
        dispatch = Dispatch(pool, done, groups or {}, here)
        try:  # every ready node is handed to the dispatch at once: it decides where each runs
            return list(
                dask.local.get_async(
                    dispatch.submit,
                    max(1, len(dsk)),
                    dict(dsk),
                    keys,
                    get_id=_worker_id,
                    pack_exception=_pack_exception,
                    callbacks=[(None, None, dispatch.pretask, dispatch.posttask, None)],
                )
            )
        finally:
            dispatch.close()


QUICK = 0.005
"""Seconds under which a node runs in the calling thread: sending it to a worker process and
its result back costs more than running it."""

CLEARLY_SLOW = 0.025
"""Seconds past which the first time seen of a group makes it slow on its own (a first call
of a quick task may pay one-off costs: more times decide then)."""

QUEUED = 2  # nodes sent to a worker process at a time: the one it runs, and the next


def _worker_id() -> int:
    return os.getpid()


def _pack_exception(e: BaseException, dumps: Any) -> tuple[BaseException, None]:
    """An error Dask's machinery raised around a node (nodes themselves never raise), in a
    form that survives the trip back from a worker process."""
    try:
        pickle.loads(pickle.dumps(e))
    except Exception:
        e = WorkflowError(f"{type(e).__module__}.{type(e).__qualname__}: {e}")
    return e, None


def _run_blob(blob: bytes) -> Any:
    """In a worker process: run ``dask.local.batch_execute_tasks`` on the cloudpickled
    arguments."""
    import cloudpickle

    fn, args = cloudpickle.loads(blob)
    return fn(args)


class Dispatch:
    """Where each node of a local run goes: the ``submit`` of ``dask.local.get_async``.

    ``get_async`` hands over every ready node at once (its pretask callback names them all
    before the first submit). A node whose group is known quick runs at once, in the calling
    thread; one known slow waits in a queue for a worker process, which gets ``QUEUED`` at a
    time, so it never waits for the calling thread. A node of a group not seen yet runs here
    when nothing could run beside it (a chain); else the first of its group goes to a worker
    to learn it and the next runs here, so both cores work from the start.

    Each worker process has an executor of its own (:class:`~daskflow.pool.WorkerPool`), and
    runs the nodes sent to it in order; so when one dies, the node it was running (the oldest
    it had not returned) fails, with a :class:`TaskError` that says so, the nodes queued
    behind it go to the other workers, a new worker takes its place, and nothing else of
    the run is touched.
    """

    def __init__(
        self,
        pool: WorkerPool,
        done: Done,
        groups: Mapping[str, str],
        here: bool,
    ) -> None:
        self.pool = pool
        self.done = done
        self.groups = groups
        self.here = here
        self.fired: set[str] = set()  # handed over by get_async, not submitted yet
        # nodes waiting for a worker process, by group (few groups, many nodes)
        self.held: dict[str, deque[tuple[str, Any, concurrent.futures.Future[Any]]]] = {}
        self.n_held = 0
        # per worker process, the nodes sent to it and not back yet, oldest (running) first
        self.out: dict[Any, deque[tuple[str, Any, Any]]] = {}
        self.again: deque[tuple[str, Any, Any]] = deque()  # queued behind a worker that died
        self.lock = threading.Lock()
        self.took: dict[str, deque[float]] = {}
        self.slow: dict[str, bool] = {}
        self.probing: Counter[str] = Counter()

    # get_async's callbacks, in the calling thread
    def pretask(self, key: str, dsk: Any, state: Any) -> None:
        self.fired.add(key)

    def posttask(self, key: str, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if worker_id != os.getpid() and isinstance(result, (NodeResult, BatchResult)):
            self._learn(key, result.seconds)
        report(self.done, key, result)
        self._pump()

    def submit(self, fn: Callable[[Any], Any], args: list[Any]) -> concurrent.futures.Future[Any]:
        key = args[0][0]
        self.fired.discard(key)
        if self._runs_here(key):
            ready = _Ready()
            self._run_here(key, (fn, args), ready)
            return ready  # type: ignore[return-value]
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.held.setdefault(self.groups.get(key, key), deque()).append((key, (fn, args), future))
        self.n_held += 1
        self._pump()
        return future

    def _run_here(self, key: str, call: Any, future: Any) -> None:
        fn, args = call
        start = time.perf_counter()
        try:
            future.set_result(fn(args))
        except BaseException as e:  # (nodes never raise: this is Dask's own machinery)
            future.set_exception(e)
        self._learn(key, time.perf_counter() - start)

    def _runs_here(self, key: str) -> bool:
        if not self.here:
            return False
        group = self.groups.get(key, key)
        slow = self.slow.get(group)
        if slow is not None:
            return not slow
        alone = not self.fired and not self.n_held and not any(self.out.values())
        if alone or self.probing[group]:  # nothing could run beside it, or one is out
            return True
        self.probing[group] += 1  # the first of its group: a worker learns it
        return False

    def _learn(self, key: str, seconds: float) -> None:
        """The low median of the group's last few times: robust to one-off costs (a first
        call's import, a hiccup, a loaded machine); a single time makes the group slow only
        past :data:`CLEARLY_SLOW`."""
        group = self.groups.get(key, key)
        recent = self.took.setdefault(group, deque(maxlen=5))
        recent.append(seconds)
        bound = QUICK if len(recent) > 1 else CLEARLY_SLOW
        self.slow[group] = sorted(recent)[(len(recent) - 1) // 2] >= bound

    def _pump(self) -> None:
        """Run here the held nodes of groups learnt quick meanwhile (the first of a group may
        pay one-off costs, and every ready node was handed over before it was learnt), and
        send the others to the worker processes while fewer than ``QUEUED`` per worker are
        out (first those queued behind a worker that died)."""
        while self.again and self._send(*self.again[0]):
            self.again.popleft()
        for group in list(self.held):
            queue = self.held[group]
            while queue and self.here and self.slow.get(group) is False:
                self.n_held -= 1
                self._run_here(*queue.popleft())
            while queue and self._send(*queue[0]):
                queue.popleft()
                self.n_held -= 1
            if not queue:
                del self.held[group]

    def _send(self, key: str, call: Any, future: Any) -> bool:
        """Send a node to the least busy worker process; False when they have enough."""
        import cloudpickle

        with self.lock:
            executor = min(self.pool.executors, key=lambda e: len(self.out.get(e, ())))
            queue = self.out.setdefault(executor, deque())
            if len(queue) >= QUEUED:
                return False
            queue.append((key, call, future))
        try:
            sent = executor.submit(_run_blob, cloudpickle.dumps(call))
        except Exception as e:
            with self.lock:
                queue.remove((key, call, future))
            future.set_result([(key, (_lost(key, e), None), False)])
            return True
        sent.add_done_callback(functools.partial(self._landed, executor, (key, call, future)))
        return True

    def _landed(self, executor: Any, entry: tuple[str, Any, Any], sent: Any) -> None:
        """A node came back from a worker process (in its executor's thread)."""
        key, _, future = entry
        try:
            value = sent.result()
        except concurrent.futures.process.BrokenProcessPool as e:
            self._died(executor, e)
            return
        except BaseException as e:  # the node or its result could not cross: it alone fails
            value = [(key, (_lost(key, e), None), False)]
        with self.lock:
            queue = self.out.get(executor)
            if queue is not None and entry in queue:
                queue.remove(entry)
        future.set_result(value)

    def _died(self, executor: Any, error: BaseException) -> None:
        """The worker process of ``executor`` died: the node it ran fails, the ones queued
        behind it go to other workers, and a new worker takes its place (once per death:
        every node it held reports it)."""
        with self.lock:
            queue = self.out.pop(executor, None)
        if not queue:
            return
        self.pool.replace(executor)
        key, _, future = queue.popleft()
        self.again.extend(queue)  # sent after the failure's report, in the calling thread
        future.set_result([(key, (_lost(key, error), None), False)])

    def close(self) -> None:
        """Nothing of the run is left with the workers (an interrupted run's nodes)."""
        self.again.clear()


class _Ready:
    """The outcome of a node run in the calling thread, in the part of a ``Future``'s
    interface ``get_async`` uses; a real one costs a ``threading.Condition`` per node."""

    __slots__ = ("error", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None

    def set_result(self, value: Any) -> None:
        self.value = value

    def set_exception(self, error: BaseException) -> None:
        self.error = error

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value

    def add_done_callback(self, fn: Callable[[Any], None]) -> None:
        fn(self)


def _lost(key: str, e: BaseException) -> NodeResult:
    """The result of a node that never came back from a worker process."""
    if isinstance(e, concurrent.futures.process.BrokenProcessPool):
        text = (
            f"{key}: the worker process of the local scheduler running this task died "
            "(killed, out of memory, or os._exit() in the task); the rest of the run went on, "
            "with a new worker in its place"
        )
    else:
        text = f"{key} could not be sent to a worker process: {type(e).__name__}: {e}"
    error = TaskError(text)
    error.__cause__ = e
    return NodeResult(key, FAILED, error=error, error_text=text)


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
            return f"in this process, with up to {self.workers or 1} worker processes"
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
            return lambda dsk, keys, done, groups=None, **kw: get_processes(
                dsk, keys, done, n, **kw
            )
        if self.name == "local":
            return lambda dsk, keys, done, **kw: get_local(dsk, keys, done, n, **kw)
        if self.name == "distributed":
            client = self.client
            return lambda dsk, keys, done, grow=None: get_distributed(dsk, keys, done, client, grow)
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
