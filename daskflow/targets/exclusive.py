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
import fcntl
import hashlib
import os
import time
import uuid
import warnings
from typing import Any, ClassVar

from .. import settings
from ..errors import StorageError
from .core import Target
from .urls import is_local, modified_time, protocol

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
        return modified_time(info)


class LocalStore(Store):
    """A lease file, locked (``flock``) by the process that holds it for as long as it holds
    it. The kernel lets go of the lock when that process ends, however it ends (``kill -9``
    included), so a lease whose lock is free has no holder on this machine, whatever its
    file holds.

    A lease is created exclusively (``O_EXCL``) and locked at once, then written: in the
    instant between, a waiter may find it empty and unlocked, take it for a dead holder's
    and lock it first; then the creator's lock fails, or finds another file under the name
    once it has it, and it waits like any other. A
    takeover first locks the old file and checks that it is still the one under the name,
    then renames a locked file of its own (``{lease}.{8 hex}``, written first) over it: of
    any number of racers exactly one wins, and the others see a locked lease. The holder
    keeps the file open (``fd``) and renews it the same way, so the lock never lapses while
    the name holds it.
    """

    fd: int | None = None

    def _locked(self, raw: bytes) -> tuple[int, str]:
        """A new file beside the lease holding ``raw``, locked: its descriptor and path."""
        tmp = f"{self.path}.{os.urandom(4).hex()}"
        fd = self._new(tmp)
        try:
            _write_all(fd, raw)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            os.remove(tmp)
            raise
        return fd, tmp

    def _hold(self, fd: int) -> None:
        old, self.fd = self.fd, fd
        if old is not None:
            os.close(old)

    def _new(self, path: str) -> int:
        """Create ``path`` exclusively (``FileExistsError`` if it is there), making the
        lease's folder on the task's first run."""
        flags = os.O_CREAT | os.O_EXCL | os.O_RDWR
        try:
            return os.open(path, flags, 0o644)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            return os.open(path, flags, 0o644)

    def create(self, raw: bytes) -> bool:
        try:
            fd = self._new(self.path)
        except FileExistsError:
            return False
        try:  # a waiter that found it empty and unlocked in between took it: it won
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            st, now = os.fstat(fd), os.stat(self.path)
            ours = (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)  # (not replaced since)
        except (BlockingIOError, FileNotFoundError):
            ours = False
        except BaseException:
            os.close(fd)
            raise
        if not ours:
            os.close(fd)
            return False
        try:
            _write_all(fd, raw)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)  # (still locked: nobody can have taken it)
            os.close(fd)
            raise
        self._hold(fd)
        return True

    def _claim(self) -> int | None:
        """The lease file, opened and locked, when no process holds its lock and it is still
        the file under the lease's name; else None."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            st = os.fstat(fd)
            now = os.stat(self.path)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if (st.st_dev, st.st_ino) != (now.st_dev, now.st_ino):  # replaced since it was opened
            os.close(fd)
            return None
        return fd

    def held_elsewhere(self) -> bool:
        """Whether a process holds the lease's lock (False: no lease, or no live holder)."""
        fd = self._claim()
        if fd is None:
            return os.path.exists(self.path)
        os.close(fd)
        return False

    def _holding(self) -> int | None:
        """The lease's file locked by this store: the one it holds, or a dead holder's."""
        if self.fd is not None:
            return self.fd
        return self._claim()

    def read(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def swap(self, old: bytes, raw: bytes) -> bool:
        """Put ``raw`` in place of ``old``: in the lease this store holds, or in one whose
        holder is gone (its lock free)."""
        fd = self._holding()
        if fd is None:
            return False
        try:
            if os.pread(fd, len(old) + 1, 0) != old:
                return False
            new, tmp = self._locked(raw)
            try:
                os.replace(tmp, self.path)
            except BaseException:
                os.close(new)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
                raise
        finally:
            if fd is not self.fd:
                os.close(fd)
        self._hold(new)
        return True

    renew = swap

    def delete(self, old: bytes) -> None:
        fd = self._holding()
        if fd is None:
            return
        try:
            if os.pread(fd, len(old) + 1, 0) == old:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.path)  # (while locked: a racer's check of the name fails)
        finally:
            if fd is self.fd:
                self.fd = None
            os.close(fd)

    def remove(self) -> None:
        """Delete the lease this store holds, then let go of its lock."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        self.close()

    def rewrite(self, raw: bytes) -> None:
        """Make the lease file this store holds contain ``raw`` (it stays locked and open)."""
        if self.fd is None:
            raise RuntimeError(f"{self.path}: rewrite of a lease this process does not hold")
        _write_all(self.fd, raw)
        os.ftruncate(self.fd, len(raw))

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def leftovers(self) -> list[str]:
        """The temporaries of lease writers that are gone (``{lease}.{8 hex}``, unlocked)."""
        folder, _, name = self.path.rpartition("/")
        try:
            names = os.listdir(folder or ".")
        except FileNotFoundError:
            return []
        out = []
        for other in names:
            rest = other[len(name) + 1 :] if other.startswith(name + ".") else ""
            if len(rest) == 8 and all(c in "0123456789abcdef" for c in rest):
                path = f"{folder}/{other}"
                with contextlib.suppress(FileNotFoundError):  # (a writer locks it at once)
                    if time.time() - os.stat(path).st_mtime > 10 and _unlocked(path):
                        out.append(path)
        return out

    def modified(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime
        except FileNotFoundError:
            return None


class S3Store(Store):
    """On S3 (and stores that speak its conditional writes): ``If-None-Match: *`` to create,
    ``If-Match`` on the ETag to swap.

    Some S3-compatible endpoints (older MinIO, a proxy, a gateway) ignore those headers and
    overwrite: then two runs could both hold a lease. The first lease on each bucket of an
    endpoint probes it (a create, then the same create again, which must fail): where it
    does not, a warning says so once, and ``settings.strict`` refuses to go on.
    """

    probed: ClassVar[dict[tuple[str, str], bool]] = {}  # (endpoint, bucket) -> honours it

    def create(self, raw: bytes) -> bool:
        self._probe()
        try:
            self.fs.pipe_file(self.path, raw, mode="create")
        except FileExistsError:
            return False
        return True

    def _probe(self) -> None:
        client = getattr(self.fs, "client_kwargs", None) or {}
        endpoint = str(client.get("endpoint_url") or getattr(self.fs, "endpoint_url", "") or "aws")
        bucket = self.path.split("/", 1)[0]
        key = (endpoint, bucket)
        if key in self.probed:
            honours = self.probed[key]
        else:
            probe = f"{bucket}/.daskflow-probe-{uuid.uuid4().hex}"
            try:
                self.fs.pipe_file(probe, b"1", mode="create")
                try:
                    self.fs.pipe_file(probe, b"2", mode="create")
                    honours = False
                except FileExistsError:
                    honours = True
            finally:
                with contextlib.suppress(Exception):
                    self.fs.rm_file(probe)
            self.probed[key] = honours
            if not honours:
                warnings.warn(
                    f"the S3 endpoint {endpoint} ignores conditional writes (If-None-Match) on "
                    f"bucket {bucket}: leases cannot keep two runs that share this root from "
                    "running one task at once. Use an endpoint that honours them (AWS, MinIO "
                    "2024 or newer), or settings.leases = False if one run uses the root",
                    stacklevel=4,
                )
        if not honours and settings.current("strict"):
            raise StorageError(
                f"the S3 endpoint {endpoint} ignores conditional writes on bucket {bucket}, so "
                "leases cannot work there (settings.strict is on)"
            )

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


def _unlocked(path: str) -> bool:
    """Whether nobody holds the lock of the file at ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


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
