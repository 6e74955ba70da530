"""Targets: one output location (a URL, a format and storage options) and what can be done
with it: ``exists``, ``load``, an atomic ``save`` and ``remove``.

A target holds only plain data, never a live filesystem, so it pickles to any worker, which
opens the filesystem itself (``fsspec.core.url_to_fs``). Local paths and every fsspec URL
(``s3://``, ``gs://``, ``memory://``, ...) go through the same code.

Atomic saves
    A local file is written under a hidden temporary name in its folder and renamed into place
    (``os.replace``), so a task that fails halfway leaves nothing that counts as complete. An
    object-store file is written with one upload, which becomes visible only when it is whole.

Completeness in bulk
    :func:`exists_many` answers for many targets with one listing per folder instead of one
    request per file, and never trusts a cached listing.

In-memory outputs
    :class:`MemoryTarget` (the ``cache`` format) keeps its value in :data:`data`, a dict of
    this process keyed by the target's URL, as d6tflow's ``d6tflow.data`` did.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import settings
from .errors import OutputNotFoundError, StorageError
from .formats import Format, get_format

__all__ = ["MemoryTarget", "Target", "data", "exists_many", "make_target"]

data: dict[str, Any] = {}
"""Values of in-memory outputs, and of file outputs loaded with ``cached=True``, by URL."""
_data_lock = threading.Lock()


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith(("file://", "local://"))


def _fs(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    try:
        fs, path = url_to_fs(url, **storage_options)
        return fs, str(path)
    except (ImportError, ValueError) as e:
        protocol = url.split("://", 1)[0]
        hint = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "az": "adlfs"}
        package = hint.get(protocol)
        extra = f" (pip install {package} or 'daskflow[s3]')" if package else ""
        raise StorageError(f"cannot open storage for {url}: {e}{extra}") from e


class Target:
    """A file output: ``url`` in ``format``, opened with ``storage_options``.

    Parameters
    ----------
    url : str
        A local path (relative to the working directory, or absolute) or an fsspec URL.
    format : Format or str
        The :mod:`daskflow.formats` format, or its registered name.
    storage_options : mapping, optional
        Keyword arguments for the fsspec filesystem (credentials, endpoint, ...).
    """

    def __init__(
        self, url: str, format: Format | str, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        self.url = str(url)
        self.format = get_format(format) if isinstance(format, str) else format
        self.storage_options = dict(storage_options or {})
        self._fs_path: tuple[Any, str] | None = None

    # -- identity ------------------------------------------------------------------------

    @property
    def path(self) -> Path | str:
        """The output's location as d6tflow gave it: a ``Path`` on local disk, else the URL."""
        return Path(self.url) if "://" not in self.url else self.url

    @property
    def folder(self) -> str:
        """The URL of the folder that holds this output."""
        return self.url.rsplit("/", 1)[0] if "/" in self.url else "."

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, format={self.format.name!r})"

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
        """Whether the output is there (a committed file)."""
        if _is_local(self.url) and "://" not in self.url:
            return os.path.isfile(self.url)
        fs, path = self._open()
        try:
            fs.invalidate_cache(path)
            return bool(fs.isfile(path))
        except FileNotFoundError:
            return False
        except Exception as e:
            raise StorageError(f"cannot check {self.url}: {e}") from e

    def load(self, cached: bool = False, **kwargs: Any) -> Any:
        """Read the output. With ``cached`` (or ``settings.cached``) keep it in :data:`data`."""
        cached = cached or settings.cached
        if cached and self.url in data:
            return data[self.url]
        fs, path = self._open()
        try:
            value = self.format.load(fs, path, **kwargs)
        except FileNotFoundError as e:
            raise OutputNotFoundError(
                f"{self.url} does not exist; run the task that writes it first"
            ) from e
        if cached:
            with _data_lock:
                data[self.url] = value
        return value

    def save(self, obj: Any, **kwargs: Any) -> Path | str:
        """Write ``obj`` atomically: nobody sees a half-written output. Returns ``path``."""
        fs, path = self._open()
        if _is_local(self.url):
            folder, name = os.path.split(path)
            os.makedirs(folder or ".", exist_ok=True)
            tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
            try:
                self.format.save(obj, fs, tmp, **kwargs)
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.remove(tmp)
                raise
        else:
            self.format.save(obj, fs, path, **kwargs)
            fs.invalidate_cache(path)
        with _data_lock:
            data.pop(self.url, None)  # a cached earlier load is stale now
        return self.path

    def remove(self) -> None:
        """Delete the output if it exists."""
        with _data_lock:
            data.pop(self.url, None)
        if "://" not in self.url:
            if os.path.isfile(self.url):
                os.remove(self.url)
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
        return self.url in data

    def load(self, cached: bool = True, **kwargs: Any) -> Any:
        try:
            return data[self.url]
        except KeyError:
            raise OutputNotFoundError(
                f"in-memory output {self.url} does not exist in this process; "
                "make sure the task is complete (run the flow first)"
            ) from None

    def save(self, obj: Any, **kwargs: Any) -> str:
        with _data_lock:
            data[self.url] = obj
        return self.url

    def remove(self) -> None:
        with _data_lock:
            data.pop(self.url, None)

    invalidate = remove


def make_target(url: str, format: Format | str, storage_options: Mapping[str, Any]) -> Target:
    """The target for ``url`` in ``format``: a :class:`MemoryTarget` for ``"cache"``."""
    fmt = get_format(format) if isinstance(format, str) else format
    if fmt.name == "cache":
        return MemoryTarget(url, storage_options)
    return Target(url, fmt, storage_options)


def _list_names(folder: str, storage_options: Mapping[str, Any]) -> set[str]:
    """The names of the files in ``folder``, freshly listed (empty if it does not exist)."""
    if "://" not in folder:
        try:
            with os.scandir(folder) as it:
                return {e.name for e in it if e.is_file()}
        except (FileNotFoundError, NotADirectoryError):
            return set()
    fs, path = _fs(folder, storage_options)
    try:
        fs.invalidate_cache(path)
        entries = fs.ls(path, detail=True)
    except FileNotFoundError:
        return set()
    except Exception as e:
        raise StorageError(f"cannot list {folder}: {e}") from e
    return {
        str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "file"
    }


def exists_many(targets: Iterable[Target]) -> list[bool]:
    """Whether each target exists, with one fresh listing per folder.

    In-memory targets are looked up in :data:`data`. Folders on remote storage are listed in
    parallel.
    """
    targets = list(targets)
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = defaultdict(list)
    answers = [False] * len(targets)
    for i, t in enumerate(targets):
        if isinstance(t, MemoryTarget):
            answers[i] = t.url in data
        else:
            opts = tuple(sorted((k, repr(v)) for k, v in t.storage_options.items()))
            groups[(t.folder, opts)].append(i)
    folders = list(groups)

    def listing(key: tuple[str, tuple[tuple[str, str], ...]]) -> set[str]:
        first = targets[groups[key][0]]
        return _list_names(key[0], first.storage_options)

    remote = [k for k in folders if "://" in k[0]]
    if len(remote) > 1:
        with ThreadPoolExecutor(min(16, len(remote))) as pool:
            names = dict(zip(remote, pool.map(listing, remote), strict=True))
    else:
        names = {k: listing(k) for k in remote}
    for key in folders:
        found = names[key] if key in names else listing(key)
        for i in groups[key]:
            answers[i] = targets[i].name in found
    return answers
