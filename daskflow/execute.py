"""Run a flow: choose the scheduler, execute the compiled graph, report what happened.

A run follows these steps:

1. build the graph of the requested tasks and everything upstream, once (:mod:`graph`);
2. decide every task's status with one bulk existence check, and which tasks run (incomplete
   or forced, reached from a requested task through tasks that run);
3. compile those tasks into one Dask graph (:mod:`compile`) and hand it to the scheduler;
4. print the execution summary; if a task failed and ``abort`` is true, raise
   ``RuntimeError('Exception found running flow, check trace')`` from the task's own
   exception, so the traceback shows the failing line.

The scheduler is chosen in :mod:`daskflow.schedulers`; while the run is under way
:mod:`daskflow.progress` reports tasks done of the total.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import traceback
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import settings
from .batching import Batcher, history
from .clusters import threads
from .compile import Compiler, annotated
from .errors import ClusterError, CompatibilityWarning, TaskError, WorkflowError
from .fingerprint import Fingerprint
from .graph import Plan, TaskGraph, build, forced_keys, no_cycle_collection, plan
from .progress import Reporter
from .runtime import (
    COMMITTED,
    DONE,
    FAILED,
    UPSTREAM_FAILED,
    BatchResult,
    Environment,
    NodeResult,
)
from .schedulers import resolve, width
from .targets import MemoryTarget, _data_lock, data, exists_many
from .tasks import Task, _confirm

__all__ = ["RunResult", "execute", "run"]

logger = logging.getLogger("daskflow")

SUMMARY_HEADER = "===== daskflow Execution Summary ====="
FAILED_MESSAGE = "Exception found running flow, check trace"


def execute(
    planned: Plan,
    scheduler: Any = None,
    workers: int | None = None,
    progress: Reporter | None = None,
) -> dict[str, NodeResult]:
    """Run the plan's ``keys`` on the scheduler; ``{key: NodeResult}`` for each.

    The values of in-memory outputs the tasks made become loadable in this process.
    """
    graph, keys = planned.graph, list(planned.keys)
    fresh, commits = planned.fresh, planned.commits
    in_process = any(
        t.url.startswith("memory://") for k in keys for t in graph.tasks[k].output_targets()
    )
    chosen = resolve(scheduler, workers, width(graph, keys), in_process=in_process)
    if not keys:
        return {}
    progress = progress or Reporter({}, enabled=False)
    cluster = chosen.name == "distributed"
    run_id = uuid.uuid4().hex[:12]  # names the run in leases; on a cluster, in its keys too
    token = run_id if cluster else None  # runs sharing a cluster share no key
    error: BaseException | None = None
    compiler: Compiler | None = None
    names: list[str] = []  # the Dask keys sent, in order
    unsent: list[BaseException] = []  # why the rest of a growing graph could not be sent
    with chosen.open() as get:
        try:
            progress.start(chosen.describe())
            batcher = _batcher(planned, chosen)
            env = Environment.here(run_id) if chosen.portable else None
            codes: dict[type, Fingerprint] = {}
            compiler = Compiler(
                graph,
                keys,
                env,
                ship=cluster,
                token=token,
                fresh=fresh,
                commits=commits,
                stale=planned.stale,
                codes=codes,
                earlier=planned.earlier,
            )
            dsk = compiler.part(batcher.release() if batcher else [[k] for k in keys])
            names.extend(dsk)
            members = compiler.members

            def done(key: str, state: str) -> None:  # (a Dask key, or a task id of a batch)
                for k in members.get(key, (key,)):
                    progress.finished(k, state)

            if chosen.name in ("local", "processes"):
                outcome = _in_stages(get, dsk, done, compiler, codes, batcher, names)
            else:
                kwargs: dict[str, Any] = {}
                if batcher is not None:
                    kwargs = {"grow": functools.partial(_grow, batcher, compiler, names, unsent)}
                outcome = get(
                    annotated(dsk, graph, members) if cluster else dsk, list(dsk), done, **kwargs
                )
        except Exception as e:  # the scheduler itself broke (e.g. a worker process died)
            error = TaskError(f"the {chosen.name} scheduler failed: {type(e).__name__}: {e}")
            error.__cause__ = e
            outcome = [None] * len(names)
        finally:
            progress.close()
            if token is not None and error is None:  # best effort: the cluster may be gone
                with contextlib.suppress(Exception):
                    chosen.client.set_metadata([COMMITTED, token], None)
    if unsent and error is None:
        error = TaskError(f"the rest of the run could not be sent to the cluster: {unsent[0]}")
        error.__cause__ = unsent[0]
    by_task = _by_task(names, outcome, compiler.members if compiler else {})
    outcome = [by_task.get(k) for k in keys]
    results = _fill(graph, keys, outcome, error, fresh)
    if chosen.portable:
        with _data_lock:
            for key, r in results.items():
                if r.state == DONE:
                    for t in graph.tasks[key].own_targets():
                        data.pop(t.url, None)  # what this process held of the task is stale
                    data.update(r.memory())  # in-memory outputs made elsewhere live here
    return results


def _batcher(planned: Plan, chosen: Any) -> Batcher | None:
    """The batches of a run on a cluster, sized for its workers' threads, or on the default
    local scheduler, for its worker processes (in stages there); None for other schedulers,
    or when batching is off (``settings.batch_seconds = 0``)."""
    target = float(settings.current("batch_seconds"))
    if target <= 0 or chosen.name not in ("distributed", "local"):
        return None
    graph, keys = planned.graph, list(planned.keys)
    if chosen.name == "local":
        batcher = Batcher(graph, keys, chosen.workers or 1, target, staged=True)
    else:
        batcher = Batcher(graph, keys, threads(chosen.client), target)
    batcher.known.update(history(graph, keys, batcher.families()))
    return batcher


def _grow(
    batcher: Batcher,
    compiler: Compiler,
    names: list[str],
    unsent: list[BaseException],
    key: str,
    value: Any,
) -> tuple[Any, list[str]] | None:
    """What the tasks of the Dask key ``key`` that finished with ``value`` release: the graph
    of the next tasks, and its keys (which ``names`` records), or None. An error on the way
    (a task that cannot be pickled) goes to ``unsent``: the tasks not sent fail with it, and
    what was sent runs on."""
    try:
        return _released(batcher, compiler, names, key, value)
    except Exception as e:
        unsent.append(e)
        return None


def _released(
    batcher: Batcher, compiler: Compiler, names: list[str], key: str, value: Any
) -> tuple[Any, list[str]] | None:
    groups = batcher.learned(_seconds(compiler, key, value))
    if not groups:
        return None
    part = compiler.part(groups)
    names.extend(part)
    return annotated(part, compiler.graph, compiler.members), list(part)


def _seconds(compiler: Compiler, key: str, value: Any) -> dict[str, float | None]:
    """How long each task of the Dask key ``key`` took, from its result ``value`` (None for
    each when Dask gave an error for the key instead: its tasks said nothing)."""
    if isinstance(value, BatchResult):
        return {r.key: r.seconds for r in value.results}
    if isinstance(value, NodeResult):
        return {value.key: value.seconds}
    return dict.fromkeys(compiler.members.get(key, ()))


def _in_stages(
    get: Any,
    dsk: dict[str, Any],
    done: Any,
    compiler: Compiler,
    codes: Mapping[type, Fingerprint],
    batcher: Batcher | None,
    names: list[str],
) -> list[Any]:
    """Run ``dsk`` on a local get-function, then each part the results release, until none
    is left (Dask's local scheduler runs a graph to its end: a later part waits for the
    earlier one, which :class:`Batcher` keeps to the probes it waits for). A part's nodes
    get the results of earlier parts they need as values in its graph. The results of every
    key of ``names``, which the parts are added to."""
    results: dict[str, Any] = {}
    while True:
        earlier = {u: results[u] for _, ups in dsk.values() for u in ups if u not in dsk}
        kwargs = _local_kwargs(compiler.graph, compiler.members, codes)
        out = get({**earlier, **dsk}, list(dsk), done, **kwargs)
        results.update(zip(dsk, out, strict=True))
        learned: dict[str, float | None] = {}
        for name in dsk:
            learned.update(_seconds(compiler, name, results[name]))
        groups = batcher.learned(learned) if batcher is not None else []
        if not groups:
            return [results[n] for n in names]
        dsk = compiler.part(groups)
        names.extend(dsk)


def _by_task(
    names: list[str], outcome: list[Any], members: Mapping[str, list[str]]
) -> dict[str, Any]:
    """Each task's outcome from the outcome of each Dask key ``names``: a batch's result
    opened into its tasks' results; Dask's error for a key, for each of its tasks."""
    out: dict[str, Any] = {}
    for name, value in zip(names, outcome, strict=True):
        if isinstance(value, BatchResult):
            out.update((r.key, r) for r in value.results)
        else:
            out.update(dict.fromkeys(members.get(name, (name,)), value))
    return out


def _local_kwargs(
    graph: TaskGraph, members: Mapping[str, list[str]], codes: Mapping[type, Fingerprint]
) -> dict[str, Any]:
    """What the local get-functions learn from: each node's group (its task's family; a
    batch's, ``{family}-batch``), and the code fingerprint of each task class (``codes``, as
    compiling the graph computed them; worker processes are reused for the same code:
    :mod:`daskflow.pool`)."""
    code = {f"{cls.__module__}.{cls.__qualname__}": fp.key for cls, fp in codes.items()}
    groups = {
        name: graph.tasks[ks[0]].task_family + ("-batch" if len(ks) > 1 else "")
        for name, ks in members.items()
    }
    return {"groups": groups, "code": code}


def _fill(
    graph: TaskGraph,
    keys: list[str],
    outcome: list[Any],
    error: BaseException | None,
    fresh: Iterable[str] = (),
) -> dict[str, NodeResult]:
    """Every key's result, in graph order.

    A key whose node returned has its own result. A key without one (Dask reported an error
    for it: a worker lost too often, a result it could not move; or the scheduler broke)
    is skipped if something upstream of it did not succeed, and failed otherwise, with the
    error Dask gave for it, else ``error``. When the scheduler itself was lost, a task whose
    outputs were missing (``fresh``) and are all there now did run: it counts as done, and
    the others as not run, with the one message and no traceback of Dask's.
    """
    given = dict(zip(keys, outcome, strict=True))  # (None: sent to no worker)
    fresh = set(fresh)
    out: dict[str, NodeResult] = {}
    for k in keys:  # dependencies first
        r = given[k]
        if isinstance(r, NodeResult):
            out[k] = r
        elif isinstance(r, ClusterError) and k in fresh and _committed(graph.tasks[k]):
            out[k] = NodeResult(k, DONE)  # it ran and committed; the report was lost
        elif any(out[d].state != DONE for d in graph.deps[k] if d in out):
            out[k] = NodeResult(k, UPSTREAM_FAILED, error_text="upstream failed")
        elif isinstance(r, ClusterError):
            out[k] = NodeResult(k, FAILED, error=r, error_text=str(r))
        else:
            e = r if isinstance(r, BaseException) else error or TaskError(f"{k} did not run")
            out[k] = NodeResult(
                k, FAILED, error=e, error_text="".join(traceback.format_exception(e))
            )
    return out


def _committed(task: Task) -> bool:
    """Whether all of ``task``'s stored outputs are there now (a task with none: no)."""
    targets = [t for t in task.own_targets() if not isinstance(t, MemoryTarget)]
    try:
        return bool(targets) and all(exists_many(targets))
    except Exception:
        return False


# -- results and the summary -----------------------------------------------------------------

COMPLETE, RAN = "complete", "ran"


@dataclass
class RunResult:
    """What a run did. True when no task failed.

    Attributes
    ----------
    status : str
        ``"SUCCESS"`` or ``"FAILED"`` (luigi's status names).
    scheduling_succeeded : bool
        No task failed.
    summary_text : str
        The execution summary.
    states : dict
        ``{task_id: "complete" | "ran" | "failed" | "upstream_failed"}`` for every task the
        run looked at.
    tasks : dict
        ``{task_id: task}`` for the same tasks.
    errors : dict
        ``{task_id: exception}`` of the tasks that failed.
    """

    states: dict[str, str]
    tasks: dict[str, Task]
    errors: dict[str, BaseException] = field(default_factory=dict)
    error_texts: dict[str, str] = field(default_factory=dict)
    summary_text: str = ""

    @property
    def status(self) -> str:
        return "FAILED" if self.errors or UPSTREAM_FAILED in self.states.values() else "SUCCESS"

    @property
    def scheduling_succeeded(self) -> bool:
        return self.status == "SUCCESS"

    def __bool__(self) -> bool:
        return self.scheduling_succeeded

    def __repr__(self) -> str:
        counts = Counter(self.states.values())
        parts = ", ".join(f"{s}={counts[s]}" for s in (RAN, COMPLETE, FAILED, UPSTREAM_FAILED))
        return f"RunResult(status={self.status!r}, {parts})"

    def _with(self, state: str) -> list[Task]:
        return [self.tasks[k] for k, s in self.states.items() if s == state]

    @property
    def ran(self) -> list[Task]:
        return self._with(RAN)

    @property
    def complete(self) -> list[Task]:
        return self._with(COMPLETE)

    @property
    def failed(self) -> list[Task]:
        return self._with(FAILED)

    @property
    def upstream_failed(self) -> list[Task]:
        return self._with(UPSTREAM_FAILED)

    def subset(self, keys: Iterable[str]) -> RunResult:
        """The part of this result about ``keys`` (in this result's order)."""
        wanted = set(keys)
        keys = [k for k in self.states if k in wanted]
        return RunResult(
            states={k: self.states[k] for k in keys},
            tasks={k: self.tasks[k] for k in keys},
            errors={k: e for k, e in self.errors.items() if k in keys},
            error_texts={k: e for k, e in self.error_texts.items() if k in keys},
            summary_text=self.summary_text,
        )


def _describe_group(tasks: list[Task]) -> str:
    """``1 TaskA(x=1)``, or ``3 TaskA(x=1,2,3)`` when one parameter varies."""
    first = tasks[0]
    if len(tasks) == 1:
        return f"1 {first!r}"
    params = [t.to_str_params(only_significant=True, only_public=True) for t in tasks]
    varying = [n for n in params[0] if len({p.get(n) for p in params}) > 1]
    if len(varying) == 1:
        name = varying[0]
        shown = [
            f"{n}={','.join(dict.fromkeys(p[n] for p in params))}" if n == name else f"{n}={v}"
            for n, v in params[0].items()
        ]
        return f"{len(tasks)} {type(first).__name__}({', '.join(shown)})"
    return f"{len(tasks)} {type(first).__name__}(...)"


def _section(title: str, tasks: list[Task], indent: str = "") -> list[str]:
    groups: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        groups[t.task_family].append(t)
    lines = [f"{indent}* {len(tasks)} {title}:"]
    lines += [f"{indent}    - {_describe_group(groups[f])}" for f in sorted(groups)]
    return lines


def summarize(result: RunResult) -> str:
    """The execution summary, in luigi's layout."""
    states = Counter(result.states.values())
    lines = ["", SUMMARY_HEADER, "", f"Scheduled {len(result.states)} tasks of which:"]
    if states[COMPLETE]:
        lines += _section("complete ones were encountered", result.complete)
    if states[RAN]:
        lines += _section("ran successfully", result.ran)
    if states[FAILED]:
        lines += _section("failed", result.failed)
    if states[UPSTREAM_FAILED]:
        lines.append(f"* {states[UPSTREAM_FAILED]} were left pending, among these:")
        lines += _section("had failed dependencies", result.upstream_failed, "    ")
    lines.append("")
    if not states[RAN] and not states[FAILED]:
        lines.append("Did not run any tasks")
    if result.status == "SUCCESS":
        lines.append(
            "This progress looks :) because there were no failed tasks or missing dependencies"
        )
    else:
        lines.append("This progress looks :( because there were failed tasks")
    lines += ["", SUMMARY_HEADER, ""]
    return "\n".join(lines)


# -- a whole run -----------------------------------------------------------------------------


def _as_list(tasks: Any) -> list[Any]:
    if tasks is None:
        return []
    return list(tasks) if isinstance(tasks, (list, tuple, set)) else [tasks]


def check_tasks(tasks: Any, what: str = "tasks") -> list[Task]:
    """``tasks`` as a list of task instances, or a :class:`WorkflowError` saying what is wrong."""
    items = _as_list(tasks)
    for t in items:
        if not isinstance(t, Task):
            hint = (
                f"; pass an instance such as {t.__name__}()"
                if isinstance(t, type) and issubclass(t, Task)
                else ""
            )
            raise WorkflowError(f"{what} must be task instances, got {t!r}{hint}")
    return items


def run(
    tasks: Any,
    forced: Any = None,
    forced_all: bool = False,
    forced_all_upstream: bool = False,
    confirm: bool = False,
    workers: int | None = None,
    abort: bool = True,
    execution_summary: bool | None = None,
    scheduler: Any = None,
    graph: TaskGraph | None = None,
    reporter: Reporter | None = None,
) -> RunResult | None:
    """Run ``tasks`` (instances) and whatever upstream of them is missing.

    Parameters
    ----------
    tasks : Task or list of Task
        What to make complete.
    forced : Task, task class, or a list of them, optional
        Redo the tasks of these families and everything between them and ``tasks``.
    forced_all : bool
        Redo ``tasks`` themselves.
    forced_all_upstream : bool
        Redo everything.
    confirm : bool
        Ask before redoing complete tasks; anything but ``y`` returns None without running.
    workers : int, optional
        Number of local worker processes (d6tflow's argument); ``1`` runs every task in this
        thread.
    abort : bool
        Raise ``RuntimeError`` when a task fails (else return the result).
    execution_summary : bool, optional
        Print the summary (default ``settings.execution_summary``).
    scheduler : str, distributed.Client or callable, optional
        ``"sync"``, ``"threads"``, ``"processes"``, a ``distributed.Client``, a scheduler
        address, or a Dask get-function; see :mod:`daskflow.schedulers`.
    graph : TaskGraph, optional
        The already-built graph of ``tasks`` (saves building it again).
    reporter : Reporter, optional
        Where progress and the summary go (default: stderr and stdout, as
        ``execution_summary`` and ``settings.log_level`` say).

    Returns
    -------
    RunResult, or None when ``confirm`` was declined.

    The settings tasks use are taken once, as the call begins: the whole run (its plan, and
    its tasks in every thread and process) sees those values, whatever another thread sets
    meanwhile.
    """
    with settings.applied(settings.snapshot()):
        return _run(
            tasks,
            forced,
            forced_all,
            forced_all_upstream,
            confirm,
            workers,
            abort,
            execution_summary,
            scheduler,
            graph,
            reporter,
        )


def _run(
    tasks: Any,
    forced: Any,
    forced_all: bool,
    forced_all_upstream: bool,
    confirm: bool,
    workers: int | None,
    abort: bool,
    execution_summary: bool | None,
    scheduler: Any,
    graph: TaskGraph | None,
    reporter: Reporter | None,
) -> RunResult | None:
    roots = check_tasks(tasks)
    forced_tasks = _as_list(forced)
    for f in forced_tasks:
        if not isinstance(f, Task) and not (isinstance(f, type) and issubclass(f, Task)):
            raise WorkflowError(f"forced takes tasks or task classes, got {f!r}")
    _apply_log_level(settings.log_level)
    with no_cycle_collection():  # the plan: one pause for the build and the status pass
        graph = graph or build(roots)
        planned = plan(graph, forced_keys(graph, forced_tasks, forced_all, forced_all_upstream))
    keys = list(planned.keys)
    families = {k: graph.tasks[k].task_family for k in keys}
    reporter = reporter or _reporter(families, execution_summary)
    again = [graph.tasks[k] for k in keys if planned.complete[k]]
    if confirm and planned.forced and not _confirmed(again):
        reporter.say("Run cancelled")
        return None
    results = execute(planned, scheduler, workers, reporter)
    for r in results.values():  # raised where the task ran; told where the run was asked
        for note in r.notes:
            warnings.warn(note, CompatibilityWarning, stacklevel=3)
    result = _result(graph, keys, results)
    reporter.summary(result.summary_text)
    cause = next(iter(result.errors.items()), None) if abort else None
    _log_errors(graph, result, results, cause)
    if cause is not None:
        key, error = cause
        if error.__traceback__ is None and result.error_texts.get(key):
            # raised in another process: show where, as the worker saw it
            error.add_note(f"{graph.tasks[key]!r} failed on a worker:\n{result.error_texts[key]}")
        raise RuntimeError(FAILED_MESSAGE) from error
    return result


_applied_level: list[str] = []  # the settings.log_level last given to daskflow's logger


def _apply_log_level(level: str) -> None:
    """Give ``settings.log_level`` to daskflow's logger when it changed since daskflow last
    did: a level the user's code set on the logger itself stays until the setting changes."""
    if _applied_level != [level]:
        logger.setLevel(level.upper())
        _applied_level[:] = [level]


def _reporter(families: dict[str, str], execution_summary: bool | None) -> Reporter:
    """The default: progress unless the summary is off or the log level is ERROR or more."""
    summary = settings.execution_summary if execution_summary is None else execution_summary
    level = logging.getLevelName(settings.log_level.upper())
    quiet = level in (logging.ERROR, logging.CRITICAL)
    return Reporter(families, enabled=bool(summary) and not quiet, summary=bool(summary))


def _confirmed(again: list[Task]) -> bool:
    """Whether the user agrees to redo the complete tasks ``again`` (yes when there are none)."""
    return not again or _confirm(
        "Confirm invalidating forced tasks:\n  " + "\n  ".join(map(repr, again)) + "\n"
    )


def _log_errors(
    graph: TaskGraph,
    result: RunResult,
    results: Mapping[str, NodeResult],
    raised: tuple[str, BaseException] | None,
) -> None:
    """Log each error of the run once, except the one about to be raised: tasks that could
    not be unpickled on the workers for the same reason share one (see _unloadable), which
    names them all and the fixes."""
    reported = {id(raised[1])} if raised is not None else set()
    for key, text in result.error_texts.items():
        error = result.errors[key]
        if id(error) in reported:
            continue
        reported.add(id(error))
        if results[key].load_error:
            logger.error("%s\nOn the worker:\n%s", error, text)
        else:
            logger.error("%r failed:\n%s", graph.tasks[key], text)


def _result(graph: TaskGraph, keys: list[str], results: Mapping[str, NodeResult]) -> RunResult:
    ran = set(keys)
    seen = [r for r in graph.roots if r not in ran]
    seen += [d for k in keys for d in graph.deps[k] if d not in ran]
    states = {k: COMPLETE for k in dict.fromkeys(seen)}
    for k in keys:
        r = results[k]
        states[k] = (COMPLETE if r.made_by else RAN) if r.state == DONE else r.state
    order = [k for k in graph.tasks if k in states]
    failed = [k for k in keys if results[k].state == FAILED]
    errors: dict[str, BaseException] = {k: results[k].error for k in failed}  # type: ignore[misc]
    errors.update(_unloadable(graph, [k for k in failed if results[k].load_error], results))
    result = RunResult(
        states={k: states[k] for k in order},
        tasks={k: graph.tasks[k] for k in order},
        errors=errors,
        error_texts={k: results[k].error_text for k in failed},
    )
    result.summary_text = summarize(result)
    return result


def _unloadable(
    graph: TaskGraph, keys: list[str], results: Mapping[str, NodeResult]
) -> dict[str, BaseException]:
    """One :class:`TaskError` per reason and module for the tasks ``keys`` that could not be
    unpickled on their workers, shared by all of them: it lists them and says how to get
    their module to the workers."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for k in keys:
        groups[results[k].load_error, type(graph.tasks[k]).__module__].append(k)
    shared: dict[str, BaseException] = {}
    for (reason, module), group in groups.items():
        tasks = [graph.tasks[k] for k in group]
        families: dict[str, list[Task]] = defaultdict(list)
        for t in tasks:
            families[t.task_family].append(t)
        listed = ", ".join(_describe_group(ts) for ts in families.values())
        error = TaskError(
            f"{len(tasks)} task{'s' if len(tasks) > 1 else ''} could not be unpickled on the "
            f"workers ({reason}): {listed}. {_ship_hint(graph, module, reason)}"
        )
        shared.update(dict.fromkeys(group, error))
    return shared


def _ship_hint(graph: TaskGraph, module: str, reason: str) -> str:
    """How to get ``module`` (defining tasks of ``graph``) to the workers, by value or by
    installing it there."""
    source = getattr(sys.modules.get(module), "__file__", None) or "path/to/module.py"
    roots = [graph.tasks[k] for k in graph.roots]
    cls = next((type(t) for t in roots if type(t).__module__ == module), None)
    name = cls.__name__ if cls is not None else "Task"
    problem = (
        f"The workers cannot import {module!r}, which defines them"
        if reason.startswith(("ModuleNotFoundError", "ImportError"))
        else f"The workers' {module!r} is not the one this process pickled them with"
    )
    return (
        f"{problem}. Ship it with the run: `daskflow run {source}:{name}` sends a module "
        "given by path to the workers by value (from Python: "
        f"cloudpickle.register_pickle_by_value({module}) before the run); or make it "
        f"importable on every worker: client.upload_file({source!r}), or install its "
        "package there."
    )
