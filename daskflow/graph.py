"""The DAG of task instances: build it once, decide what is complete and what must run, and
draw the preview tree.

Why a graph at all
------------------
d6tflow asked every task ``complete()``, and every ``complete()`` asked its upstream tasks
again, so the cost of a status check grew with the number of *paths* through the graph: a
layered graph of 8 layers of 4 tasks has 4**8 of them. Here a run walks the graph once
(:func:`walk`, iterative, with cycle detection), checks the existence of every
output in one bulk pass (one listing per folder), and derives every task's status in one
topological sweep: cost linear in tasks plus edges.

The functions below work on :class:`TaskGraph`, a read-only view of plain data: task ids,
their tasks, and their upstream ids. They never import dask.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import manifests, settings
from .errors import DaskflowError, DependencyCycleError, StorageError, TaskDefinitionError, masked
from .owned import Files, files_of
from .targets import Target, exists_many, redact
from .targets.bulk import listings
from .tasks import Task
from .tasks.core import above

__all__ = [
    "Plan",
    "TaskGraph",
    "build",
    "completeness",
    "downstream_of",
    "forced_keys",
    "levels",
    "no_cycle_collection",
    "plan",
    "preview_text",
    "to_run",
    "upstream_of",
    "walk",
]


# -- the upstream closure and its completeness ----------------------------------------------


def walk(roots: list[Task]) -> tuple[dict[str, Task], dict[str, tuple[str, ...]]]:
    """Every task upstream of ``roots``, each once, upstream first; and each one's deps.

    Iterative (a chain of any length is fine). A task reached again while it is still on the
    path raises :class:`DependencyCycleError` naming the cycle. Two different tasks with the
    same id (the same class and parameters with different roots) are an error, since they
    would share a Dask key.

    Returns
    -------
    order : dict
        ``{task_id: task}`` in topological order, dependencies before dependents.
    deps : dict
        ``{task_id: (upstream task_id, ...)}``.
    """
    order: dict[str, Task] = {}
    deps: dict[str, tuple[str, ...]] = {}
    seen: dict[str, Task] = {}
    on_path: list[str] = []  # the current path, in order (to name a cycle) ...
    on_path_set: set[str] = set()  # ... and as a set (to test membership in O(1))
    for root in roots:
        if root.task_id in order:
            continue
        _check_same(seen, root)
        stack: list[tuple[Task, Iterator[Task], list[str]]] = [(root, iter(_deps(root)), [])]
        on_path.append(root.task_id)
        on_path_set.add(root.task_id)
        while stack:
            task, children, child_ids = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path_set.discard(on_path.pop())
                order[task.task_id] = task
                deps[task.task_id] = tuple(dict.fromkeys(child_ids))
                continue
            key = child.task_id
            child_ids.append(key)
            _check_same(seen, child)
            if key in order:
                continue
            if key in on_path_set:
                cycle = [*on_path[on_path.index(key) :], key]
                raise DependencyCycleError(cycle)
            on_path.append(key)
            on_path_set.add(key)
            stack.append((child, iter(_deps(child)), []))
    return order, deps


def _deps(task: Task) -> list[Task]:
    """``task.deps()``; an error the user's ``requires()`` raised says which task it was."""
    return _naming(task, "requires", task.deps)


def _outputs(task: Task) -> list[Target]:
    """``task.output_targets()``; an error the user's ``output()`` raised says which task."""
    return _naming(task, "output", task.output_targets)


def _naming(task: Task, method: str, call: Callable[[], list[Any]]) -> list[Any]:
    """``call()``; a user's error it raises gains a note naming ``task`` and ``method``."""
    try:
        return call()
    except Exception as e:
        if not isinstance(e, DaskflowError):
            e.add_note(f"raised by {task!r}.{method}() (task id {task.task_id})")
        raise


def _check_same(seen: dict[str, Task], task: Task) -> None:
    prior = seen.setdefault(task.task_id, task)
    if prior is task:
        return
    here, there = task.output_folder(), prior.output_folder()
    if here is not None and there is not None and here != there:
        raise TaskDefinitionError(
            f"{task!r} appears in one graph with two output locations, "
            f"{redact(there)} and {redact(here)}; give both the same path"
        )


def completeness(
    order: Mapping[str, Task],
    deps: Mapping[str, tuple[str, ...]],
    check_dependencies: bool,
    exist: dict[str, bool] | None = None,
    verdicts: dict[str, manifests.Verdict] | None = None,
) -> dict[str, bool]:
    """``{task_id: complete}`` for tasks in topological order, with one bulk existence
    check of all their outputs.

    A task is complete when all its outputs exist and, with ``check_dependencies`` (unless it
    is ``external``), all its upstream tasks are complete. A task without outputs is never
    complete (as in luigi), except a ``TaskAggregator``, which is complete when the tasks it
    yields are. ``exist``, if given, is filled with whether each task's own outputs exist.

    Under ``"code"`` or ``"code+data"`` invalidation (:data:`daskflow.settings.invalidation`
    or a class's ``invalidation``) a task's outputs count only while its manifest says they
    are current (:func:`daskflow.manifests.judge`); ``verdicts``, if given, gets each task's
    verdict then.
    """
    targets: list[Target] = []
    spans: dict[str, tuple[int, int]] = {}
    for key, task in order.items():
        outs = _outputs(task)
        spans[key] = (len(targets), len(targets) + len(outs))
        targets.extend(outs)
    try:
        found = exists_many(targets)
    except StorageError as e:
        users = [
            repr(order[k])
            for k, (a, b) in spans.items()
            if any(e.url in (t.url, t.probe[0]) for t in targets[a:b])
        ]
        named = f"; needed by {', '.join(users[:3])}{' ...' if len(users) > 3 else ''}"
        raise StorageError(f"{e}{named if users else ''}", e.url) from masked(e)
    # a task without outputs is never complete (luigi)
    owns = {key: b > a and all(found[a:b]) for key, (a, b) in spans.items()}
    judged = _judged(order, deps, targets, spans, owns) if _tracked(order) else None
    if verdicts is not None and judged is not None:
        verdicts.update(judged)
    complete: dict[str, bool] = {}
    for key, task in order.items():
        upstream_ok = all(complete[d] for d in deps[key])
        if task.aggregates:  # its outputs are its yielded tasks'
            complete[key] = upstream_ok
            if exist is not None:
                exist[key] = False  # none of its own
            continue
        own = owns[key]
        if exist is not None:
            exist[key] = own
        current = own and (judged is None or judged[key].current)
        complete[key] = current and (upstream_ok or task.external or not check_dependencies)
    return complete


def _tracked(order: Mapping[str, Task]) -> bool:
    """Whether any task's mode asks for more than its outputs' existence."""
    if settings.current("invalidation") != "exists":
        return True
    return any(getattr(t, "invalidation", None) not in (None, "exists") for t in order.values())


def _judged(
    order: Mapping[str, Task],
    deps: Mapping[str, tuple[str, ...]],
    targets: list[Target],
    spans: Mapping[str, tuple[int, int]],
    owns: Mapping[str, bool],
) -> dict[str, manifests.Verdict]:
    """Each task's verdict under its invalidation mode, from one listing of each folder of
    manifests (reading no manifest)."""
    homes: dict[str, Target] = {}
    for key, (a, b) in spans.items():
        home = manifests.folder_of(targets[a:b])
        if home is not None and not order[key].aggregates:
            homes[key] = home
    folders = [(manifests.url_of(t), t.storage_options) for t in homes.values()]
    listed = dict(zip(homes, listings(folders), strict=True))
    names: dict[str, set[str] | None] = {k: listed.get(k) for k in order}
    return manifests.judge(order, deps, owns, names)


@dataclass(frozen=True)
class TaskGraph:
    """Tasks by id (dependencies first), each task's upstream ids, and the requested roots."""

    tasks: Mapping[str, Task]
    deps: Mapping[str, tuple[str, ...]]
    roots: tuple[str, ...]
    dependents: Mapping[str, tuple[str, ...]] = field(repr=False)

    def __len__(self) -> int:
        return len(self.tasks)

    def __contains__(self, key: object) -> bool:
        return key in self.tasks

    def status(
        self,
        check_dependencies: bool | None = None,
        exist: dict[str, bool] | None = None,
        verdicts: dict[str, manifests.Verdict] | None = None,
    ) -> dict[str, bool]:
        """``{task_id: complete}`` for every task, from one bulk existence check (``exist``,
        if given, gets whether each task's own outputs exist; ``verdicts``, what their
        manifests say, when a task's invalidation mode asks)."""
        check = (
            settings.current("check_dependencies")
            if check_dependencies is None
            else check_dependencies
        )
        with no_cycle_collection():
            return completeness(self.tasks, self.deps, check, exist, verdicts)

    @property
    def edges(self) -> int:
        return sum(len(d) for d in self.deps.values())


_paused = 0  # how many no_cycle_collection() blocks are open, in any thread
_restore = False  # whether the collector ran when the outermost one began
_pause_lock = threading.Lock()


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while many small objects are made.

    Building a graph makes a few objects per task and keeps them all: every so many
    allocations the collector walks everything alive, so on 100,000 tasks it costs a seventh
    of a status pass, and finds nothing (tasks and targets hold no cycles). Blocks nest (the
    whole of a preview or a run's planning is one, around the build, the status pass and the
    tree); the collector runs again when the outermost one ends, if it ran before.
    """
    global _paused, _restore
    with _pause_lock:
        if _paused == 0:
            _restore = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if _paused == 0 and _restore:
                gc.enable()


def build(roots: Iterable[Task]) -> TaskGraph:
    """The graph of ``roots`` and everything upstream of them, each task once."""
    roots = list(roots)
    with no_cycle_collection():
        order, deps = walk(roots)
        dependents: dict[str, list[str]] = {k: [] for k in order}
        for key, ups in deps.items():
            for up in ups:
                dependents[up].append(key)
        return TaskGraph(
            tasks=MappingProxyType(order),
            deps=MappingProxyType(deps),
            roots=tuple(dict.fromkeys(r.task_id for r in roots)),
            dependents=MappingProxyType({k: tuple(v) for k, v in dependents.items()}),
        )


def _reach(start: Iterable[str], edges: Mapping[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        key = stack.pop()
        if key not in seen:
            seen.add(key)
            stack.extend(edges[key])
    return seen


def upstream_of(graph: TaskGraph, keys: Iterable[str]) -> set[str]:
    """``keys`` and every task upstream of them.

    >>> g = TaskGraph({'a': 0, 'b': 0, 'c': 0}, {'a': (), 'b': ('a',), 'c': ('b',)}, ('c',),
    ...               {'a': ('b',), 'b': ('c',), 'c': ()})
    >>> sorted(upstream_of(g, ['b']))
    ['a', 'b']
    """
    return _reach(keys, graph.deps)


def downstream_of(graph: TaskGraph, keys: Iterable[str]) -> set[str]:
    """``keys`` and every task of the graph downstream of them.

    >>> g = TaskGraph({'a': 0, 'b': 0, 'c': 0}, {'a': (), 'b': ('a',), 'c': ('b',)}, ('c',),
    ...               {'a': ('b',), 'b': ('c',), 'c': ()})
    >>> sorted(downstream_of(g, ['b']))
    ['b', 'c']
    """
    return _reach(keys, graph.dependents)


def levels(graph: TaskGraph, keys: Iterable[str] | None = None) -> dict[str, int]:
    """Each task's level: the length of the longest path to it from a task with no
    dependencies (among ``keys``, default all), in graph order.

    >>> g = TaskGraph({'a': 0, 'b': 0, 'c': 0}, {'a': (), 'b': (), 'c': ('a', 'b')}, ('c',),
    ...               {'a': ('c',), 'b': ('c',), 'c': ()})
    >>> levels(g)
    {'a': 0, 'b': 0, 'c': 1}
    """
    selected = set(graph.tasks if keys is None else keys)
    level: dict[str, int] = {}
    for k in graph.tasks:  # dependencies first
        if k in selected:
            level[k] = 1 + max((level[d] for d in graph.deps[k] if d in selected), default=-1)
    return level


def to_run(graph: TaskGraph, complete: Mapping[str, bool], forced: Iterable[str] = ()) -> list[str]:
    """The tasks a run executes, dependencies first.

    A task runs when it is reached from a root through tasks that run, and it is incomplete or
    forced. So with ``check_dependencies=False`` an incomplete upstream task under a complete
    one is left alone, as d6tflow did.

    >>> g = TaskGraph({'a': 0, 'b': 0, 'c': 0}, {'a': (), 'b': ('a',), 'c': ('b',)}, ('c',),
    ...               {'a': ('b',), 'b': ('c',), 'c': ()})
    >>> to_run(g, {'a': True, 'b': False, 'c': False})
    ['b', 'c']
    >>> to_run(g, {'a': False, 'b': True, 'c': True})
    []
    """
    forced = set(forced)
    pending = {k for k in graph.tasks if k in forced or not complete[k]}
    selected: set[str] = set()
    stack = [r for r in graph.roots if r in pending]
    while stack:
        key = stack.pop()
        if key not in selected:
            selected.add(key)
            stack.extend(d for d in graph.deps[key] if d in pending)
    return [k for k in graph.tasks if k in selected]


# -- the plan of one call ------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What one call (a run, a preview, an explanation) knows of a graph, resolved once:
    plain data, read by everything after it.

    Attributes
    ----------
    graph : TaskGraph
        The tasks by id, their edges and the requested roots.
    complete : mapping
        ``{task_id: complete}`` from one bulk status pass.
    exist : mapping
        ``{task_id: its own outputs exist}``.
    verdicts : mapping
        ``{task_id: what its manifest says}``, for tasks whose invalidation mode asks.
    forced : frozenset
        The tasks redone although complete.
    keys : tuple
        The tasks to run, dependencies first.
    """

    graph: TaskGraph
    complete: Mapping[str, bool]
    exist: Mapping[str, bool]
    verdicts: Mapping[str, manifests.Verdict]
    forced: frozenset[str] = frozenset()
    keys: tuple[str, ...] = ()

    @property
    def fresh(self) -> frozenset[str]:
        """The tasks to run whose outputs did not exist when the plan was made."""
        return frozenset(k for k in self.keys if not self.exist.get(k, False))

    @property
    def stale(self) -> frozenset[str]:
        """The tasks to run whose outputs exist but are not current for their code or
        inputs, and which are not forced (see :attr:`daskflow.manifests.Provenance.stale`)."""
        return frozenset(
            k
            for k in self.keys
            if self.exist.get(k, False)
            and k not in self.forced
            and k in self.verdicts
            and not self.verdicts[k].current
        )

    @functools.cached_property
    def files(self) -> Mapping[str, Files]:
        """``{task_id: the files it owns}``: outputs, side files, lease, manifests and
        temporaries (:mod:`daskflow.owned`; those of the tasks it yielded are in its
        manifest, which :func:`daskflow.owned.owned` reads)."""
        return MappingProxyType({k: files_of(t) for k, t in self.graph.tasks.items()})

    @functools.cached_property
    def earlier(self) -> Mapping[str, tuple[str, ...]]:
        """``{task_id: the names of its manifests}`` for the tasks to run whose outputs exist
        (a commit replaces them): one listing of each of their manifest folders."""
        redo = {k: self.graph.tasks[k] for k in self.keys if self.exist.get(k, False)}
        return MappingProxyType(manifests.earlier(redo) if redo else {})

    @property
    def commits(self) -> dict[str, str | None]:
        """The commit id each task's manifest names (for the manifests of its readers)."""
        return {k: v.commit for k, v in self.verdicts.items()}

    def __str__(self) -> str:
        run = set(self.keys)
        lines = [f"Plan: {len(self.graph)} tasks, {len(self.keys)} to run"]
        for key, task in self.graph.tasks.items():
            state = "COMPLETE" if self.complete[key] else "PENDING"
            marks = [m for m, on in (("forced", key in self.forced), ("runs", key in run)) if on]
            verdict = self.verdicts.get(key)
            if verdict is not None and not verdict.current:
                marks.append(verdict.reason)
            ups = ", ".join(self.graph.deps[key])
            lines.append(f"  {task!r} {state}{' ' + ' '.join(marks) if marks else ''}")
            if ups:
                lines.append(f"    <- {ups}")
        return "\n".join(lines)


def plan(graph: TaskGraph, forced: Iterable[str] = ()) -> Plan:
    """The plan of ``graph``: one status pass, and what a run would execute with ``forced``
    (task ids redone although complete: see :func:`forced_keys`)."""
    exist: dict[str, bool] = {}
    verdicts: dict[str, manifests.Verdict] = {}
    with no_cycle_collection():
        complete = graph.status(exist=exist, verdicts=verdicts)
        redo = frozenset(forced)
        keys = tuple(to_run(graph, complete, redo))
    return Plan(
        graph,
        MappingProxyType(complete),
        MappingProxyType(exist),
        MappingProxyType(verdicts),
        redo,
        keys,
    )


# -- preview ---------------------------------------------------------------------------------

_GREEN, _BLUE, _RED, _END = "\x1b[92m", "\x1b[94m", "\x1b[91m", "\x1b[0m"
PREVIEW_HEADER = "\n ===== daskflow Execution Preview ===== \n"


def _label(task: Task, state: str, show_params: bool, clip_params: bool, color: bool) -> str:
    params: Any = task.to_str_params(only_significant=True)
    if clip_params and len(params) > 1:
        first = next(iter(params.items()))
        params = f"{dict([first])}[more]"
    text = state
    if color:
        text = {"COMPLETE": _GREEN, "PENDING": _BLUE}.get(state, _RED) + state + _END
    return f"[{type(task).__name__}-{params if show_params else ''} ({text})]"


def preview_text(
    graph: TaskGraph,
    complete: Mapping[str, bool],
    *,
    indent: str = "",
    last: bool = True,
    show_params: bool = True,
    clip_params: bool = False,
    color: bool | None = None,
) -> str:
    """The preview tree of every root, d6tflow's layout::

        └─--[TaskTrain-{'do_preprocess': 'True'} (PENDING)]
           └─--[TaskPreprocess-{'do_preprocess': 'True'} (PENDING)]
              └─--[TaskGetData-{} (COMPLETE)]

    A task reached a second time is shown again, but its upstream tree only once (the repeat
    says ``(upstream shown above)``), so the text grows with the number of edges, not paths.
    Colour is used when stdout is a terminal, unless ``color`` says otherwise.
    """
    if color is None:
        color = sys.stdout.isatty()
    with no_cycle_collection():
        return _tree(graph, complete, indent, last, show_params, clip_params, color)


def _tree(
    graph: TaskGraph,
    complete: Mapping[str, bool],
    indent: str,
    last: bool,
    show_params: bool,
    clip_params: bool,
    color: bool,
) -> str:
    lines: list[str] = []
    expanded: set[str] = set()
    for root in graph.roots:
        stack: list[tuple[str, str, bool]] = [(root, indent, last)]
        while stack:
            key, ind, is_last = stack.pop()
            task = graph.tasks[key]
            state = "COMPLETE" if complete[key] else "PENDING"
            branch, child_ind = ("└─--", ind + "   ") if is_last else ("|--", ind + "|  ")
            label = _label(task, state, show_params, clip_params, color)
            children = graph.deps[key]
            if key in expanded and children:
                lines.append(f"{ind}{branch}{label} (upstream shown above)")
                continue
            expanded.add(key)
            lines.append(f"{ind}{branch}{label}")
            for i in reversed(range(len(children))):
                stack.append((children[i], child_ind, i == len(children) - 1))
        lines.append("")
    return PREVIEW_HEADER + "\n" + "\n".join(lines) + PREVIEW_HEADER


def forced_keys(
    graph: TaskGraph,
    forced: Iterable[Task | type[Task]] = (),
    forced_all: bool = False,
    forced_all_upstream: bool = False,
) -> set[str]:
    """The tasks a run redoes although they are complete, as d6tflow's run options say.

    ``forced_all_upstream``: every task. ``forced_all``: the roots. ``forced``: every task of
    the forced tasks' families and everything between them and the roots.
    """
    if forced_all_upstream:
        return set(graph.tasks)
    keys: set[str] = set(graph.roots) if forced_all else set()
    families = {t.task_family for t in forced}
    if families:
        hits = [k for k, t in graph.tasks.items() if t.task_family in families]
        keys |= downstream_of(graph, hits)
    return keys


def _status_with_upstream(task: Task, check: bool) -> bool:
    with no_cycle_collection():  # one pause for the build and the status pass
        return build([task]).status(check)[task.task_id]


def _closure(task: Task) -> list[Task]:
    return list(build([task]).tasks.values())


above.status = _status_with_upstream  # what Task.complete() and outputLoadAllMeta() ask
above.closure = _closure
