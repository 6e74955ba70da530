"""Formats for Dask DataFrames: outputs bigger than memory, written as a folder of parts by
the workers that compute them (``TaskPqDask``, ``TaskCSVDask``).

Registered in :mod:`daskflow.formats` by dotted path, so dask.dataframe is imported only when
such a task is used. Both are *dataset* formats: :class:`daskflow.targets.DatasetTarget`
writes the parts into a hidden folder and commits them with a ``_SUCCESS`` marker. Where the
parts are computed is not the format's choice: it computes them as the task running now was
told to (:func:`daskflow.context.computing`; on a distributed worker, on its cluster).
"""

from __future__ import annotations

from typing import Any

from .context import computing
from .errors import SaveError
from .formats import Format

__all__ = ["DaskCsv", "DaskParquet"]


def _check_dask_frame(obj: Any, fmt: str) -> None:
    if not hasattr(obj, "__dask_graph__") or not hasattr(obj, "to_parquet"):
        raise SaveError(
            f"format {fmt!r} saves a dask.dataframe.DataFrame, got {type(obj).__name__}; "
            "make one with dask.dataframe.from_pandas(df, npartitions=...) or "
            "dask.dataframe.read_parquet(...), or use TaskPqPandas for a pandas DataFrame"
        )


class DaskParquet(Format):
    """A Dask DataFrame as a folder of Parquet parts, written by the workers that compute
    them; loads as a lazy Dask DataFrame."""

    name, ext, dataset = "dask-parquet", "parquet", True

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        _check_dask_frame(obj, self.name)
        with computing() as compute_kwargs:
            obj.to_parquet(
                fs.unstrip_protocol(path),
                storage_options=fs.storage_options,
                compute_kwargs=compute_kwargs,
                **kwargs,
            )

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        import dask.dataframe as dd

        return dd.read_parquet(
            fs.unstrip_protocol(path), storage_options=fs.storage_options, **kwargs
        )


class DaskCsv(Format):
    """A Dask DataFrame as a folder of CSV parts (``part-0.csv``, ...), without the index."""

    name, ext, dataset = "dask-csv", "csv", True

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        _check_dask_frame(obj, self.name)
        kwargs.setdefault("index", False)
        with computing() as compute_kwargs:
            obj.to_csv(
                fs.unstrip_protocol(path) + "/part-*.csv",
                storage_options=fs.storage_options,
                compute_kwargs=compute_kwargs,
                **kwargs,
            )

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        import dask.dataframe as dd

        return dd.read_csv(
            fs.unstrip_protocol(path) + "/part-*.csv", storage_options=fs.storage_options, **kwargs
        )
