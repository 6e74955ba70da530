"""What writers that died left behind: temporaries beside outputs, staging files in the
system's temporary folder, and how to tell that their process is gone."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from typing import Any

from .core import MemoryTarget, Target
from .names import temporary_prefix

__all__ = ["process_alive", "remove_temporaries", "sweep_system_temp"]


def remove_temporaries(targets: list[Target], tag: str = "") -> list[str]:
    """Remove the temporaries written beside ``targets`` (those tagged with lease ``tag``
    only, when given), listing each folder once; what was removed. A writer that still
    runs loses its temporary and fails its commit: nothing partial counts as complete."""
    by_folder: dict[str, list[tuple[Any, str]]] = {}
    for t in targets:
        if isinstance(t, MemoryTarget):
            continue
        fs, path = t._open()
        folder, _, name = path.rpartition("/")
        by_folder.setdefault(folder or ".", []).append((fs, temporary_prefix(name, tag)))
    removed = []
    for folder, wanted in by_folder.items():
        fs = wanted[0][0]
        try:
            entries = fs.ls(folder, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            continue
        prefixes = tuple(prefix for _, prefix in wanted)
        for entry in entries:
            if entry.rstrip("/").rsplit("/", 1)[-1].startswith(prefixes):
                with contextlib.suppress(FileNotFoundError):
                    fs.rm(entry, recursive=True)
                    removed.append(entry)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    except OSError:  # no such pid on this platform
        return False
    return True


_SWEPT = [0.0]  # when this process last swept the system's temporary folder


def sweep_system_temp(every: float = 60.0, min_age: float = 5.0) -> list[str]:
    """Remove the files and folders that processes of this machine which no longer exist
    left in the system's temporary folder (``daskflow-{pid}-*``: staged uploads, downloads
    of a writer killed mid-save); at most once every ``every`` seconds. What it removed."""
    now = time.time()
    if now - _SWEPT[0] < every:
        return []
    _SWEPT[0] = now
    removed = []
    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return []
    for entry in entries:
        owner = entry.name[len("daskflow-") :].split("-", 1)[0]
        if not entry.name.startswith("daskflow-") or not owner.isdigit():
            continue
        if int(owner) == os.getpid() or process_alive(int(owner)):
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat(follow_symlinks=False).st_mtime < min_age:
                continue  # (a pid reused between its start and its first write: leave it)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.remove(entry.path)
            removed.append(entry.path)
    return removed
