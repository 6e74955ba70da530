"""Shared test helpers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

LOG_NAME = ".runlog"


class RunLog:
    """A list of strings kept in a file in the working directory, so that tasks running in
    forked or spawned worker processes can record what they did. Each test runs in its own
    temporary working directory (see conftest), so each test has its own log."""

    def append(self, item: str) -> None:
        if "\n" in item:
            raise ValueError("one line per entry")
        fd = os.open(LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (item + "\n").encode())
        finally:
            os.close(fd)

    def _items(self) -> list[str]:
        try:
            with open(LOG_NAME) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(LOG_NAME)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __getitem__(self, i):
        return self._items()[i]

    def __contains__(self, item: object) -> bool:
        return item in self._items()

    def __eq__(self, other: object) -> bool:
        return self._items() == list(other)  # type: ignore[call-overload]

    def count(self, item: str) -> int:
        return self._items().count(item)

    def __repr__(self) -> str:
        return f"RunLog({self._items()!r})"
