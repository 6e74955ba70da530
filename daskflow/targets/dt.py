"""datatable frames (``pip install datatable``): d6tflow's ``d6tflow.targets.dt``.

datatable is imported when a frame is loaded, not when this module is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import DataTarget, require_module

__all__ = ["DatatableTarget"]

HINT = "pip install datatable"


def _open(path: Path, **kwargs: Any) -> Any:
    dt = require_module("datatable", HINT, "a datatable output")
    return dt.fread(path, **kwargs) if not hasattr(dt, "open") else dt.open(path, **kwargs)


class DatatableTarget(DataTarget):
    """A ``datatable.Frame`` in datatable's binary format (``.nff``/jay)."""

    def load(self, cached: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().load(_open, cached, **kwargs)

    def save(self, df: Any, **kwargs: Any) -> Path | str:  # type: ignore[override]
        require_module("datatable", HINT, "a datatable output")
        method = "save" if hasattr(df, "save") else "to_jay"
        return super().save(df, method, **kwargs)
