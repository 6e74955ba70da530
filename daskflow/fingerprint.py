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
    if real.startswith(_ROOTS) or "site-packages" in real or "dist-packages" in real:
        return None
    return _relative(real, tuple(sys.path), os.getcwd())


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
            self.value(_resolve(name, namespace), name)

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
        elif isinstance(obj, _CONSTANTS):
            text = repr(obj)
            if len(text) <= 100_000:
                self.covered.setdefault(f"constant {name}", ("", digest(text)))


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
