"""d6tflow's target classes: :class:`DataTarget`, which saves and loads with functions it
is given, and the named classes (``PqPandasTarget``, ...) stored in daskflow's formats."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import FormatError
from ..formats import Format
from .core import MemoryTarget, Target
from .urls import is_local, redact

__all__ = [
    "CSVGZPandasTarget",
    "CSVPandasTarget",
    "CacheTarget",
    "DataTarget",
    "ExcelPandasTarget",
    "JsonTarget",
    "PdCacheTarget",
    "PickleTarget",
    "PqPandasTarget",
    "require_module",
]


class _ByFunction(Format):
    """The format of a :class:`DataTarget` that saves and loads with functions it is given."""

    name, ext = "function", "ext"

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        raise FormatError(
            "a DataTarget saves with a function: subclass it and call "
            "super().save(obj, 'to_parquet') (a method name of obj, or a function(obj, path))"
        )

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        raise FormatError(
            "a DataTarget loads with a function: subclass it and call "
            "super().load(pd.read_parquet) (a function of the path)"
        )


class DataTarget(Target):
    """d6tflow's base class of file targets: subclasses save and load with functions.

    ::

        class FeatherTarget(DataTarget):
            def load(self, cached=False, **kwargs):
                return super().load(pd.read_feather, cached, **kwargs)

            def save(self, df, **kwargs):
                return super().save(df, "to_feather", **kwargs)

        class TaskFeather(daskflow.tasks.TaskData):
            target_class, target_ext = FeatherTarget, "feather"

    ``save(obj, fun)`` calls ``obj.fun(path)`` (``fun`` a method name) or ``fun(obj, path)``;
    ``load(fun)`` calls ``fun(path)``. ``path`` is a local :class:`pathlib.Path` named as the
    output: the file itself on local disk when loading, a temporary file when saving, which
    daskflow renames into place (or uploads) whole. Without a function they use the format
    (``default_format``) of the subclass.
    """

    default_format: str | Format | None = _ByFunction()

    def __init__(
        self,
        url: str | os.PathLike[str],
        format: Format | str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(url, format, storage_options)
        if not type(self).__module__.startswith("daskflow.") and is_local(self.url):
            # d6tflow made the folder, and users' own targets write to self.path themselves
            os.makedirs(os.path.dirname(self._open()[1]) or ".", exist_ok=True)

    def load(  # type: ignore[override]
        self, fun: Callable[..., Any] | None = None, cached: bool = False, **kwargs: Any
    ) -> Any:
        if fun is None:
            return super().load(cached, **kwargs)
        return self._cached(cached, lambda: self._local_copy(lambda p: fun(Path(p), **kwargs)))

    def save(
        self, obj: Any, fun: str | Callable[..., Any] | None = None, **kwargs: Any
    ) -> Path | str:
        if fun is None:
            return super().save(obj, **kwargs)
        if isinstance(fun, str):
            write = getattr(obj, fun, None)
            if write is None:
                raise FormatError(
                    f"cannot save {type(obj).__name__} to {redact(self.url)}: it has no "
                    f"method {fun!r}"
                )
            return self._stage_with(lambda p: write(Path(p), **kwargs))
        return self._stage_with(lambda p: fun(obj, Path(p), **kwargs))


class _Formatted(DataTarget):
    """A d6tflow target class stored in one of daskflow's formats (``default_format``)."""

    def load(self, cached: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
        return Target.load(self, cached, **kwargs)

    def save(self, obj: Any, **kwargs: Any) -> Path | str:  # type: ignore[override]
        return Target.save(self, obj, **kwargs)


class CSVPandasTarget(_Formatted):
    """A DataFrame as CSV without the index."""

    default_format = "csv"


class CSVGZPandasTarget(CSVPandasTarget):
    """A DataFrame as gzip-compressed CSV."""

    default_format = "csv.gz"


class ExcelPandasTarget(_Formatted):
    """A DataFrame as an Excel sheet (needs openpyxl)."""

    default_format = "excel"


class PqPandasTarget(_Formatted):
    """A DataFrame as Parquet (pyarrow, snappy; d6tflow used gzip, which reads the same)."""

    default_format = "parquet"


class JsonTarget(_Formatted):
    """A JSON-serializable object, stored as ``{"data": obj}``."""

    default_format = "json"


class PickleTarget(_Formatted):
    """Any picklable object."""

    default_format = "pickle"


CacheTarget = MemoryTarget  # d6tflow's name for an output kept in memory


class PdCacheTarget(MemoryTarget):
    """A DataFrame kept in memory (d6tflow's ``TaskCachePandas`` target)."""


def require_module(module: str, hint: str, what: str) -> Any:
    """Import ``module`` for ``what``, or raise :class:`FormatError` with the install hint."""
    if importlib.util.find_spec(module.split(".")[0]) is None:
        raise FormatError(f"{what} needs {module}, which is not installed: {hint}")
    return importlib.import_module(module)
