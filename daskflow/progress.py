"""What a run tells its user: progress while it is under way, and its summary.

The library prints nothing itself: a run reports through one :class:`Reporter`, which the
caller may choose (``run(..., reporter=...)``); the default writes progress to stderr and the
execution summary to stdout, as d6tflow printed it.

Progress is tasks finished of the total, per family.

On a terminal one line is rewritten in place; otherwise (logs, CI, notebooks capturing
output) a line is written at most every ``interval`` seconds, and always at the end::

    [daskflow] running 12 tasks on 2 local processes
    [daskflow] 5/12 tasks done: TaskA 4/4, TaskB 1/8
    [daskflow] 10/12 tasks done, 1 failed, 1 not run (a task upstream failed): TaskA 4/4, TaskB 6/8

A task counts as done only when it succeeded; one that failed, and one not run because a
task upstream of it failed, are counted apart.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Mapping
from typing import IO, Any

from .runtime import DONE, UPSTREAM_FAILED

__all__ = ["Reporter"]


class Reporter:
    """Counts finished tasks, writes the progress line, and says what the run did.

    Parameters
    ----------
    families : mapping
        ``{task_id: task_family}`` of the tasks of the run.
    enabled : bool
        Write progress at all.
    stream : file, optional
        Where progress goes (default ``sys.stderr``, looked up when writing).
    interval : float
        Minimum seconds between lines when the stream is not a terminal.
    summary : bool
        Write the execution summary (to ``out``).
    out : file, optional
        Where the summary and other messages go (default ``sys.stdout``, looked up when
        writing).
    """

    def __init__(
        self,
        families: Mapping[str, str],
        enabled: bool = True,
        stream: IO[str] | None = None,
        interval: float = 1.0,
        summary: bool = True,
        out: IO[str] | None = None,
    ) -> None:
        self.show_summary = summary
        self._out = out
        self.families = dict(families)
        self.totals = Counter(self.families.values())
        self.done: Counter[str] = Counter()
        self.failed = 0
        self.skipped = 0
        self.enabled = enabled and bool(self.families)
        self._stream = stream
        self.interval = interval
        self._last = 0.0
        self._dirty = False

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stderr

    def _tty(self) -> bool:
        isatty: Any = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def start(self, where: str) -> None:
        """Say how many tasks run where (and, for a cluster, its dashboard)."""
        if self.enabled:
            n = len(self.families)
            self.stream.write(f"[daskflow] running {n} task{'s' if n != 1 else ''} {where}\n")
            self.stream.flush()

    def finished(self, key: str, state: str | bool = DONE) -> None:
        """Count the task ``key`` as finished: ``state`` is how (``runtime.DONE``,
        ``FAILED`` or ``UPSTREAM_FAILED``; True and False also mean done and failed)."""
        family = self.families.get(key)
        if family is None:
            return
        if state is True or state == DONE:
            self.done[family] += 1
        elif state == UPSTREAM_FAILED:
            self.skipped += 1
        else:
            self.failed += 1
        self._dirty = True
        now = time.monotonic()
        if self.enabled and (self._tty() or now - self._last >= self.interval):
            self._write()
            self._last = now

    def line(self) -> str:
        """The progress text."""
        total = sum(self.totals.values())
        parts = ", ".join(f"{f} {self.done[f]}/{self.totals[f]}" for f in sorted(self.totals))
        bad = f", {self.failed} failed" if self.failed else ""
        if self.skipped:
            bad += f", {self.skipped} not run (a task upstream failed)"
        return f"[daskflow] {sum(self.done.values())}/{total} tasks done{bad}: {parts}"

    def _write(self) -> None:
        self._dirty = False
        if self._tty():
            self.stream.write("\r" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Write the final line."""
        if self.enabled and self._dirty:
            self._write()
        if self.enabled and self._tty():
            self.stream.write("\n")
            self.stream.flush()

    def summary(self, text: str) -> None:
        """The execution summary, when asked for."""
        if self.show_summary:
            self.say(text)

    def say(self, text: str) -> None:
        """A message for the user (a cancelled run, ...)."""
        out = self._out or sys.stdout
        out.write(text + "\n")
        out.flush()
