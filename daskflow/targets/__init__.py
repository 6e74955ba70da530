"""Targets: one output location (a URL, a format and storage options) and what can be done
with it: ``exists``, ``load``, an atomic ``save`` and ``remove``.

A target holds only plain data, never a live filesystem, so it pickles to any worker, which
opens the filesystem itself (``fsspec.core.url_to_fs``). Every fsspec URL (``s3://``,
``gs://``, ``memory://``, ``file://``, ...) goes through the same code; a plain local path
takes a shorter way through ``os`` (no URL to parse, no fsspec call). :func:`protocol` is the
one place that tells the two apart, and fsspec's registry says which package a missing
backend needs.

Atomic saves
    A local file is written under a hidden temporary name in its folder and renamed into place
    (``os.replace``), so a task that fails halfway leaves nothing that counts as complete. An
    object-store file is written with one upload, which becomes visible only when it is whole.

Completeness in bulk
    :func:`exists_many` answers for many targets with one listing per folder instead of one
    request per file, and never trusts a cached listing.

In-memory outputs
    :class:`MemoryTarget` (the ``cache`` format) keeps its value in :data:`data`, a dict of
    this process keyed by the target's URL, as d6tflow's ``d6tflow.data`` did. A task
    running in another process finds the values handed to it in
    :data:`daskflow.context.run_inputs` first.

d6tflow's target classes
    :class:`DataTarget` and its subclasses (:class:`PqPandasTarget`, :class:`CSVPandasTarget`,
    ...) keep d6tflow's names and calls: ``PqPandasTarget(path).save(df)`` returns the path,
    ``.load()`` reads it back. A user's own ``DataTarget`` subclass that saves with
    ``super().save(obj, "to_feather")`` and loads with ``super().load(read_fn)`` works as a
    task's ``target_class``; its function is handed a local ``pathlib.Path`` whose name is the
    output's, and daskflow makes the result atomic and uploads it to object stores.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import os
import shutil
import tempfile
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .. import settings
from ..context import base_dir, run_inputs
from ..errors import FormatError, OutputNotFoundError, StorageError
from ..formats import Format, get_format

__all__ = [
    "CSVGZPandasTarget",
    "CSVPandasTarget",
    "CacheTarget",
    "DataTarget",
    "DatasetTarget",
    "ExcelPandasTarget",
    "JsonTarget",
    "MemoryTarget",
    "PdCacheTarget",
    "PickleTarget",
    "PqPandasTarget",
    "Staging",
    "Target",
    "data",
    "exists_many",
    "is_local",
    "make_target",
    "protocol",
    "redact",
    "require_module",
    "staging",
]


class _ByUrl(dict[Any, Any]):
    """A dict keyed by output URL that also finds a key given as a path object
    (``data[Path("data/x.csv")]``, as d6tflow's ``d6tflow.data`` was keyed)."""

    @staticmethod
    def _key(key: Any) -> Any:
        return os.fspath(key) if isinstance(key, os.PathLike) else key

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._key(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(self._key(key), value)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(self._key(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._key(key), default)

    def pop(self, key: Any, *default: Any) -> Any:
        return super().pop(self._key(key), *default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return super().setdefault(self._key(key), default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


data: dict[str, Any] = _ByUrl()
"""Values of in-memory outputs, and of file outputs loaded with ``cached=True``, by URL."""
_data_lock = threading.Lock()


def _memory_value(url: str) -> tuple[bool, Any]:
    given = run_inputs.get()
    if url in given:
        return True, given[url]
    if url in data:
        return True, data[url]
    return False, None


def protocol(url: str) -> str | None:
    """The fsspec protocol ``url`` names; ``None`` for a plain local path.

    The one place daskflow tells a URL from a path. A plain path is never parsed further:
    the code that sees ``None`` works on it with ``os`` directly, without fsspec.

    >>> protocol("s3://bucket/x.pkl"), protocol("data/Task/x.pkl"), protocol("file:///tmp/x")
    ('s3', None, 'file')
    """
    if "://" not in url:
        return None
    return url.split("://", 1)[0]


def is_local(url: str) -> bool:
    """Whether ``url`` is on this machine's disk: a plain path, or a ``file://`` or
    ``local://`` URL (there a file is made atomic by renaming it, elsewhere by one upload).

    >>> is_local("data/x.pkl"), is_local("local:///tmp/x.pkl"), is_local("memory://x.pkl")
    (True, True, False)
    """
    return protocol(url) in (None, "file", "local")


def redact(url: str) -> str:
    """``url`` without a password or token written into it, for messages.

    >>> redact("s3://key:secret@bucket/prefix")
    's3://***@bucket/prefix'
    >>> redact("data/Task/x.pkl")
    'data/Task/x.pkl'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, tail = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    return f"{scheme}://{host}{slash}{tail}"


def resolve(url: str) -> str:
    """``url``, with a relative local path joined to :data:`daskflow.context.base_dir`
    when one is set."""
    if protocol(url) is not None or os.path.isabs(url):
        return url
    base = base_dir.get()
    return os.path.join(base, url) if base else url


_EXTRAS = {"s3fs": "daskflow[s3]"}
"""The packages of fsspec backends that a daskflow extra installs."""


def _install_hint(name: str | None) -> str:
    """The pip command that installs the fsspec backend of protocol ``name``, from fsspec's
    registry (``known_implementations``); empty when the backend is part of fsspec or the
    protocol is unknown (fsspec's own message then says what is missing)."""
    from fsspec.registry import known_implementations

    package = known_implementations.get(name or "", {}).get("class", "fsspec").split(".")[0]
    if package == "fsspec":
        return ""
    extra = _EXTRAS.get(package)
    return f"pip install '{extra}' (or {package})" if extra else f"pip install {package}"


def _fs(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    if not storage_options and protocol(url) is None:  # a plain local path: no URL to parse
        return _local_fs(), os.path.abspath(resolve(url))
    from fsspec.core import url_to_fs

    try:
        fs, path = url_to_fs(resolve(url), **storage_options)
        return fs, str(path)
    except (ImportError, ValueError) as e:
        hint = _install_hint(protocol(url)) if isinstance(e, ImportError) else ""
        extra = f" ({hint})" if hint else ""
        raise StorageError(f"cannot open storage for {redact(url)}: {e}{extra}", url) from e


class Target:
    """A file output: ``url`` in ``format``, opened with ``storage_options``.

    Parameters
    ----------
    url : str or os.PathLike
        A local path (relative to the working directory, or absolute) or an fsspec URL.
    format : Format or str, optional
        The :mod:`daskflow.formats` format, or its registered name (default: the class's
        ``default_format``).
    storage_options : mapping, optional
        Keyword arguments for the fsspec filesystem (credentials, endpoint, ...).
    """

    default_format: str | Format | None = None

    def __init__(
        self,
        url: str | os.PathLike[str],
        format: Format | str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = os.fspath(url)
        if not isinstance(self.url, str):
            raise TypeError(f"{type(self).__name__} expects a path or URL string, got {url!r}")
        format = format if format is not None else self.default_format
        if format is None:
            raise FormatError(f"{type(self).__name__}({self.url!r}) needs a format")
        self.format = get_format(format) if isinstance(format, str) else format
        self.storage_options = dict(storage_options or {})
        self._fs_path: tuple[Any, str] | None = None

    # -- identity ------------------------------------------------------------------------

    @property
    def path(self) -> Path | str:
        """The output's location as d6tflow gave it: a ``Path`` on local disk, else the URL."""
        return Path(self.url) if protocol(self.url) is None else self.url

    @property
    def folder(self) -> str:
        """The URL of the folder that holds this output."""
        return self.url.rsplit("/", 1)[0] if "/" in self.url else "."

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def probe(self) -> tuple[str, str]:
        """``(folder, name)``: the file whose presence means this output is complete."""
        return self.folder, self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self.url)!r}, format={self.format.name!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target) or type(other) is not type(self):
            return False
        return (self.url, self.format.name) == (other.url, other.format.name)

    def __hash__(self) -> int:
        return hash((self.url, self.format.name))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fs_path"] = None  # a live filesystem never travels; the worker opens its own
        return state

    # -- storage -------------------------------------------------------------------------

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of this target."""
        return self._open()[0]

    def _open(self) -> tuple[Any, str]:
        if self._fs_path is None:
            self._fs_path = _fs(self.url, self.storage_options)
        return self._fs_path

    def exists(self) -> bool:
        """Whether the output is there: its :attr:`probe` file, freshly checked."""
        folder, name = self.probe
        url = f"{folder}/{name}"
        if protocol(url) is None:
            return os.path.isfile(resolve(url))
        fs, path = self._open()
        if url != self.url:  # the probe is a file inside the output (a dataset's marker)
            path = f"{path}/{name}"
        try:
            fs.invalidate_cache(path)
            return bool(fs.isfile(path))
        except FileNotFoundError:
            return False
        except Exception as e:
            raise StorageError(f"cannot check {redact(url)}: {e}", self.url) from e

    def load(self, cached: bool = False, **kwargs: Any) -> Any:
        """Read the output; ``kwargs`` go to the format.

        As in d6tflow, a load is served from :data:`data` only when it asks (``cached``)
        *and* ``settings.cached`` is on; either one keeps what it reads there. So a setting
        left on by an earlier notebook cell never makes a plain load see an object that
        other code changed in place, and an asked-for cache never outlives a rerun that a
        setting did not allow to be cached.
        """
        return self._cached(cached, lambda: self._read(kwargs))

    def _cached(self, cached: bool, read: Callable[[], Any]) -> Any:
        keep = settings.current("cached")
        if cached and keep and self.url in data:
            return data[self.url]
        value = read()
        if cached or keep:
            with _data_lock:
                data[self.url] = value
        return value

    def _read(self, kwargs: dict[str, Any]) -> Any:
        staging = _staging.get()
        if staging is not None and self.url in staging.entries:
            return self.format.load(_local_fs(), staging.entries[self.url][1], **kwargs)
        fs, path = self._open()
        try:
            return self.format.load(fs, path, **kwargs)
        except FileNotFoundError as e:
            raise self._missing() from e

    def _missing(self) -> OutputNotFoundError:
        return OutputNotFoundError(
            f"{redact(self.url)} does not exist; run the task that writes it first"
        )

    def save(self, obj: Any, **kwargs: Any) -> Path | str:
        """Write ``obj`` atomically: nobody sees a half-written output. Returns ``path``.

        The object is written whole to a temporary local file, then committed: renamed into
        place on local disk, uploaded in one put to other storage. Inside :func:`staging`
        the commit waits until the staging commits.
        """
        tmp = self._write_temporary(obj, kwargs)
        staging = _staging.get()
        if staging is not None:
            staging.add(self, tmp)
        else:
            self._commit(tmp)
        return self.path

    def _stage_with(self, write: Callable[[str], Any]) -> Path | str:
        """Save what ``write(local path)`` writes, atomically, as :meth:`save` does.

        The path handed to ``write`` is a local file named as the output is (so code that
        infers a format from the extension works), alone in a temporary folder that goes
        away with it.
        """
        if is_local(self.url):
            path = self._open()[1]
            token = uuid.uuid4().hex[:12]
            folder = os.path.join(os.path.dirname(path), f".{self.name}.{token}.tmp")
            os.makedirs(folder)
        else:
            folder = tempfile.mkdtemp(prefix="daskflow-")
        tmp = _InFolder(os.path.join(folder, self.name))
        try:
            write(tmp)
            if not os.path.isfile(tmp):
                raise OutputNotFoundError(
                    f"saving {redact(self.url)} wrote no file at the path it was given"
                )
        except BaseException:
            _discard(tmp)
            raise
        staging = _staging.get()
        if staging is not None:
            staging.add(self, tmp)
        else:
            self._commit(tmp)
        return self.path

    def _local_copy(self, read: Callable[[str], Any]) -> Any:
        """``read(local path)`` of this output: the file itself on local disk, else a copy
        downloaded to a temporary folder (under the output's own name)."""
        staging = _staging.get()
        if staging is not None and self.url in staging.entries:
            return read(staging.entries[self.url][1])
        fs, path = self._open()
        if is_local(self.url):
            if not os.path.isfile(path):
                raise self._missing()
            return read(path)
        with tempfile.TemporaryDirectory(prefix="daskflow-") as folder:
            local = os.path.join(folder, self.name)
            try:
                fs.get_file(path, local)
            except FileNotFoundError as e:
                raise self._missing() from e
            return read(local)

    def _write_temporary(self, obj: Any, kwargs: dict[str, Any]) -> str:
        """Write ``obj`` whole to a temporary local file (beside the output on local disk,
        for the rename); return its path, or remove it and raise."""
        path = self._open()[1]
        if is_local(self.url):
            folder, name = os.path.split(path)
            os.makedirs(folder or ".", exist_ok=True)
            tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
        else:
            fd, tmp = tempfile.mkstemp(prefix="daskflow-", suffix=f"-{self.name}")
            os.close(fd)
        try:
            self.format.save(obj, _local_fs(), tmp, **kwargs)
        except BaseException:
            self._discard_staged(tmp)
            raise
        return tmp

    def _discard_staged(self, tmp: Any) -> None:
        _discard(tmp)

    def _commit(self, tmp: Any) -> None:
        """Make the temporary file ``tmp`` this output."""
        fs, path = self._open()
        try:
            if is_local(self.url):
                os.replace(tmp, path)
            else:
                fs.put_file(tmp, path)
                fs.invalidate_cache(path)
        finally:
            _discard(tmp)
        with _data_lock:
            data.pop(self.url, None)  # a cached earlier load is stale now

    def remove(self) -> None:
        """Delete the output if it exists."""
        with _data_lock:
            data.pop(self.url, None)
        if protocol(self.url) is None:
            _discard(resolve(self.url))
            return
        fs, path = self._open()
        with contextlib.suppress(FileNotFoundError):
            fs.rm(path)
        fs.invalidate_cache(path)

    invalidate = remove  # d6tflow's name


class MemoryTarget(Target):
    """An output kept in this process's memory, in :data:`data` under its URL."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(url, "cache", storage_options)

    @property
    def path(self) -> str:
        return self.url

    def exists(self) -> bool:
        return _memory_value(self.url)[0]

    def load(self, cached: bool = True, **kwargs: Any) -> Any:
        staging = _staging.get()
        if staging is not None and self.url in staging.entries:
            return staging.entries[self.url][1]
        found, value = _memory_value(self.url)
        if not found:
            raise OutputNotFoundError(
                f"in-memory output {redact(self.url)} does not exist in this process; "
                "make sure the task is complete (run the flow first)"
            )
        return value

    def save(self, obj: Any, **kwargs: Any) -> str:
        staging = _staging.get()
        if staging is not None:
            staging.add(self, obj)
        else:
            self._commit(obj)
        return self.url

    def _commit(self, value: Any) -> None:
        with _data_lock:
            data[self.url] = value

    def _discard_staged(self, value: Any) -> None:
        pass

    def remove(self) -> None:
        with _data_lock:
            data.pop(self.url, None)

    invalidate = remove


class _InFolder(str):
    """A temporary file alone in a temporary folder: discarding it removes the folder."""


def _discard(tmp: str) -> None:
    if isinstance(tmp, _InFolder):
        shutil.rmtree(os.path.dirname(tmp), ignore_errors=True)
        return
    with contextlib.suppress(FileNotFoundError):
        os.remove(tmp)


class Staging:
    """Outputs saved while one task runs, committed together only if it succeeds.

    ``entries`` maps each saved target's URL to ``(target, temporary file or value)``. A
    later save of the same target replaces the earlier one.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Target, Any]] = {}

    def __contains__(self, url: object) -> bool:
        return url in self.entries

    def add(self, target: Target, staged: Any) -> None:
        old = self.entries.get(target.url)
        if old is not None:
            old[0]._discard_staged(old[1])
        self.entries[target.url] = (target, staged)

    def commit(self) -> None:
        """Move every staged output into place (each one atomically).

        With several stored outputs, the old ones are removed first: if a commit fails
        halfway the task is incomplete (and runs again), never a mix of two runs.
        """
        stored = [t for t, _ in self.entries.values() if not isinstance(t, MemoryTarget)]
        if len(stored) > 1:
            for target in stored:
                target.remove()
        while self.entries:
            url = next(iter(self.entries))
            target, staged = self.entries.pop(url)
            target._commit(staged)

    def discard(self) -> None:
        """Drop every staged output; nothing already committed is touched."""
        for target, staged in self.entries.values():
            target._discard_staged(staged)
        self.entries.clear()


_staging: contextvars.ContextVar[Staging | None] = contextvars.ContextVar(
    "daskflow_staging", default=None
)


@contextlib.contextmanager
def staging() -> Iterator[Staging]:
    """Hold back every save in this context until ``commit()``; discard them on exit.

    >>> import tempfile, os
    >>> url = os.path.join(tempfile.mkdtemp(), "x.pkl")
    >>> with staging() as tx:
    ...     _ = Target(url, "pickle").save(1)
    ...     print(Target(url, "pickle").exists(), Target(url, "pickle").load())
    ...     tx.commit()
    False 1
    >>> Target(url, "pickle").load()
    1
    """
    tx = Staging()
    token = _staging.set(tx)
    try:
        yield tx
    finally:
        _staging.reset(token)
        tx.discard()


class DatasetTarget(Target):
    """A multi-file output, such as a partitioned Dask DataFrame: a folder of parts that is
    complete only when its marker ``_SUCCESS``, written after every part, exists.

    The parts are written by whoever computes them (the workers of a cluster), into a hidden
    sibling folder; the commit removes the marker and the old parts, moves the new folder
    into place and writes the marker. A writer that dies leaves no marker: the output is not
    complete, and the next run writes it again.
    """

    MARKER = "_SUCCESS"

    @property
    def probe(self) -> tuple[str, str]:
        return self.url, self.MARKER

    def load(self, cached: bool = False, **kwargs: Any) -> Any:
        """The dataset, lazily (a Dask DataFrame for the Dask formats)."""
        fs, path = self._open()
        staging = _staging.get()
        if staging is not None and self.url in staging.entries:
            return self.format.load(fs, staging.entries[self.url][1], **kwargs)
        if not self.exists():
            raise OutputNotFoundError(
                f"{redact(self.url)} is not complete (no {self.MARKER}); run the task that "
                "writes it first"
            )
        return self.format.load(fs, path, **kwargs)

    def _write_temporary(self, obj: Any, kwargs: dict[str, Any]) -> str:
        """Write the parts into a hidden sibling folder, on the output's own storage."""
        fs, path = self._open()
        folder, name = path.rsplit("/", 1)
        tmp = f"{folder}/.{name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            self.format.save(obj, fs, tmp, **kwargs)
        except BaseException:
            self._discard_staged(tmp)
            raise
        return tmp

    def _discard_staged(self, tmp: Any) -> None:
        fs = self._open()[0]
        with contextlib.suppress(FileNotFoundError):
            fs.rm(tmp, recursive=True)

    def _commit(self, tmp: Any) -> None:
        fs, path = self._open()
        try:
            self.remove()
            if is_local(self.url):
                os.replace(tmp, path)
            else:  # object stores have no folders to rename: copy the parts (server side)
                parts = sorted(fs.find(tmp))
                if parts:
                    fs.copy(parts, [f"{path}/{p[len(tmp) :].lstrip('/')}" for p in parts])
        finally:
            self._discard_staged(tmp)  # whatever happened, the hidden folder goes
        fs.pipe_file(f"{path}/{self.MARKER}", b"")
        fs.invalidate_cache(path)

    def remove(self) -> None:
        """Delete the marker first (the output stops counting), then the parts."""
        fs, path = self._open()
        for victim, recursive in ((f"{path}/{self.MARKER}", False), (path, True)):
            with contextlib.suppress(FileNotFoundError):
                fs.rm(victim, recursive=recursive)
        fs.invalidate_cache(path)

    invalidate = remove


# -- d6tflow's target classes ------------------------------------------------------------


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
        if is_local(self.url) and not type(self).__module__.startswith("daskflow."):
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


_local: Any = None


def _local_fs() -> Any:
    """fsspec's local filesystem (one instance: it holds no state of its own)."""
    global _local
    if _local is None:
        from fsspec.implementations.local import LocalFileSystem

        _local = LocalFileSystem()
    return _local


def make_target(url: str, format: Format | str, storage_options: Mapping[str, Any]) -> Target:
    """The target for ``url`` in ``format``: a :class:`MemoryTarget` for ``"cache"``, a
    :class:`DatasetTarget` for multi-file formats."""
    fmt = get_format(format) if isinstance(format, str) else format
    if fmt.name == "cache":
        return MemoryTarget(url, storage_options)
    if fmt.dataset:
        return DatasetTarget(url, fmt, storage_options)
    return Target(url, fmt, storage_options)


def _list_names(folder: str, storage_options: Mapping[str, Any]) -> set[str]:
    """The names of the files in ``folder``, freshly listed (empty if it does not exist)."""
    if protocol(folder) is None:
        try:
            with os.scandir(resolve(folder)) as it:
                return {e.name for e in it if e.is_file()}
        except (FileNotFoundError, NotADirectoryError):
            return set()
    fs, path = _fs(folder, storage_options)
    try:
        fs.invalidate_cache(path)
        entries = fs.ls(path, detail=True)
    except FileNotFoundError:
        _check_bucket(fs, folder)
        return set()
    except Exception as e:
        raise StorageError(f"cannot list {redact(folder)}: {type(e).__name__}: {e}", folder) from e
    return {
        str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "file"
    }


OBJECT_STORES = ("s3", "s3a", "gs", "gcs", "abfs", "az", "adl")


def _check_bucket(fs: Any, url: str) -> None:
    """A folder that is not there is normal (nothing written yet), unless it is in an object
    store whose bucket does not exist: then say so before any task tries to write there."""
    name = protocol(url)
    if name not in OBJECT_STORES:
        return
    bucket = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    try:
        found = fs.exists(bucket)
    except Exception as e:
        raise StorageError(
            f"cannot check bucket {name}://{bucket}: {type(e).__name__}: {e}", url
        ) from e
    if not found:
        raise StorageError(
            f"bucket {name}://{bucket} does not exist (outputs go to {redact(url)}); "
            "create it, or point settings.dirpath / set_dir() at an existing one",
            url,
        )


def exists_many(targets: Iterable[Target]) -> list[bool]:
    """Whether each target exists, with one fresh listing per folder.

    In-memory targets are looked up in :data:`data`, and a target class with its own
    ``exists()`` is asked. Folders on remote storage are listed in parallel.
    """
    targets = list(targets)
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = defaultdict(list)
    answers = [False] * len(targets)
    for i, t in enumerate(targets):
        if type(t).exists is not Target.exists:  # in memory, or a user's own exists()
            answers[i] = t.exists()
        else:
            opts = tuple(sorted((k, repr(v)) for k, v in t.storage_options.items()))
            groups[(t.probe[0], opts)].append(i)
    folders = list(groups)

    def listing(key: tuple[str, tuple[tuple[str, str], ...]]) -> set[str]:
        first = targets[groups[key][0]]
        return _list_names(key[0], first.storage_options)

    remote = [k for k in folders if not is_local(k[0])]
    if len(remote) > 1:
        with ThreadPoolExecutor(min(16, len(remote))) as pool:
            names = dict(zip(remote, pool.map(listing, remote), strict=True))
    else:
        names = {k: listing(k) for k in remote}
    for key in folders:
        found = names[key] if key in names else listing(key)
        for i in groups[key]:
            answers[i] = targets[i].probe[1] in found
    return answers
