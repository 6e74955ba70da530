"""Tasks: typed parameters, identity, ``requires()``, outputs, ``complete()`` and ``run()``.

A task class declares parameters as class attributes, says what it needs in ``requires()``,
what it makes in ``run()``, and how its outputs are stored by the base it derives from::

    class TaskTrain(daskflow.tasks.TaskPickle):
        do_preprocess = daskflow.BoolParameter(default=True)

        def requires(self):
            return TaskPreprocess(do_preprocess=self.do_preprocess)

        def run(self):
            df = self.inputLoad()
            self.save(train(df))

Invariants
----------
- A task instance is a value: its class plus its normalized parameters. Parameters are set
  once in ``__init__``; two instances with equal parameters are equal and have the same
  ``task_id``. There is no instance cache and no registry of classes: creating ``A(x=1)`` twice
  gives two equal objects, and nothing one instance is given leaks into another.
- ``task_id`` is luigi's: ``{family}_{param summary}_{md5(canonical JSON)[:10]}``, so outputs
  written by d6tflow are found here and the reverse. It is also the task's Dask key.
- Outputs live at ``{root}/{target_dir or family}/{task_id}-{key}.{ext}``; ``root`` is the
  instance's ``path`` (given to it or inherited from the task that required it, e.g. from a
  ``Workflow``), else the class's ``path``, else ``settings.dirpath``.
- ``path``, ``flows`` and ``storage_options`` given to a task flow down to the tasks its
  ``requires()`` returns (unless those set their own), as d6tflow's ``Workflow`` did by
  mutating shared instances -- here without touching any other instance.

This module never imports dask: a task is plain Python, picklable to any worker.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, dataclass_transform

from .. import settings
from ..errors import (
    CompatibilityWarning,
    MissingParameterError,
    OutputKeyError,
    OutputNotFoundError,
    ParameterError,
    SaveError,
    TaskDefinitionError,
    TaskIncompleteError,
)
from ..parameters import PRIVATE, Parameter, adopt
from ..targets import (
    CacheTarget,
    CSVGZPandasTarget,
    CSVPandasTarget,
    DataTarget,
    ExcelPandasTarget,
    JsonTarget,
    PdCacheTarget,
    PickleTarget,
    PqPandasTarget,
    Target,
    exists_many,
    make_target,
)

__all__ = [
    "Task",
    "TaskAggregator",
    "TaskCSVDask",
    "TaskCSVGZPandas",
    "TaskCSVPandas",
    "TaskCache",
    "TaskCachePandas",
    "TaskData",
    "TaskExcelPandas",
    "TaskJson",
    "TaskPickle",
    "TaskPqDask",
    "TaskPqPandas",
    "flatten",
    "inherits",
    "requires",
    "root_of",
    "task_id_str",
]

TASK_ID_INCLUDE_PARAMS = 20
TASK_ID_TRUNCATE_PARAMS = 64
TASK_ID_TRUNCATE_HASH = 10
_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_]")
_KEY = re.compile(r"[A-Za-z0-9_.=+-]+")
CONTEXT_ATTRS = ("path", "flows", "storage_options")
_json_str = json.encoder.encode_basestring_ascii  # what json.dumps uses


def task_id_str(family: str, str_params: Mapping[str, str]) -> str:
    """luigi's task id: family, a readable summary of the values, and a hash of all of them.

    >>> task_id_str('TaskA', {})
    'TaskA__99914b932b'
    >>> task_id_str('TaskA', {'do_preprocess': 'True', 'model': 'ols x/y'})
    'TaskA_True_ols_x_y_f7cb647d0a'
    """
    names = sorted(str_params)
    # json.dumps(params, separators=(",", ":"), sort_keys=True), written out: the values
    # are strings, and this runs once per task instance
    pairs = ",".join(f"{_json_str(n)}:{_json_str(str_params[n])}" for n in names)
    canonical = "{" + pairs + "}"
    digest = hashlib.md5(canonical.encode("utf-8")).hexdigest()
    names = names[:TASK_ID_INCLUDE_PARAMS]
    summary = "_".join(str_params[n][:TASK_ID_TRUNCATE_PARAMS] for n in names)
    summary = _INVALID_CHARS.sub("_", summary)
    return f"{family}_{summary}_{digest[:TASK_ID_TRUNCATE_HASH]}"


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


class _DefaultExt:
    """``TaskData.target_ext`` when no class sets it: computed from the class's format (see
    :func:`_default_ext`), so a base never restates the extension its format has. Only a
    default: a class or an instance that sets ``target_ext`` shadows it."""

    def __get__(self, obj: Any, cls: type[Any] | None = None) -> str:
        return _default_ext(cls if cls is not None else type(obj))


def _default_ext(cls: type[TaskData]) -> str:
    """The extension of the format named nearest in ``cls``'s MRO; ``"ext"`` (d6tflow's
    ``TaskData.target_ext``) for outputs made by a ``target_class`` with no format named.
    Found once per class (a class's format is part of its definition)."""
    ext = _default_exts.get(cls)
    if ext is None:
        named = next(c for c in cls.__mro__ if "format" in vars(c))  # TaskData at the latest
        ext = "ext" if named is TaskData and cls._by_target_class else _format_ext(cls.format)
        _default_exts[cls] = ext
    return ext


_default_exts: dict[type, str] = {}


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
    """

    path: Any = None
    external: ClassVar[bool] = False
    task_namespace: ClassVar[str | None] = None
    retries: ClassVar[int] = 0
    resources: ClassVar[Mapping[str, float] | None] = None
    storage_options: Mapping[str, Any] | None = None
    task_family: ClassVar[str] = "Task"
    _params: ClassVar[dict[str, Parameter[Any]]] = {}

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
        self.task_id: str = task_id_str(cls.task_family, self.to_str_params(True, True))
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

    def complete(self, cascade: bool = True) -> bool:
        """Whether the outputs exist, and (with ``settings.check_dependencies`` and
        ``cascade``) every upstream task is complete too."""
        check = cascade and settings.current("check_dependencies")
        if not check and not isinstance(self, TaskAggregator):
            targets = self.output_targets()  # a task without outputs is never complete
            return bool(targets) and all(exists_many(targets))
        # the whole upstream graph: the graph layer decides (see LAZY in test_imports.py)
        from ..graph import build

        return build([self]).status(check)[self.task_id]

    def reset(self, confirm: bool = False) -> bool:
        """Delete this task's outputs; with ``confirm=True`` ask first."""
        if confirm and not _confirm(f"Reset {self!r}?"):
            print("Reset cancelled")
            return False
        for target in self.output_targets():
            target.remove()
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


def _inherited(task: Task) -> list[type[Task]]:
    parents = getattr(type(task), "_inherits_from", None)
    if not parents:
        raise TaskDefinitionError(f"{type(task).__name__} has no @inherits classes to clone")
    return list(parents.values()) if isinstance(parents, Mapping) else list(parents)


def _confirm(question: str) -> bool:
    return input(f"{question} (y/n) ").strip().lower() == "y"


class TaskData(Task):
    """A task whose outputs are stored in a format: one file (or in-memory value) per name in
    ``persist``.

    Class attributes
    ----------------
    persist : list of str
        Output names; the default ``['data']`` is a single output (``output()`` returns the
        target, ``save`` takes the object).
    format : str
        The :mod:`daskflow.formats` name outputs are stored in.
    target_class : type, optional
        d6tflow's way to say the same: a :class:`~daskflow.targets.DataTarget` subclass,
        made with the output's path. Of ``format`` and ``target_class``, the one set by the
        class nearest in the method resolution order wins.
    target_ext : str
        File extension. Unless a class sets it, it is the extension of the format named by
        the nearest class that names one (``TaskPickle.target_ext`` is ``"pkl"``, the
        ``pickle`` format's), or ``"ext"`` as in d6tflow for a ``target_class`` with no
        format named. Set on an instance, it applies to that instance.
    target_dir : str, optional
        Folder under the root (default: the task family).
    save_attrib : bool
        Put the task id in file names (default True; also ``settings.save_with_param``).
    task_group : str, optional
        An extra folder level ``group={task_group}`` under the root.
    """

    persist: ClassVar[list[str]] = ["data"]
    format: ClassVar[str] = "pickle"
    target_class: ClassVar[type[Target]] = DataTarget
    _by_target_class: ClassVar[bool] = False
    target_ext: ClassVar[str | None] = _DefaultExt()  # type: ignore[assignment]
    target_dir: ClassVar[str | None] = None
    save_attrib: ClassVar[bool] = True
    task_group: ClassVar[str | None] = None
    metadata: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the class nearest in the MRO that says how outputs are stored decides how
        decider = next(c for c in cls.__mro__ if "target_class" in vars(c) or "format" in vars(c))
        cls._by_target_class = decider is not TaskData and "target_class" in vars(decider)
        if cls._by_target_class and not (
            isinstance(cls.target_class, type) and issubclass(cls.target_class, Target)
        ):
            raise TaskDefinitionError(
                f"{cls.__name__}.target_class must be a daskflow.targets.DataTarget "
                f"subclass, got {cls.target_class!r}"
            )
        if "persists" in cls.__dict__:  # d6tflow accepted this spelling too
            cls.persist = cls.__dict__["persists"]
        persist = cls.persist
        if isinstance(persist, str) or not all(isinstance(k, str) for k in persist):
            raise TaskDefinitionError(
                f"{cls.__name__}.persist must be a list of output names, got {persist!r}"
            )
        bad = [k for k in persist if not _KEY.fullmatch(k)]
        if bad or len(set(persist)) != len(persist):
            raise TaskDefinitionError(
                f"{cls.__name__}.persist names must be unique and use only letters, digits "
                f"and _ . = + -; got {list(persist)!r}"
            )

    # -- where outputs live -----------------------------------------------------------------

    def _root(self) -> str:
        return root_of(self.__dict__.get("path"), type(self))

    def _folder(self) -> str:
        parts = [self._root()]
        if self.task_group:
            parts.append(f"group={self.task_group}")
        parts.append(self.target_dir or self.task_family)
        return "/".join(parts)

    def _storage_options(self) -> dict[str, Any]:
        return {**settings.current("storage_options"), **(self.storage_options or {})}

    def _file_name(self, key: str, ext: str) -> str:
        if settings.current("save_with_param") and self.save_attrib:
            return f"{self.task_id}-{key}.{ext}"
        return f"{key}.{ext}"

    def _target(self, key: str) -> Target:
        ext = self.target_ext or _default_ext(type(self))  # a class may set None
        url = f"{self._folder()}/{self._file_name(key, ext)}"
        if self._by_target_class:
            target = self.target_class(url)
            target.storage_options = self._storage_options()
            return target
        return make_target(url, self.format, self._storage_options())

    def output(self) -> Any:
        """The target of the single output, or ``{name: target}`` for several.

        Resolved once per instance and kept while what decides it (the root, the settings
        and attributes that shape names) stays the same: a run asks for a task's outputs
        many times (status, run, loads downstream), and on 100,000 tasks that adds up.
        """
        where = self._where()
        kept = self.__dict__.get("_outputs")
        if kept is not None and kept[0] == where:
            return kept[1]
        targets = {k: self._target(k) for k in self.persist}
        out = targets["data"] if list(self.persist) == ["data"] else targets
        self.__dict__["_outputs"] = (where, out)
        return out

    def _where(self) -> tuple[Any, ...]:
        """Everything that decides this task's output locations, besides its class."""
        own = self.__dict__
        return (
            settings.current("dirpath"),
            settings.current("save_with_param"),
            _frozen(settings.current("storage_options")),
            own.get("path"),
            own.get("target_dir"),
            own.get("target_ext"),
            own.get("save_attrib"),
            own.get("task_group"),
            _frozen(own.get("storage_options")),
            tuple(own.get("persist") or ()),
        )

    def _meta_target(self) -> Target:
        url = f"{self._folder()}/{self._file_name('meta', 'pickle')}"
        return Target(url, "pickle", self._storage_options())

    # -- saving and loading -----------------------------------------------------------------

    def save(self, data: Any, **kwargs: Any) -> None:
        """Store the outputs: the object for a single output, a dict ``{name: object}`` with
        exactly the ``persist`` names for several. Extra arguments go to the format."""
        out = self.output()
        if isinstance(out, Target):
            out.save(data, **kwargs)
            return
        if not isinstance(data, Mapping) or set(data) != set(out):
            got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise SaveError(
                f"{self!r}.save() needs a dict with exactly the persist keys {list(out)}, got {got}"
            )
        for key, target in out.items():
            target.save(data[key], **kwargs)

    def _load_own(self, keys: Any, as_dict: bool, cached: bool) -> Any:
        out = self.output()
        if isinstance(out, Target):
            return _load(out, cached)
        wanted = list(out) if keys is None else [keys] if isinstance(keys, str) else list(keys)
        missing = [k for k in wanted if k not in out]
        if missing:
            raise OutputKeyError(
                f"Key name does not match: {self!r} has outputs {list(out)}, asked for {missing}"
            )
        loaded = {k: _load(out[k], cached) for k in wanted}
        if as_dict:
            return loaded
        return loaded[keys] if isinstance(keys, str) else list(loaded.values())

    def outputLoad(self, keys: Any = None, as_dict: bool = False, cached: bool = False) -> Any:
        """Load this task's outputs.

        A single output gives the object. Several give a list in ``persist`` order, a dict
        with ``as_dict=True``, one object for ``keys='name'`` or a list for
        ``keys=['a', 'b']``. Raises if the task is not complete.
        """
        self._check_keys(keys)
        return super().outputLoad(keys, as_dict, cached)

    def _check_keys(self, keys: Any) -> None:
        """A single output is called 'data'; asking it for another key is a mistake."""
        if keys is not None and list(self.persist) == ["data"]:
            wanted = [keys] if isinstance(keys, str) else list(keys)
            if wanted != ["data"]:
                raise OutputKeyError(
                    f"Key name does not match: {self!r} has one output ('data'), asked for {keys!r}"
                )

    # -- metadata ---------------------------------------------------------------------------

    def metaSave(self, data: Any) -> None:
        """Store a small object beside the outputs (``{task_id}-meta.pickle``)."""
        self.metadata = data
        self._meta_target().save(data)

    saveMeta = metaSave  # d6tflow's other spelling

    def metaLoad(self) -> Any:
        """The metadata of the required tasks, in the shape of ``requires()``."""
        return _map_structure(lambda t: t._meta_target().load(), self._requires())

    def outputLoadMeta(self) -> Any:
        """This task's own metadata."""
        if not self.complete(cascade=False):
            raise TaskIncompleteError(f"Cannot load {self!r} metadata, task not complete")
        target = self._meta_target()
        if not target.exists():
            raise TaskIncompleteError(f"{self!r} saved no metadata (call metaSave in run())")
        return target.load()

    def outputLoadAllMeta(self) -> dict[str, Any]:
        """``{task_family: metadata}`` of this task and its complete upstream tasks."""
        from ..graph import build  # see LAZY in tests/test_imports.py

        result = {}
        for t in build([self]).tasks.values():
            if isinstance(t, TaskData) and t._meta_target().exists():
                result[t.task_family] = t._meta_target().load()
        return result

    def reset(self, confirm: bool = False) -> bool:
        """Delete this task's outputs and metadata; with ``confirm=True`` ask first."""
        if not super().reset(confirm):
            return False
        self._meta_target().remove()
        return True

    invalidate = reset


def root_of(path: Any, cls: type[Task] | None = None) -> str:
    """The root of outputs: ``path`` if given, else the class's own ``path``, else
    ``settings.dirpath``; without a trailing slash.

    >>> root_of("data/x/")
    'data/x'
    """
    root = path or (cls.path if cls is not None else None) or settings.current("dirpath")
    return str(root).rstrip("/") or "/"


def _frozen(options: Mapping[str, Any] | None) -> Any:
    """Storage options as a value to compare (they are small dicts, mostly empty)."""
    return repr(sorted(options.items())) if options else ()


def _load(target: Target, cached: bool) -> Any:
    """``target.load()``, with ``cached`` only when asked: a d6tflow target class may
    define ``load(self)`` without it."""
    return target.load(cached=True) if cached else target.load()


def _format_ext(name: Any) -> str:
    from ..formats import get_format

    return get_format(name).ext


class TaskCache(TaskData):
    """Outputs kept in memory (any object); they last as long as the process that holds them."""

    format = "cache"
    target_class = CacheTarget


class TaskCachePandas(TaskCache):
    """A DataFrame kept in memory."""

    target_class = PdCacheTarget


class TaskPickle(TaskData):
    """Any picklable object, pickled (``.pkl``)."""

    format = "pickle"
    target_class = PickleTarget


class TaskJson(TaskData):
    """A JSON-serializable object (``.json``)."""

    format = "json"
    target_class = JsonTarget


class TaskPqPandas(TaskData):
    """A DataFrame as Parquet, through pyarrow with snappy compression (``.parquet``)."""

    format = "parquet"
    target_class = PqPandasTarget


class TaskCSVPandas(TaskData):
    """A DataFrame as CSV (``.csv``)."""

    format = "csv"
    target_class = CSVPandasTarget


class TaskCSVGZPandas(TaskData):
    """A DataFrame as gzip-compressed CSV (``.csv.gz``)."""

    format = "csv.gz"
    target_class = CSVGZPandasTarget


class TaskExcelPandas(TaskData):
    """A DataFrame as an Excel sheet (``.xlsx``, needs openpyxl)."""

    format = "excel"
    target_class = ExcelPandasTarget


class TaskPqDask(TaskData):
    """A Dask DataFrame as a folder of Parquet parts written by the workers themselves;
    downstream, ``inputLoad()`` gives a lazy Dask DataFrame. For outputs bigger than memory.
    """

    format = "dask-parquet"


class TaskCSVDask(TaskData):
    """A Dask DataFrame as a folder of CSV parts written by the workers themselves."""

    format = "dask-csv"


class TaskAggregator(Task):
    """A task whose ``run()`` only yields other tasks: it is complete when they all are, and
    its outputs are theirs.

    ``run()`` is called once per instance: what it yields depends only on the parameters,
    and is kept in the instance (so it travels with it when pickled to a worker). The context
    handed down (``path``, ``flows``, ...) is applied to those tasks on each use, so a copy
    made to hand the aggregator a context yields the same tasks in that context.
    """

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


# -- parameter inheritance -----------------------------------------------------------------


def _check_classes(where: str, parents: Mapping[str, Any] | list[Any]) -> None:
    items = parents.values() if isinstance(parents, Mapping) else parents
    for c in items:
        if not (isinstance(c, type) and issubclass(c, Task)):
            hint = f"; pass the class {type(c).__name__}" if isinstance(c, Task) else ""
            raise TaskDefinitionError(f"@{where} expects task classes, got {c!r}{hint}")


def _parents(where: str, args: tuple[Any, ...], named: dict[str, Any]) -> Any:
    if len(args) == 1 and isinstance(args[0], Mapping) and not named:
        parents: Any = dict(args[0])
    elif named and not args:
        parents = named
    elif args and not named:
        parents = list(args)
    else:
        raise TaskDefinitionError(
            f"@{where} takes task classes, or one dict of them, e.g. @{where}(TaskA, TaskB) or "
            f"@{where}({{'a': TaskA}})"
        )
    _check_classes(where, parents)
    return parents


def inherits(*tasks: Any, **named: type[Task]) -> Any:
    """Class decorator: give the class every parameter of ``tasks`` it does not declare.

    ``@inherits(TaskA, TaskB)`` or ``@inherits({'a': TaskA, 'b': TaskB})``.
    ``clone_parent()``/``clone_parents()`` then make the parent tasks.
    """
    parents = _parents("inherits", tasks, named)

    def decorate(cls: type[Task]) -> type[Task]:
        own = set(cls._params)
        classes = parents.values() if isinstance(parents, Mapping) else parents
        for parent in classes:
            for name, param in parent._params.items():
                if name not in own:
                    setattr(cls, name, param)
                    own.add(name)
        cls._inherits_from = parents  # type: ignore[attr-defined]
        _collect_params(cls)
        return cls

    return decorate


def requires(*tasks: Any, **named: type[Task]) -> Any:
    """Class decorator: inherit the parameters of ``tasks`` and require them.

    ``@requires(TaskA)`` makes ``requires()`` return ``self.clone(TaskA)``;
    ``@requires(TaskA, TaskB)`` a list; ``@requires({'a': TaskA})`` a dict.
    """
    parents = _parents("requires", tasks, named)

    def decorate(cls: type[Task]) -> type[Task]:
        cls = inherits(parents)(cls) if isinstance(parents, Mapping) else inherits(*parents)(cls)

        def requires(self: Task) -> Any:
            if isinstance(parents, Mapping):
                return {k: self.clone(c) for k, c in parents.items()}
            if len(parents) == 1:
                return self.clone(parents[0])
            return [self.clone(c) for c in parents]

        requires.__qualname__ = f"{cls.__qualname__}.requires"
        cls.requires = requires  # type: ignore[method-assign]
        return cls

    return decorate
