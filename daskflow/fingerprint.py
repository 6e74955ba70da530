"""The code fingerprint of a task class: what its outputs depend on besides its parameters.

A task's fingerprint covers the methods of its class (and of its project's base classes),
and, followed transitively, the project-local functions, classes and module-level constants
they name; not other task classes (a task it requires changes it as "upstream pending").
Each function is parsed (``ast``) with comments, blank lines, formatting and docstrings
dropped, so only a change of what the code does changes it.

Nothing here outlives a call unless it is keyed by content: a function's parse is kept per
code object (a redefined function, or one whose code an autoreload swapped, has a new one),
and a class's fingerprint is walked afresh on each call (about 60 us), so a helper redefined
in a notebook cell, or a module constant rebound, changes the fingerprint at once. A caller
that asks for many tasks of one class in one pass passes a ``memo`` for that pass.
Modules of installed packages and the standard library are not followed; their versions are
recorded in each manifest instead (:func:`library_versions`). A class attribute ``version``
replaces the computed fingerprint for a task whose author wants to decide.

>>> from daskflow.tasks import TaskPickle
>>> class A(TaskPickle):
...     version = "2"
>>> fingerprint(A).key == fingerprint(A).key, fingerprint(A).version
(True, '2')
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.machinery
import importlib.util
import inspect
import marshal
import os
import sys
import sysconfig
import textwrap
import types
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from .tasks import Task

__all__ = ["Fingerprint", "digest", "fingerprint", "library_versions"]


@dataclass(frozen=True)
class Fingerprint:
    """``key``: 16 hex digits of the whole; ``covered``: what it covers, by qualified name,
    each with its file and its own digest (so a change can be named)."""

    key: str
    covered: dict[str, tuple[str, str]] = field(default_factory=dict)
    version: str | None = None


_BASE = ("daskflow", "luigi", "d6tflow")  # the framework's own classes are not the task's


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= {os.path.dirname(os.__file__)}
    return tuple(os.path.realpath(r) + os.sep for r in roots if r)


_ROOTS = _library_roots()


def _project(obj: Any) -> str | None:
    """The source file of ``obj`` when it belongs to the project (not the standard library,
    an installed package, or daskflow itself); else None."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is None or module.__name__.split(".")[0] in _BASE:
        return None
    path: str | None = getattr(module, "__file__", None)
    if not path:
        return "<main>" if module.__name__ == "__main__" else None
    real = os.path.realpath(path)
    if _installed(real):
        return None
    return _relative(real, tuple(sys.path), os.getcwd())


def _installed(real: str) -> bool:
    """Whether the file at ``real`` (a real path) is of the standard library or an installed
    package, not of the project."""
    return real.startswith(_ROOTS) or "site-packages" in real or "dist-packages" in real


@functools.lru_cache(maxsize=4096)
def _relative(real: str, path: tuple[str, ...], cwd: str) -> str:
    """``real`` relative to the import root it was found under (the longest ``sys.path``
    entry, or the working folder, that holds it): what manifests record, so they name no
    machine's absolute paths (a project may commit them with its data)."""
    best = ""
    for entry in (*path, cwd):
        root = os.path.join(os.path.realpath(entry or cwd), "")
        if real.startswith(root) and len(root) > len(best):
            best = root
    return real[len(best) :] if best else real


class _Strip(ast.NodeTransformer):
    """Drop docstrings: they do not change what the code does."""

    def _body(self, node: Any) -> Any:
        self.generic_visit(node)
        body = node.body
        first = body[0] if body else None
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Module = _body


# code object -> (digest, names it uses): a code object never changes, and the entry goes
# with it
_parsed: weakref.WeakKeyDictionary[Any, tuple[str, list[str]]] = weakref.WeakKeyDictionary()


def _parse(func: Any) -> tuple[str, list[str]]:
    """The digest of a function's normalized source, and the global names (and dotted
    attribute chains) it uses; once per code object."""
    code = getattr(func, "__code__", None)
    cached = _parsed.get(code) if code is not None else None
    if cached is not None:
        return cached
    try:
        source = textwrap.dedent(inspect.getsource(func))
        tree = _Strip().visit(ast.parse(source))
        text = ast.dump(tree, annotate_fields=False, include_attributes=False)
    except (OSError, TypeError, SyntaxError):  # no source (built in C, made by exec)
        text = marshal.dumps(code).hex() if code is not None else repr(func)
        tree = None
    names: list[str] = [] if tree is not None or code is None else _code_names(code)
    if tree is not None:
        local = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in _args(n)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):  # an import inside the function: its module
                names += [f"{_IMPORT}{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names.append(f"{_IMPORT}{'.' * node.level}{node.module or ''}")
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                chain = _chain(node)
                if chain and chain.split(".")[0] not in local:
                    names.append(chain)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):  # noqa: SIM102
                if node.id not in local:
                    names.append(node.id)
    result = digest(text), sorted(set(names))
    if code is not None:
        _parsed[code] = result
    return result


def _code_names(code: types.CodeType) -> list[str]:
    """The global names a code object without source (made by ``exec``) and the code
    objects nested in it use."""
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _code_names(const)
    return names


def _args(node: ast.arguments) -> Iterator[ast.arg]:
    yield from node.posonlyargs
    yield from node.args
    yield from node.kwonlyargs
    if node.vararg:
        yield node.vararg
    if node.kwarg:
        yield node.kwarg


def _chain(node: ast.Attribute) -> str | None:
    parts = [node.attr]
    value: Any = node.value
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    parts.append(value.id)
    return ".".join(reversed(parts))


def digest(text: str) -> str:
    """The 16 hex digits that stand for ``text`` in fingerprints and manifest names."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_CONSTANTS = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset, list, dict)


_IMPORT = "import "  # (a name that cannot be an identifier: an import inside a function)
_NOT_CODE = frozenset({"_abc_impl"})


def _is_parameter(value: Any) -> bool:
    """A parameter declaration (its values are in the task id, not in the code)."""
    return any(c.__name__ == "Parameter" for c in type(value).__mro__)


def _module_file(name: str) -> str | None:
    """The source file of the project module ``name``, found without importing it (nor its
    packages); None for a module of the standard library or an installed package."""
    parts = name.split(".")
    try:
        spec = importlib.machinery.PathFinder.find_spec(parts[0])
        for i in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(
                ".".join(parts[: i + 1]), list(spec.submodule_search_locations)
            )
    except (ImportError, ValueError):
        return None
    origin = str(getattr(spec, "origin", None) or "")
    if not origin.endswith(".py"):
        return None
    real = os.path.realpath(origin)
    return None if _installed(real) else real


def _resolve(name: str, namespace: dict[str, Any]) -> Any:
    """What ``name`` (``a`` or ``a.b.c``) means in ``namespace``, as far as it goes."""
    head, *rest = name.split(".")
    if head not in namespace:  # a builtin, or a name bound at run time
        return None
    obj = namespace[head]
    for part in rest:
        nxt = getattr(obj, part, None)
        if nxt is None:
            break
        obj = nxt
    return obj


class _Walk:
    """The transitive closure of what a class's methods reach in the project."""

    def __init__(self) -> None:
        self.covered: dict[str, tuple[str, str]] = {}
        self.seen: set[int] = set()

    def function(self, func: Any, qualname: str) -> None:
        func = inspect.unwrap(func)
        if id(func) in self.seen or not isinstance(func, types.FunctionType):
            return
        self.seen.add(id(func))
        where = _project(func)
        if where is None:
            return
        source_digest, names = _parse(func)
        self.covered[qualname] = (where, source_digest)
        namespace = dict(func.__globals__)
        if func.__closure__:
            for var, cell in zip(func.__code__.co_freevars, func.__closure__, strict=False):
                try:
                    namespace[var] = cell.cell_contents
                except ValueError:
                    continue
        for name in names:
            if name.startswith(_IMPORT):
                self.module_file(name[len(_IMPORT) :], func)
            else:
                self.value(_resolve(name, namespace), name)

    def module_file(self, name: str, func: Any) -> None:
        """Cover the whole source file of a project module a function imports inside its
        body: found without importing it (an import may have effects), the same whether or
        not something imported it already."""
        package = getattr(sys.modules.get(func.__module__), "__package__", None) or ""
        try:
            full = importlib.util.resolve_name(name, package) if name.startswith(".") else name
        except (ImportError, ValueError):
            return
        key = f"module {full}"
        if key in self.covered:
            return
        path = _module_file(full)
        if path is None:
            return
        try:
            with open(path, "rb") as f:
                self.covered[key] = (
                    _relative(path, tuple(sys.path), os.getcwd()),
                    digest(f.read().hex()),
                )
        except OSError:
            return

    def klass(self, cls: type, qualname: str | None = None) -> None:
        if id(cls) in self.seen or _project(cls) is None:
            return
        self.seen.add(id(cls))
        name = qualname or cls.__qualname__
        for attr, value in sorted(vars(cls).items()):
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                value = value.fget
            if isinstance(value, types.FunctionType):
                self.function(value, f"{name}.{attr}")
            elif not (attr.startswith("__") or attr in _NOT_CODE or _is_parameter(value)):
                self.value(value, f"{name}.{attr}")  # a class attribute the code reads
        fields = getattr(cls, "__dataclass_fields__", None)
        for field_name, spec in sorted((fields or {}).items()):
            factory = getattr(spec, "default_factory", None)
            if callable(factory) and isinstance(factory, types.FunctionType):
                self.function(factory, f"{name}.{field_name} (default factory)")
        for base in cls.__mro__[1:]:
            self.klass(base)

    def value(self, obj: Any, name: str) -> None:
        if obj is None or isinstance(obj, types.ModuleType):
            return
        if isinstance(obj, types.FunctionType):
            self.function(obj, f"{obj.__module__}.{obj.__qualname__}")
        elif isinstance(obj, type):
            if issubclass(obj, Task):  # another task (required): its changes reach this one
                return  # as "upstream pending", not as this one's code
            self.klass(obj, f"{obj.__module__}.{obj.__qualname__}")
        elif isinstance(obj, types.MethodType):
            self.function(obj.__func__, f"{obj.__func__.__module__}.{obj.__func__.__qualname__}")
        else:
            text = self.encode(obj, 0)
            if text is not None:
                self.covered.setdefault(f"constant {name}", ("", digest(text)))

    def encode(self, obj: Any, depth: int) -> str | None:
        """A text of a value the code reads that is the same in every process (sets sorted,
        no memory addresses), following what it holds: functions, classes and instances of
        the project, ``functools.partial``; None for what is not the project's data (a module,
        a task, an object of an installed library, whose repr may hold anything)."""
        if depth > 20:
            return "..."
        if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
            return f"{type(obj).__name__}:{obj!r}"
        if isinstance(obj, (list, tuple)):
            listed = [str(self.encode(v, depth + 1)) for v in obj]
            return f"{type(obj).__name__}[" + ",".join(listed) + "]"
        if isinstance(obj, (set, frozenset)):
            members = sorted(str(self.encode(v, depth + 1)) for v in obj)
            return f"{type(obj).__name__}{{" + ",".join(members) + "}"
        if isinstance(obj, dict):
            items = [
                f"{self.encode(k, depth + 1)}:{self.encode(v, depth + 1)}" for k, v in obj.items()
            ]
            return "dict{" + ",".join(items) + "}"
        if isinstance(obj, functools.partial):
            return (
                f"partial({self.encode(obj.func, depth + 1)},{self.encode(obj.args, depth + 1)},"
                f"{self.encode(obj.keywords, depth + 1)})"
            )
        if isinstance(obj, (types.FunctionType, types.MethodType, type)):
            if isinstance(obj, type) and issubclass(obj, Task):
                return f"task {obj.__module__}.{obj.__qualname__}"
            self.value(obj, "")  # its code is covered under its own name
            target = getattr(obj, "__func__", obj)
            return f"{type(obj).__name__} {target.__module__}.{target.__qualname__}"
        if isinstance(obj, (types.ModuleType, Task)):
            return None
        kind = type(obj)
        if _project(kind) is not None:  # an instance of a project class: its class and state
            self.klass(kind, f"{kind.__module__}.{kind.__qualname__}")
            state = getattr(obj, "__dict__", None)
            if state is None and hasattr(obj, "__slots__"):
                slots = [s for c in kind.__mro__ for s in getattr(c, "__slots__", ())]
                state = {s: getattr(obj, s, None) for s in slots}
            return f"{kind.__module__}.{kind.__qualname__}({self.encode(state or {}, depth + 1)})"
        return None  # a library's object (os.environ, a client): not the project's code


def fingerprint(cls: type, memo: dict[type, Fingerprint] | None = None) -> Fingerprint:
    """The code fingerprint of task class ``cls`` as its code is now.

    ``memo``: fingerprints already computed in the same pass (one status pass, one
    compiled graph), by class; the new one is added to it.
    """
    found = memo.get(cls) if memo is not None else None
    if found is not None:
        return found
    version = getattr(cls, "version", None)
    if version is not None:
        found = Fingerprint(digest(f"version {version}"), {}, str(version))
    else:
        walk = _Walk()
        walk.klass(cls, cls.__qualname__)
        whole = "\n".join(f"{k} {v[1]}" for k, v in sorted(walk.covered.items()))
        found = Fingerprint(digest(whole), walk.covered)
    if memo is not None:
        memo[cls] = found
    return found


_versions: dict[str, str] = {}

LIBRARIES = ("daskflow", "dask", "distributed", "pandas", "pyarrow", "fsspec", "s3fs", "numpy")


def library_versions() -> dict[str, str]:
    """The versions of daskflow and the main libraries installed here (for a manifest)."""
    if not _versions:
        _versions["python"] = sys.version.split()[0]
        for name in LIBRARIES:
            try:
                _versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    return dict(_versions)
