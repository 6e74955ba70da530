"""One writer per task at a time: a lease object beside the task's outputs.

Before a run executes a task with stored outputs, it takes the task's lease: it creates
``.{task_id}.lease`` in the folder of the task's first output, exclusively (``O_EXCL`` and a
lock at once on a local disk; a put with ``If-None-Match: *`` on S3),
holding who holds it (run, host, pid) and until when. While the task runs, one thread per
process renews the expiry of every lease the process holds. The task's outputs are
committed only while the lease is still held, and the lease is deleted after (or turned into
the task's manifest). So:

- two runs of one flow on one root, on one machine, across machines sharing a bucket, or on
  separate clusters, never both execute a task: the second waits while the lease is held,
  then finds the outputs made and skips the task (:class:`Made`);
- a multi-output task or a dataset is never a mix of two runs' outputs;
- a lease whose holder died is taken over by exactly one waiter (:func:`_gone`): a local
  lease file as soon as no process holds its lock (the kernel drops the locks of a process
  that ends, however it ends); one of a process of this machine that no longer runs at
  once; any other when it has not changed for ``settings.lease_ttl`` by the waiter's own
  clock. The run that takes it over removes the temporaries the dead holder left beside the
  outputs (their names carry the lease's tag);
- a wait is bounded by ``settings.lease_wait``, and says what it waits for;
- an error anywhere between making the lease and handing it over releases it.

A task whose outputs all exist is never run, so it takes no lease: the no-op path reads no
lease. Taking a dead holder's lease over is a compare-and-swap: on S3 a put with
``If-Match`` on the lease's ETag; on a local disk the old lease file is locked, checked to be
the one under the name, and replaced by a locked file of the taker's. Other fsspec storage
gets a best-effort lease (create if absent, then read back), and a warning says so once.
Those stores of one small object are :mod:`daskflow.targets.exclusive`; this module is the
protocol on top of them. :func:`live` and :func:`remove_dead` serve ``gc`` and ``reset()``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from . import settings
from .context import write_tag
from .errors import TaskError
from .targets import MemoryTarget, Target, protocol, redact
from .targets.bulk import content_stamp
from .targets.exclusive import LocalStore, Store, store_beside
from .targets.leftovers import process_alive, remove_temporaries
from .targets.names import fitted

__all__ = [
    "Holder",
    "Lease",
    "LeaseError",
    "Made",
    "held",
    "lease_name",
    "live",
    "remove_dead",
    "take",
]

logger = logging.getLogger("daskflow")

HOST = socket.gethostname()
POLL = (0.02, 1.0)  # a waiter's first and longest pause between looks at a lease
NOTICE = 10.0  # seconds of waiting for another run's task before a warning says so


class LeaseError(TaskError):
    """A task's lease could not be had within ``settings.lease_wait``, or was lost."""


@dataclass(frozen=True)
class Holder:
    """What a lease says: the task, who holds it, since and until when (epoch seconds)."""

    task: str
    run: str
    host: str
    pid: int
    since: float
    expires: float
    tag: str

    def text(self) -> bytes:
        return json.dumps(vars(self), sort_keys=True).encode()

    @classmethod
    def parse(cls, raw: bytes) -> Holder | None:
        """What ``raw`` says, or None: being written, not a lease of ours, or edited into
        something else (a field of the wrong type counts as unreadable)."""
        try:
            holder = cls(**json.loads(raw))
        except (ValueError, TypeError, RecursionError):
            return None
        kinds = {"task": str, "run": str, "host": str, "pid": int, "tag": str}
        if not all(type(getattr(holder, k)) is t for k, t in kinds.items()):
            return None
        if not all(
            type(v) in (int, float) and math.isfinite(v) for v in (holder.since, holder.expires)
        ):
            return None
        if not 0 < holder.pid < 2**31:
            return None
        return holder

    def describe(self) -> str:
        return (
            f"run {self.run} (host {self.host}, pid {self.pid}) since "
            f"{time.strftime('%H:%M:%S', time.localtime(self.since))}"
        )


# -- taking and holding ------------------------------------------------------------------------


@dataclass
class Made:
    """Another run made the task while this one waited for its lease, or since this run
    began: skip it. ``by``: the holder waited for, when this run saw it."""

    by: Holder | None
    waited: float

    def describe(self) -> str:
        return self.by.describe() if self.by is not None else "another run"


class Lease:
    """A lease this process holds on a task (see :func:`take`)."""

    def __init__(self, store: Store, holder: Holder, raw: bytes, where: str) -> None:
        self.store, self.holder, self.raw, self.path = store, holder, raw, where
        self.lost: str = ""
        self.published = False
        self.lock = threading.Lock()

    @property
    def where(self) -> str:
        """Where the lease is, for messages (masked only when one is written)."""
        return redact(self.path)

    def renew(self, ttl: float) -> None:
        """Move the expiry on; mark the lease lost if somebody took it over."""
        with self.lock:
            if self.lost or self.published:
                return
            holder = replace(self.holder, expires=time.time() + ttl)
            raw = holder.text()
            try:
                ok = self.store.renew(self.raw, raw)
            except Exception as e:  # storage hiccup: try again at the next renewal
                logger.warning("could not renew the lease %s: %s", self.where, e)
                return
            if ok:
                self.holder, self.raw = holder, raw
            else:
                self.lost = f"the lease {self.where} was taken over by another run"
                logger.warning("%s", self.lost)

    def _safe(self) -> bool:
        """Whether nobody can have taken the lease over: it is not near its expiry, and
        others take over only an expired lease, or one of a process that is gone."""
        margin = float(settings.current("lease_ttl")) / 3
        return time.time() < self.holder.expires - margin

    def confirm(self) -> None:
        """Raise :class:`LeaseError` unless this process still holds the lease (before a
        commit: a read of the lease, unless it cannot have been taken over)."""
        with self.lock:
            if self.published:
                self.lost = f"the lease {self.where} was already given up"
            if not self.lost and not self._safe() and self.store.read() != self.raw:
                self.lost = f"the lease {self.where} was taken over by another run"
            if self.lost:
                raise LeaseError(f"{self.holder.task}: {self.lost}; its outputs were not committed")

    def publish(self, path: str, raw: bytes) -> bool:
        """Turn the lease into the file ``path`` holding ``raw`` (the task's manifest), which
        releases it: on a local disk, the lease file is rewritten and renamed there, saving
        a file made and one deleted per task. False (nothing done) elsewhere, or when the
        lease may have been taken over: then write ``path`` and :meth:`release` as usual."""
        if not isinstance(self.store, LocalStore):
            return False
        _renewer.drop(self)
        with self.lock:
            if self.lost or self.published or not self._safe():
                return False
            self.store.rewrite(raw)  # the lease's own file: nothing created
            try:  # (still locked: nobody can take the lease over before it is renamed)
                os.replace(self.store.path, path)
            except FileNotFoundError:  # the manifests' folder is not there (any more)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(self.store.path, path)
            finally:
                self.store.close()
            self.published = True
            return True

    def release(self) -> None:
        _renewer.drop(self)
        with self.lock:
            try:
                if self.lost or self.published:
                    return
                if self._safe() or isinstance(self.store, LocalStore):  # ours for sure
                    self.store.remove()  # (a local one while still locked, then unlocked)
                else:
                    self.store.delete(self.raw)
            except Exception as e:  # it expires by itself
                logger.warning("could not remove the lease %s: %s", self.where, e)
            finally:
                self.store.close()


class _Renewer:
    """One thread per process that renews the leases it holds, every third of their life."""

    def __init__(self) -> None:
        self.after_fork()

    def after_fork(self) -> None:
        """(Also in a forked child: the parent's leases and thread are not its own.)"""
        self.leases: dict[int, tuple[Lease, float]] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, lease: Lease, ttl: float) -> None:
        with self.lock:
            self.leases[id(lease)] = (lease, ttl)
            if self.thread is None or not self.thread.is_alive() or self.thread.ident is None:
                self.thread = threading.Thread(
                    target=self._loop, name="daskflow-lease-renewer", daemon=True
                )
                self.thread.start()

    def drop(self, lease: Lease) -> None:
        with self.lock:
            self.leases.pop(id(lease), None)

    def _loop(self) -> None:
        while True:
            with self.lock:
                held = list(self.leases.values())
            if not held:
                with self.lock:
                    if not self.leases:
                        self.thread = None
                        return
                continue
            now = time.time()
            for lease, ttl in held:
                if lease.holder.expires - now < ttl * 2 / 3:
                    lease.renew(ttl)
            self.wake.wait(min(ttl for _, ttl in held) / 6)


_renewer = _Renewer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renewer.after_fork)

_process_run = uuid.uuid4().hex[:12]


def lease_name(task_id: str) -> str:
    """The file name of the task's lease (in the folder of its first stored output), with
    room for the ``.{8 hex}`` of the files a lease is written to first."""
    return fitted(f".{task_id}", ".lease", reserve=9)


def take(
    task_id: str, targets: list[Target], run: str | None = None, fresh: bool = False
) -> Lease | Made | None:
    """The lease of the task ``task_id`` whose outputs are ``targets``: a :class:`Lease`
    held by this process (until :meth:`Lease.release`), or ``None`` when the task has no
    stored output or leases are off; :class:`Made` if another run made the outputs while
    this one waited, or since this run began when they were missing then (``fresh``).
    Raises :class:`LeaseError` after ``settings.lease_wait`` seconds."""
    stored = [t for t in targets if not isinstance(t, MemoryTarget)]
    if not stored or not settings.current("leases"):
        return None
    ttl = float(settings.current("lease_ttl"))
    bound = float(settings.current("lease_wait"))
    name = lease_name(task_id)
    store = store_beside(stored[0], name)
    where = f"{stored[0].folder}/{name}"
    tag = os.urandom(4).hex()
    start = time.monotonic()
    pause = POLL[0]
    waiting_for: Holder | None = None
    before: Any = None
    told = False
    seen: tuple[bytes, float] = (b"", 0.0)  # the lease as last seen, since when (own clock)
    while True:
        now = time.time()
        holder = Holder(task_id, run or _process_run, HOST, os.getpid(), now, now + ttl, tag)
        raw = holder.text()
        if store.create(raw):
            lease = Lease(store, holder, raw, where)
            return _begin(lease, ttl, stored, fresh, (waiting_for, before, start))
        old = store.read()
        if old is None:
            continue  # released between the two looks: try again at once
        current = Holder.parse(old)
        if old != seen[0]:
            seen = (old, time.monotonic())
        if _gone(store, current, time.monotonic() - seen[1], ttl):
            if store.swap(old, raw):
                lease = Lease(store, holder, raw, where)
                wait = (waiting_for, before, start)
                return _begin(lease, ttl, stored, fresh, wait, current, took_over=True)
            if store.read() != old:
                continue  # changed meanwhile: look again at once
        if waiting_for is None and current is not None:
            waiting_for, before = current, _stamps(stored)
            logger.info("%s is being run by %s; waiting for it", task_id, current.describe())
        waited = time.monotonic() - start
        if current is not None and not told and waited > NOTICE:
            told = True
            logger.warning(
                "%s is being run by %s; waited %.0f s for it so far (up to %g s, "
                "settings.lease_wait)",
                task_id,
                current.describe(),
                waited,
                bound,
            )
        if waited > bound:
            who = current.describe() if current is not None else "another run"
            raise LeaseError(
                f"{task_id}: its lease {redact(where)} was still held by {who} after {bound:g} s "
                "(settings.lease_wait); if that run is gone, delete the lease"
            )
        time.sleep(pause)
        pause = min(pause * 1.5, POLL[1])


def _gone(store: Store, current: Holder | None, unchanged: float, ttl: float) -> bool:
    """Whether the holder of a lease (``current``; None: unreadable) is gone, so the lease
    may be taken over (by a compare-and-swap, which one racer wins).

    - A lease file on this machine: its holder's lock says it (the swap takes the lock only
      when no process holds it), whatever the file holds.
    - A lease of a process of this machine elsewhere (S3): that process no longer runs.
    - Else: it has not changed for ``lease_ttl`` seconds by this waiter's own clock (its
      holder renews it every third of that), so a holder whose clock runs behind or ahead
      is never taken for dead while it renews.
    """
    if isinstance(store, LocalStore) and (current is None or current.host == HOST):
        return True
    if current is not None and current.host == HOST and not process_alive(current.pid):
        return True
    return unchanged > ttl


def _begin(
    lease: Lease,
    ttl: float,
    stored: list[Target],
    fresh: bool,
    waited: tuple[Holder | None, Any, float],
    dead: Holder | None = None,
    took_over: bool = False,
) -> Lease | Made:
    """Start holding ``lease`` (taken over from ``dead``, if given): clean what a dead holder
    left, and give it back at once (:class:`Made`) if the outputs were made meanwhile
    (``waited``: the holder waited for, the outputs' stamps then, and when the wait began).
    Any error on the way releases it."""
    waiting_for, before, start = waited
    _renewer.add(lease, ttl)
    try:
        task_id = lease.holder.task
        if dead is not None:
            for path in remove_temporaries(stored, dead.tag):
                logger.info("removed %s, left by %s", path, dead.describe())
            logger.warning(
                "%s: took over the lease %s of %s, which is gone",
                task_id,
                lease.where,
                dead.describe(),
            )
        if took_over and isinstance(lease.store, LocalStore):  # (a listing: not every time)
            for path in lease.store.leftovers():
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
        if fresh or waiting_for is not None:  # made by a run that held it before?
            made = _stamps(stored)
            if made is not None and (fresh or made != before):
                lease.release()
                return Made(waiting_for, time.monotonic() - start)
    except BaseException:
        lease.release()
        raise
    return lease


def live(store: Store, ttl: float | None = None) -> bool:
    """Whether the lease in ``store`` has a holder that may still run: a local one whose
    lock is held; elsewhere, one of a process of this machine that runs, or of another
    machine, renewed within three ``lease_ttl`` by this machine's clock (what ``gc`` and
    ``reset()`` judge by; a waiter judges by its own clock, see :func:`_gone`)."""
    if isinstance(store, LocalStore):
        return store.held_elsewhere()
    raw = store.read()
    if raw is None:
        return False
    holder = Holder.parse(raw)
    if holder is not None and holder.host == HOST:
        return process_alive(holder.pid)
    stamp = store.modified()
    ttl = float(settings.current("lease_ttl")) if ttl is None else ttl
    return stamp is None or time.time() - stamp < 3 * ttl


def remove_dead(task_id: str, targets: list[Target]) -> list[str]:
    """Remove the task's lease if no live holder has it (:func:`live`), and what lease
    writers that are gone left beside it; what was removed (for ``reset()``)."""
    stored = [t for t in targets if not isinstance(t, MemoryTarget)]
    if not stored:
        return []
    store = store_beside(stored[0], lease_name(task_id))
    removed = []
    if isinstance(store, LocalStore):
        for path in store.leftovers():
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                removed.append(path)
    raw = store.read()
    if raw is not None and not live(store):
        store.delete(raw)  # (only if it still holds what was judged)
        if store.read() != raw:
            removed.append(store.path)
    return removed


def _stamps(targets: list[Target]) -> list[str] | None:
    """What the outputs are now (``None`` if one is missing): changes when one is rewritten."""
    try:
        return [content_stamp(*t.probe_path(), protocol(t.url)) for t in targets]
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def held(lease: Lease | None) -> Iterator[None]:
    """Name the task's temporaries after ``lease`` while inside."""
    token = write_tag.set(lease.holder.tag if lease is not None else None)
    try:
        yield
    finally:
        write_tag.reset(token)
