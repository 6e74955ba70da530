"""The target: one output (a URL, a format and storage options) with ``exists``, ``load``,
an atomic ``save`` and ``remove``; in-memory outputs (:class:`MemoryTarget`, :data:`data`);
and :func:`staging`, which holds a task's saves back until they commit together."""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import settings
from ..context import run_inputs
from ..errors import FormatError, OutputNotFoundError, SaveError, StorageError, masked
from ..formats import Format, get_format
from .names import fitted, system_temp_prefix, temporary_name
from .urls import _local_fs, filesystem, is_local, protocol, redact, resolve

__all__ = ["MemoryTarget", "Staging", "Target", "data", "staging"]


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
        folder, sep, name = self.url.rpartition("/")
        return (folder, name) if sep else (".", name)

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
            self._fs_path = filesystem(self.url, self.storage_options)
        return self._fs_path

    def folder_path(self) -> tuple[Any, str]:
        """The filesystem and the path of the folder that holds this output (where the files
        kept beside it go)."""
        fs, path = self._open()
        return fs, path.rsplit("/", 1)[0] if "/" in path else "."

    def probe_path(self) -> tuple[Any, str]:
        """The filesystem and path of the :attr:`probe` file: the output itself, or for a
        dataset (a folder) the marker file inside it."""
        fs, path = self._open()
        folder, name = self.probe
        if f"{folder}/{name}" != self.url:
            path = f"{path}/{name}"
        return fs, path

    def exists(self) -> bool:
        """Whether the output is there: its :attr:`probe` file, freshly checked."""
        folder, name = self.probe
        url = f"{folder}/{name}"
        if protocol(url) is None:
            return os.path.isfile(resolve(url))
        fs, path = self.probe_path()
        try:
            return bool(fs.isfile(path))  # (no listing is cached: urls.NO_LISTINGS_CACHE)
        except FileNotFoundError:
            return False
        except Exception as e:
            raise StorageError(f"cannot check {redact(url)}: {e}", self.url) from masked(e)

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
            raise self._missing() from masked(e)

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
        return self._hand_over(self._write_temporary(obj, kwargs))

    def _hand_over(self, tmp: Any) -> Path | str:
        """Commit the written temporary ``tmp`` now, or with the task's :func:`staging`."""
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
            folder = os.path.join(os.path.dirname(path), temporary_name(self.name))
            os.makedirs(folder)
        else:
            folder = tempfile.mkdtemp(prefix=system_temp_prefix())
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
        return self._hand_over(tmp)

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
        with tempfile.TemporaryDirectory(prefix=system_temp_prefix()) as folder:
            local = os.path.join(folder, self.name)
            try:
                fs.get_file(path, local)
            except FileNotFoundError as e:
                raise self._missing() from masked(e)
            return read(local)

    def _write_temporary(self, obj: Any, kwargs: dict[str, Any]) -> str:
        """Write ``obj`` whole to a temporary local file (beside the output on local disk,
        for the rename); return its path, or remove it and raise."""
        need = self.format.method
        if need is not None and not hasattr(obj, need):
            several = (
                "; for several outputs, set persist = [...] and save a dict of them"
                if isinstance(obj, Mapping)
                else ""
            )
            raise SaveError(
                f"{redact(self.url)}: the {self.format.name} format writes an object with "
                f".{need}() (a pandas or Dask DataFrame), got {type(obj).__name__}{several}; "
                "or use a task base for this kind of object (TaskPickle, TaskJson, ...)"
            )
        path = self._open()[1]
        if is_local(self.url):
            folder, name = os.path.split(path)
            if not os.path.isdir(folder or "."):  # (one stat: most tasks' folder exists)
                os.makedirs(folder or ".", exist_ok=True)
            tmp = os.path.join(folder, temporary_name(name))
        else:
            prefix = system_temp_prefix()
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=fitted(f"-{self.name}", "", 40))
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
        except BaseException:
            _discard(tmp)
            raise
        if isinstance(tmp, _InFolder) or not is_local(self.url):  # (a plain file was moved)
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
