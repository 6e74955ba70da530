"""PyTorch models (``pip install torch``): d6tflow's ``d6tflow.targets.torch``.

torch is imported when a model is saved or loaded, not when this module is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import DataTarget, require_module

__all__ = ["PyTorchModel"]

HINT = "pip install torch"


def _load(path: Path, **kwargs: Any) -> Any:
    torch = require_module("torch", HINT, "a PyTorch model output")
    return torch.load(path, **kwargs)


def _save(model: Any, path: Path, **kwargs: Any) -> None:
    torch = require_module("torch", HINT, "a PyTorch model output")
    torch.save(model, path, **kwargs)


class PyTorchModel(DataTarget):
    """A PyTorch model (or any object ``torch.save`` takes)."""

    def load(self, cached: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().load(_load, cached, **kwargs)

    def save(self, model: Any, **kwargs: Any) -> Path | str:  # type: ignore[override]
        return super().save(model, _save, **kwargs)
