"""Importing a Python file by its path: the one way the command line and ``FlowImport`` do
it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["load_file"]


def load_file(path: Path, name: str | None = None, register: bool = False) -> ModuleType:
    """The module the Python file ``path`` makes, named ``name`` (default: the file's stem).

    With ``register`` it is importable as any module: in ``sys.modules`` under its name, its
    folder on ``sys.path`` (forked workers find it by name), and its classes pickled by value
    for cluster workers, which do not have the file. Raises :class:`ImportError` when there
    is no loader for it, and whatever executing it raises.
    """
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no loader for {path}")
    module = importlib.util.module_from_spec(spec)
    if register:
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        sys.modules[name] = module
    spec.loader.exec_module(module)
    if register:
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    return module
