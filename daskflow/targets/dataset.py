"""Multi-file outputs (:class:`DatasetTarget`), and :func:`make_target`, which picks the
kind of target a format needs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

from ..errors import OutputNotFoundError
from ..formats import Format, get_format
from .core import MemoryTarget, Target, _staging
from .names import temporary_name
from .urls import is_local, redact

__all__ = ["DatasetTarget", "make_target"]


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
        tmp = f"{folder}/{temporary_name(name)}"
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

    def remove(self) -> None:
        """Delete the marker first (the output stops counting), then the parts."""
        fs, path = self._open()
        for victim, recursive in ((f"{path}/{self.MARKER}", False), (path, True)):
            with contextlib.suppress(FileNotFoundError):
                fs.rm(victim, recursive=recursive)

    invalidate = remove


def make_target(url: str, format: Format | str, storage_options: Mapping[str, Any]) -> Target:
    """The target for ``url`` in ``format``: a :class:`MemoryTarget` for ``"cache"``, a
    :class:`DatasetTarget` for multi-file formats."""
    fmt = get_format(format) if isinstance(format, str) else format
    if fmt.name == "cache":
        return MemoryTarget(url, storage_options)
    if fmt.dataset:
        return DatasetTarget(url, fmt, storage_options)
    return Target(url, fmt, storage_options)
