"""``import d6tflow`` gives daskflow: d6tflow code and tests run unchanged against it.

Put the folder holding this package first on ``sys.path`` (``PYTHONPATH``). ``d6tflow`` and
every ``d6tflow.X`` submodule are then the very same module objects as ``daskflow`` and
``daskflow.X`` (not copies), so settings, caches and classes are shared with code that
imports daskflow by its own name.

How: importing this package replaces itself in ``sys.modules`` with ``daskflow`` and puts a
finder first on ``sys.meta_path`` that answers ``d6tflow.X`` with the module ``daskflow.X``
(imported on demand, so its own errors, install hints included, reach the caller). A name
daskflow does not have is left to the other finders, which fail with the usual
``ModuleNotFoundError: No module named 'd6tflow.X'``. The daskflow modules keep their own
``__spec__``, so ``importlib.reload(daskflow.X)`` and ``importlib.util.find_spec`` still
see daskflow.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence

import daskflow

_PREFIX = "d6tflow."


def _real_name(alias: str) -> str:
    return "daskflow." + alias[len(_PREFIX) :]


class D6tflowAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``d6tflow.X`` as ``daskflow.X`` and loads it as that very module object."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        try:
            real = importlib.util.find_spec(_real_name(fullname))
        except ModuleNotFoundError:  # a parent package daskflow does not have
            return None
        if real is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, self, is_package=real.submodule_search_locations is not None
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(_real_name(spec.name))
        self._specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # The daskflow module is already executed; the import system has just set its
        # __spec__ to the alias spec: give it back its own.
        if module.__name__ in self._specs:
            module.__spec__ = self._specs.pop(module.__name__)


if not any(type(finder).__name__ == "D6tflowAlias" for finder in sys.meta_path):
    sys.meta_path.insert(0, D6tflowAlias())
sys.modules[__name__] = daskflow
