"""Output formats: how one object becomes bytes in a file on any fsspec filesystem, and back.

A format is a small class with a ``name``, a file ``ext`` and two methods that take an open
fsspec filesystem and a path on it::

    class Feather(Format):
        name, ext = "feather", "feather"

        def save(self, obj, fs, path, **kwargs):
            with fs.open(path, "wb") as f:
                obj.to_feather(f, **kwargs)

        def load(self, fs, path, **kwargs):
            import pandas as pd
            with fs.open(path, "rb") as f:
                return pd.read_feather(f, **kwargs)

    daskflow.formats.register(Feather())

and a task picks it by name (``format = "feather"``). Formats never make a path atomic or
check for existence; :mod:`daskflow.targets` does that around them. Heavy libraries (pandas,
pyarrow) are imported inside the methods, so importing daskflow stays cheap.

The registry is a private dict with a read-only view, :data:`registry`; :func:`register`
refuses to replace a name silently. Formats of optional libraries are registered as dotted
paths with an install hint and imported on first use; other packages may add formats through
the ``daskflow.formats`` entry point group.
"""

from __future__ import annotations

import importlib
import json
import pickle
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import FormatError

__all__ = ["Format", "get_format", "register", "registry"]


class Format:
    """How objects of one kind are written to and read from a file.

    Subclasses set ``name`` (the registry key) and ``ext`` (the file extension, without the
    dot) and implement :meth:`save` and :meth:`load`.
    """

    name: str = ""
    ext: str = ""
    dataset: bool = False  # a folder of files (written by many workers), not one file
    method: str | None = None  # what an object needs to be written (``to_parquet``), if any

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        """Write ``obj`` to ``path`` on the fsspec filesystem ``fs``."""
        raise NotImplementedError

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        """Read the object at ``path`` on the fsspec filesystem ``fs``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Format {self.name!r} (.{self.ext})>"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # formats travel to workers by name; the registry on the other side rebuilds them
        if self.name in _formats:
            return get_format, (self.name,)
        return super().__reduce__()  # type: ignore[return-value]


def _plain_local(fs: Any, path: str) -> bool:
    """Whether ``path`` is a plain local path on fsspec's local filesystem, which Python's
    own ``open`` serves: fsspec's file wrapper costs more than reading a small output does."""
    from fsspec.implementations.local import LocalFileSystem

    return type(fs) is LocalFileSystem and not path.startswith(("file:", "local:"))


def _open(fs: Any, path: str, mode: str) -> Any:
    """``fs.open(path, mode)``, or Python's own ``open`` on a plain local path."""
    return open(path, mode) if _plain_local(fs, path) else fs.open(path, mode)


def _read(fs: Any, path: str) -> bytes:
    """The whole file at ``path``: Python's own ``open`` on a plain local path; elsewhere one
    read from offset 0 (on S3 one ranged GET: opening the file, or reading it without a
    start, first asks for its size with a HEAD)."""
    if _plain_local(fs, path):
        with open(path, "rb") as f:
            return f.read()
    return bytes(fs.cat_file(path, start=0))


class Pickle(Format):
    """Any picklable object (``.pkl``)."""

    name, ext = "pickle", "pkl"

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        kwargs.setdefault("protocol", pickle.HIGHEST_PROTOCOL)
        with _open(fs, path, "wb") as f:
            pickle.dump(obj, f, **kwargs)

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        return pickle.loads(_read(fs, path), **kwargs)


class Json(Format):
    """A JSON-serializable object, stored as ``{"data": obj}`` as d6tflow does (``.json``)."""

    name, ext = "json", "json"

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        kwargs.setdefault("indent", 4)
        text = json.dumps({"data": obj}, **kwargs)
        with _open(fs, path, "wb") as f:
            f.write(text.encode("utf-8"))

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        return json.loads(_read(fs, path).decode("utf-8"), **kwargs)["data"]


class Parquet(Format):
    """A pandas DataFrame as Parquet through pyarrow, snappy-compressed (``.parquet``)."""

    name, ext = "parquet", "parquet"
    method = "to_parquet"

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        kwargs.setdefault("engine", "pyarrow")
        obj.to_parquet(path, filesystem=fs, **kwargs)

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        import pandas as pd

        kwargs.setdefault("engine", "pyarrow")
        return pd.read_parquet(path, filesystem=fs, **kwargs)


class Csv(Format):
    """A pandas DataFrame as CSV without the index (``.csv``)."""

    name, ext = "csv", "csv"
    method = "to_csv"
    compression: str | None = None

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        kwargs.setdefault("index", False)
        kwargs.setdefault("compression", self.compression)
        with fs.open(path, "wb") as f:
            obj.to_csv(f, **kwargs)

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        import pandas as pd

        kwargs.setdefault("compression", self.compression)
        with fs.open(path, "rb") as f:
            return pd.read_csv(f, **kwargs)


class CsvGz(Csv):
    """A pandas DataFrame as gzip-compressed CSV (``.csv.gz``)."""

    name, ext, compression = "csv.gz", "csv.gz", "gzip"


class Excel(Format):
    """A pandas DataFrame as an Excel sheet (``.xlsx``; needs ``openpyxl``)."""

    name, ext = "excel", "xlsx"
    method = "to_excel"

    def save(self, obj: Any, fs: Any, path: str, **kwargs: Any) -> None:
        _require("openpyxl", self.name)
        kwargs.setdefault("index", False)
        with fs.open(path, "wb") as f:
            obj.to_excel(f, **kwargs)

    def load(self, fs: Any, path: str, **kwargs: Any) -> Any:
        import pandas as pd

        _require("openpyxl", self.name)
        with fs.open(path, "rb") as f:
            return pd.read_excel(f, **kwargs)


class Memory(Format):
    """Outputs kept in process memory (``TaskCache``); :mod:`daskflow.targets` stores them."""

    name, ext = "cache", "cache"


def _require(module: str, fmt: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise FormatError(f"format {fmt!r} needs {module}: pip install {module}") from e


# name -> a Format, or (dotted path, install hint) imported on first use
_formats: dict[str, Format | tuple[str, str]] = {
    f.name: f
    for f in (
        Pickle(),
        Json(),
        Parquet(),
        Csv(),
        CsvGz(),
        Excel(),
        Memory(),
    )
}
_formats["dask-parquet"] = ("daskflow.dataframe:DaskParquet", "pip install 'dask[dataframe]'")
_formats["dask-csv"] = ("daskflow.dataframe:DaskCsv", "pip install 'dask[dataframe]'")
_entry_points_loaded = False

registry: Mapping[str, Format | tuple[str, str]] = MappingProxyType(_formats)
"""Read-only view of the registered formats (a lazy entry is a ``(dotted path, hint)`` pair)."""


def register(fmt: Format, *, clobber: bool = False) -> Format:
    """Add ``fmt`` under ``fmt.name``; replacing an existing name needs ``clobber=True``."""
    if not isinstance(fmt, Format):
        raise FormatError(f"register expects a Format instance, got {fmt!r}")
    if not fmt.name or not fmt.ext:
        raise FormatError(f"format {type(fmt).__name__} needs a name and an ext")
    if fmt.name in _formats and not clobber:
        raise FormatError(
            f"a format named {fmt.name!r} is already registered; pass clobber=True to replace it"
        )
    _formats[fmt.name] = fmt
    return fmt


def _load_entry_points() -> None:
    global _entry_points_loaded
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="daskflow.formats"):
        _formats.setdefault(ep.name, (ep.value, f"the package providing {ep.value}"))


def get_format(name: str) -> Format:
    """The registered format called ``name``, importing it on first use."""
    if isinstance(name, Format):
        return name
    if name not in _formats and not _entry_points_loaded:
        _load_entry_points()
    entry = _formats.get(name)
    if entry is None:
        raise FormatError(f"unknown format {name!r}; registered formats: {sorted(_formats)}")
    if isinstance(entry, Format):
        return entry
    dotted, hint = entry
    module, _, attr = dotted.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise FormatError(f"format {name!r} needs a package that is not installed: {hint}") from e
    fmt = obj() if isinstance(obj, type) else obj
    fmt.name = name
    _formats[name] = fmt
    return fmt  # type: ignore[no-any-return]
