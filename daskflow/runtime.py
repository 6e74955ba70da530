"""Run one task on whatever worker a node lands on: attempts, retries, staging, commit.

This module knows nothing of how the graph was made. A node of a compiled graph calls
:func:`run_node` with the task (or a :class:`Shipped` one), the results of its upstream
nodes and the :class:`Environment` of the calling process; it returns a
:class:`NodeResult`, never raises.

A task's saves are staged (:func:`daskflow.targets.staging`) and committed together when
its ``run()`` returns: a task that saves and then raises leaves no output, and the outputs of
an earlier successful run stay as they were. A ``run()`` that leaves outputs unsaved is
allowed, as d6tflow allowed it: the task stays incomplete and the result's ``notes`` say so.

A node never raises, so one failure stops only what depends on it, and independent branches
finish and keep their outputs, whatever the scheduler. The node also returns the values of
the task's in-memory outputs (``TaskCache``): they travel to downstream nodes as Dask
arguments, and the task that runs finds them through :data:`daskflow.context.run_inputs`.

On a distributed worker, a :class:`CommitLog` in the scheduler's metadata records what a run
has committed, so a task that Dask reruns after losing a worker is not written twice.

A task whose ``run()`` is a generator yields the tasks it needs at run time (luigi's dynamic
dependencies): the node runs their missing part here, in order (:func:`run_nested`), and sends
their outputs back into the generator.

A node resolves its task's targets once (:class:`NodePlan`) and hands them to each step
(commit log, lease, attempt, manifest), instead of each step asking the task again.

Kept in one module: the node's one path (lease, attempts, commit, manifest, commit log,
nested runs) and the plain data that travels with it (:class:`Environment`,
:class:`NodeResult`) read top to bottom as the node runs.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import os
import pickle
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import leases, manifests, settings
from .context import base_dir, run_inputs
from .errors import CompatibilityWarning, TaskDefinitionError, TaskError
from .fingerprint import fingerprint, library_versions
from .graph import build, to_run
from .owned import entries
from .shipping import Shipped, Unsendable
from .targets import MemoryTarget, Target, data, protocol, redact, resolve, staging
from .targets.leftovers import sweep_system_temp
from .tasks import Task, _map_structure, flatten

__all__ = [
    "DONE",
    "FAILED",
    "UPSTREAM_FAILED",
    "Batch",
    "BatchResult",
    "CommitLog",
    "Environment",
    "Node",
    "NodePlan",
    "NodeResult",
    "Shipped",
    "Unsendable",
    "memory_values",
    "report",
    "run_nested",
    "run_node",
]

logger = logging.getLogger("daskflow")

DONE, FAILED, UPSTREAM_FAILED = "done", "failed", "upstream_failed"


@dataclass
class NodeResult:
    """What running one task produced (small, picklable; the Dask result of its node).

    ``values`` holds the task's in-memory outputs by URL; after a run in another process it
    is their cloudpickled bytes, read with :meth:`memory`. ``load_error`` says why a shipped
    task could not be unpickled on its worker (``"ModuleNotFoundError: No module named
    'x'"``), the same text for every task that failed that way, so the caller can report
    them together; it is empty otherwise.
    """

    key: str
    state: str
    values: dict[str, Any] | bytes = field(default_factory=dict)
    error: BaseException | None = None
    error_text: str = ""
    seconds: float = 0.0
    attempts: int = 0
    pid: int = 0
    load_error: str = ""
    notes: list[str] = field(default_factory=list)
    made_by: str = ""
    commit: str = ""  # the id of the manifest its commit wrote

    def memory(self) -> dict[str, Any]:
        """``{url: value}`` of the task's in-memory outputs."""
        if isinstance(self.values, bytes):
            import cloudpickle

            return cloudpickle.loads(self.values)  # type: ignore[no-any-return]
        return self.values


@dataclass(frozen=True)
class Environment:
    """What a task needs from the calling process when it runs in another one: the shared
    settings and the directory relative local paths are relative to. A node that runs in
    the calling process itself (``pid``) needs none of it, and passes values as they are."""

    settings: dict[str, Any]
    cwd: str
    run_id: str | None = None
    pid: int = 0

    @classmethod
    def here(cls, run_id: str | None = None) -> Environment:
        return cls(settings.snapshot(), os.getcwd(), run_id, os.getpid())

    @property
    def away(self) -> bool:
        """Whether the node runs in another process than the caller's."""
        return self.pid != os.getpid()


def _away(env: Environment | None) -> Environment | None:
    """``env`` when the node runs in another process than the caller's, else None."""
    return env if env is not None and env.away else None


COMMITTED = "daskflow-committed"


def _tracked(env: Environment | None, outputs: list[Target]) -> bool:
    """Whether this node runs on a distributed worker for a tracked run and the task has only
    file outputs (in-memory ones die with a worker and are made again)."""
    if env is None or env.run_id is None or "distributed" not in sys.modules:
        return False
    if any(isinstance(t, MemoryTarget) for t in outputs):
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def _worker_client() -> Any:
    from distributed import get_client

    return get_client()


class CommitLog:
    """Which tasks a distributed run has committed.

    Dask runs a task again when the worker holding its result dies; with this record its file
    outputs are not written twice. In-memory outputs died with the worker and are made
    again, so tasks that have them are not tracked (nor anything outside a cluster).

    A task whose outputs did not exist when the run began (``fresh``, most tasks of most
    runs) needs no record: if they exist when its node starts, they were committed during
    this run, so its outputs themselves say so. Only a task that runs over outputs it had
    (forced, or incomplete because of something upstream) is recorded in the scheduler's
    metadata, which costs a round trip to the scheduler each way.
    """

    def __init__(self, env: Environment | None, task: Task, fresh: bool, plan: NodePlan) -> None:
        self.tracked = _tracked(env, plan.outputs)
        self.fresh = fresh
        self.plan = plan
        self.task_id = task.task_id
        self.key = [COMMITTED, env.run_id if env else None, task.task_id]
        self.batch = _batch_log.get()

    def committed(self) -> bool:
        """Whether a node of this run already committed the task (the worker's client, which
        costs tens of microseconds to get, only for a task that is not fresh)."""
        if not self.tracked:
            return False
        targets = self.plan.own  # each on its own: its folder may hold thousands
        if not targets or not all(t.exists() for t in targets):
            return False
        if self.fresh:
            return True
        if self.batch is not None:
            return self.task_id in self.batch.before()
        return bool(_worker_client().get_metadata(self.key, False))

    def record(self) -> None:
        if self.tracked and not self.fresh:
            if self.batch is not None:
                self.batch.add(self.task_id)
            else:
                _worker_client().set_metadata(self.key, True)


class BatchLog:
    """The :class:`CommitLog` of the tasks of one batch: a round trip to the scheduler for the
    whole batch each way (read when a task first asks, written when the batch ends), instead
    of two per task. Should its worker die mid-batch, what it committed since the batch began
    is made again when Dask runs the batch again (the same run's outputs, once more)."""

    def __init__(self, run_id: str | None, key: str) -> None:
        self.key = [COMMITTED, run_id, key]
        self.seen: set[str] | None = None
        self.made: list[str] = []

    def before(self) -> set[str]:
        if self.seen is None:
            self.seen = set(_worker_client().get_metadata(self.key, ()))
        return self.seen

    def add(self, task_id: str) -> None:
        self.made.append(task_id)

    def flush(self) -> None:
        if self.made:
            _worker_client().set_metadata(self.key, sorted(self.before() | set(self.made)))


_batch_log: contextvars.ContextVar[BatchLog | None] = contextvars.ContextVar(
    "daskflow_batch_log", default=None
)


@dataclass(frozen=True)
class NodePlan:
    """A task's targets, resolved once per node: ``own``, what its ``run()`` saves;
    ``outputs``, all of them (a ``TaskAggregator``'s are the tasks' it yields)."""

    own: list[Target]
    outputs: list[Target]

    @classmethod
    def of(cls, task: Task) -> NodePlan:
        outputs = task.output_targets()
        own = outputs if type(task).own_targets is Task.own_targets else task.own_targets()
        return cls(own, outputs)


def memory_values(task: Task, outputs: list[Target] | None = None) -> dict[str, Any]:
    """``{url: value}`` of the task's in-memory outputs (``outputs``, if resolved already)
    that exist in this process."""
    return {
        t.url: data[t.url]
        for t in (task.output_targets() if outputs is None else outputs)
        if isinstance(t, MemoryTarget) and t.url in data
    }


@dataclass(frozen=True)
class Node:
    """One task of a compiled graph and what its worker needs besides the results of its
    upstream nodes; the graph holds ``(node, [upstream keys])``, so Dask calls it with the
    list of those results (:func:`run_node`).

    Attributes
    ----------
    task : Task or Shipped
        The task, cloudpickled apart (:class:`Shipped`) for a cluster.
    given : dict, bytes or Unsendable, optional
        The in-memory outputs of complete upstream tasks, by URL (cloudpickled for another
        process).
    env : Environment, optional
        The calling process's settings and folder, for a node that may run elsewhere.
    fresh : bool
        The task's outputs did not exist when the run began (see :class:`CommitLog`).
    prov : Provenance, optional
        What its manifest records (:mod:`daskflow.manifests`).
    """

    task: Task | Shipped
    given: dict[str, Any] | bytes | Unsendable | None = None
    env: Environment | None = None
    fresh: bool = False
    prov: manifests.Provenance | None = None
    needs: frozenset[str] | None = None

    def __call__(self, upstream: list[NodeResult | BatchResult]) -> NodeResult:
        return self.run(_unbatched(upstream, self.needs))

    def run(self, upstream: list[NodeResult]) -> NodeResult:
        """Run the task, given the results of the upstream tasks it needs."""
        return run_node(self.task, upstream, self.given, self.env, self.fresh, self.prov)

    def __repr__(self) -> str:
        return f"Node({self.task.task_id}, fresh={self.fresh})"


def _unbatched(
    upstream: list[NodeResult | BatchResult], needs: frozenset[str] | None
) -> list[NodeResult]:
    """The results of the upstream tasks ``needs`` (all, when None) among ``upstream``, whose
    batches are opened into the results of their tasks."""
    flat: list[NodeResult] = []
    for u in upstream:
        flat.extend(u.results if isinstance(u, BatchResult) else (u,))
    return flat if needs is None else [r for r in flat if r.key in needs]


@dataclass
class BatchResult:
    """The result of a :class:`Batch`: one :class:`NodeResult` per task, in its order."""

    key: str
    results: list[NodeResult]

    @property
    def seconds(self) -> float:
        """How long its tasks took, together."""
        return sum(r.seconds for r in self.results)

    @property
    def state(self) -> str:
        """``DONE`` when every task of the batch is done, else ``FAILED``."""
        return DONE if all(r.state == DONE for r in self.results) else FAILED


@dataclass(frozen=True)
class Batch:
    """Several nodes as one key of a Dask graph: its worker runs them one after another, each
    with its own lease, attempts, commit and manifest, and each fails alone (a task whose
    upstream failed is not tried; the others run). Dask calls it with the results of every
    upstream key of its nodes; each node takes those its task needs (``Node.needs``). No node
    of a batch needs another of it.

    Thousands of tasks of a millisecond each cost a Dask cluster one to several milliseconds
    per key in its scheduler: a batch pays that once (:mod:`daskflow.batching`)."""

    key: str
    nodes: tuple[Node, ...]

    def __call__(self, upstream: list[NodeResult | BatchResult]) -> BatchResult:
        env = next((n.env for n in self.nodes if n.env is not None), None)
        log = BatchLog(env.run_id if env else None, self.key)
        by_task = {r.key: r for r in _unbatched(upstream, None)}  # (once, not per node)
        token = _batch_log.set(log)
        try:
            results = [
                node.run([by_task[k] for k in node.needs or () if k in by_task])
                for node in self.nodes
            ]
        finally:
            _batch_log.reset(token)
        try:
            log.flush()
        except Exception as e:  # (a record for a worker that dies later: the run goes on)
            logger.warning("could not record the commits of %s: %s", self.key, e)
        return BatchResult(self.key, results)

    def __repr__(self) -> str:
        return f"Batch({self.key}, {len(self.nodes)} tasks)"


def report(done: Callable[[str, str], None], key: str, result: Any) -> None:
    """Tell ``done`` how the node ``key`` ended: each task of a batch on its own (by task
    id), a node by its key; what is not a node's result (a value of another graph) as
    failed unless it says otherwise."""
    if isinstance(result, BatchResult):
        for r in result.results:
            done(r.key, r.state)
    else:
        done(key, getattr(result, "state", FAILED))


def run_node(
    task: Task | Shipped,
    upstream: list[NodeResult],
    given: dict[str, Any] | bytes | Unsendable | None = None,
    env: Environment | None = None,
    fresh: bool = False,
    prov: manifests.Provenance | None = None,
) -> NodeResult:
    """Run one task in the current worker and report how it went; never raises. ``fresh``:
    the task's outputs did not exist when the run began (see :class:`CommitLog`); ``prov``:
    what its manifest records (:mod:`daskflow.manifests`)."""
    key = task.task_id
    if isinstance(given, Unsendable):
        return NodeResult(key, FAILED, error=TaskError(given.message), error_text=given.message)
    failed = [u.key for u in upstream if u.state != DONE]
    if failed:  # before unpickling: a task whose upstream failed is not tried at all
        return NodeResult(key, UPSTREAM_FAILED, error_text=f"upstream failed: {failed}")
    if isinstance(task, Shipped):
        try:
            task = task.load()
        except Exception as e:
            reason = f"{type(e).__name__}: {e}"
            return NodeResult(
                key,
                FAILED,
                error=TaskError(
                    f"{key} could not be unpickled on this worker: {reason}; ship the module "
                    "that defines it with the run (daskflow run path/to/module.py:Task) or "
                    "make it importable on the workers (client.upload_file, or install it)"
                ),
                error_text="".join(traceback.format_exception(e)),
                pid=os.getpid(),
                load_error=reason,
            )
    if isinstance(given, bytes):
        import cloudpickle

        values: dict[str, Any] = cloudpickle.loads(given)
    else:
        values = dict(given or {})
    for u in upstream:
        values.update(u.memory())
    away = _away(env)
    with settings.applied(away.settings if away is not None else {}):
        ran = {u.key: u.commit or None for u in upstream}
        return _run_task(task, values, env, fresh, prov, ran)


def _run_task(
    task: Task,
    values: dict[str, Any],
    env: Environment | None,
    fresh: bool = False,
    prov: manifests.Provenance | None = None,
    ran: dict[str, str | None] | None = None,
) -> NodeResult:
    """Run the task (with its retries) given its upstream in-memory values."""
    key = task.task_id
    away = _away(env)
    start = time.perf_counter()
    tokens = run_inputs.set(values), base_dir.set(away.cwd if away else None)
    lease: leases.Lease | leases.Made | None = None
    plan: NodePlan | None = None
    try:
        try:  # (relative local paths resolve against the caller's folder from here on)
            plan = NodePlan.of(task)
            log = CommitLog(env, task, fresh, plan)
            if log.committed():
                logger.info("%r was committed earlier in this run; not run again", task)
                return NodeResult(key, DONE, pid=os.getpid())
        except Exception as e:
            return _failed(task, e, away, start, 0)
        for path in sweep_system_temp():  # (at most once a minute in a process)
            logger.info("removed %s, left by a process that no longer runs", path)
        try:
            lease = leases.take(key, plan.own, env.run_id if env else None, fresh)
        except Exception as e:
            return _failed(task, e, away, start, 0)
        home = manifests.folder_of(plan.own)
        if isinstance(lease, leases.Made):  # another run made it while this one waited
            logger.info("%r was made by %s meanwhile", task, lease.describe())
            commit = _quietly(lambda: manifests.last_commit(home, key) if home else None)
            return NodeResult(
                key, DONE, pid=os.getpid(), made_by=lease.describe(), commit=commit or ""
            )
        if prov is not None and prov.stale and home is not None:
            try:  # stale when planned: did another run make it current since?
                current = manifests.made_current(home, task, prov, ran or {})
            except Exception as e:
                return _failed(task, e, away, start, 0)
            if current is not None:
                logger.info("%r was made current by another run meanwhile", task)
                return NodeResult(key, DONE, pid=os.getpid(), made_by="another run", commit=current)
        place = lease.publish if isinstance(lease, leases.Lease) else None
        record = functools.partial(
            _manifest, task, plan.own, prov, ran or {}, env, time.time(), place
        )
        return _run_leased(task, plan, log, lease, away, start, record)
    finally:
        run_inputs.reset(tokens[0])
        base_dir.reset(tokens[1])
        if isinstance(lease, leases.Lease):
            lease.release()
        if away is not None and plan is not None:  # the caller holds them now, not this worker
            for url in memory_values(task, plan.outputs):
                data.pop(url, None)


def _quietly(read: Callable[[], str | None]) -> str | None:
    """``read()``, or None if it fails (a listing for what is only a record)."""
    try:
        return read()
    except Exception:
        return None


def _manifest(
    task: Task,
    own: list[Target],
    prov: manifests.Provenance | None,
    ran: dict[str, str | None],
    env: Environment | None,
    started: float,
    place: Callable[[str, bytes], bool] | None = None,
    yielded: list[Task] | None = None,
) -> str:
    """Write the manifest of the task's commit (by turning its lease into it, where
    ``place`` can), recording the files of the tasks its ``run()`` ``yielded``; its commit id
    ("" if it stores nothing)."""
    home = manifests.folder_of(own)
    if home is None:
        return ""
    prov = prov or manifests.Provenance(fingerprint(type(task)), {})
    stamp = manifests.write(
        home,
        task,
        prov.code,
        {**prov.upstream, **ran},
        manifests.file_stamps(task),
        started,
        run_id=env.run_id if env else None,
        dask_key=prov.dask_key,
        libraries=library_versions(),
        clean=prov.clean,
        place=place,
        dynamic={t.task_id: entries(t) for t in yielded or ()},
        earlier=prov.earlier,
    )
    return stamp.commit


def _failed(
    task: Task, e: BaseException, away: Environment | None, start: float, attempts: int
) -> NodeResult:
    return NodeResult(
        task.task_id,
        FAILED,
        error=_portable_error(e) if away else e,
        error_text="".join(traceback.format_exception(e)),
        seconds=time.perf_counter() - start,
        attempts=attempts,
        pid=os.getpid(),
    )


def _run_leased(
    task: Task,
    plan: NodePlan,
    log: CommitLog,
    lease: leases.Lease | None,
    away: Environment | None,
    start: float,
    record: Callable[[list[Task]], str],
) -> NodeResult:
    """Run the task, with its retries, holding ``lease``; ``record(yielded)`` writes its
    manifest once its outputs are committed."""
    key = task.task_id
    attempts = 0
    notes: list[str] = []
    commit = ""
    with leases.held(lease):
        while True:
            attempts += 1
            try:
                notes, yielded = _attempt(task, lease, plan.own)
                commit = record(yielded) if not notes else ""  # last: it marks the commit complete
                log.record()
                break
            except SystemExit as e:  # sys.exit() in run(): the task fails, the run goes on
                error = TaskError(f"{task!r}.run() called sys.exit({e.code!r})")
                error.__cause__ = e
                return _failed(task, error, away, start, attempts)
            except Exception as e:
                if attempts <= task.retries and not isinstance(e, leases.LeaseError):
                    logger.warning("%r failed (attempt %d), retrying: %s", task, attempts, e)
                    continue
                return _failed(task, e, away, start, attempts)
    made = memory_values(task, plan.outputs)
    try:
        out: dict[str, Any] | bytes = _dumps(made) if away and made else made
    except Exception as e:
        error = TaskError(
            f"{task!r} saved an in-memory output that cannot be sent to another "
            f"process: {type(e).__name__}: {e}; save a picklable object, or use a "
            "file format (TaskPickle, TaskPqPandas, ...)"
        )
        error.__cause__ = e  # its traceback is in the error text
        return _failed(task, error, away, start, attempts)
    return NodeResult(
        key,
        DONE,
        values=out,
        seconds=time.perf_counter() - start,
        attempts=attempts,
        pid=os.getpid(),
        notes=notes,
        commit=commit,
    )


def _attempt(
    task: Task, lease: leases.Lease | None, targets: list[Target]
) -> tuple[list[str], list[Task]]:
    """Run the task once; commit its saves only if it finishes with all outputs saved. The
    notes on what it left unsaved, and the tasks its ``run()`` yielded.

    A ``run()`` that leaves outputs unsaved is allowed, as in d6tflow and luigi (a last
    task that only checks or plots): the task ends incomplete (an output left from an earlier
    run is removed, as d6tflow removed a forced task's outputs before running it) and the
    returned notes say so. If it saved only some of several outputs, none is kept, so they
    are never a mix of two runs. A local file that ``run()`` wrote itself, at its output's
    path, counts as saved. ``settings.strict`` makes an unsaved output an error.
    ``targets``: what it saves (its node's plan); ``lease``: held while it runs, if any.
    """
    before = {t.url: _stamp(t) for t in targets}
    for folder in {os.path.dirname(p) for p in before.values() if isinstance(p, str)}:
        if not os.path.isdir(folder or "."):  # for run() code that writes there itself
            os.makedirs(folder or ".", exist_ok=True)
    with staging() as saved:
        yielded = _execute(task)
        unsaved = [t for t in targets if t.url not in saved]
        missing = [t for t in unsaved if not _written(t, before[t.url])]
        if lease is not None:  # commits happen only under the lease
            lease.confirm()
        if not missing:
            saved.commit()
            return [], yielded
        names = ", ".join(redact(t.url) for t in missing)
        if settings.current("strict"):
            raise TaskError(
                f"{task!r}.run() finished without saving {names}; call self.save(...) in "
                "run() (settings.strict is on)"
            )
        saved.discard()
        kept = [] if len(missing) < len(targets) else [t for t in unsaved if t not in missing]
        for t in targets:  # nothing of this run's or an earlier one's counts as complete
            if t not in kept:
                t.remove()
        if len(missing) < len(targets):
            return [
                f"{task!r}.run() saved only some of its outputs; it did not save {names}. "
                "None of its outputs was kept: the task is incomplete"
            ], yielded
        return [
            f"{task!r}.run() finished without saving {names}; the task stays incomplete "
            "(call self.save(...) in run() to make it complete)"
        ], yielded


def _stamp(target: Any) -> Any:
    """What a local file output is before ``run()``: its path, or ``(path, stat)``;
    ``None`` for other outputs, which count only when ``save()`` staged them."""
    if isinstance(target, MemoryTarget) or protocol(target.url) is not None:
        return None
    path = os.path.abspath(resolve(target.url))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    return (path, (st.st_ino, st.st_size, st.st_mtime_ns))


def _written(target: Any, before: Any) -> bool:
    """Whether ``run()`` itself wrote the local file output since :func:`_stamp`."""
    if before is None:
        return False
    path = before if isinstance(before, str) else before[0]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    return isinstance(before, str) or before[1] != (st.st_ino, st.st_size, st.st_mtime_ns)


def _dumps(values: dict[str, Any]) -> bytes:
    import cloudpickle

    return cloudpickle.dumps(values)  # type: ignore[no-any-return]


def _portable_error(e: BaseException) -> BaseException:
    """``e`` if it survives pickling, else a :class:`TaskError` with its type and text."""
    try:
        pickle.loads(pickle.dumps(e))
    except Exception:
        return TaskError(f"{type(e).__module__}.{type(e).__qualname__}: {e}")
    return e


def _execute(task: Task) -> list[Task]:
    """Run the task's ``run()``; the tasks it yielded (run here, first)."""
    if task.aggregates:  # what it yields ran as its upstream nodes
        return []
    logger.info("running %r", task)
    result = task.run()
    if inspect.isgenerator(result):
        return _drive(task, result)
    return []


def _drive(task: Task, gen: Any) -> list[Task]:
    """Run the tasks a generator ``run()`` yields, sending their outputs back in; them."""
    yielded: list[Task] = []
    try:
        needed = next(gen)
        while True:
            odd = [x for x in flatten(needed) if not isinstance(x, Task)]
            if odd:
                raise TaskDefinitionError(
                    f"{task!r}.run() yielded {odd[0]!r}; a run() may yield only tasks "
                    "(instances), or lists or dicts of them, and gets their outputs back"
                )
            handed = _map_structure(task._hand_down, needed)
            yielded.extend(flatten(handed))
            run_nested(flatten(handed))
            needed = gen.send(_map_structure(lambda t: t.output(), handed))
    except StopIteration:
        return yielded


def run_nested(tasks: list[Task]) -> None:
    """Run the missing part of ``tasks``' graph here, in order; raise the first error."""
    if not tasks:
        return
    graph = build(tasks)
    results: dict[str, NodeResult] = {}
    for key in to_run(graph, graph.status()):
        task = graph.tasks[key]
        values: dict[str, Any] = {}
        for d in graph.deps[key]:
            values.update(results[d].memory() if d in results else memory_values(graph.tasks[d]))
        res = results[key] = _run_task(task, values, None)
        for note in res.notes:
            warnings.warn(note, CompatibilityWarning, stacklevel=2)
        if res.state == FAILED and res.error is not None:
            raise res.error
    # in-memory values made by nested tasks are already in this process's store
