"""Keras models (``pip install tensorflow``): d6tflow's ``d6tflow.targets.tf``.

TensorFlow is imported when a model is loaded, not when this module is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import DataTarget, require_module

__all__ = ["H5KerasTarget"]

HINT = "pip install tensorflow"


def _load_model(path: Path, **kwargs: Any) -> Any:
    models = require_module("tensorflow.keras.models", HINT, "a Keras model output")
    return models.load_model(path, **kwargs)


class H5KerasTarget(DataTarget):
    """A Keras model, saved with ``model.save(path)``."""

    def load(self, cached: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().load(_load_model, cached, **kwargs)

    def save(self, model: Any, **kwargs: Any) -> Path | str:  # type: ignore[override]
        require_module("tensorflow", HINT, "a Keras model output")
        return super().save(model, "save", **kwargs)
