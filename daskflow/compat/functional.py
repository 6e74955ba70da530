"""d6tflow's functional API: pipeline steps written as decorated functions.

One module because it is mostly one class, :class:`Workflow`, whose decorators and methods
share the flow's steps and the parameters they last ran with.

Instead of a task class per step, a step is a function that takes the task and does what a
``run()`` method would; decorators of a :class:`Workflow` say how its outputs are stored,
what it needs and which parameters it takes::

    import pandas as pd
    import daskflow as d6tflow
    from daskflow.functional import Workflow

    flow = Workflow()

    @flow.task(d6tflow.tasks.TaskCache)
    @flow.persists(["a1", "a2"])
    def get_data(task):
        df = pd.DataFrame({"a": range(3)})
        task.save({"a1": df, "a2": df * task.multiplier})

    @flow.task(d6tflow.tasks.TaskPqPandas)
    @flow.requires({"raw": get_data})
    @flow.params(offset=d6tflow.IntParameter(default=0))
    def prepare(task):
        a1, a2 = task.inputLoad()["raw"]
        task.save(a1 + a2 + task.offset)

    flow.add_global_params(multiplier=d6tflow.IntParameter(default=1))
    flow.preview(prepare, params={"multiplier": 2})
    flow.run(prepare, params={"multiplier": 2})
    df = flow.outputLoad(prepare)

Each step becomes a real daskflow task class named after its function, a subclass of the
class given to ``@flow.task``: its outputs live in ``{root}/{function name}/``, its task id
is luigi's, and ``flow.steps["prepare"]`` is the class, usable anywhere a task class is.
Running delegates to :class:`daskflow.workflow.Workflow` (``WorkflowMulti`` for
``multi_params``), so every scheduler works: ``flow.run(prepare, scheduler=client)``.

Decorators
----------
``@flow.task(TaskType)``
    Makes the function a step; ``TaskType`` is a :class:`~daskflow.tasks.TaskData` subclass
    (``TaskCache``, ``TaskPickle``, ``TaskPqPandas``, ...). Every step needs it.
``@flow.requires(step, ...)`` / ``@flow.requires({"name": step, ...})``
    The steps this one needs, with their parameters inherited (``d6tflow.requires``).
``@flow.persists(["name", ...])``
    Several named outputs instead of the single ``data``.
``@flow.params(name=Parameter(...), ...)``
    Parameters of this step only.

The decorators of one function may come in any order: the class is made once all of them
have been seen, when the flow first needs it. ``flow.add_global_params(...)`` gives every
step a parameter, the steps decorated before the call as well as after it; a step's own
``@flow.params`` of the same name wins.

Invariants
----------
- A step class is rebuilt (a new class object) after any decorator or global parameter
  changes the flow, so each class has exactly the parameters it was declared with.
  Redefining a function of the same name (a notebook cell run again) replaces that step.
- Parameters are remembered per step: ``outputLoad``, ``preview`` and ``reset`` without
  ``params`` (or with ``{}``, as in d6tflow) use the parameters the step last ran with in
  this flow (``run`` remembers them for the steps it names and every step upstream of
  them); a step that has not run here uses its defaults.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import FunctionType, MappingProxyType
from typing import Any, TypeVar

from ..errors import MissingParameterError, TaskDefinitionError, WorkflowError
from ..execute import RunResult
from ..parameters import adopt
from ..targets import MemoryTarget, Target, data
from ..tasks import CONTEXT_ATTRS, Task, TaskData
from ..tasks import requires as _requires
from ..workflow import Workflow as _Flow
from ..workflow import WorkflowMulti as _FlowMulti

__all__ = ["Workflow"]

F = TypeVar("F", bound=Callable[..., Any])

# attribute names a parameter of a step cannot take: the task API's own
_RESERVED = frozenset(dir(TaskData)) | frozenset(CONTEXT_ATTRS) | {"param_kwargs", "task_id"}


@dataclass
class _Step:
    """What the decorators said about one function; its task class is made from this."""

    func: Callable[..., Any]
    task_type: type[TaskData] | None = None
    requires: list[str] | dict[str, str] | None = None
    persist: list[str] | None = None
    params: dict[str, Any] = field(default_factory=dict)  # name: parameter

    def required(self) -> list[str]:
        if isinstance(self.requires, dict):
            return list(self.requires.values())
        return list(self.requires or [])


@dataclass(frozen=True)
class _Ran:
    """The parameters a step last ran with: one set, or ``{flow name: set}``."""

    params: dict[str, Any] | None = None
    flows: dict[Any, dict[str, Any]] | None = None


def _same_function(step_func: Callable[..., Any], func: Callable[..., Any]) -> bool:
    """``func`` is ``step_func``, or wraps it (another decorator between the flow's)."""
    seen: Any = func
    while seen is not None:
        if seen is step_func:
            return True
        seen = getattr(seen, "__wrapped__", None)
    return False


def _check_function(func: Any, where: str) -> str:
    if not isinstance(func, FunctionType):
        raise TaskDefinitionError(
            f"@flow.{where} decorates a function such as `def step(task): ...`, "
            f"got {func!r} ({type(func).__name__})"
        )
    name = func.__name__
    if not name.isidentifier():
        raise TaskDefinitionError(
            f"@flow.{where}: a step is named after its function, and {name!r} is not a valid "
            "class name; use a `def` with a name"
        )
    return name


def _check_task_type(task_type: Any) -> type[TaskData]:
    if isinstance(task_type, type) and issubclass(task_type, TaskData):
        return task_type
    if isinstance(task_type, Task):
        hint = f"; pass the class {type(task_type).__name__}, not an instance"
    elif isinstance(task_type, type) and issubclass(task_type, Task):
        hint = f"; {task_type.__name__} stores no outputs"
    else:
        hint = ""
    raise TaskDefinitionError(
        "@flow.task expects a daskflow task class that stores outputs, a subclass of "
        "daskflow.tasks.TaskData such as TaskCache, TaskPickle or TaskPqPandas; "
        f"got {task_type!r}{hint}"
    )


def _check_params(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``params`` as given, each checked to be a parameter (daskflow's or luigi's, which
    the task class adopts when it collects its parameters)."""
    checked: dict[str, Any] = {}
    for name, value in params.items():
        param = adopt(value)
        if param is None:
            raise TaskDefinitionError(
                f"{where}: {name} must be a parameter such as "
                f"daskflow.IntParameter(default=...), got {value!r} ({type(value).__name__})"
            )
        if name in _RESERVED:
            raise TaskDefinitionError(
                f"{where}: a parameter cannot be called {name!r}, a name the task itself "
                "uses; choose another name"
            )
        checked[name] = value
    return checked


def _remove_folder(cls: type[TaskData]) -> None:
    """Delete everything under the output folder of ``cls``, on any storage, and its
    in-memory values."""
    probe = cls.__new__(cls)  # the folder does not depend on parameter values
    folder = probe._folder()
    for url in [u for u in data if u.startswith(f"{folder}/")]:
        MemoryTarget(url).remove()
    fs = Target(folder, "pickle", probe._storage_options()).fs
    with contextlib.suppress(FileNotFoundError):
        fs.rm(folder, recursive=True)
    fs.invalidate_cache()  # no stale listing of the folder survives


class Workflow:
    """A pipeline of steps written as functions, with d6tflow's decorators and methods.

    Methods take a step as its function or its name, and several as a list. Running,
    previewing, loading and resetting are those of :class:`daskflow.workflow.Workflow`.

    Attributes
    ----------
    steps : mapping
        ``{function name: task class}``, read-only.
    """

    def __init__(self) -> None:
        self._steps: dict[str, _Step] = {}
        self._global_params: dict[str, Any] = {}
        self._built: dict[str, type[TaskData]] = {}
        self._used: dict[str, list[dict[str, Any]]] = {}
        self._last: dict[str, _Ran] = {}

    def __repr__(self) -> str:
        return f"Workflow(steps={list(self._steps)})"

    # -- decorators ---------------------------------------------------------------------------

    def _decorator(self, where: str, update: Callable[[_Step, str], None]) -> Callable[[F], F]:
        def decorate(func: F) -> F:
            name = _check_function(func, where)
            step = self._steps.get(name)
            if step is None or not _same_function(step.func, func):
                step = self._steps[name] = _Step(func)  # a new step, or a redefinition
            step.func = func  # the outermost function is what runs
            update(step, name)
            self._built.clear()
            return func

        return decorate

    def task(self, task_type: type[TaskData]) -> Callable[[F], F]:
        """Make the decorated function ``f(task)`` a step whose outputs are stored by
        ``task_type``.

        Parameters
        ----------
        task_type : TaskData subclass
            ``daskflow.tasks.TaskCache``, ``TaskPickle``, ``TaskPqPandas``, ... or a subclass
            of one of them.

        Examples
        --------
        >>> flow = Workflow()
        >>> @flow.task(TaskData)
        ... def get_data(task):
        ...     task.save([1, 2, 3])
        >>> flow.steps["get_data"].__bases__ == (TaskData,)
        True
        """
        checked = _check_task_type(task_type)

        def set_type(step: _Step, name: str) -> None:
            if step.task_type is not None:
                raise TaskDefinitionError(
                    f"{name} has two @flow.task decorators ({step.task_type.__name__} and "
                    f"{checked.__name__}); keep one"
                )
            step.task_type = checked

        return self._decorator("task", set_type)

    def requires(self, *steps: Any, **named: Any) -> Callable[[F], F]:
        """The steps the decorated step needs: ``@flow.requires(get_data)``,
        ``@flow.requires(get_a, get_b)`` or ``@flow.requires({"a": get_a, "b": get_b})``.

        The step inherits their parameters, and ``task.inputLoad()`` gives their outputs in
        the same shape (one, a list, a dict).
        """
        parents: list[Any] | dict[str, Any]
        if len(steps) == 1 and isinstance(steps[0], Mapping) and not named:
            parents = dict(steps[0])
        elif named and not steps:
            parents = named
        elif steps and not named and not any(isinstance(f, Mapping) for f in steps):
            parents = list(steps)
        else:
            raise TaskDefinitionError(
                "@flow.requires takes steps, or one dict of them, e.g. "
                "@flow.requires(get_data) or @flow.requires({'a': get_a, 'b': get_b})"
            )
        names: list[str] | dict[str, str]
        if isinstance(parents, dict):
            names = {k: self._required(f) for k, f in parents.items()}
        else:
            names = [self._required(f) for f in parents]

        def set_requires(step: _Step, name: str) -> None:
            if step.requires is not None:
                raise TaskDefinitionError(
                    f"{name} has two @flow.requires decorators; list every step it needs in one"
                )
            required = names.values() if isinstance(names, dict) else names
            if name in required:
                raise TaskDefinitionError(f"{name} cannot require itself")
            step.requires = names

        return self._decorator("requires", set_requires)

    def _required(self, func: Any) -> str:
        name = self._name(func, "@flow.requires")
        if self._steps[name].task_type is None:
            raise TaskDefinitionError(
                f"@flow.requires({name}): {name} has no @flow.task(TaskType) decorator, so it "
                "is not a step yet"
            )
        return name

    def persists(self, to_persist: list[str]) -> Callable[[F], F]:
        """The names of the decorated step's outputs, e.g. ``@flow.persists(["x", "y"])``;
        the step then saves ``task.save({"x": ..., "y": ...})``."""
        if (
            not isinstance(to_persist, (list, tuple))
            or not to_persist
            or not all(isinstance(k, str) for k in to_persist)
        ):
            raise TaskDefinitionError(
                "@flow.persists expects a non-empty list of output names, e.g. "
                f"@flow.persists(['x', 'y']); got {to_persist!r}"
            )
        keys = list(to_persist)

        def set_persist(step: _Step, name: str) -> None:
            if step.persist is not None:
                raise TaskDefinitionError(
                    f"{name} has two @flow.persists decorators ({step.persist} and {keys}); "
                    "keep one"
                )
            step.persist = keys

        return self._decorator("persists", set_persist)

    def params(self, **params: Any) -> Callable[[F], F]:
        """Parameters of the decorated step only, e.g.
        ``@flow.params(multiplier=daskflow.IntParameter(default=2))``; the step reads
        ``task.multiplier``. See :meth:`add_global_params` for parameters of every step."""
        checked = _check_params(params, "@flow.params")

        def set_params(step: _Step, name: str) -> None:
            twice = sorted(set(step.params) & set(checked))
            if twice:
                raise TaskDefinitionError(f"{name}: parameter(s) {twice} declared twice")
            step.params.update(checked)

        return self._decorator("params", set_params)

    def add_global_params(self, **params: Any) -> None:
        """Give every step of the flow these parameters: the steps decorated so far and
        those decorated later. A step's own ``@flow.params`` of the same name wins.

        Example: ``flow.add_global_params(multiplier=daskflow.IntParameter(default=0))``.
        """
        self._global_params.update(_check_params(params, "add_global_params"))
        self._built.clear()

    # -- the task classes -----------------------------------------------------------------------

    @property
    def steps(self) -> Mapping[str, type[TaskData]]:
        """``{function name: task class}`` of every step, read-only."""
        return MappingProxyType({name: self._cls(name) for name in self._steps})

    def _name(self, func: Any, where: str) -> str:
        name = func if isinstance(func, str) else getattr(func, "__name__", None)
        if not isinstance(name, str) or name not in self._steps:
            known = ", ".join(self._steps) or "none yet"
            raise WorkflowError(
                f"{where}: {func!r} is not a step of this flow (its steps: {known}); make a "
                "function a step with @flow.task(TaskType)"
            )
        return name

    def _names(self, funcs: Any, where: str) -> list[str]:
        items = list(funcs) if isinstance(funcs, (list, tuple)) else [funcs]
        if not items:
            raise WorkflowError(f"{where}: got no steps; pass a step function or a list of them")
        return [self._name(f, where) for f in items]

    def _cls(self, name: str, path: tuple[str, ...] = ()) -> type[TaskData]:
        """The task class of step ``name``, made (with its upstream classes) if needed."""
        if name in self._built:
            return self._built[name]
        if name in path:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise TaskDefinitionError(f"steps require each other in a cycle: {cycle}")
        step = self._steps[name]
        if step.task_type is None:
            raise TaskDefinitionError(
                f"{name} has flow decorators but no @flow.task(TaskType); every step needs "
                "one, e.g. @flow.task(daskflow.tasks.TaskCache)"
            )
        func = step.func
        namespace: dict[str, Any] = {
            "__module__": func.__module__,
            "__qualname__": func.__qualname__,
            "__doc__": func.__doc__,
            "run": func,
        }
        namespace.update(self._global_params)
        namespace.update(step.params)  # a step's own parameter wins over a global one
        if step.persist is not None:
            namespace["persist"] = list(step.persist)
        cls = type(name, (step.task_type,), namespace)
        inner = (*path, name)
        if isinstance(step.requires, dict):
            parents = {k: self._cls(n, inner) for k, n in step.requires.items()}
            cls = _requires(parents)(cls)
        elif step.requires:
            cls = _requires(*(self._cls(n, inner) for n in step.requires))(cls)
        self._built[name] = cls
        return cls

    def _upstream(self, names: list[str]) -> list[str]:
        """``names`` and every step upstream of them, each once."""
        found: dict[str, None] = {}
        todo = list(names)
        while todo:
            name = todo.pop()
            if name not in found:
                found[name] = None
                todo.extend(self._steps[name].required())
        return list(found)

    # -- parameters ---------------------------------------------------------------------------

    @staticmethod
    def _given(params: Any, where: str) -> dict[str, Any] | None:
        """``params`` checked; None when not given or empty (for d6tflow, ``{}`` is none)."""
        if params is not None and not isinstance(params, Mapping):
            raise WorkflowError(
                f"{where}: params must be a dict {{parameter name: value}}, got {params!r}"
            )
        return dict(params) if params else None

    @staticmethod
    def _flow(params: Any, where: str) -> _Flow:
        return _Flow(params=Workflow._given(params, where))

    @staticmethod
    def _multi(params: Any, multi_params: Any, where: str) -> _FlowMulti:
        if not multi_params:
            raise WorkflowError(
                f"{where}: multi_params needs at least one parameter set, e.g. "
                "{'a': {'x': 1}, 'b': {'x': 2}}; for one set use params="
            )
        multi = _FlowMulti(params=multi_params)
        base = Workflow._given(params, where)
        if base:
            multi = _FlowMulti(params={k: {**base, **p} for k, p in multi.params.items()})
        return multi

    def _remember(self, names: list[str], ran: _Ran) -> None:
        sets = [ran.params] if ran.flows is None else list(ran.flows.values())
        for name in names:
            used = self._used.setdefault(name, [])
            used.extend(p for p in sets if p is not None and p not in used)
            self._last[name] = ran

    def _loader(self, name: str, params: Any, where: str) -> _Flow | _FlowMulti:
        """Where ``name``'s outputs are: ``params``, else those it last ran with here."""
        if self._given(params, where):
            return self._flow(params, where)
        ran = self._last.get(name, _Ran())
        if ran.flows is not None:
            return _FlowMulti(params=ran.flows)
        return self._flow(ran.params, where)

    def _param_sets(self, names: list[str], params: Any, where: str) -> list[_Flow]:
        """``params``, else every distinct parameter set ``names`` ran with (by task id),
        else the defaults."""
        if self._given(params, where):
            return [self._flow(params, where)]
        sets = [p for n in names for p in self._used.get(n, [])] or [{}]
        classes = [self._cls(n) for n in names]
        flows: dict[tuple[str, ...], _Flow] = {}
        for p in sets:
            flow = self._flow(p, where)
            with self._needs_params(names, where):
                ids = tuple(flow.get_task(c).task_id for c in classes)
            flows.setdefault(ids, flow)
        return list(flows.values())

    @contextlib.contextmanager
    def _needs_params(self, names: list[str], where: str) -> Iterator[None]:
        try:
            yield
        except MissingParameterError as e:
            ran = [n for n in names if n in self._last]
            how = "pass params={...}" if ran else "run it first or pass params={...}"
            raise MissingParameterError(f"{where}({', '.join(names)}): {e}; {how}") from e

    # -- running ------------------------------------------------------------------------------

    def run(
        self,
        funcs_to_run: Any,
        params: Mapping[str, Any] | None = None,
        multi_params: Any = None,
        forced: Any = None,
        forced_all: bool = False,
        forced_all_upstream: bool = False,
        confirm: bool = False,
        workers: int | None = None,
        abort: bool = True,
        execution_summary: bool | None = None,
        scheduler: Any = None,
    ) -> RunResult | dict[Any, RunResult] | None:
        """Run the step(s) and whatever upstream of them is missing.

        Parameters
        ----------
        funcs_to_run : step or list of steps
            The functions (or their names).
        params : dict, optional
            ``{parameter: value}`` for every step; steps ignore names they do not declare.
        multi_params : dict or list, optional
            Several parameter sets run as one graph (shared upstream steps run once):
            ``{flow name: params}``, a list of params, or a grid ``{param: [values]}``, as
            :class:`daskflow.WorkflowMulti` takes. ``params`` is added to every set.
        forced : step or list of steps, optional
            Redo these steps and everything between them and ``funcs_to_run``.
        forced_all, forced_all_upstream, confirm, workers, abort, execution_summary, scheduler
            As :meth:`daskflow.workflow.Workflow.run`.

        Returns
        -------
        RunResult; ``{flow name: RunResult}`` with ``multi_params``; None when ``confirm``
        was declined.
        """
        names = self._names(funcs_to_run, "run")
        classes = [self._cls(n) for n in names]
        options: dict[str, Any] = {
            "forced": None
            if forced is None
            else [self._cls(n) for n in self._names(forced, "run(forced=...)")],
            "forced_all": forced_all,
            "forced_all_upstream": forced_all_upstream,
            "confirm": confirm,
            "workers": workers,
            "abort": abort,
            "execution_summary": execution_summary,
            "scheduler": scheduler,
        }
        reached = self._upstream(names)
        if multi_params is not None:
            multi = self._multi(params, multi_params, "run")
            self._remember(reached, _Ran(flows=multi.params))
            result: RunResult | dict[Any, RunResult] | None = multi.run(classes, **options)
            return result
        flow = self._flow(params, "run")
        self._remember(reached, _Ran(params=flow.params))
        return flow.run(classes, **options)

    def preview(
        self,
        func_to_preview: Any,
        params: Mapping[str, Any] | None = None,
        show_params: bool = True,
        clip_params: bool = False,
    ) -> None:
        """Print the step's dependency tree with each task's status, for ``params``, else
        for every parameter set it ran with in this flow, else for its defaults."""
        names = self._names(func_to_preview, "preview")
        classes = [self._cls(n) for n in names]
        for flow in self._param_sets(names, params, "preview"):
            flow.preview(classes, show_params=show_params, clip_params=clip_params)

    # -- outputs ------------------------------------------------------------------------------

    def outputLoad(
        self,
        func_to_run: Any,
        keys: Any = None,
        as_dict: bool = False,
        cached: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Load the step's outputs (see :meth:`daskflow.tasks.TaskData.outputLoad` for
        ``keys``/``as_dict``/``cached``), for ``params`` or the parameters it last ran with;
        after a ``multi_params`` run, ``{flow name: outputs}``."""
        return self._load("outputLoad", func_to_run, keys, as_dict, cached, params)

    def outputLoadAll(
        self,
        func_to_run: Any,
        keys: Any = None,
        as_dict: bool = False,
        cached: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """``{step name: outputs}`` of the step and every step upstream of it; after a
        ``multi_params`` run, ``{flow name: {step name: outputs}}``."""
        return self._load("outputLoadAll", func_to_run, keys, as_dict, cached, params)

    def _load(
        self,
        method: str,
        func_to_run: Any,
        keys: Any,
        as_dict: bool,
        cached: bool,
        params: Mapping[str, Any] | None,
    ) -> Any:
        """``outputLoad`` or ``outputLoadAll`` of the flow the step ran in."""
        name = self._name(func_to_run, method)
        cls = self._cls(name)
        with self._needs_params([name], method):
            loader = self._loader(name, params, method)
            return getattr(loader, method)(cls, keys=keys, as_dict=as_dict, cached=cached)

    def reset(
        self, func_to_reset: Any, params: Mapping[str, Any] | None = None, confirm: bool = False
    ) -> bool | list[bool] | None:
        """Delete the step's outputs (only that step's).

        With ``params``, of that parameter set (returns a bool, False if ``confirm`` was
        declined); without, of every parameter set it ran with in this flow (returns a list
        of bools), or nothing, returning None, if it has not run here (as d6tflow).
        """
        name = self._name(func_to_reset, "reset")
        cls = self._cls(name)
        if self._given(params, "reset"):
            return self._flow(params, "reset").reset(cls, confirm=confirm)
        if name not in self._used:
            return None
        return [f.reset(cls, confirm=confirm) for f in self._param_sets([name], None, "reset")]

    def resetAll(self, confirm: bool = False) -> None:
        """Reset every step that has run in this flow, for every parameter set it ran with."""
        for name in self._steps:
            if name in self._used:
                self.reset(name, confirm=confirm)

    def delete(self, func_to_delete: Any) -> None:
        """Delete everything in the step's output folder ``{root}/{function name}/``: the
        outputs of every parameter set, including runs before this flow existed. (A task
        type that sets ``target_dir`` shares that folder; it is emptied as a whole.)"""
        _remove_folder(self._cls(self._name(func_to_delete, "delete")))

    def deleteAll(self) -> None:
        """:meth:`delete` every step of the flow."""
        for name in self._steps:
            self.delete(name)
