"""The task: parameters and identity, ``requires()`` and the context handed down, outputs,
``complete()``, ``reset()``, ``run()`` and the loads; and :class:`TaskAggregator`, the task
that only yields tasks, kept beside ``Task`` because ``Task.complete`` tells it apart."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, dataclass_transform

from .. import settings
from ..errors import (
    CompatibilityWarning,
    MissingParameterError,
    OutputKeyError,
    OutputNotFoundError,
    ParameterError,
    TaskDefinitionError,
    TaskIncompleteError,
)
from ..leases import remove_dead
from ..parameters import PRIVATE, Parameter, adopt, typed
from ..targets import Target, exists_many
from ..targets.leftovers import remove_temporaries
from .ids import task_id_str

__all__ = ["Task", "TaskAggregator", "above", "flatten", "root_of"]


@dataclass
class _Above:
    """What the task API d6tflow puts on the task (``complete()``, ``reset()``,
    ``outputLoadAllMeta()``) needs from the layers built on tasks, given by them as they are
    imported (``import daskflow`` imports them all): the graph's ``status`` of a task with its
    upstream closure and that ``closure``; the manifests' ``forget`` of a task's manifests.
    So this layer imports nothing above it."""

    status: Callable[[Task, bool], bool] | None = None
    closure: Callable[[Task], list[Task]] | None = None
    forget: Callable[[Task], None] | None = None

    def need(self, name: str) -> Any:
        given = getattr(self, name)
        if given is None:  # (only a layer imported on its own, without daskflow's package)
            raise RuntimeError(f"daskflow's {name} is not there: import daskflow first")
        return given


above = _Above()
"""Filled by :mod:`daskflow.graph` and :mod:`daskflow.manifests` when they are imported."""

CONTEXT_ATTRS = ("path", "flows", "storage_options")
_CONTEXT = frozenset(CONTEXT_ATTRS)


def flatten(struct: Any) -> list[Any]:
    """The leaves of a task/target structure: a single item, or nested lists/tuples/dicts.

    >>> flatten({'a': 1, 'b': [2, (3,)]})
    [1, 2, 3]
    >>> flatten(None)
    []
    """
    if struct is None:
        return []
    kind = type(struct)  # the common cases without an isinstance check against an ABC
    if kind is list or kind is tuple:
        return [x for v in struct for x in flatten(v)]
    if kind is dict or (not isinstance(struct, (Task, Target)) and isinstance(struct, Mapping)):
        return [x for v in struct.values() for x in flatten(v)]
    if isinstance(struct, (list, tuple)):
        return [x for v in struct for x in flatten(v)]
    return [struct]


def _map_structure(fn: Any, struct: Any) -> Any:
    kind = type(struct)
    if kind is list or kind is tuple:
        return [_map_structure(fn, v) for v in struct]
    if kind is dict or (not isinstance(struct, (Task, Target)) and isinstance(struct, Mapping)):
        return {k: _map_structure(fn, v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return [_map_structure(fn, v) for v in struct]
    return fn(struct)


@dataclass_transform(field_specifiers=(Parameter,))
class Task:
    """A unit of work identified by its class and parameters.

    Subclasses declare parameters as class attributes, and override ``requires()`` and
    ``run()``. Unknown keyword arguments are ignored, as in d6tflow, so one parameter dict can
    be passed to every task of a pipeline.

    Class attributes
    ----------------
    path : str, optional
        Root folder or URL of this class's outputs (instead of ``settings.dirpath``).
    external : bool
        Completeness does not look at upstream tasks (for tasks whose outputs come from
        elsewhere).
    task_namespace : str, optional
        Prefix of ``task_family`` (``"{namespace}.{ClassName}"``).
    retries : int
        How often a failing ``run()`` is tried again before the task counts as failed.
    resources : dict, optional
        Dask worker resources one run of the task needs, e.g. ``{"GPU": 1}``: on a
        distributed cluster it runs only on workers that have them.
    aggregates : bool
        Its ``run()`` only yields other tasks, whose outputs are its outputs; it has none of
        its own and is complete when they are (:class:`TaskAggregator`).
    """

    path: Any = None
    external: ClassVar[bool] = False
    task_namespace: ClassVar[str | None] = None
    retries: ClassVar[int] = 0
    resources: ClassVar[Mapping[str, float] | None] = None
    aggregates: ClassVar[bool] = False
    storage_options: Mapping[str, Any] | None = None
    task_family: ClassVar[str] = "Task"
    _params: ClassVar[dict[str, Parameter[Any]]] = {}
    _id_params: ClassVar[list[tuple[str, Parameter[Any]]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _collect_params(cls)
        ns = cls.__dict__.get("task_namespace", cls.task_namespace)
        cls.task_family = f"{ns}.{cls.__name__}" if ns else cls.__name__

    def __init__(
        self,
        *args: Any,
        path: Any = None,
        flows: Mapping[str, Any] | None = None,
        storage_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        cls = type(self)
        params = cls._params
        given: dict[str, Any] = {}
        if args:
            positional = [n for n, p in params.items() if p.positional]
            if len(args) > len(positional):
                raise ParameterError(
                    f"{cls.task_family} takes {len(positional)} positional parameter(s) "
                    f"{positional}, got {len(args)}: {args!r}"
                )
            given.update(zip(positional, args, strict=False))
        for name, value in kwargs.items():
            if name in params:
                if name in given:
                    raise ParameterError(f"{cls.task_family} got parameter {name!r} twice")
                given[name] = value
        values: dict[str, Any] = {}
        for name, param in params.items():
            if name in given:
                value = given[name]
            elif param.has_default:
                values[name] = _default_value(cls, name, param)
                continue
            else:
                raise MissingParameterError(
                    f"{cls.task_family} needs parameter {name!r} ({param.expected}), "
                    f"which has no default; pass it, e.g. {cls.__name__}({name}=...)"
                )
            try:
                values[name] = param.normalize(value)
            except ParameterError as e:
                raise ParameterError(f"{cls.task_family} parameter {name!r}: {e}") from None
        self.__dict__.update(values)
        self.param_kwargs: dict[str, Any] = values
        texts: dict[str, str] = {}
        hashed: dict[str, str] = {}
        for name, param in cls._id_params:
            value = values[name]
            texts[name] = text = param.serialize_value(value)
            if not param.always_exact and not param.exact(
                value, text
            ):  # (its text names another value too)
                hashed[name] = f"{text}\x1f{typed(value)}"
                _warn_inexact(cls, name, param)
        self.task_id: str = task_id_str(cls.task_family, texts, hashed)
        if path is not None:
            self.path = path
        if flows is not None:
            self.flows = dict(flows)
        if storage_options is not None:
            self.storage_options = dict(storage_options)

    # -- identity ---------------------------------------------------------------------------

    @classmethod
    def get_params(cls) -> list[tuple[str, Parameter[Any]]]:
        """``[(name, parameter)]`` in declaration order."""
        return list(cls._params.items())

    @classmethod
    def get_param_names(cls, include_significant: bool = False) -> list[str]:
        """Names of the parameters (only significant ones unless ``include_significant``)."""
        return [n for n, p in cls._params.items() if include_significant or p.significant]

    @classmethod
    def get_task_family(cls) -> str:
        return cls.task_family

    def to_str_params(
        self, only_significant: bool = False, only_public: bool = False
    ) -> dict[str, str]:
        """Parameter values as the strings the task id is made of."""
        return {
            name: p.serialize_value(self.param_kwargs[name])
            for name, p in self._params.items()
            if (p.significant or not only_significant)
            and (p.visibility == 0 or not only_public)
            and p.visibility != PRIVATE
        }

    _MEMOS = ("_outputs",)  # what a task keeps of its own resolution: made again, not pickled

    def __getstate__(self) -> dict[str, Any]:
        """The task's state without what it resolved for this process (its targets): a task
        sent to 10,000 workers' nodes pickles its parameters, not its outputs' objects."""
        state = self.__dict__
        if any(m in state for m in self._MEMOS):
            state = {k: v for k, v in state.items() if k not in self._MEMOS}
        return state

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{n}={p.serialize_value(self.param_kwargs[n])}"
            for n, p in self._params.items()
            if p.significant
        )
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Task) and type(other) is type(self) and other.task_id == self.task_id
        )

    def __hash__(self) -> int:
        return hash(self.task_id)

    def clone(self, cls: type[Task] | None = None, **kwargs: Any) -> Task:
        """A task of ``cls`` (default: this class) with this task's values for the
        parameters it shares, overridden by ``kwargs``."""
        cls = cls or type(self)
        values = {n: self.param_kwargs[n] for n in cls._params if n in self.param_kwargs}
        values.update(kwargs)
        return cls(**values)

    def clone_parent(self) -> Task:
        """The task of the first class given to ``@inherits``, with this task's parameters."""
        return self.clone(_inherited(self)[0])

    def clone_parents(self) -> list[Task]:
        """The tasks of every class given to ``@inherits``."""
        return [self.clone(c) for c in _inherited(self)]

    def clone_parents_dict(self) -> dict[str, Task]:
        """``{name: task}`` for ``@inherits({name: class, ...})``."""
        parents = getattr(type(self), "_inherits_from", None)
        if not isinstance(parents, Mapping):
            raise TaskDefinitionError(
                f"{type(self).__name__} has no @inherits({{name: class}}) to clone"
            )
        return {k: self.clone(c) for k, c in parents.items()}

    # -- dependencies -----------------------------------------------------------------------

    def requires(self) -> Any:
        """The tasks this one needs: a task, a list/tuple of tasks or a dict of them."""
        return []

    def _requires(self) -> Any:
        """``requires()`` checked, with this task's context (path, flows, ...) handed down."""
        req = self.requires()
        for t in flatten(req):
            if not isinstance(t, Task):
                hint = (
                    f"; did you mean {t.__name__}()?"
                    if isinstance(t, type) and issubclass(t, Task)
                    else ""
                )
                raise TaskDefinitionError(
                    f"{self!r}.requires() returned {t!r} ({type(t).__name__}); expected a task "
                    f"instance, or a list/tuple/dict of them{hint}"
                )
        if _CONTEXT.isdisjoint(self.__dict__):
            return req  # no context to hand down (the common case): no copy of the structure
        return _map_structure(self._hand_down, req)

    def _hand_down(self, child: Task) -> Task:
        inherit = [a for a in CONTEXT_ATTRS if a in self.__dict__ and a not in child.__dict__]
        if not inherit:
            return child
        child = copy.copy(child)
        for a in inherit:
            setattr(child, a, self.__dict__[a])
        return child

    def deps(self) -> list[Task]:
        """The tasks this one needs, as a flat list (with the context handed down)."""
        return flatten(self._requires())

    def input(self) -> Any:
        """The targets of the required tasks, in the shape of ``requires()``."""
        return _map_structure(lambda t: t.output(), self._requires())

    # -- outputs ----------------------------------------------------------------------------

    def output(self) -> Any:
        """This task's targets; none for a plain Task."""
        return None

    def output_targets(self) -> list[Target]:
        """This task's targets as a flat list."""
        return flatten(self.output())

    def own_targets(self) -> list[Target]:
        """The targets this task's own ``run()`` saves (a ``TaskAggregator`` has none: its
        outputs are the tasks' it yields)."""
        return self.output_targets()

    def side_targets(self) -> list[Target]:
        """The other files this task writes beside its outputs (``metaSave``'s), which it
        owns as it owns its outputs (:mod:`daskflow.owned`)."""
        return []

    def output_folder(self) -> str | None:
        """The one folder (or URL) where this task's stored outputs go, when its class puts
        them in one (:class:`~daskflow.tasks.TaskData`); else None."""
        return None

    def complete(self, cascade: bool = True) -> bool:
        """Whether the outputs exist, and (with ``settings.check_dependencies`` and
        ``cascade``) every upstream task is complete too."""
        check = cascade and settings.current("check_dependencies")
        if not check and not isinstance(self, TaskAggregator):
            targets = self.output_targets()  # a task without outputs is never complete
            return bool(targets) and all(exists_many(targets))
        return bool(above.need("status")(self, check))  # the whole upstream graph decides

    def reset(self, confirm: bool = False) -> bool:
        """Delete this task's outputs, its manifest, and temporaries a killed writer left
        beside them; with ``confirm=True`` ask first."""
        if confirm and not _confirm(f"Reset {self!r}?"):
            print("Reset cancelled")
            return False
        targets = self.output_targets()
        for target in targets:
            target.remove()
        remove_temporaries(targets)  # what a writer killed mid-save left beside them
        remove_dead(self.task_id, self.own_targets())  # a lease its killed holder left
        above.need("forget")(self)
        return True

    invalidate = reset  # d6tflow's older name

    # -- running ----------------------------------------------------------------------------

    def run(self) -> Any:
        """Compute and ``save`` the outputs. May ``yield`` tasks it needs at run time."""
        raise TaskDefinitionError(f"{type(self).__name__} has no run() method")

    def _load_own(self, keys: Any, as_dict: bool, cached: bool) -> Any:
        raise TaskDefinitionError(f"{self!r} has no outputs to load")

    def outputLoad(self, keys: Any = None, as_dict: bool = False, cached: bool = False) -> Any:
        """Load this task's outputs (see :meth:`TaskData.outputLoad`)."""
        if not self.complete():
            raise TaskIncompleteError(f"Cannot load {self!r}, task not complete, run flow first")
        return self._load_own(keys, as_dict, cached)

    def inputLoad(
        self, keys: Any = None, task: Any = None, cached: bool = False, as_dict: bool = False
    ) -> Any:
        """Load the outputs of the required tasks, in the shape of ``requires()``.

        Parameters
        ----------
        keys : str or list of str, optional
            Which outputs of multi-output upstream tasks.
        task : int or str, optional
            Load only one of the required tasks (its index or dict key).
        cached : bool
            Keep loaded file outputs in memory for later loads.
        as_dict : bool
            Multi-output upstream tasks give dicts instead of lists.
        """
        req = self._requires()
        if task is None and not flatten(req):
            message = (
                f"{self!r}.inputLoad(): {type(self).__name__} requires no task (its "
                f"requires() gives {req!r}), so there is nothing to load and it returns "
                f"{req!r}; declare requires() or @requires(...)"
            )
            if settings.current("strict"):
                raise TaskDefinitionError(f"{message} (settings.strict is on)")
            warnings.warn(message, CompatibilityWarning, stacklevel=2)
            return req
        if task is not None:
            try:
                req = req[task]
            except (KeyError, IndexError, TypeError):
                raise OutputKeyError(
                    f"{self!r}.inputLoad(task={task!r}): requires() has no such entry"
                ) from None
        if isinstance(req, Mapping):
            # as in d6tflow, keys pick required tasks by name here, each loaded whole
            names = list(req) if keys is None else [keys] if isinstance(keys, str) else keys
            unknown = [k for k in names if k not in req]
            if unknown:
                raise OutputKeyError(
                    f"{self!r}.inputLoad(keys={keys!r}): requires() has no {unknown}; "
                    f"it has {list(req)}"
                )
            loaded = {
                k: _map_structure(lambda t: self._load_input(t, None, as_dict, cached), req[k])
                for k in names
            }
            return loaded[keys] if isinstance(keys, str) and not as_dict else loaded
        return _map_structure(lambda t: self._load_input(t, keys, as_dict, cached), req)

    def _load_input(self, upstream: Task, keys: Any, as_dict: bool, cached: bool) -> Any:
        try:
            return upstream._load_own(keys, as_dict, cached)
        except OutputNotFoundError as e:
            raise OutputNotFoundError(
                f"{self!r} needs the output of {upstream!r}, which is not there ({e}); did "
                f"{type(upstream).__name__}.run() save it?"
            ) from e


def _default_value(cls: type[Task], name: str, param: Parameter[Any]) -> Any:
    """The normalized default of ``param``; a default written in the class that does not
    parse is normalized as luigi does (so task ids match d6tflow's), with a warning."""
    try:
        return param.normalize(param.default)
    except ParameterError as e:
        problem = (
            f"{cls.task_family} parameter {name!r} has a class default that does not parse: {e}"
        )
        if settings.current("strict"):
            raise ParameterError(f"{problem} (settings.strict is on)") from None
        value = param.normalize_default(param.default)
        try:
            param.serialize_value(value)
        except Exception:
            raise ParameterError(problem) from None
        where = (cls.__module__, cls.__qualname__, name)
        if where not in _warned_defaults:
            _warned_defaults.add(where)
            warnings.warn(
                f"{problem}; it is taken as {value!r}, as luigi (and so d6tflow) took it. Fix "
                "the default, or set daskflow.settings.strict = True to make this an error",
                CompatibilityWarning,
                stacklevel=3,
            )
        return value


_warned_defaults: set[tuple[str, str, str]] = set()


def _warn_inexact(cls: type[Task], name: str, param: Parameter[Any]) -> None:
    """Say once per parameter (the warning's text names no value) why its task ids differ
    from d6tflow's."""
    warnings.warn(
        f"{cls.task_family} parameter {name!r} ({type(param).__name__}) got a value whose "
        "text also names another value (5 and '5', True and 'True', {1: 'a'} and {'1': 'a'}); "
        "its task id also hashes the value's type, so it differs from the id d6tflow gave and "
        "outputs d6tflow wrote for it are not found. Declare the parameter with its type "
        "(IntParameter, BoolParameter, ...) or pass the text to keep d6tflow's id",
        CompatibilityWarning,
        stacklevel=4,
    )


def _collect_params(cls: type[Task]) -> None:
    found: dict[str, Parameter[Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            param = adopt(value)
            if param is not None:
                if not param.name:
                    param.name = name
                found[name] = param
            elif name in found:
                del found[name]  # a subclass replaced the parameter with something else
    cls._params = dict(sorted(found.items(), key=lambda kv: kv[1]._order))
    # the parameters the task id is made of (to_str_params(True, True)), found once
    cls._id_params = [(n, p) for n, p in cls._params.items() if p.significant and not p.visibility]


def _inherited(task: Task) -> list[type[Task]]:
    parents = getattr(type(task), "_inherits_from", None)
    if not parents:
        raise TaskDefinitionError(f"{type(task).__name__} has no @inherits classes to clone")
    return list(parents.values()) if isinstance(parents, Mapping) else list(parents)


def _confirm(question: str) -> bool:
    return input(f"{question} (y/n) ").strip().lower() == "y"


def root_of(path: Any, cls: type[Task] | None = None) -> str:
    """The root of outputs: ``path`` if given, else the class's own ``path``, else
    ``settings.dirpath``; without a trailing slash.

    >>> root_of("data/x/")
    'data/x'
    """
    root = path or (cls.path if cls is not None else None) or settings.current("dirpath")
    return str(root).rstrip("/") or "/"


class TaskAggregator(Task):
    """A task whose ``run()`` only yields other tasks: it is complete when they all are, and
    its outputs are theirs.

    ``run()`` is called once per instance: what it yields depends only on the parameters,
    and is kept in the instance (so it travels with it when pickled to a worker). The context
    handed down (``path``, ``flows``, ...) is applied to those tasks on each use, so a copy
    made to hand the aggregator a context yields the same tasks in that context.
    """

    aggregates = True

    def _requires(self) -> Any:
        return [*flatten(super()._requires()), *self._yielded()]

    def _yielded(self) -> list[Task]:
        tasks: list[Task] | None = self.__dict__.get("_yielded_tasks")
        if tasks is None:
            tasks = self.__dict__["_yielded_tasks"] = flatten(list(self.run()))
        return [self._hand_down(t) for t in tasks]

    def run(self) -> Iterator[Task]:
        raise TaskDefinitionError(f"{type(self).__name__}.run() must yield tasks")

    def output(self) -> list[Any]:
        return [t.output() for t in self._yielded()]

    def own_targets(self) -> list[Target]:
        return []

    def _load_own(self, keys: Any, as_dict: bool, cached: bool) -> Any:
        return [t._load_own(keys, as_dict, cached) for t in self._yielded()]

    def reset(self, confirm: bool = False) -> bool:
        if confirm and not _confirm(f"Reset {self!r} and the tasks it yields?"):
            return False
        for t in self._yielded():
            t.reset()
        return True

    invalidate = reset
