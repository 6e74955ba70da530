"""Date intervals, the values of :class:`daskflow.DateIntervalParameter`.

The same spellings as luigi's ``date_interval`` module, so the text of an interval, and with it
the task id, is the one luigi and d6tflow produce::

    >>> str(Date(2020, 1, 2)), str(Week(2020, 1)), str(Month(2020, 1)), str(Year(2020))
    ('2020-01-02', '2020-W01', '2020-01', '2020')
    >>> str(Custom.parse('2020-01-01-2020-01-05'))
    '2020-01-01-2020-01-05'
    >>> len(Month(2020, 2))
    29
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

__all__ = ["Custom", "Date", "DateInterval", "Month", "Week", "Year", "parse"]


class DateInterval:
    """The half-open range of days ``[date_a, date_b)``."""

    def __init__(self, date_a: dt.date, date_b: dt.date) -> None:
        if date_b <= date_a:
            raise ValueError(f"an interval ends after it starts, got {date_a} to {date_b}")
        self.date_a = date_a
        self.date_b = date_b

    def dates(self) -> list[dt.date]:
        """Every day in the interval, in order."""
        return [self.date_a + dt.timedelta(days=i) for i in range(len(self))]

    def __iter__(self) -> Iterator[dt.date]:
        return iter(self.dates())

    def __len__(self) -> int:
        return (self.date_b - self.date_a).days

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.date_a <= day < self.date_b

    def to_string(self) -> str:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_string()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DateInterval) and (self.date_a, self.date_b) == (
            other.date_a,
            other.date_b,
        )

    def __hash__(self) -> int:
        return hash((self.date_a, self.date_b))

    def __lt__(self, other: DateInterval) -> bool:
        return (self.date_a, self.date_b) < (other.date_a, other.date_b)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return parse, (self.to_string(),)


class Date(DateInterval):
    """One day: ``2020-01-02``."""

    def __init__(self, y: int, m: int, d: int) -> None:
        a = dt.date(y, m, d)
        super().__init__(a, a + dt.timedelta(days=1))

    def to_string(self) -> str:
        return self.date_a.strftime("%Y-%m-%d")


class Week(DateInterval):
    """An ISO week: ``2020-W01``."""

    def __init__(self, y: int, w: int) -> None:
        a = dt.date.fromisocalendar(y, w, 1)
        super().__init__(a, a + dt.timedelta(days=7))
        self.year, self.week = y, w

    def to_string(self) -> str:
        return f"{self.year}-W{self.week:02d}"


class Month(DateInterval):
    """A calendar month: ``2020-01``."""

    def __init__(self, y: int, m: int) -> None:
        a = dt.date(y, m, 1)
        b = dt.date(y + m // 12, m % 12 + 1, 1)
        super().__init__(a, b)

    def to_string(self) -> str:
        return self.date_a.strftime("%Y-%m")


class Year(DateInterval):
    """A calendar year: ``2020``."""

    def __init__(self, y: int) -> None:
        super().__init__(dt.date(y, 1, 1), dt.date(y + 1, 1, 1))

    def to_string(self) -> str:
        return self.date_a.strftime("%Y")


class Custom(DateInterval):
    """Any range of days: ``2020-01-01-2020-01-05`` (the end excluded)."""

    @classmethod
    def parse(cls, s: str) -> Custom:
        """Parse ``YYYY-MM-DD-YYYY-MM-DD``."""
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})-(\d{4}-\d{2}-\d{2})", s)
        if not m:
            raise ValueError(f"expected 'YYYY-MM-DD-YYYY-MM-DD', got {s!r}")
        return cls(dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2]))

    def to_string(self) -> str:
        return f"{self.date_a:%Y-%m-%d}-{self.date_b:%Y-%m-%d}"


_FORMS: list[tuple[str, type[DateInterval]]] = [
    (r"(\d{4})-(\d{2})-(\d{2})", Date),
    (r"(\d{4})-W(\d{2})", Week),
    (r"(\d{4})-(\d{2})", Month),
    (r"(\d{4})", Year),
]


def parse(s: str) -> DateInterval:
    """Parse any interval spelling: a date, ``YYYY-Www``, ``YYYY-MM``, ``YYYY`` or a range.

    >>> parse('2020-W05')
    Week('2020-W05')
    """
    for pattern, cls in _FORMS:
        m = re.fullmatch(pattern, s)
        if m:
            return cls(*(int(g) for g in m.groups()))  # type: ignore[arg-type]
    return Custom.parse(s)
