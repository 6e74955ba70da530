"""Typed task parameters: parse a string, normalize a value, serialize it for the task id.

A parameter is a class attribute of a task::

    class TaskTrain(daskflow.tasks.TaskPickle):
        do_preprocess = daskflow.BoolParameter(default=True)
        model = daskflow.ChoiceParameter(choices=["ols", "gbm"], default="ols")

Each kind is a small class with three methods, the same three luigi's parameters have, so
task ids (and with them the output file names) match the ones d6tflow wrote:

``parse(text)``
    a string from the command line or a config file -> the value;
``normalize(value)``
    any value a user passes (a string is parsed) -> the canonical value, or
    :class:`~daskflow.errors.ParameterError` saying what was expected and what arrived.
    Mutable containers become immutable (lists to tuples, dicts to :class:`FrozenDict`), so
    equal values give equal, hashable tasks;
``serialize(value)``
    the canonical value -> the string used in the task id.

``optional=True`` on any kind also accepts ``None`` (serialized as ``''``); ``significant=False``
keeps a parameter out of the task id, so it does not change where outputs are written.

The kinds are kept in one module, one small class each on the one :class:`Parameter` base,
so they read side by side.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
import operator
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from . import date_interval
from .errors import ParameterError

__all__ = [
    "BoolParameter",
    "ChoiceParameter",
    "DateHourParameter",
    "DateIntervalParameter",
    "DateMinuteParameter",
    "DateParameter",
    "DateSecondParameter",
    "DictParameter",
    "EnumParameter",
    "FloatParameter",
    "FrozenDict",
    "IntParameter",
    "ListParameter",
    "MonthParameter",
    "NumericalParameter",
    "OptionalParameter",
    "Parameter",
    "TaskParameter",
    "TimeDeltaParameter",
    "TupleParameter",
    "YearParameter",
    "adopt",
]

T = TypeVar("T")


class _NoDefault:
    def __repr__(self) -> str:
        return "<no default>"


NO_DEFAULT: Any = _NoDefault()
PRIVATE = 2  # luigi's ParameterVisibility.PRIVATE: kept out of the task id


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


class Parameter(Generic[T]):
    """A task parameter whose value is kept as given and serialized with ``str``.

    Parameters
    ----------
    default
        The value when none is given; without it the parameter is required.
    significant : bool
        Whether the value is part of the task id (and so of output paths).
    description : str, optional
        Shown by the command line's help.
    positional : bool
        Whether the parameter may be given positionally, in declaration order.
    optional : bool
        Accept ``None`` as a value.
    visibility : int
        luigi's visibility; ``2`` (private) keeps the parameter out of the task id.
    """

    expected: str = "a value"
    always_exact: ClassVar[bool] = False
    """Whether every value's text names it exactly (:meth:`exact`): the typed kinds."""
    _counter: ClassVar[int] = 0

    def __init__(
        self,
        default: Any = NO_DEFAULT,
        *,
        significant: bool = True,
        description: str | None = None,
        positional: bool = True,
        optional: bool = False,
        visibility: int = 0,
    ) -> None:
        self._default = default
        self.significant = significant
        self.description = description
        self.positional = positional
        self.optional = optional
        self.visibility = int(visibility)
        self.name = ""
        Parameter._counter += 1
        self._order = Parameter._counter

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        default = "" if self._default is NO_DEFAULT else f", default={self._default!r}"
        return f"{type(self).__name__}(name={self.name!r}{default})"

    # -- the three conversions -------------------------------------------------------------

    def parse(self, text: str) -> T:
        """Turn a string from the command line into a value."""
        return text  # type: ignore[return-value]

    def serialize(self, value: T) -> str:
        """The string for the task id."""
        return str(value)

    def normalize(self, value: Any) -> T:
        """Accept a value as a user passes it, or raise :class:`ParameterError`."""
        if value is None and self.optional:
            return None  # type: ignore[return-value]
        if value is None:
            raise ParameterError(
                f"expected {self.expected}, got None (use optional=True to allow it)"
            )
        return self._normalize(value)

    def _normalize(self, value: Any) -> T:
        return value  # type: ignore[no-any-return]

    # -- used by tasks ---------------------------------------------------------------------

    @property
    def has_default(self) -> bool:
        return self._default is not NO_DEFAULT

    @property
    def default(self) -> Any:
        return self._default

    def serialize_value(self, value: Any) -> str:
        """``serialize`` that also handles ``None``: ``''`` for an optional parameter, and
        luigi's ``'None'`` for a class default that luigi normalized to None."""
        if value is None:
            return "" if self.optional else "None"
        return self.serialize(value)

    def exact(self, value: Any, text: str) -> bool:
        """Whether ``text`` (:meth:`serialize_value` of ``value``: what the task id is made
        of) names ``value`` and no other value this parameter holds: it parses back to a
        value of the same types (``5`` given to a plain parameter does not: its text
        ``'5'`` names the string). Then the task id is luigi's exactly; otherwise the id also
        hashes :func:`typed`, so two values ``run()`` can tell apart never share it. The
        typed kinds normalize every value to their own type and always are exact."""
        if value is None or self.always_exact:
            return True
        if type(self).parse is Parameter.parse and type(self)._normalize is Parameter._normalize:
            return type(value) is str and not (self.optional and value in ("", "None"))
        try:
            back = self.parse_text(text)
        except Exception:  # a parse of the user's own that cannot read its own text
            return False
        return typed(back) == typed(value)

    def normalize_default(self, value: Any) -> T:
        """What luigi makes of a class default that :meth:`normalize` rejects.

        d6tflow ran classes whose defaults do not parse (``BoolParameter(default='rf')``),
        since luigi normalizes such a default instead of refusing it; keeping luigi's value
        keeps the task id, and so the outputs d6tflow wrote. Most kinds keep the value as
        written; a kind whose luigi counterpart does otherwise says so here.
        """
        return value  # type: ignore[no-any-return]

    def parse_text(self, text: str) -> T:
        """``parse`` with the error :class:`ParameterError` instead of whatever it raised."""
        if self.optional and text in ("", "None"):
            return None  # type: ignore[return-value]
        try:
            return self.normalize(self.parse(text))
        except ParameterError:
            raise
        except (ValueError, TypeError, LookupError, SyntaxError, ImportError, AttributeError) as e:
            raise ParameterError(f"expected {self.expected}, got {text!r}: {e}") from e


def typed(value: Any) -> str:
    """A text of ``value`` that tells types apart (``1``, ``'1'``, ``True``, ``{1: 'a'}``,
    ``{'1': 'a'}``), the same in every process: what a task id hashes for a value that its
    parameter's text does not name exactly (:meth:`Parameter.exact`).

    >>> typed({1: "one"}), typed({"1": "one"}), typed(True), typed((1, "1"))
    ('{int:1:"one"}', '{"1":"one"}', 'bool:True', '[int:1,"1"]')
    """
    if isinstance(value, str):
        return json.dumps(value)
    kind = type(value)
    if kind.__module__ == "numpy" and hasattr(value, "tolist"):  # as JSON writes it
        return typed(value.tolist())
    if value is None or kind in (bool, int, float):
        return f"{kind.__name__}:{value!r}"
    if isinstance(value, Mapping):
        return "{" + ",".join(sorted(f"{typed(k)}:{typed(v)}" for k, v in value.items())) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(typed(v) for v in value) + "]"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(typed(v) for v in value)) + "}s"
    try:
        text = _exact_text(value)
    except TypeError:
        text = str(value)
    return f"{kind.__module__}.{kind.__qualname__}:{text}"


class OptionalParameter(Parameter[T]):
    """d6tflow's name for a string parameter that may be ``None``."""

    def __init__(self, default: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("optional", True)
        super().__init__(default, **kwargs)


class IntParameter(Parameter[int]):
    """An integer; strings are parsed with ``int``."""

    expected = "an integer"
    always_exact = True  # (normalized to this kind's own type)

    def parse(self, text: str) -> int:
        return int(text)

    def _normalize(self, value: Any) -> int:
        if isinstance(value, str):
            return self.parse_text(value)
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ParameterError(f"expected {self.expected}, got {_describe(value)}")
        return int(value)


class FloatParameter(Parameter[float]):
    """A float; integers are accepted and become floats."""

    expected = "a number"
    always_exact = True  # (normalized to this kind's own type)

    def parse(self, text: str) -> float:
        return float(text)

    def _normalize(self, value: Any) -> float:
        if isinstance(value, str):
            return self.parse_text(value)
        if isinstance(value, bool) or (
            not isinstance(value, (int, float)) and not hasattr(value, "__float__")
        ):
            raise ParameterError(f"expected {self.expected}, got {_describe(value)}")
        return float(value)


class BoolParameter(Parameter[bool]):
    """``True``/``False``; the strings ``true``/``false`` (any case) parse. Defaults to False."""

    expected = "a bool (True/False)"
    always_exact = True  # (normalized to this kind's own type)

    def __init__(self, default: Any = False, **kwargs: Any) -> None:
        super().__init__(default, **kwargs)

    def parse(self, text: str) -> bool:
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError("not a bool")

    def normalize_default(self, value: Any) -> Any:
        """luigi reads ``str(value)`` as ``true``/``false`` and anything else as None."""
        return {"true": True, "false": False}.get(str(value).lower())

    def _normalize(self, value: Any) -> bool:
        if isinstance(value, str):
            return self.parse_text(value)
        if isinstance(value, bool) or (
            type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
        ):
            return bool(value)
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ParameterError(f"expected {self.expected}, got {_describe(value)}")


class _DateLike(Parameter[T]):
    fmt: ClassVar[str]
    always_exact = True  # (normalized to this kind's own type)

    def parse(self, text: str) -> T:
        return self._round(dt.datetime.strptime(text, self.fmt))

    def serialize(self, value: T) -> str:
        return value.strftime(self.fmt)  # type: ignore[attr-defined, no-any-return]

    def _normalize(self, value: Any) -> T:
        if isinstance(value, str):
            return self.parse_text(value)
        if isinstance(value, dt.date):
            return self._round(value)
        raise ParameterError(f"expected {self.expected}, got {_describe(value)}")

    def _round(self, value: dt.date) -> T:
        raise NotImplementedError  # pragma: no cover


class DateParameter(_DateLike[dt.date]):
    """A date, ``YYYY-MM-DD``; a datetime keeps its date."""

    fmt = "%Y-%m-%d"
    expected = "a date (YYYY-MM-DD)"

    def _round(self, value: dt.date) -> dt.date:
        return value.date() if isinstance(value, dt.datetime) else value


class MonthParameter(_DateLike[dt.date]):
    """A month, ``YYYY-MM``, held as the first day of the month."""

    fmt = "%Y-%m"
    expected = "a month (YYYY-MM)"

    def _round(self, value: dt.date) -> dt.date:
        return dt.date(value.year, value.month, 1)


class YearParameter(_DateLike[dt.date]):
    """A year, ``YYYY``, held as its first day."""

    fmt = "%Y"
    expected = "a year (YYYY)"

    def _round(self, value: dt.date) -> dt.date:
        return dt.date(value.year, 1, 1)


class _DateTimeLike(_DateLike[dt.datetime]):
    unit: ClassVar[str]

    def _round(self, value: dt.date) -> dt.datetime:
        if not isinstance(value, dt.datetime):
            return dt.datetime(value.year, value.month, value.day)
        value = value.replace(microsecond=0)
        if self.unit in ("hour", "minute"):
            value = value.replace(second=0)
        if self.unit == "hour":
            value = value.replace(minute=0)
        return value


class DateHourParameter(_DateTimeLike):
    """A datetime to the hour, ``YYYY-MM-DDTHH``."""

    fmt, unit, expected = "%Y-%m-%dT%H", "hour", "a date and hour (YYYY-MM-DDTHH)"


class DateMinuteParameter(_DateTimeLike):
    """A datetime to the minute, ``YYYY-MM-DDTHHMM``."""

    fmt, unit, expected = "%Y-%m-%dT%H%M", "minute", "a date and minute (YYYY-MM-DDTHHMM)"


class DateSecondParameter(_DateTimeLike):
    """A datetime to the second, ``YYYY-MM-DDTHHMMSS``."""

    fmt, unit, expected = "%Y-%m-%dT%H%M%S", "second", "a date and time (YYYY-MM-DDTHHMMSS)"


class TimeDeltaParameter(Parameter[dt.timedelta]):
    """A duration: ISO 8601 (``P1DT2H``), luigi's ``1 w 2 d 3 h 4 m 5 s`` or seconds."""

    expected = "a duration (e.g. 'P1DT2H', '1 d 2 h' or seconds)"
    _ISO = re.compile(
        r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
        r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
    )
    _SIMPLE = re.compile(
        r"\s*(?:(?P<weeks>\d+)\s*w(?:eeks?)?)?\s*(?:(?P<days>\d+)\s*d(?:ays?)?)?"
        r"\s*(?:(?P<hours>\d+)\s*h(?:ours?)?)?\s*(?:(?P<minutes>\d+)\s*m(?:inutes?)?)?"
        r"\s*(?:(?P<seconds>\d+(?:\.\d+)?)\s*s(?:econds?)?)?\s*"
    )

    def parse(self, text: str) -> dt.timedelta:
        for pattern in (self._ISO, self._SIMPLE):
            m = pattern.fullmatch(text)
            if m and any(m.groupdict().values()):
                return dt.timedelta(**{k: float(v) for k, v in m.groupdict().items() if v})
        return dt.timedelta(seconds=float(text))

    def serialize(self, value: dt.timedelta) -> str:
        weeks, days = divmod(value.days, 7)
        hours, rest = divmod(value.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{weeks} w {days} d {hours} h {minutes} m {seconds} s"

    def _normalize(self, value: Any) -> dt.timedelta:
        if isinstance(value, str):
            return self.parse_text(value)
        if isinstance(value, dt.timedelta):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return dt.timedelta(seconds=value)
        raise ParameterError(f"expected {self.expected}, got {_describe(value)}")


class DateIntervalParameter(Parameter[date_interval.DateInterval]):
    """A :mod:`daskflow.date_interval` value: ``2020-01-02``, ``2020-W01``, ``2020-01``, ..."""

    expected = "a date interval (YYYY-MM-DD, YYYY-Www, YYYY-MM, YYYY or a range)"

    def parse(self, text: str) -> date_interval.DateInterval:
        return date_interval.parse(text)

    def _normalize(self, value: Any) -> date_interval.DateInterval:
        if isinstance(value, str):
            return self.parse_text(value)
        if isinstance(value, date_interval.DateInterval):
            return value
        if type(value).__module__.startswith("luigi"):  # a luigi.date_interval value
            return self.parse_text(str(value))
        raise ParameterError(f"expected {self.expected}, got {_describe(value)}")


class FrozenDict(Mapping[str, Any]):
    """An immutable, hashable dict: the normalized value of a :class:`DictParameter`.

    >>> FrozenDict({'b': 1, 'a': [1, 2]})
    FrozenDict({'b': 1, 'a': (1, 2)})
    >>> FrozenDict({'a': 1}) == {'a': 1}
    True
    """

    __slots__ = ("_d", "_hash")

    def __init__(self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        self._d = {k: freeze(v) for k, v in dict(data).items()}
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._d.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._d) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenDict({self._d!r})"

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return FrozenDict, (self._d,)


def freeze(value: Any) -> Any:
    """Lists and tuples to tuples, dicts to :class:`FrozenDict`, recursively."""
    if isinstance(value, Mapping):
        return value if isinstance(value, FrozenDict) else FrozenDict(value)
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    return value


_EXACT_STR = (dt.date, dt.time, dt.timedelta, enum.Enum)  # str() of these is exact and stable


def _exact_text(obj: Any) -> Any:
    """The JSON form of a value JSON has no type for, when it is exact: numpy arrays and
    scalars as lists and numbers (``str`` abbreviates a long array), dates and enums as their
    text. Anything else (an object whose text is its memory address) is refused.

    >>> _exact_text(__import__("datetime").date(2020, 1, 2))
    '2020-01-02'
    """
    if type(obj).__module__ == "numpy" and hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, _EXACT_STR) or type(obj).__name__ in ("Decimal", "UUID", "PosixPath"):
        return str(obj)
    raise TypeError(
        f"{_describe(obj)} has no exact, stable text for the task id; use plain values "
        "(numbers, strings, lists, dicts, dates), or a numpy array"
    )


def _thaw(value: Any) -> Any:
    """The JSON-able form of a frozen value, the same in every process (sets sorted)."""
    if isinstance(value, Mapping):
        return {str(k): _thaw(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    if isinstance(value, frozenset):
        return sorted((_thaw(v) for v in value), key=lambda v: json.dumps(v, default=str))
    return value


_JSON_LEAVES = (str, int, float, bool, type(None))


def _json_exact(value: Any) -> bool:
    """Whether JSON reads ``value``'s text back as ``value`` (frozen): string keys, and
    leaves JSON has a type for (numpy's, which it writes as lists and numbers, count)."""
    if type(value) in _JSON_LEAVES:
        return True
    if isinstance(value, Mapping):
        return all(type(k) is str and _json_exact(v) for k, v in value.items())
    if isinstance(value, tuple):
        return all(_json_exact(v) for v in value)
    return type(value).__module__ == "numpy"


class _JsonParameter(Parameter[T]):
    container: ClassVar[tuple[type, ...]]

    def exact(self, value: Any, text: str) -> bool:
        return value is None or _json_exact(value)

    def parse(self, text: str) -> T:
        return freeze(json.loads(text))  # type: ignore[no-any-return]

    def serialize(self, value: T) -> str:
        return json.dumps(_thaw(value), default=_exact_text)

    def _normalize(self, value: Any) -> T:
        if isinstance(value, str):
            return self.parse_text(value)
        if not isinstance(value, self.container):
            raise ParameterError(f"expected {self.expected}, got {_describe(value)}")
        frozen = freeze(value)
        try:  # the task id is made of this text: it must say exactly what the value is
            self.serialize(frozen)
        except (TypeError, ValueError) as e:
            raise ParameterError(
                f"expected {self.expected} of values JSON can write: {e}"
            ) from None
        return frozen  # type: ignore[no-any-return]


class ListParameter(_JsonParameter[tuple[Any, ...]]):
    """A list, held as a tuple; strings parse as JSON (``'[1, 2]'``)."""

    expected = "a list"
    container = (list, tuple)


class TupleParameter(ListParameter):
    """A tuple; strings parse as JSON or a Python literal (``'((1, 2), (3, 4))'``)."""

    expected = "a tuple"

    def parse(self, text: str) -> tuple[Any, ...]:
        import ast

        try:
            return super().parse(text)
        except json.JSONDecodeError:
            return freeze(ast.literal_eval(text))  # type: ignore[no-any-return]


class DictParameter(_JsonParameter[FrozenDict]):
    """A dict, held as a :class:`FrozenDict`; serialized with sorted keys, so dicts that
    compare equal give the same task."""

    expected = "a dict"
    container = (Mapping,)


class EnumParameter(Parameter[enum.Enum]):
    """A member of ``enum``; strings are member names."""

    always_exact = True  # (normalized to this kind's own type)

    def __init__(self, *args: Any, enum: type[enum.Enum], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._enum = enum
        self.expected = f"a member of {enum.__name__} ({', '.join(enum.__members__)})"

    def parse(self, text: str) -> enum.Enum:
        return self._enum[text]

    def serialize(self, value: enum.Enum) -> str:
        return value.name

    def _normalize(self, value: Any) -> enum.Enum:
        if isinstance(value, self._enum):
            return value
        if isinstance(value, str):
            return self.parse_text(value)
        raise ParameterError(f"expected {self.expected}, got {_describe(value)}")


class ChoiceParameter(Parameter[Any]):
    """One of ``choices``; strings are converted with ``var_type`` first."""

    always_exact = True  # (normalized to this kind's own type)

    def __init__(self, *args: Any, choices: Iterable[Any], var_type: type = str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._choices = tuple(choices)
        self._var_type = var_type
        self.expected = f"one of {list(self._choices)!r}"

    def parse(self, text: str) -> Any:
        return self._var_type(text)

    def _normalize(self, value: Any) -> Any:
        if isinstance(value, str) and self._var_type is not str:
            value = self.parse_text(value)
        if value not in self._choices:
            raise ParameterError(f"expected {self.expected}, got {_describe(value)}")
        return value


class NumericalParameter(Parameter[Any]):
    """A number of ``var_type`` with ``left_op(min_value, x)`` and ``right_op(x, max_value)``
    (by default ``min_value <= x < max_value``)."""

    always_exact = True  # (normalized to this kind's own type)

    def __init__(
        self,
        *args: Any,
        var_type: type,
        min_value: Any,
        max_value: Any,
        left_op: Callable[[Any, Any], bool] = operator.le,
        right_op: Callable[[Any, Any], bool] = operator.lt,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._var_type, self._min, self._max = var_type, min_value, max_value
        self._left, self._right = left_op, right_op
        signs = {operator.le: "<=", operator.lt: "<"}
        self.expected = (
            f"a {var_type.__name__} with {min_value} {signs.get(left_op, '?')} x "
            f"{signs.get(right_op, '?')} {max_value}"
        )

    def parse(self, text: str) -> Any:
        return self._var_type(text)

    def _normalize(self, value: Any) -> Any:
        if isinstance(value, str):
            value = self.parse(value) if _parses(self._var_type, value) else value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"expected {self.expected}, got {_describe(value)}")
        converted = self._var_type(value)
        if converted != value:
            raise ParameterError(f"expected {self.expected}, got {_describe(value)}")
        value = converted
        if not (self._left(self._min, value) and self._right(value, self._max)):
            raise ParameterError(f"expected {self.expected}, got {_describe(value)}")
        return value


def _parses(var_type: type, text: str) -> bool:
    try:
        var_type(text)
    except (TypeError, ValueError):
        return False
    return True


class TaskParameter(Parameter[type]):
    """A task class; serialized as its family, parsed from ``package.module.Class`` or
    ``package.module:Class``."""

    expected = "a task class"
    always_exact = True  # (normalized to this kind's own type)

    def parse(self, text: str) -> type:
        module, _, name = text.replace(":", ".").rpartition(".")
        if not module:
            raise ValueError("give the class as 'package.module.Class'")
        cls = getattr(importlib.import_module(module), name)
        return self.normalize(cls)

    def serialize(self, value: type) -> str:
        return str(value.task_family)  # type: ignore[attr-defined]

    def _normalize(self, value: Any) -> type:
        if isinstance(value, str):
            return self.parse_text(value)
        if isinstance(value, type) and hasattr(value, "task_family"):
            return value
        raise ParameterError(f"expected {self.expected}, got {_describe(value)}")


class _Luigi(Parameter[Any]):
    """A luigi parameter declared on a daskflow task: its own parse/normalize/serialize."""

    def __init__(self, inner: Any) -> None:
        default = inner._default
        luigi_none = getattr(sys.modules.get("luigi.parameter"), "_no_value", NO_DEFAULT)
        unset = default is luigi_none or type(default).__name__ == "_NoValueType"
        super().__init__(
            NO_DEFAULT if unset else default,  # (luigi < 3.8 marks "no default" with object())
            significant=inner.significant,
            description=inner.description,
            positional=getattr(inner, "positional", True),
            visibility=int(getattr(getattr(inner, "visibility", 0), "value", 0)),
        )
        self._order = getattr(inner, "_counter", self._order)
        self.inner = inner
        self.optional = "Optional" in type(inner).__name__

    def parse(self, text: str) -> Any:
        return self.inner.parse(text)

    def serialize(self, value: Any) -> str:
        return str(self.inner.serialize(value))

    def _normalize(self, value: Any) -> Any:
        try:
            own_parse = getattr(type(self.inner), "parse", None)
            if isinstance(value, str) and own_parse is not _luigi_base_parse(self):
                value = self.inner.parse(value)
            return self.inner.normalize(value)
        except (ValueError, TypeError) as e:
            raise ParameterError(
                f"{type(self.inner).__name__} rejects {_describe(value)}: {e}"
            ) from e


def _luigi_base_parse(wrapper: _Luigi) -> Any:
    """luigi's plain ``Parameter.parse`` (the identity): strings for it need no parsing."""
    base = next(
        c
        for c in type(wrapper.inner).__mro__
        if c.__module__ == "luigi.parameter" and c.__name__ == "Parameter"
    )
    return getattr(base, "parse", None)


def adopt(value: object) -> Parameter[Any] | None:
    """The daskflow parameter for a class attribute, or None if it is not a parameter.

    A luigi parameter (``luigi.IntParameter(...)`` in older d6tflow code) is wrapped, so tasks
    declared with luigi's classes work when luigi is installed; daskflow never imports luigi.
    """
    if isinstance(value, Parameter):
        return value
    kind = type(value)
    if any(c.__module__ == "luigi.parameter" and c.__name__ == "Parameter" for c in kind.__mro__):
        return _Luigi(value)
    return None
