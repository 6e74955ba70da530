"""One small object beside a target that can be created only if absent, and swapped or
deleted only if it still holds what its reader saw: what :mod:`daskflow.leases` builds on.

:func:`store_beside` picks the kind for the target's storage:

:class:`LocalStore`
    a file: ``O_EXCL`` to create; a compare-and-swap renames it aside, checks it and puts it
    back if it was not the one read. The file this process created stays open until it is
    rewritten (:meth:`LocalStore.rewrite`) or closed, so rewriting it opens nothing.
:class:`S3Store`
    an S3 object: a put with ``If-None-Match: *`` to create, ``If-Match`` on its ETag to swap
    (s3fs >= 2025.2).
:class:`OtherStore`
    any other fsspec storage: create if absent, then read back; best effort, with a warning
    once per kind of filesystem.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
import warnings
from typing import Any, ClassVar

from .core import Target
from .urls import is_local, protocol

__all__ = ["LocalStore", "OtherStore", "S3Store", "Store", "store_beside"]


class Store:
    """Exclusive create, read, compare-and-swap and delete of one small object. A ``token``
    is what the caller read (the raw bytes): a swap or delete happens only if the object
    still holds it."""

    def __init__(self, fs: Any, path: str) -> None:
        self.fs, self.path = fs, path

    def create(self, raw: bytes) -> bool:
        raise NotImplementedError

    def read(self) -> bytes | None:
        raise NotImplementedError

    def swap(self, old: bytes, raw: bytes) -> bool:
        raise NotImplementedError

    def delete(self, old: bytes) -> None:
        raise NotImplementedError

    def renew(self, old: bytes, raw: bytes) -> bool:
        """:meth:`swap` by the holder itself: the object never goes missing meanwhile."""
        return self.swap(old, raw)

    def remove(self) -> None:
        """Delete the object, whatever it holds."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path)

    def close(self) -> None:
        """Let go of what :meth:`create` kept open, if anything."""

    def modified(self) -> float | None:
        """When the object was last written (epoch seconds), if it exists."""
        try:
            info = self.fs.info(self.path)
        except FileNotFoundError:
            return None
        stamp = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
        return stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp or 0)


class LocalStore(Store):
    """A lease file. The one this process created stays open (``fd``) until the lease is
    published or released: publishing rewrites it through that, with no file opened."""

    fd: int | None = None

    def create(self, raw: bytes) -> bool:
        flags = os.O_CREAT | os.O_EXCL | os.O_RDWR
        try:
            try:
                fd = os.open(self.path, flags, 0o644)
            except FileNotFoundError:  # the task's first run: make its folder
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                fd = os.open(self.path, flags, 0o644)
        except FileExistsError:
            return False
        try:
            _write_all(fd, raw)
        except BaseException:
            os.close(fd)
            raise
        self.close()
        self.fd = fd
        return True

    def rewrite(self, raw: bytes) -> None:
        """Make the lease file hold ``raw`` (then it is closed)."""
        fd = self.fd if self.fd is not None else os.open(self.path, os.O_RDWR)
        self.fd = None
        try:
            _write_all(fd, raw)
            os.ftruncate(fd, len(raw))
        finally:
            os.close(fd)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def read(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _aside(self, old: bytes) -> str | None:
        """Rename the lease aside if it holds ``old``; its new path, or None (put back)."""
        aside = f"{self.path}.{uuid.uuid4().hex[:8]}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return None
        with open(aside, "rb") as f:
            if f.read() == old:
                return aside
        with contextlib.suppress(FileExistsError):  # not the one judged: put it back
            os.link(aside, self.path)
        os.remove(aside)
        return None

    def swap(self, old: bytes, raw: bytes) -> bool:
        aside = self._aside(old)
        if aside is None:
            return False
        try:
            return self.create(raw)
        finally:
            os.remove(aside)

    def delete(self, old: bytes) -> None:
        aside = self._aside(old)
        if aside is not None:
            os.remove(aside)

    def renew(self, old: bytes, raw: bytes) -> bool:
        if self.read() != old:
            return False
        self.close()  # (the file it is open on is replaced)
        fresh = f"{self.path}.{uuid.uuid4().hex[:8]}"
        with open(fresh, "wb") as f:
            f.write(raw)
        os.replace(fresh, self.path)
        return True

    def modified(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime
        except FileNotFoundError:
            return None


class S3Store(Store):
    """On S3 (and stores that speak its conditional writes): ``If-None-Match: *`` to create,
    ``If-Match`` on the ETag to swap."""

    def create(self, raw: bytes) -> bool:
        try:
            self.fs.pipe_file(self.path, raw, mode="create")
        except FileExistsError:
            return False
        return True

    def read(self) -> bytes | None:
        try:
            raw: bytes = self.fs.cat_file(self.path)
        except FileNotFoundError:
            return None
        return raw

    def _etag(self, old: bytes) -> str | None:
        """The ETag of the object if it still holds ``old``: its MD5 for a plain put; else
        (an encrypted bucket) the one the store reports, after reading it again."""
        try:
            info = self.fs.info(self.path, refresh=True)
        except FileNotFoundError:
            return None
        etag = str(info.get("ETag", ""))
        if etag.strip('"') == hashlib.md5(old, usedforsecurity=False).hexdigest():
            return etag
        return etag if self.read() == old else None

    def swap(self, old: bytes, raw: bytes) -> bool:
        etag = self._etag(old)
        if etag is None:
            return False
        try:
            self.fs.pipe_file(self.path, raw, IfMatch=etag)
        except (FileNotFoundError, OSError) as e:
            if (
                "PreconditionFailed" in str(e)
                or "412" in str(e)
                or isinstance(e, FileNotFoundError)
            ):
                return False
            raise
        return True

    def delete(self, old: bytes) -> None:
        if self.read() == old:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self.path)


class OtherStore(S3Store):
    """Any other fsspec storage: create if absent, then read back (best effort)."""

    warned: ClassVar[set[str]] = set()

    def create(self, raw: bytes) -> bool:
        name = type(self.fs).__name__
        if name not in self.warned and type(self.fs).__module__.split(".")[0] != "fsspec":
            self.warned.add(name)
            warnings.warn(
                f"{name} offers no exclusive create that daskflow knows: two runs that start "
                "one task at the same instant may both run it",
                stacklevel=2,
            )
        if self.fs.exists(self.path):
            return False
        self.fs.pipe_file(self.path, raw)
        return self.read() == raw

    def swap(self, old: bytes, raw: bytes) -> bool:
        if self.read() != old:
            return False
        self.fs.pipe_file(self.path, raw)
        return self.read() == raw


def _write_all(fd: int, raw: bytes) -> None:
    """Write ``raw`` at the start of the file ``fd``."""
    done = 0
    while done < len(raw):
        done += os.pwrite(fd, raw[done:], done)


def store_beside(target: Target, name: str) -> Store:
    fs, folder = target.folder_path()
    where = f"{folder}/{name}"
    if is_local(target.url):
        return LocalStore(fs, where)
    if protocol(target.url) in ("s3", "s3a"):
        return S3Store(fs, where)
    return OtherStore(fs, where)
