"""What a task owns: every file it writes under a root, named in one place (for ``gc``, the
plan and the manifests of tasks that yield others).

A task owns

- its stored outputs (a dataset output: its whole folder) and the files it writes beside
  them (``metaSave``'s: :meth:`~daskflow.tasks.Task.side_targets`);
- its manifests (:mod:`daskflow.manifests`) and its lease, with what a renewal cut short
  left beside the lease (``{lease}.{8 hex}``);
- the temporaries of its outputs while its lease has a live holder (a run may be writing
  them: :func:`daskflow.leases.live`); otherwise they, and the lease, are what a killed
  writer left, and nobody's;
- the tasks its ``run()`` yielded in its last run (dynamic dependencies, which no
  ``requires()`` names), with everything those own: its manifest records their files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import manifests
from .leases import lease_name, live
from .targets import MemoryTarget, Target
from .targets.exclusive import LocalStore, S3Store, Store
from .targets.names import temporary_prefix
from .targets.urls import filesystem
from .tasks import Task

__all__ = ["Files", "Owned", "entries", "files_of", "owned"]


def entries(task: Task) -> list[str]:
    """The URLs of the files ``task`` stores (outputs, then side files), a dataset's with a
    trailing ``/``: what a manifest records of a yielded task."""
    out = []
    for t in [*task.own_targets(), *task.side_targets()]:
        if isinstance(t, MemoryTarget):
            continue
        folder, name = t.probe
        out.append(t.url.rstrip("/") + "/" if f"{folder}/{name}" != t.url else t.url)
    return out


@dataclass(frozen=True)
class Files:
    """Where the files of one task are, as paths of its filesystem (no protocol)."""

    task_id: str
    files: tuple[str, ...]
    """Outputs and side files."""
    folders: tuple[str, ...]
    """Dataset outputs, owned with everything inside (each ends with ``/``)."""
    lease: str | None
    """The lease's path (None: the task stores nothing)."""
    manifests: tuple[str, str] | None
    """The manifest folder and what the names of the task's manifests start with."""
    temporaries: tuple[tuple[str, str], ...]
    """``(folder, name prefix)`` of its outputs' temporaries."""

    @classmethod
    def of(cls, task_id: str, urls: list[str], options: Mapping[str, Any]) -> Files:
        """The files of the task ``task_id`` that stores ``urls`` (see :func:`entries`)."""
        paths = [
            filesystem(u, options)[1].rstrip("/") + ("/" if u.endswith("/") else "") for u in urls
        ]
        files = tuple(p for p in paths if not p.endswith("/"))
        folders = tuple(p for p in paths if p.endswith("/"))
        temporaries = tuple(_parts(p.rstrip("/")) for p in paths)
        if not paths:
            return cls(task_id, (), (), None, None, ())
        first = paths[0].rstrip("/").rpartition("/")[0]
        lease = f"{first}/{lease_name(task_id)}"
        heads = (manifests._beside(first), manifests.head(task_id) + ".")
        return cls(
            task_id,
            files,
            folders,
            lease,
            heads,
            tuple((folder, temporary_prefix(name)) for folder, name in temporaries),
        )


def _parts(path: str) -> tuple[str, str]:
    folder, _, name = path.rpartition("/")
    return folder, name


def files_of(task: Task) -> Files:
    """The files ``task`` owns by its own outputs (not yet those it yielded: :func:`owned`)."""
    stored = [t for t in (*task.own_targets(), *task.side_targets()) if isinstance(t, Target)]
    stored = [t for t in stored if not isinstance(t, MemoryTarget)]
    options = stored[0].storage_options if stored else {}
    return Files.of(task.task_id, entries(task), options)


@dataclass(frozen=True)
class Owned:
    """The paths that a set of tasks owns, among those listed under a root."""

    paths: frozenset[str]
    folders: tuple[str, ...]

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (path in self.paths or path.startswith(self.folders))


def owned(
    files: Iterable[Files], listed: Iterable[str], fs: Any, options: Mapping[str, Any]
) -> Owned:
    """Which of the ``listed`` paths (one listing of a root on filesystem ``fs``) the tasks of
    ``files`` own, following the tasks each one yielded, as its manifests record them."""
    by_folder: dict[str, list[str]] = {}
    for path in sorted(set(listed)):
        folder, _, name = path.rpartition("/")
        by_folder.setdefault(folder, []).append(name)

    def near(folder: str, start: str | tuple[str, ...]) -> list[str]:
        return [f"{folder}/{n}" for n in by_folder.get(folder, ()) if n.startswith(start)]

    paths: set[str] = set()
    folders: list[str] = []
    todo = list(files)
    seen: set[str] = set()
    while todo:
        f = todo.pop()
        if f.task_id in seen:
            continue
        seen.add(f.task_id)
        paths.update(f.files)
        folders.extend(f.folders)
        if f.lease is None or f.manifests is None:
            continue
        if f.lease in near(*_parts(f.lease)) and live(_store(fs, f.lease)):
            paths.update(near(*_parts(f.lease)))  # a run holds it: what it writes is its
            folders.extend(f"{folder}/{prefix}" for folder, prefix in f.temporaries)
        for path in near(*f.manifests):
            if path.endswith(manifests.SUFFIX):
                paths.add(path)
                todo.extend(_yielded(path, fs, options))
    return Owned(frozenset(paths), tuple(folders))


def _store(fs: Any, path: str) -> Store:
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    return LocalStore(fs, path) if local else S3Store(fs, path)


def _yielded(path: str, fs: Any, options: Mapping[str, Any]) -> list[Files]:
    """The files of the tasks that the run whose manifest is at ``path`` yielded."""
    try:
        recorded = json.loads(fs.cat_file(path)).get("dynamic") or {}
    except (FileNotFoundError, ValueError, AttributeError):
        return []
    home = fs.unstrip_protocol(manifests.outputs_folder(path.rpartition("/")[0]))
    return [
        Files.of(task_id, [manifests.resolved(u, home) for u in urls], options)
        for task_id, urls in recorded.items()
    ]
