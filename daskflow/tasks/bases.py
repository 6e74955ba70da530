"""d6tflow's task bases: one :class:`TaskData` subclass per way of storing outputs."""

from __future__ import annotations

from ..targets import (
    CacheTarget,
    CSVGZPandasTarget,
    CSVPandasTarget,
    ExcelPandasTarget,
    JsonTarget,
    PdCacheTarget,
    PickleTarget,
    PqPandasTarget,
)
from .data import TaskData

__all__ = [
    "TaskCSVDask",
    "TaskCSVGZPandas",
    "TaskCSVPandas",
    "TaskCache",
    "TaskCachePandas",
    "TaskExcelPandas",
    "TaskJson",
    "TaskPickle",
    "TaskPqDask",
    "TaskPqPandas",
]


class TaskCache(TaskData):
    """Outputs kept in memory (any object); they last as long as the process that holds them."""

    format = "cache"
    target_class = CacheTarget


class TaskCachePandas(TaskCache):
    """A DataFrame kept in memory."""

    target_class = PdCacheTarget


class TaskPickle(TaskData):
    """Any picklable object, pickled (``.pkl``)."""

    format = "pickle"
    target_class = PickleTarget


class TaskJson(TaskData):
    """A JSON-serializable object (``.json``)."""

    format = "json"
    target_class = JsonTarget


class TaskPqPandas(TaskData):
    """A DataFrame as Parquet, through pyarrow with snappy compression (``.parquet``)."""

    format = "parquet"
    target_class = PqPandasTarget


class TaskCSVPandas(TaskData):
    """A DataFrame as CSV (``.csv``)."""

    format = "csv"
    target_class = CSVPandasTarget


class TaskCSVGZPandas(TaskData):
    """A DataFrame as gzip-compressed CSV (``.csv.gz``)."""

    format = "csv.gz"
    target_class = CSVGZPandasTarget


class TaskExcelPandas(TaskData):
    """A DataFrame as an Excel sheet (``.xlsx``, needs openpyxl)."""

    format = "excel"
    target_class = ExcelPandasTarget


class TaskPqDask(TaskData):
    """A Dask DataFrame as a folder of Parquet parts written by the workers themselves;
    downstream, ``inputLoad()`` gives a lazy Dask DataFrame. For outputs bigger than memory.
    """

    format = "dask-parquet"


class TaskCSVDask(TaskData):
    """A Dask DataFrame as a folder of CSV parts written by the workers themselves."""

    format = "dask-csv"
