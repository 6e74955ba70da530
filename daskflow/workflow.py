"""``Workflow`` and ``WorkflowMulti``: a default task class plus parameters, and the d6tflow
methods to preview, run, load and reset it; and the top-level functions on task instances.

A ``Workflow`` holds a task *class* and a parameter dict, and makes instances on demand; one
parameter dict serves every task of the pipeline (tasks ignore parameters they do not
declare). ``path=`` and ``env=`` set the root of the outputs of that workflow's tasks only:
they are handed to the tasks its tasks require, never to other instances.

Kept in one module: ``WorkflowMulti`` holds one ``Workflow`` per parameter set and answers
each method through them, and both share their helpers with the top-level functions.
"""

from __future__ import annotations

import difflib
import itertools
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import settings
from .errors import CompatibilityWarning, NoDefaultTaskError, TaskIncompleteError, WorkflowError
from .execute import RunResult, check_tasks
from .execute import run as _run
from .explain import accept as accept_outputs
from .explain import explain as explain_text
from .graph import (
    TaskGraph,
    build,
    downstream_of,
    no_cycle_collection,
    plan,
    preview_text,
    upstream_of,
)
from .tasks import Task, TaskData, _confirm, root_of
from .visualize import Picture

__all__ = [
    "Workflow",
    "WorkflowMulti",
    "invalidate_downstream",
    "invalidate_upstream",
    "preview",
    "run",
    "show",
    "taskflow_downstream",
    "taskflow_upstream",
]


def preview(
    tasks: Any,
    indent: str = "",
    last: bool = True,
    show_params: bool = True,
    clip_params: bool = False,
) -> None:
    """Print the dependency tree of ``tasks`` (instances) with each task's status."""
    _print_preview(build(check_tasks(tasks)), indent, last, show_params, clip_params)


def _print_preview(
    graph: TaskGraph,
    indent: str,
    last: bool,
    show_params: bool,
    clip_params: bool,
    complete: Mapping[str, bool] | None = None,
) -> None:
    print(
        preview_text(
            graph,
            graph.status() if complete is None else complete,
            indent=indent,
            last=last,
            show_params=show_params,
            clip_params=clip_params,
        )
    )


show = preview  # d6tflow's other name


run = _run


def taskflow_upstream(task: Task, only_complete: bool = False) -> list[Task]:
    """``task`` and every task upstream of it, the task first."""
    graph = build([task])
    keys = list(graph.tasks)[::-1]
    if only_complete:
        status = graph.status()
        keys = [k for k in keys if status[k]]
    return [graph.tasks[k] for k in keys]


def taskflow_downstream(
    task: Task, task_downstream: Task, only_complete: bool = False
) -> list[Task]:
    """The tasks of ``task_downstream``'s graph on a path from ``task``'s family to it."""
    graph = build([task_downstream])
    hits = [k for k, t in graph.tasks.items() if t.task_family == task.task_family]
    keys = [k for k in graph.tasks if k in downstream_of(graph, hits)]
    if only_complete:
        status = graph.status()
        keys = [k for k in keys if status[k]]
    return [graph.tasks[k] for k in keys]


def _reset_all(tasks: list[Task], confirm: bool) -> bool:
    if not tasks:
        print("no tasks to invalidate")
        return True
    if confirm and not _confirm(
        "Confirm invalidating tasks:\n  " + "\n  ".join(map(repr, tasks)) + "\n"
    ):
        print("Reset cancelled")
        return False
    for t in tasks:
        t.reset()
    return True


def invalidate_upstream(task: Task, confirm: bool = False) -> bool:
    """Reset ``task`` and every task upstream of it."""
    return _reset_all(taskflow_upstream(check_tasks(task)[0]), confirm)


def invalidate_downstream(task: Task, task_downstream: Task, confirm: bool = False) -> bool:
    """Reset the complete tasks on every path from ``task``'s family to ``task_downstream``."""
    return _reset_all(taskflow_downstream(task, task_downstream, only_complete=True), confirm)


def _check_class(task: Any, where: str) -> type[Task]:
    if isinstance(task, type) and issubclass(task, Task):
        return task
    if isinstance(task, Task):
        raise WorkflowError(
            f"{where} expects a task class, got the instance {task!r}; "
            f"pass {type(task).__name__} (the class), not {type(task).__name__}()"
        )
    raise WorkflowError(f"{where} expects a task class, got {task!r} ({type(task).__name__})")


def _draw(graph: TaskGraph, last: RunResult | None, filename: str | Path | None) -> Any:
    failed = set(last.errors) if last is not None else set()
    picture = Picture(graph, graph.status(), failed)
    return picture if filename is None else picture.save(filename)


def _declared(graph: TaskGraph) -> set[str]:
    """The parameter names the tasks of ``graph`` declare."""
    return {n for cls in {type(t) for t in graph.tasks.values()} for n in cls._params}


def _check_env(env: Any) -> str | None:
    """``env`` if it is one folder name: it may never lead out of the flow's root."""
    if env is None:
        return None
    text = str(env)
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise WorkflowError(
            f"Workflow env must be one folder name (it becomes env={{env}} under the root), "
            f"got {env!r}"
        )
    return text


def _classes(tasks: Any, default: type[Task] | None, where: str) -> list[type[Task]]:
    if tasks is None:
        if default is None:
            raise NoDefaultTaskError(
                f"{where}: this flow has no default task; pass a task class, e.g. "
                "flow.run(TaskTrain), or set one with flow.set_default(TaskTrain)"
            )
        return [default]
    items = list(tasks) if isinstance(tasks, (list, tuple)) else [tasks]
    return [_check_class(t, where) for t in items]


class Workflow:
    """A pipeline: a default task class, its parameters, and where its outputs go.

    Parameters
    ----------
    task : task class, optional
        The default task of every method (pass the class, not an instance). A flow may be
        made without one (``Workflow(params={...})`` or, as d6tflow allowed,
        ``Workflow({...})`` with the parameters first) and given a task later, per call or
        with :meth:`set_default`.
    params : dict, optional
        Parameters for every task of the flow; tasks ignore names they do not declare.
    path : str, optional
        Root of this flow's outputs (default: the class's ``path`` or ``settings.dirpath``).
    env : str, optional
        Adds a folder ``env={env}`` under the root, to keep environments apart.
    storage_options : dict, optional
        fsspec options for this flow's outputs (credentials, endpoint, ...), over
        ``settings.storage_options``.
    """

    def __init__(
        self,
        task: type[Task] | None = None,
        params: Mapping[str, Any] | None = None,
        path: str | Path | None = None,
        env: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(task, Mapping) and params is None:  # Workflow({...}): params first
            task, params = None, task
        if task is not None:
            _check_class(task, "Workflow")
        if params is not None and not isinstance(params, Mapping):
            raise WorkflowError(f"Workflow params must be a dict, got {params!r}")
        self.default_task = task
        self.params: dict[str, Any] = dict(params or {})
        self.path = path
        self.env = _check_env(env)
        self.storage_options = None if storage_options is None else dict(storage_options)
        self.flows: dict[str, Any] = {}
        self.last_result: RunResult | None = None
        self._unknown_told: set[Any] = set()  # parameters no task declares, checked once
        self._known: set[Any] = set()  # ... and those one does

    def __repr__(self) -> str:
        name = self.default_task.__name__ if self.default_task else None
        return f"Workflow({name}, {self.params!r})"

    def set_default(self, task: type[Task]) -> None:
        """Make ``task`` the default task class."""
        self.default_task = _check_class(task, "set_default")

    def attach_flow(self, flow: Any = None, flow_name: str = "flow") -> None:
        """Make ``flow`` reachable from this flow's tasks as ``self.flows[flow_name]``."""
        self.flows[flow_name] = flow

    def _root(self) -> Any:
        """The root of every task of this flow, or None to leave each task its own.

        As in d6tflow, a flow's ``path`` or ``env`` places *every* task of the flow under
        one root, over a task class's own ``path``; with ``env`` alone that root is the
        default task's ``path`` (else ``settings.dirpath``) plus ``env={env}``.
        """
        if self.env is None:
            return self.path
        return f"{root_of(self.path, self.default_task)}/env={self.env}"

    def get_task(self, task: Any = None) -> Task:
        """The instance of ``task`` (default: the default task) with this flow's parameters."""
        cls = _classes(task, self.default_task, "get_task")[0]
        return cls(
            **self.params,
            path=self._root(),
            flows=self.flows or None,
            storage_options=self.storage_options,
        )

    def _tasks(self, tasks: Any) -> list[Task]:
        if isinstance(tasks, Task) or (
            isinstance(tasks, (list, tuple)) and tasks and all(isinstance(t, Task) for t in tasks)
        ):
            return check_tasks(tasks)
        return [self.get_task(c) for c in _classes(tasks, self.default_task, "Workflow")]

    def preview(
        self,
        tasks: Any = None,
        indent: str = "",
        last: bool = True,
        show_params: bool = True,
        clip_params: bool = False,
        explain: bool = False,
    ) -> None:
        """Print the dependency tree with each task's status (COMPLETE / PENDING); with
        ``explain``, then why each pending task would run (see *Why a task runs* in the
        README)."""
        with no_cycle_collection():  # one pause for the build, status pass and tree
            graph = build(self._tasks(tasks))
            self._check_params(graph)
            seen = plan(graph) if explain else None  # one status pass for both
            _print_preview(
                graph, indent, last, show_params, clip_params, seen.complete if seen else None
            )
            if seen is not None:
                print(explain_text(graph, seen=seen), end="")

    def accept(self, tasks: Any = None) -> list[Task]:
        """Take the outputs of the flow's tasks (or of ``tasks`` and everything upstream of
        them) as current without running them: record the current code and inputs in their
        manifests, for outputs that are right although the code changed (a refactor) or that
        d6tflow made. The tasks accepted."""
        return accept_outputs(build(self._tasks(tasks)))

    def _check_params(self, graph: TaskGraph) -> None:
        """Warn, once per flow and name, about a parameter that no task of the flow declares
        (naming the declared one it is close to, if any: a typo). d6tflow ignored them
        silently; the CLI refuses every unknown name, and so does ``settings.strict``."""
        declared = _declared(graph) | self._known
        unknown = [n for n in self.params if n not in declared and n not in self._unknown_told]
        if unknown and self.default_task is not None:  # run for part of the flow: whole flow
            declared |= _declared(build([self.get_task()]))
        self._known |= declared & set(self.params)
        for name in unknown:
            if name in declared:
                continue
            close = difflib.get_close_matches(str(name), sorted(declared), n=1)
            message = (
                f"{self!r}: no task of the flow declares a parameter {name!r}, so it is ignored."
            )
            if close:
                message += f" Did you mean {close[0]!r}?"
            message += f" Its tasks declare: {', '.join(sorted(declared)) or 'none'}."
            if settings.current("strict"):
                raise WorkflowError(f"{message} (settings.strict is on)")
            self._unknown_told.add(name)
            if not close:
                message += " (A params dict shared by several flows may hold it on purpose.)"
            warnings.warn(message, CompatibilityWarning, stacklevel=3)

    def run(
        self,
        tasks: Any = None,
        forced: Any = None,
        forced_all: bool = False,
        forced_all_upstream: bool = False,
        confirm: bool = False,
        workers: int | None = None,
        abort: bool = True,
        execution_summary: bool | None = None,
        scheduler: Any = None,
    ) -> RunResult | None:
        """Run the task(s) and whatever upstream of them is missing.

        ``forced`` takes task classes or instances; see :func:`daskflow.run` for the rest.
        """
        forced_tasks = None if forced is None else self._tasks(forced)
        roots = self._tasks(tasks)
        with no_cycle_collection():
            graph = build(roots)
            self._check_params(graph)
        self.last_result = _run(
            roots,
            graph=graph,
            forced=forced_tasks,
            forced_all=forced_all,
            forced_all_upstream=forced_all_upstream,
            confirm=confirm,
            workers=workers,
            abort=abort,
            execution_summary=execution_summary,
            scheduler=scheduler,
        )
        return self.last_result

    def visualize(self, filename: str | Path | None = None, tasks: Any = None) -> Any:
        """Draw the flow, each task coloured complete, pending or failed (in the last run).

        With ``filename`` write it there and return the path (``.svg`` and ``.html`` always;
        ``.png``, ``.pdf`` and graphviz's other formats need graphviz); without, return a
        picture that a notebook shows inline.
        """
        return _draw(build(self._tasks(tasks)), self.last_result, filename)

    def outputLoad(
        self, task: Any = None, keys: Any = None, as_dict: bool = False, cached: bool = False
    ) -> Any:
        """Load the outputs of the task (default: the default task)."""
        return self.get_task(task).outputLoad(keys=keys, as_dict=as_dict, cached=cached)

    def outputLoadAll(
        self, task: Any = None, keys: Any = None, as_dict: bool = False, cached: bool = False
    ) -> dict[str, Any]:
        """``{class name: outputs}`` of the task and every task upstream of it.

        A class that appears with several parameter sets is keyed by task id instead.
        """
        graph = build([self.get_task(task)])
        complete = graph.status()  # one status pass for the whole graph
        tasks = [t for t in list(graph.tasks.values())[::-1] if isinstance(t, TaskData)]
        names = [type(t).__name__ for t in tasks]
        loaded = {}
        for name, t in zip(names, tasks, strict=True):
            t._check_keys(keys)
            if not complete[t.task_id]:
                raise TaskIncompleteError(f"Cannot load {t!r}, task not complete, run flow first")
            loaded[name if names.count(name) == 1 else t.task_id] = t._load_own(
                keys, as_dict, cached
            )
        return loaded

    def outputLoadMeta(self, task: Any = None) -> Any:
        """The metadata the task saved with ``metaSave``."""
        return self.get_task(task).outputLoadMeta()  # type: ignore[attr-defined]

    def output(self, task: Any = None) -> Any:
        """The task's target, or ``{name: target}`` for several outputs."""
        return self.get_task(task).output()

    def outputPath(self, task: Any = None) -> Any:
        """The path of the task's output, or ``{name: path}`` for several outputs."""
        out = self.output(task)
        if isinstance(out, Mapping):
            return {k: t.path for k, t in out.items()}
        if isinstance(out, list):
            return [o.path for o in out]
        return out.path

    def complete(self, task: Any = None) -> bool:
        """Whether the task is complete."""
        return self.get_task(task).complete()

    def reset(self, task: Any = None, confirm: bool = False) -> bool:
        """Delete the outputs of the task (only that task)."""
        return self.get_task(task).reset(confirm=confirm)

    def reset_upstream(self, task: Any = None, confirm: bool = False) -> bool:
        """Delete the outputs of the task and every task upstream of it."""
        return invalidate_upstream(self.get_task(task), confirm=confirm)

    def reset_downstream(
        self, task: Any = None, task_downstream: Any = None, confirm: bool = False
    ) -> bool:
        """Delete the outputs of every complete task from ``task``'s family down to
        ``task_downstream`` (default: the default task)."""
        return invalidate_downstream(
            self.get_task(task), self.get_task(task_downstream), confirm=confirm
        )


def _flow_params(params: Any) -> dict[Any, dict[str, Any]]:
    if not params:
        raise WorkflowError("Need to pass task parameters or use daskflow.Workflow")
    if isinstance(params, (list, tuple)):
        if not all(isinstance(p, Mapping) for p in params):
            raise WorkflowError(f"WorkflowMulti params list must hold dicts, got {params!r}")
        return {i: dict(p) for i, p in enumerate(params)}
    if not isinstance(params, Mapping):
        raise WorkflowError(
            "WorkflowMulti params must be {flow name: params}, a list of params, or a grid "
            f"{{param: [values]}}; got {params!r}"
        )
    values = list(params.values())
    if all(isinstance(v, Mapping) for v in values):
        return {name: dict(p) for name, p in params.items()}
    if all(isinstance(v, (list, tuple)) for v in values):
        names = sorted(params)
        grid = itertools.product(*(params[n] for n in names))
        return {
            "_".join(f"{n}_{v}" for n, v in zip(names, combo, strict=True)): dict(
                zip(names, combo, strict=True)
            )
            for combo in grid
        }
    raise WorkflowError(
        "WorkflowMulti params must be all dicts ({flow name: params}) or all lists (a grid "
        f"{{param: [values]}}); got {params!r}"
    )


class WorkflowMulti:
    """Several flows of the same task class with different parameters, run as one graph.

    Parameters
    ----------
    task : task class, optional
        The default task.
    params : dict or list
        ``{flow name: params}``, a list of params (flows named 0, 1, ...), or a grid
        ``{param: [values]}`` (flows named ``param_value_...``, one per combination).
    path, env, storage_options
        As for :class:`Workflow`, for every flow.
    """

    def __init__(
        self,
        task: type[Task] | None = None,
        params: Any = None,
        path: str | Path | None = None,
        env: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(task, (Mapping, list)) and params is None:  # params first, as Workflow
            task, params = None, task
        self.params = _flow_params(params)
        self.default_task = None if task is None else _check_class(task, "WorkflowMulti")
        self.workflow_objs = {
            name: Workflow(task, p, path=path, env=env, storage_options=storage_options)
            for name, p in self.params.items()
        }
        self.last_result: RunResult | None = None

    def _flows(self, flow: Any) -> dict[Any, Workflow]:
        if flow is None:
            return self.workflow_objs
        return {flow: self.get_flow(flow)}

    def _each(self, flow: Any, fn: Any) -> Any:
        answers = {name: fn(wf) for name, wf in self._flows(flow).items()}
        return answers[flow] if flow is not None else answers

    def get_flow(self, flow: Any) -> Workflow:
        """The :class:`Workflow` called ``flow``."""
        try:
            return self.workflow_objs[flow]
        except KeyError:
            raise WorkflowError(
                f"no flow named {flow!r}; flows: {list(self.workflow_objs)}"
            ) from None

    def set_default(self, task: type[Task]) -> None:
        self.default_task = _check_class(task, "set_default")
        for wf in self.workflow_objs.values():
            wf.set_default(task)

    def get_task(self, task: Any = None, flow: Any = None) -> Any:
        return self._each(flow, lambda wf: wf.get_task(task))

    def preview(
        self,
        tasks: Any = None,
        flow: Any = None,
        indent: str = "",
        last: bool = True,
        show_params: bool = True,
        clip_params: bool = False,
    ) -> Any:
        return self._each(
            flow, lambda wf: wf.preview(tasks, indent, last, show_params, clip_params)
        )

    def run(
        self,
        tasks: Any = None,
        flow: Any = None,
        forced: Any = None,
        forced_all: bool = False,
        forced_all_upstream: bool = False,
        confirm: bool = False,
        workers: int | None = None,
        abort: bool = True,
        execution_summary: bool | None = None,
        scheduler: Any = None,
    ) -> Any:
        """Run every flow (or ``flow``) as one graph: shared upstream tasks run once and
        independent flows side by side. Returns ``{flow: RunResult}`` (or one result)."""
        flows = self._flows(flow)
        roots = {name: wf._tasks(tasks) for name, wf in flows.items()}
        forced_tasks = None
        if forced is not None:
            forced_tasks = [t for wf in flows.values() for t in wf._tasks(forced)]
        everything = [t for ts in roots.values() for t in ts]
        graph = build(everything)  # one graph for all flows, built once
        for wf in flows.values():
            wf._check_params(graph)
        result = _run(
            everything,
            graph=graph,
            forced=forced_tasks,
            forced_all=forced_all,
            forced_all_upstream=forced_all_upstream,
            confirm=confirm,
            workers=workers,
            abort=abort,
            execution_summary=execution_summary,
            scheduler=scheduler,
        )
        if result is None:
            return None
        self.last_result = result
        per_flow = {
            name: result.subset(upstream_of(graph, [t.task_id for t in ts]))
            for name, ts in roots.items()
        }
        return per_flow[flow] if flow is not None else per_flow

    def visualize(
        self, filename: str | Path | None = None, tasks: Any = None, flow: Any = None
    ) -> Any:
        """Draw every flow (or ``flow``) as one graph, shared tasks once, as
        :meth:`Workflow.visualize` draws one."""
        flows = self._flows(flow)
        graph = build([t for wf in flows.values() for t in wf._tasks(tasks)])
        return _draw(graph, self.last_result, filename)

    def outputLoad(
        self,
        task: Any = None,
        flow: Any = None,
        keys: Any = None,
        as_dict: bool = False,
        cached: bool = False,
    ) -> Any:
        return self._each(flow, lambda wf: wf.outputLoad(task, keys, as_dict, cached))

    def outputLoadAll(
        self,
        task: Any = None,
        flow: Any = None,
        keys: Any = None,
        as_dict: bool = False,
        cached: bool = False,
    ) -> Any:
        return self._each(flow, lambda wf: wf.outputLoadAll(task, keys, as_dict, cached))

    def outputLoadMeta(self, task: Any = None, flow: Any = None) -> Any:
        return self._each(flow, lambda wf: wf.outputLoadMeta(task))

    def outputPath(self, task: Any = None, flow: Any = None) -> Any:
        return self._each(flow, lambda wf: wf.outputPath(task))

    def output(self, task: Any = None, flow: Any = None) -> Any:
        return self._each(flow, lambda wf: wf.output(task))

    def complete(self, task: Any = None, flow: Any = None) -> Any:
        return self._each(flow, lambda wf: wf.complete(task))

    def reset(self, task: Any = None, flow: Any = None, confirm: bool = False) -> Any:
        return self._each(flow, lambda wf: wf.reset(task, confirm))

    def reset_upstream(self, task: Any = None, flow: Any = None, confirm: bool = False) -> Any:
        return self._each(flow, lambda wf: wf.reset_upstream(task, confirm))

    def reset_downstream(
        self, task: Any = None, flow: Any = None, confirm: bool = False, task_downstream: Any = None
    ) -> Any:
        return self._each(flow, lambda wf: wf.reset_downstream(task, task_downstream, confirm))
