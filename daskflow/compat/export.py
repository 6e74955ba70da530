"""Share a flow's outputs: ``FlowExport`` writes a module of external task classes that find
them, ``FlowImport`` loads such a module from a folder. The two are kept in one module as the
two ends of one file, the generated module; its longest part is the writer that spells
values as Python source (``_Writer``).

The exported module declares, for every exported task, a class with the task's name, its
daskflow base class, ``external = True``, the class attributes that say where and how its
outputs are stored (``persist``, ``path``, ``task_group``, ``pipename``; ``task_namespace``,
``target_dir``, ``target_ext``, ``format``, ``target_class``, ``save_attrib`` where they
differ from the base), and every parameter with the task's current value as its default.
Instantiated without arguments, such a class is the exported task: the same task id, so
the same output files. Someone without the flow's code can then load them::

    daskflow.FlowExport(flows=flow, save=True).generate()      # writes tasks_d6tpipe.py

    scraper = daskflow.FlowImport(path="shared", module="tasks_d6tpipe", path_data="data")
    daskflow.Workflow(path=scraper.dirpath, env="prod").outputLoad(scraper.tasks.TaskTrain)

Invariants
----------
- A default is written as Python source that evaluates to a value equal to the task's
  normalized value (``datetime.date(2020, 1, 1)``, tuples, ``FrozenDict({...})``, enum
  members by their class's import path, ...). A value with no such spelling is an error
  naming the task and the parameter, never a ``repr`` that does not parse.
- The export checks itself before it writes anything: it runs the generated source and
  compares each class's task id and output locations with the task's own.
- The generated module imports daskflow (and the modules of referenced enums and classes),
  never luigi: luigi parameters on a task are written as daskflow's kind of the same name.
- ``storage_options`` are never written: they may hold credentials.
"""

from __future__ import annotations

import datetime as dt
import enum
import keyword
import math
import operator
import os
import sys
import traceback
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ParameterError, WorkflowError
from ..execute import check_tasks
from ..modules import load_file
from ..parameters import (
    ChoiceParameter,
    DictParameter,
    EnumParameter,
    FrozenDict,
    ListParameter,
    NumericalParameter,
    OptionalParameter,
    Parameter,
    _Luigi,
)
from ..parameters import __all__ as _PARAMETER_KINDS
from ..tasks import Task, TaskData

__all__ = ["FlowExport", "FlowImport", "TaskDict"]

_PACKAGE = (__package__ or "daskflow").split(".")[0]  # (this module is in daskflow.compat)
_TASK_BASES = f"{_PACKAGE}.tasks"
# class attributes that change where and how a task's outputs are stored, written when they
# differ from the base class's
_STORAGE_ATTRS = (
    "task_namespace",
    "target_dir",
    "target_ext",
    "format",
    "target_class",
    "save_attrib",
)
_HEADER = '''"""Written by daskflow.FlowExport: tasks that load outputs made elsewhere.

Load with daskflow.FlowImport(path=<this folder>, module=<this file>, path_data=<data root>).
"""

'''


class _Unwritable(ValueError):
    """A value the writer has no exact spelling for; reworded by the caller with the task and
    attribute it belongs to."""


# -- exporting ---------------------------------------------------------------------------------


class FlowExport:
    """Write (or print) a module of external task classes that load a flow's shared outputs.

    Parameters
    ----------
    tasks : task or list of tasks, optional
        Task instances to export.
    flows : Workflow or list of Workflows, optional
        Each flow's default task and every task upstream of it are exported too.
    save : bool
        Write the module to ``path_export``; ``False`` (the default) prints it instead.
    path_export : str or Path
        The file to write (default ``tasks_d6tpipe.py``, as d6tflow); written atomically.

    Attributes
    ----------
    tasks : list of Task
        The tasks given, then the upstream tasks of each flow (each flow's task first).

    Notes
    -----
    A task whose class sets ``export = False`` is skipped. As in d6tflow, the first task
    is written last (for a flow: its own task after the tasks it needs). Each task becomes
    one class named after its class, so two different tasks of one class cannot be exported
    to one module.
    """

    def __init__(
        self,
        tasks: Any = None,
        flows: Any = None,
        save: bool = False,
        path_export: str | os.PathLike[str] = "tasks_d6tpipe.py",
    ) -> None:
        found = check_tasks(_as_list(tasks), "FlowExport tasks")
        for flow in _as_list(flows):
            found.extend(_upstream(_flow_task(flow)))
        self.tasks: list[Task] = found
        self.save = save
        self.path_export = path_export

    def __repr__(self) -> str:
        return f"FlowExport({len(self.tasks)} tasks, save={self.save}, {self.path_export!r})"

    def generate(self) -> None:
        """Write the module to ``path_export`` (``save=True``) or print it.

        Raises
        ------
        WorkflowError
            Nothing to export, a task without stored outputs, or two tasks of one name.
        ParameterError
            A parameter value (or a class attribute) has no exact Python spelling, or the
            generated class would not find the task's outputs; the message names the task
            and the parameter.
        """
        text = self.render()
        if not self.save:
            print(text, end="")
            return
        _write_atomically(Path(self.path_export), text)

    def render(self) -> str:
        """The text of the module, checked, without writing or printing it."""
        chosen = self._chosen()
        writer = _Writer()
        blocks = [(task, writer.task_class(task)) for task in chosen]
        shadowed = sorted(
            {type(t).__name__ for t in chosen} & {m.split(".")[0] for m in writer.imports}
        )
        if shadowed:
            raise WorkflowError(
                f"FlowExport cannot name a class {shadowed[0]}: the module imports {shadowed[0]}"
            )
        imports = writer.import_lines()
        _check(imports, blocks)
        return _HEADER + imports + "".join(f"\n\n{block}" for _, block in blocks)

    def _chosen(self) -> list[Task]:
        """The tasks to write, each once, in d6tflow's order; refuse what cannot be written."""
        if not self.tasks:
            raise WorkflowError("FlowExport has nothing to export: pass tasks= or flows=")
        unique: dict[str, Task] = {}
        for t in self.tasks:
            unique.setdefault(t.task_id, t)
        chosen = [t for t in unique.values() if getattr(t, "export", True)]
        if not chosen:
            raise WorkflowError(
                "FlowExport has nothing to export: every task given has export = False"
            )
        by_name: dict[str, Task] = {}
        for t in chosen:
            name = type(t).__name__
            if not isinstance(t, TaskData):
                raise WorkflowError(
                    f"FlowExport cannot export {t!r}: it stores no outputs of its own (it is "
                    f"not a TaskData); set export = False on {name}"
                )
            if not name.isidentifier() or keyword.iskeyword(name):
                raise WorkflowError(f"FlowExport cannot name a class {name!r} ({t!r})")
            other = by_name.setdefault(name, t)
            if other is not t:
                raise WorkflowError(
                    f"FlowExport writes one class per task name, but {other!r} and {t!r} are "
                    f"both {name}; export them with two FlowExports to two files"
                )
        return chosen[1:] + chosen[:1]  # d6tflow's order: the first task goes last


def _as_list(items: Any) -> list[Any]:
    if items is None:
        return []
    return list(items) if isinstance(items, (list, tuple)) else [items]


def _flow_task(flow: Any) -> Task:
    get_task = getattr(flow, "get_task", None)
    task = get_task() if callable(get_task) else None
    if not isinstance(task, Task):
        raise WorkflowError(
            f"FlowExport flows must be Workflows whose get_task() gives one task, got {flow!r}"
        )
    return task


def _upstream(task: Task) -> list[Task]:
    """``task`` and every task upstream of it, depth first, each before what it needs (the
    order d6tflow's traversal gives); with the flow's context handed down."""
    order: dict[str, Task] = {}
    stack = [task]
    while stack:
        t = stack.pop()
        if t.task_id in order:
            continue
        order[t.task_id] = t
        stack.extend(reversed(t.deps()))
    return list(order.values())


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a hidden file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- writing values as Python source ----------------------------------------------------------


class _Writer:
    """Spells values, classes and whole task classes as source; collects the imports."""

    def __init__(self) -> None:
        self.imports: set[str] = {_PACKAGE}

    def import_lines(self) -> str:
        return "".join(f"import {m}\n" for m in sorted(self.imports))

    # -- a task ----------------------------------------------------------------------------

    def task_class(self, task: Task) -> str:
        cls = type(task)
        base = _task_base(cls)
        lines = [f"class {cls.__name__}({self.ref(base)}):", "    external = True"]
        attrs: list[tuple[str, Any]] = [("persist", list(getattr(task, "persist", [])))]
        path = task.__dict__.get("path") or cls.path
        if path:
            attrs.append(("path", str(path)))
        for name in ("pipename", "task_group"):
            if getattr(task, name, None):
                attrs.append((name, getattr(task, name)))
        for name in _STORAGE_ATTRS:
            own = getattr(task, name, None)
            if own != getattr(base, name, None):
                attrs.append((name, own))
        for name, value in attrs:
            try:
                lines.append(f"    {name} = {self.value(value)}")
            except _Unwritable as e:
                raise ParameterError(f"FlowExport cannot write {name} of {task!r}: {e}") from None
        for name, param in task.get_params():
            try:
                lines.append(f"    {name} = {self.parameter(param, task.param_kwargs[name])}")
            except _Unwritable as e:
                raise ParameterError(
                    f"FlowExport cannot write parameter {name!r} of {task!r}: {e}"
                ) from None
        return "\n".join(lines) + "\n"

    def parameter(self, param: Parameter[Any], value: Any) -> str:
        """``kind(default=value, ...)`` rebuilding ``param`` with ``value`` as its default."""
        source: Any = param
        kind: type[Any] = type(param)
        if isinstance(param, _Luigi):  # a luigi parameter: daskflow's kind of the same name
            source = param.inner
            kind = _daskflow_kind(type(param.inner).__name__)
        # a list or dict kind freezes its default again: write it as plain literals
        plain = issubclass(kind, (ListParameter, DictParameter))
        args = [f"default={self.value(value, plain)}"]
        if issubclass(kind, EnumParameter):
            args.append(f"enum={self.ref(source._enum)}")
        if issubclass(kind, ChoiceParameter):
            choices = source._choices
            if isinstance(choices, (set, frozenset)):  # luigi keeps a set
                choices = sorted(choices, key=repr)
            args.append(f"choices={self.value(tuple(choices))}")
            if source._var_type is not str:
                args.append(f"var_type={self.ref(source._var_type)}")
        if issubclass(kind, NumericalParameter):
            low = getattr(source, "_min", getattr(source, "_min_value", None))
            high = getattr(source, "_max", getattr(source, "_max_value", None))
            args.append(f"var_type={self.ref(source._var_type)}")
            args.append(f"min_value={self.value(low)}, max_value={self.value(high)}")
            left = getattr(source, "_left", getattr(source, "_left_op", operator.le))
            right = getattr(source, "_right", getattr(source, "_right_op", operator.lt))
            if left is not operator.le:
                args.append(f"left_op={self.ref(left)}")
            if right is not operator.lt:
                args.append(f"right_op={self.ref(right)}")
        if not param.significant:
            args.append("significant=False")
        if not param.positional:
            args.append("positional=False")
        if param.optional != issubclass(kind, OptionalParameter):
            args.append(f"optional={param.optional}")
        if param.visibility:
            args.append(f"visibility={param.visibility}")
        return f"{self.ref(kind)}({', '.join(args)})"

    # -- values ------------------------------------------------------------------------------

    def value(self, v: Any, plain: bool = False) -> str:
        """Source that evaluates to a value equal to ``v``, of the same type; with ``plain``
        a ``FrozenDict`` is written as a dict (for a parameter kind that freezes it again)."""
        if v is None or type(v) in (bool, int, str, bytes):
            return repr(v)
        if type(v) is float:
            if math.isnan(v):
                return "float('nan')"
            if math.isinf(v):
                return "float('inf')" if v > 0 else "-float('inf')"
            return repr(v)
        if isinstance(v, enum.Enum):
            return self._member(v)
        if type(v) is dt.datetime:
            return self._datetime(v)
        if type(v) is dt.date:
            self.imports.add("datetime")
            return f"datetime.date({v.year}, {v.month}, {v.day})"
        if type(v) is dt.timedelta:
            return self._timedelta(v)
        if type(v) is tuple:
            items = [self.value(x, plain) for x in v]
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        if type(v) is list:
            return f"[{', '.join(self.value(x, plain) for x in v)}]"
        if isinstance(v, Mapping):
            # a FrozenDict stays one; other mappings (dict, luigi's frozen dicts) become dicts,
            # which the parameter kind normalizes again
            pairs = ", ".join(
                f"{self.value(k, plain)}: {self.value(x, plain)}" for k, x in v.items()
            )
            if type(v) is FrozenDict and not plain:
                return f"{self.ref(FrozenDict)}({{{pairs}}})"
            return f"{{{pairs}}}"
        if type(v) in (set, frozenset):
            items = sorted(self.value(x, plain) for x in v)
            if type(v) is frozenset:
                return f"frozenset({{{', '.join(items)}}})" if items else "frozenset()"
            return f"{{{', '.join(items)}}}" if items else "set()"
        if isinstance(v, type) or callable(v):  # a class (a TaskParameter value) or function
            return self.ref(v)
        to_string = getattr(v, "to_string", None)
        if type(v).__module__ == f"{_PACKAGE}.date_interval" and callable(to_string):
            from .. import date_interval

            return f"{self.ref(date_interval.parse)}({to_string()!r})"
        raise _Unwritable(
            f"no Python spelling of {v!r} ({type(v).__module__}.{type(v).__qualname__}) is "
            "known; use a value of a standard parameter kind (str, int, float, bool, date, "
            "datetime, timedelta, list, tuple, dict, enum)"
        )

    def _member(self, v: enum.Enum) -> str:
        cls = self.ref(type(v))
        if type(v).__members__.get(v.name) is v:
            if v.name.isidentifier() and not keyword.iskeyword(v.name) and v.name[0] != "_":
                return f"{cls}.{v.name}"
            return f"{cls}[{v.name!r}]"
        return f"{cls}({self.value(v.value)})"  # a combination of flags

    def _datetime(self, v: dt.datetime) -> str:
        self.imports.add("datetime")
        parts = [v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond]
        while len(parts) > 3 and not parts[-1]:
            parts.pop()
        text = ", ".join(map(str, parts))
        if v.tzinfo is None:
            return f"datetime.datetime({text})"
        if type(v.tzinfo) is not dt.timezone:
            raise _Unwritable(f"the time zone of {v!r} has no Python spelling; use UTC offsets")
        if v.tzinfo is dt.UTC:
            return f"datetime.datetime({text}, tzinfo=datetime.timezone.utc)"
        offset = self._timedelta(v.tzinfo.utcoffset(None))
        return f"datetime.datetime({text}, tzinfo=datetime.timezone({offset}))"

    def _timedelta(self, v: dt.timedelta) -> str:
        self.imports.add("datetime")
        parts = [
            f"{n}={x}"
            for n, x in (("days", v.days), ("seconds", v.seconds), ("microseconds", v.microseconds))
            if x
        ]
        return f"datetime.timedelta({', '.join(parts) or '0'})"

    def ref(self, obj: Any) -> str:
        """The dotted name that finds ``obj`` after importing its module (recorded)."""
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not isinstance(module, str) or not isinstance(qualname, str):
            raise _Unwritable(f"{obj!r} has no module and name to import it by")
        if module == "builtins" and _lookup("builtins", qualname) is obj:
            return qualname
        if module.split(".")[0] == _PACKAGE and _lookup(_PACKAGE, qualname) is obj:
            return f"{_PACKAGE}.{qualname}"  # re-exported at the top: daskflow.IntParameter
        if module.startswith(f"{_PACKAGE}."):  # by the package that re-exports it
            parts = module.split(".")  # daskflow.tasks.TaskCache, not daskflow.tasks.bases.
            for package in (".".join(parts[:i]) for i in range(2, len(parts))):
                if _lookup(package, qualname) is obj:
                    self.imports.add(_import_name(package))
                    return f"{package}.{qualname}"
        if module == "__main__" or "<locals>" in qualname:
            where = "a script or notebook" if module == "__main__" else "a function"
            raise _Unwritable(
                f"{qualname} is defined in {where}, so the exported module cannot import it; "
                "define it at the top level of an importable module"
            )
        for name in (module.lstrip("_"), module):  # operator.le, not _operator.le
            if _lookup(name, qualname) is obj:
                self.imports.add(_import_name(name))
                return f"{name}.{qualname}"
        raise _Unwritable(f"{module}.{qualname} does not find {obj!r}")


def _lookup(module: str, qualname: str) -> Any:
    """``module.qualname`` among the modules already imported, or None."""
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def _import_name(module: str) -> str:
    """The module to import for ``module``: daskflow's public submodules come with
    ``import daskflow``."""
    top, _, rest = module.partition(".")
    package = sys.modules.get(_PACKAGE)
    if top == _PACKAGE and rest in getattr(package, "__all__", ()):
        return _PACKAGE
    return module


def _task_base(cls: type[Task]) -> type[Task]:
    """The first class of ``cls``'s MRO that daskflow's task modules define."""
    for c in cls.__mro__:
        if c.__module__ == _TASK_BASES or c.__module__.startswith(f"{_TASK_BASES}."):
            return c
    raise WorkflowError(f"{cls.__name__} derives from no daskflow task class")  # pragma: no cover


def _daskflow_kind(luigi_name: str) -> type[Parameter[Any]]:
    """daskflow's parameter kind for a luigi one: the same name (``OptionalIntParameter`` is
    ``IntParameter`` with ``optional=True``)."""
    name = luigi_name
    if name.startswith("Optional") and name != "OptionalParameter":
        name = name.removeprefix("Optional")
    name = "Parameter" if name == "StrParameter" else name
    kind = _lookup(f"{_PACKAGE}.parameters", name) if name in _PARAMETER_KINDS else None
    if not (isinstance(kind, type) and issubclass(kind, Parameter)):
        raise _Unwritable(
            f"daskflow has no parameter kind for luigi's {luigi_name}; declare the parameter "
            "with one of daskflow's kinds"
        )
    return kind


# -- the self-check ----------------------------------------------------------------------------


_CHECK_FILE = "<daskflow FlowExport>"


def _check(imports: str, blocks: list[tuple[Task, str]]) -> None:
    """Run the generated source; each class, made without arguments, must be its task: the
    same id and the same output locations."""
    namespace: dict[str, Any] = {"__name__": "daskflow_export_check"}
    exec(compile(imports, _CHECK_FILE, "exec"), namespace)
    for task, block in blocks:
        try:
            exec(compile(block, _CHECK_FILE, "exec"), namespace)
            copy = namespace[type(task).__name__]()
        except Exception as e:
            raise ParameterError(
                f"FlowExport cannot export {task!r}: the generated line "
                f"`{_failing_line(e, block)}` raises {type(e).__name__}: {e}"
            ) from e
        if copy.task_id != task.task_id:
            ours, theirs = task.to_str_params(True, True), copy.to_str_params(True, True)
            names = sorted(n for n in ours.keys() | theirs.keys() if ours.get(n) != theirs.get(n))
            detail = ", ".join(f"{n}: {ours.get(n)!r} becomes {theirs.get(n)!r}" for n in names)
            raise ParameterError(
                f"FlowExport cannot export {task!r}: the exported class would have the task id "
                f"{copy.task_id}, not {task.task_id} ({detail or 'its family differs'})"
            )
        targets, copied = task.output_targets(), copy.output_targets()
        if list(map(_storage_key, targets)) != list(map(_storage_key, copied)):
            raise ParameterError(
                f"FlowExport cannot export {task!r}: the exported class would look for its "
                f"outputs as {copied}, not {targets} (does {type(task).__name__} override "
                "output()?)"
            )


def _storage_key(target: Any) -> tuple[Any, ...]:
    """What must match for two targets to be one output: kind, URL and format."""
    return (type(target), target.url, target.format.name)


def _failing_line(error: BaseException, block: str) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == _CHECK_FILE]
    lines = block.splitlines()
    if frames and frames[-1].lineno and 0 < frames[-1].lineno <= len(lines):
        return lines[frames[-1].lineno - 1].strip()
    return lines[0]


# -- importing ---------------------------------------------------------------------------------


class TaskDict(dict[str, type[Task]]):
    """A dict of task classes whose entries are also attributes: ``tasks.TaskTrain``."""

    def __getattr__(self, name: str) -> type[Task]:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no task {name!r}; the module has {sorted(self)}") from None

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self]


class FlowImport:
    """Import a module of task classes (such as one ``FlowExport`` wrote) from a folder.

    Parameters
    ----------
    path : str or Path
        The folder that holds the module.
    module : str
        The module's name, with or without ``.py``.
    path_data : str or Path, optional
        Where the shared outputs are: an absolute path or URL as it is, a relative path
        under ``path``. Give it to ``Workflow(path=...)`` as ``dirpath``.

    Attributes
    ----------
    tasks : TaskDict
        ``{name: task class}`` of the module, also as attributes (``.tasks.TaskTrain``).
    dirpath : Path, str or None
        The data root made from ``path_data``.
    module_obj : module
        The imported module. It is not put in ``sys.modules``, so it shadows nothing; its
        classes travel to worker processes by value.

    Raises
    ------
    WorkflowError
        The module file does not exist, or importing it fails (the cause is chained).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        module: str | None = None,
        path_data: str | os.PathLike[str] | None = None,
    ) -> None:
        if path is None or module is None:
            raise WorkflowError(
                "FlowImport needs path= (the folder) and module= (the module's name), e.g. "
                "FlowImport(path='shared', module='tasks_d6tpipe', path_data='data')"
            )
        self.path = path
        self.module = module
        self.dirpath = _data_root(Path(path), path_data)
        name = str(module).removesuffix(".py")
        file = Path(path) / f"{name}.py"
        if not file.is_file():
            raise WorkflowError(
                f"FlowImport: module file {file} not found (path={str(path)!r}, module={module!r})"
            )
        self.module_obj = _load_module(Path(name).name, file)
        self.tasks = TaskDict(sorted(_module_tasks(self.module_obj).items()))

    def __repr__(self) -> str:
        return f"FlowImport(path={self.path!r}, module={self.module!r}, tasks={sorted(self.tasks)})"


def _data_root(folder: Path, path_data: str | os.PathLike[str] | None) -> Path | str | None:
    if path_data is None:
        return None
    text = os.fspath(path_data)
    if "://" in text:
        return text
    return Path(text) if Path(text).is_absolute() else folder / text


def _load_module(name: str, file: Path) -> ModuleType:
    try:
        return load_file(file, name)
    except Exception as e:
        raise WorkflowError(f"FlowImport could not import {file}: {type(e).__name__}: {e}") from e


def _module_tasks(module: ModuleType) -> dict[str, type[Task]]:
    """The task classes in the module's namespace, without daskflow's own base classes."""
    return {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, Task)
        and obj.__module__.split(".")[0] != _PACKAGE
    }
