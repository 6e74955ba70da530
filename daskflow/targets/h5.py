"""HDF5 through PyTables (``pip install "daskflow[h5]"``): d6tflow's ``d6tflow.targets.h5``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import DataTarget, require_module

__all__ = ["H5PandasTarget"]

HINT = 'pip install "daskflow[h5]" (or tables)'


def _read_hdf(path: Path, **kwargs: Any) -> Any:
    require_module("tables", HINT, "an HDF5 output")
    import pandas as pd

    return pd.read_hdf(path, **kwargs)


class H5PandasTarget(DataTarget):
    """A DataFrame in an HDF5 file, under the key ``data`` unless told otherwise."""

    def load(self, cached: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().load(_read_hdf, cached, **{"key": "data", **kwargs})

    def save(self, df: Any, **kwargs: Any) -> Path | str:  # type: ignore[override]
        require_module("tables", HINT, f"saving {type(df).__name__} as HDF5")
        return super().save(df, "to_hdf", **{"key": "data", **kwargs})
