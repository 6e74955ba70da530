"""Parameter kinds: parse, normalize, serialize, defaults, optional, significance, visibility,
clear errors, immutable values; the date_interval module; FrozenDict."""

from __future__ import annotations

import copy
import datetime as dt
import doctest
import enum
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import daskflow as d6tflow
from daskflow import date_interval, parameters
from daskflow.date_interval import Custom, Date, DateInterval, Month, Week, Year
from daskflow.errors import CompatibilityWarning, MissingParameterError, ParameterError
from daskflow.parameters import FrozenDict, freeze

D = dt.date
DT = dt.datetime
TD = dt.timedelta


class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 3


class RefTask(d6tflow.tasks.TaskPickle):
    """A task class for TaskParameter (importable as ``{__name__}.RefTask``)."""


class OtherRefTask(d6tflow.tasks.TaskPickle):
    task_namespace = "ns"


# -- parse / normalize / serialize of every kind -----------------------------------------------

# (id, parameter factory, value given, normalized value, serialized string)
KINDS = [
    ("str", lambda: d6tflow.Parameter(), "abc", "abc", "abc"),
    ("str-int", lambda: d6tflow.Parameter(), 1, 1, "1"),
    ("int", lambda: d6tflow.IntParameter(), 5, 5, "5"),
    ("int-str", lambda: d6tflow.IntParameter(), "-3", -3, "-3"),
    ("int-big", lambda: d6tflow.IntParameter(), 10**20, 10**20, "100000000000000000000"),
    ("int-numpy", lambda: d6tflow.IntParameter(), np.int64(7), 7, "7"),
    ("int-integral-float", lambda: d6tflow.IntParameter(), 2.0, 2, "2"),
    ("float", lambda: d6tflow.FloatParameter(), 0.5, 0.5, "0.5"),
    ("float-str", lambda: d6tflow.FloatParameter(), "2.5", 2.5, "2.5"),
    ("float-small", lambda: d6tflow.FloatParameter(), 1e-7, 1e-7, "1e-07"),
    ("float-from-int", lambda: d6tflow.FloatParameter(), 1, 1.0, "1.0"),
    ("bool-true", lambda: d6tflow.BoolParameter(), True, True, "True"),
    ("bool-str-false", lambda: d6tflow.BoolParameter(), "false", False, "False"),
    ("bool-str-upper", lambda: d6tflow.BoolParameter(), "TRUE", True, "True"),
    ("bool-numpy", lambda: d6tflow.BoolParameter(), np.bool_(True), True, "True"),
    ("bool-int", lambda: d6tflow.BoolParameter(), 0, False, "False"),
    ("date", lambda: d6tflow.DateParameter(), D(2020, 1, 2), D(2020, 1, 2), "2020-01-02"),
    ("date-str", lambda: d6tflow.DateParameter(), "1999-12-31", D(1999, 12, 31), "1999-12-31"),
    (
        "date-datetime",
        lambda: d6tflow.DateParameter(),
        DT(2020, 1, 2, 3),
        D(2020, 1, 2),
        "2020-01-02",
    ),
    ("month", lambda: d6tflow.MonthParameter(), D(2020, 3, 15), D(2020, 3, 1), "2020-03"),
    ("month-str", lambda: d6tflow.MonthParameter(), "2020-03", D(2020, 3, 1), "2020-03"),
    ("year", lambda: d6tflow.YearParameter(), D(2020, 6, 15), D(2020, 1, 1), "2020"),
    ("year-str", lambda: d6tflow.YearParameter(), "2020", D(2020, 1, 1), "2020"),
    (
        "datehour",
        lambda: d6tflow.DateHourParameter(),
        DT(2020, 1, 2, 3, 45, 30),
        DT(2020, 1, 2, 3),
        "2020-01-02T03",
    ),
    (
        "datehour-str",
        lambda: d6tflow.DateHourParameter(),
        "2020-01-02T03",
        DT(2020, 1, 2, 3),
        "2020-01-02T03",
    ),
    (
        "dateminute",
        lambda: d6tflow.DateMinuteParameter(),
        DT(2020, 1, 2, 3, 4, 59),
        DT(2020, 1, 2, 3, 4),
        "2020-01-02T0304",
    ),
    (
        "datesecond",
        lambda: d6tflow.DateSecondParameter(),
        DT(2020, 1, 2, 3, 4, 5, 123456),
        DT(2020, 1, 2, 3, 4, 5),
        "2020-01-02T030405",
    ),
    (
        "timedelta",
        lambda: d6tflow.TimeDeltaParameter(),
        TD(days=1, hours=2, minutes=3, seconds=4),
        TD(days=1, hours=2, minutes=3, seconds=4),
        "0 w 1 d 2 h 3 m 4 s",
    ),
    (
        "timedelta-iso",
        lambda: d6tflow.TimeDeltaParameter(),
        "P1DT2H",
        TD(days=1, hours=2),
        "0 w 1 d 2 h 0 m 0 s",
    ),
    (
        "timedelta-luigi",
        lambda: d6tflow.TimeDeltaParameter(),
        "1 w 2 d 3 h 4 m 5 s",
        TD(weeks=1, days=2, hours=3, minutes=4, seconds=5),
        "1 w 2 d 3 h 4 m 5 s",
    ),
    (
        "timedelta-seconds",
        lambda: d6tflow.TimeDeltaParameter(),
        "90",
        TD(seconds=90),
        "0 w 0 d 0 h 1 m 30 s",
    ),
    (
        "timedelta-number",
        lambda: d6tflow.TimeDeltaParameter(),
        1.5,
        TD(seconds=1.5),
        "0 w 0 d 0 h 0 m 1 s",
    ),
    (
        "interval-week",
        lambda: d6tflow.DateIntervalParameter(),
        "2020-W05",
        Week(2020, 5),
        "2020-W05",
    ),
    (
        "interval-obj",
        lambda: d6tflow.DateIntervalParameter(),
        Month(2020, 3),
        Month(2020, 3),
        "2020-03",
    ),
    (
        "interval-custom",
        lambda: d6tflow.DateIntervalParameter(),
        "2020-01-01-2020-02-01",
        Custom(D(2020, 1, 1), D(2020, 2, 1)),
        "2020-01-01-2020-02-01",
    ),
    ("list", lambda: d6tflow.ListParameter(), [1, [2, 3]], (1, (2, 3)), "[1, [2, 3]]"),
    ("list-str", lambda: d6tflow.ListParameter(), "[1, 2]", (1, 2), "[1, 2]"),
    (
        "list-mixed",
        lambda: d6tflow.ListParameter(),
        [1.5, None, True],
        (1.5, None, True),
        "[1.5, null, true]",
    ),
    ("list-empty", lambda: d6tflow.ListParameter(), [], (), "[]"),
    (
        "tuple",
        lambda: d6tflow.TupleParameter(),
        ((1, 2), (3, 4)),
        ((1, 2), (3, 4)),
        "[[1, 2], [3, 4]]",
    ),
    (
        "tuple-literal",
        lambda: d6tflow.TupleParameter(),
        "((1, 2), (3, 4))",
        ((1, 2), (3, 4)),
        "[[1, 2], [3, 4]]",
    ),
    ("tuple-json", lambda: d6tflow.TupleParameter(), "[1, 2]", (1, 2), "[1, 2]"),
    (
        "dict",
        lambda: d6tflow.DictParameter(),
        {"b": 1, "a": [1, 2]},
        FrozenDict({"a": (1, 2), "b": 1}),
        '{"a": [1, 2], "b": 1}',
    ),
    (
        "dict-str",
        lambda: d6tflow.DictParameter(),
        '{"x": {"z": 1, "y": 2}}',
        FrozenDict({"x": {"y": 2, "z": 1}}),
        '{"x": {"y": 2, "z": 1}}',
    ),
    (
        "dict-unicode",
        lambda: d6tflow.DictParameter(),
        {"u": "ü"},
        FrozenDict({"u": "ü"}),
        '{"u": "\\u00fc"}',
    ),
    ("enum", lambda: d6tflow.EnumParameter(enum=Color), Color.RED, Color.RED, "RED"),
    ("enum-str", lambda: d6tflow.EnumParameter(enum=Color), "BLUE", Color.BLUE, "BLUE"),
    ("choice", lambda: d6tflow.ChoiceParameter(choices=["x", "y"]), "y", "y", "y"),
    ("choice-int", lambda: d6tflow.ChoiceParameter(choices=[1, 2, 3], var_type=int), "2", 2, "2"),
    (
        "numerical-int",
        lambda: d6tflow.NumericalParameter(var_type=int, min_value=0, max_value=10),
        "4",
        4,
        "4",
    ),
    (
        "numerical-float",
        lambda: d6tflow.NumericalParameter(var_type=float, min_value=0.0, max_value=1.0),
        0.25,
        0.25,
        "0.25",
    ),
    ("task", lambda: d6tflow.TaskParameter(), RefTask, RefTask, "RefTask"),
    ("task-dotted", lambda: d6tflow.TaskParameter(), f"{__name__}.RefTask", RefTask, "RefTask"),
    (
        "task-colon",
        lambda: d6tflow.TaskParameter(),
        f"{__name__}:OtherRefTask",
        OtherRefTask,
        "ns.OtherRefTask",
    ),
    ("optional", lambda: d6tflow.OptionalParameter(), "val", "val", "val"),
]


@pytest.mark.parametrize(
    ("make", "given", "normalized", "serialized"),
    [k[1:] for k in KINDS],
    ids=[k[0] for k in KINDS],
)
def test_normalize_and_serialize(make, given, normalized, serialized):
    p = make()
    value = p.normalize(given)
    assert value == normalized
    assert type(value) is type(normalized)
    assert p.serialize(value) == serialized


# a str given an int stays an int, and a task class serializes as its family (no registry to
# look it up by), so those two do not parse back to the same value
_NO_ROUND_TRIP = ("str-int", "timedelta-number", "datesecond", "task", "task-dotted", "task-colon")


@pytest.mark.parametrize(
    ("make", "given", "normalized", "serialized"),
    [k[1:] for k in KINDS if k[0] not in _NO_ROUND_TRIP],
    ids=[k[0] for k in KINDS if k[0] not in _NO_ROUND_TRIP],
)
def test_serialized_text_parses_back(make, given, normalized, serialized):
    """What the task id shows is what the command line accepts."""
    p = make()
    assert p.parse_text(serialized) == normalized


def test_datesecond_serialization_drops_microseconds_and_parses_back():
    p = d6tflow.DateSecondParameter()
    value = p.normalize(DT(2020, 1, 2, 3, 4, 5, 999999))
    assert value == DT(2020, 1, 2, 3, 4, 5)
    assert p.parse_text(p.serialize(value)) == value


def test_datehour_from_plain_date_is_midnight():
    assert d6tflow.DateHourParameter().normalize(D(2020, 1, 2)) == DT(2020, 1, 2, 0)


def test_timedelta_serializes_weeks_and_days_like_luigi():
    p = d6tflow.TimeDeltaParameter()
    assert p.serialize(TD(days=15)) == "2 w 1 d 0 h 0 m 0 s"
    assert p.serialize(TD(weeks=2, days=3, hours=25)) == "2 w 4 d 1 h 0 m 0 s"
    assert p.serialize(TD(0)) == "0 w 0 d 0 h 0 m 0 s"


def test_bool_parameter_defaults_to_false():
    p = d6tflow.BoolParameter()
    assert p.has_default and p.default is False


def test_parameter_default_is_first_positional_argument():
    p = d6tflow.Parameter("dflt")
    assert p.has_default and p.default == "dflt"
    assert not d6tflow.Parameter().has_default


# -- errors name the value and the expected type ----------------------------------------------

# (id, parameter factory, bad value, substrings the message must contain)
ERRORS = [
    ("int-text", lambda: d6tflow.IntParameter(), "abc", ["'abc'", "integer"]),
    ("int-fraction", lambda: d6tflow.IntParameter(), 1.5, ["1.5", "integer"]),
    ("int-bool", lambda: d6tflow.IntParameter(), True, ["True", "integer"]),
    ("int-list", lambda: d6tflow.IntParameter(), [1], ["[1]", "integer"]),
    ("int-text-float", lambda: d6tflow.IntParameter(), "1.0", ["'1.0'", "integer"]),
    ("float-text", lambda: d6tflow.FloatParameter(), "abc", ["'abc'", "number"]),
    ("float-bool", lambda: d6tflow.FloatParameter(), True, ["True", "number"]),
    ("float-list", lambda: d6tflow.FloatParameter(), [1.0], ["[1.0]", "number"]),
    ("bool-text", lambda: d6tflow.BoolParameter(), "maybe", ["'maybe'", "bool"]),
    ("bool-int", lambda: d6tflow.BoolParameter(), 2, ["2", "bool"]),
    ("date-bad", lambda: d6tflow.DateParameter(), "2020-13-01", ["'2020-13-01'", "YYYY-MM-DD"]),
    ("date-int", lambda: d6tflow.DateParameter(), 5, ["5", "date"]),
    ("month-bad", lambda: d6tflow.MonthParameter(), "2020-13", ["'2020-13'", "YYYY-MM"]),
    ("year-bad", lambda: d6tflow.YearParameter(), "twenty", ["'twenty'", "YYYY"]),
    (
        "datehour-bad",
        lambda: d6tflow.DateHourParameter(),
        "2020-01-02",
        ["'2020-01-02'", "YYYY-MM-DDTHH"],
    ),
    ("timedelta-bad", lambda: d6tflow.TimeDeltaParameter(), "xyz", ["'xyz'", "duration"]),
    ("timedelta-list", lambda: d6tflow.TimeDeltaParameter(), [1], ["[1]", "duration"]),
    ("interval-bad", lambda: d6tflow.DateIntervalParameter(), "nope", ["'nope'", "date interval"]),
    (
        "interval-week54",
        lambda: d6tflow.DateIntervalParameter(),
        "2020-W54",
        ["'2020-W54'", "date interval"],
    ),
    (
        "interval-backwards",
        lambda: d6tflow.DateIntervalParameter(),
        "2020-01-05-2020-01-01",
        ["'2020-01-05-2020-01-01'", "date interval"],
    ),
    ("list-int", lambda: d6tflow.ListParameter(), 5, ["5", "list"]),
    ("list-badjson", lambda: d6tflow.ListParameter(), "[1,", ["'[1,'", "list"]),
    ("list-set", lambda: d6tflow.ListParameter(), {1}, ["{1}", "list"]),
    ("list-dictjson", lambda: d6tflow.ListParameter(), '{"a": 1}', ["'a'", "list"]),
    ("tuple-badliteral", lambda: d6tflow.TupleParameter(), "abc", ["'abc'", "tuple"]),
    ("tuple-unclosed", lambda: d6tflow.TupleParameter(), "(1,", ["'(1,'", "tuple"]),
    ("dict-list", lambda: d6tflow.DictParameter(), [1, 2], ["[1, 2]", "dict"]),
    ("dict-listjson", lambda: d6tflow.DictParameter(), "[1, 2]", ["1, 2", "dict"]),
    (
        "enum-name",
        lambda: d6tflow.EnumParameter(enum=Color),
        "PURPLE",
        ["'PURPLE'", "RED, GREEN, BLUE"],
    ),
    ("enum-int", lambda: d6tflow.EnumParameter(enum=Color), 3, ["3", "Color"]),
    ("choice", lambda: d6tflow.ChoiceParameter(choices=["x", "y"]), "w", ["'w'", "['x', 'y']"]),
    (
        "choice-int-text",
        lambda: d6tflow.ChoiceParameter(choices=[1, 2], var_type=int),
        "x",
        ["'x'", "[1, 2]"],
    ),
    (
        "numerical-range",
        lambda: d6tflow.NumericalParameter(var_type=int, min_value=0, max_value=10),
        10,
        ["10", "0 <= x < 10"],
    ),
    (
        "numerical-text",
        lambda: d6tflow.NumericalParameter(var_type=int, min_value=0, max_value=10),
        "abc",
        ["'abc'", "0 <= x < 10"],
    ),
    (
        "numerical-int-given-fraction",
        lambda: d6tflow.NumericalParameter(var_type=int, min_value=0, max_value=10),
        3.7,
        ["3.7", "int"],
    ),
    ("task-int", lambda: d6tflow.TaskParameter(), int, ["int", "task class"]),
    ("task-no-dot", lambda: d6tflow.TaskParameter(), "nomodule", ["'nomodule'", "task class"]),
    (
        "task-missing-module",
        lambda: d6tflow.TaskParameter(),
        "no_such_pkg_xyz.Task",
        ["'no_such_pkg_xyz.Task'", "task class"],
    ),
    (
        "task-missing-class",
        lambda: d6tflow.TaskParameter(),
        "os.NoSuchTask",
        ["'os.NoSuchTask'", "task class"],
    ),
    (
        "none-not-optional",
        lambda: d6tflow.IntParameter(),
        None,
        ["None", "integer", "optional=True"],
    ),
]


@pytest.mark.parametrize(
    ("make", "bad", "needles"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_bad_value_raises_parameter_error_naming_value_and_type(make, bad, needles):
    with pytest.raises(ParameterError) as info:
        make().normalize(bad)
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_parameter_error_is_a_value_error():
    with pytest.raises(ValueError):
        d6tflow.IntParameter().normalize("abc")


def test_task_error_names_task_parameter_value_and_type():
    class TaskErr(d6tflow.tasks.TaskPickle):
        n = d6tflow.IntParameter()

    with pytest.raises(ParameterError) as info:
        TaskErr(n="abc")
    message = str(info.value)
    for needle in ("TaskErr", "'n'", "'abc'", "integer"):
        assert needle in message


def test_missing_parameter_names_it():
    class TaskNeeds(d6tflow.tasks.TaskPickle):
        i = d6tflow.IntParameter()

    with pytest.raises(MissingParameterError) as info:
        TaskNeeds()
    assert "'i'" in str(info.value) and "TaskNeeds" in str(info.value)
    assert isinstance(info.value, ParameterError)


def test_dict_with_set_value_gives_same_task_in_every_process():
    """A value with no canonical JSON (a set) must not make the task id depend on the
    process's hash seed: either it is refused with ParameterError, or its id is stable."""
    code = textwrap.dedent(
        """
        import daskflow as d6tflow
        from daskflow.errors import ParameterError
        class T(d6tflow.tasks.TaskPickle):
            d = d6tflow.DictParameter()
        try:
            print(T(d={'a': {'w', 'x', 'y', 'z', 'v', 'u'}}).task_id)
        except ParameterError:
            print('ParameterError')
        """
    )
    outputs = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1, f"task id depends on the hash seed: {sorted(outputs)}"


# -- optional ---------------------------------------------------------------------------------


def test_optional_accepts_none_and_serializes_empty():
    p = d6tflow.IntParameter(optional=True)
    assert p.normalize(None) is None
    assert p.serialize_value(None) == ""
    assert p.parse_text("") is None
    assert p.parse_text("None") is None
    assert p.parse_text("7") == 7
    with pytest.raises(ParameterError):
        p.normalize("x")


def test_optional_parameter_defaults_to_none():
    p = d6tflow.OptionalParameter()
    assert p.optional and p.has_default and p.default is None


def test_optional_in_task_id():
    class TaskOpt(d6tflow.tasks.TaskPickle):
        o = d6tflow.OptionalParameter()
        n = d6tflow.IntParameter(default=None, optional=True)

    t = TaskOpt()
    assert t.o is None and t.n is None
    assert t.to_str_params(only_significant=True) == {"o": "", "n": ""}
    with pytest.warns(CompatibilityWarning, match="TaskOpt parameter 'o'"):
        empty = TaskOpt(o="")  # d6tflow gave None and '' one id; run() tells them apart
    assert empty.to_str_params(only_significant=True) == t.to_str_params(only_significant=True)
    assert empty.task_id != t.task_id and empty.o == ""
    assert TaskOpt(n=3).n == 3 and TaskOpt(n=3).task_id != t.task_id


# -- significant and visibility ---------------------------------------------------------------


class TaskSig(d6tflow.tasks.TaskPickle):
    a = d6tflow.Parameter()
    insig = d6tflow.Parameter(default="h", significant=False)
    hid = d6tflow.Parameter(default="x", visibility=1)
    priv = d6tflow.Parameter(default="v", visibility=2)


def test_insignificant_parameter_is_kept_out_of_id_and_path():
    t1, t2 = TaskSig(a="x"), TaskSig(a="x", insig="other")
    assert t1.task_id == t2.task_id
    assert t1 == t2 and hash(t1) == hash(t2)
    assert t1.output().path == t2.output().path
    assert t2.insig == "other" and t1.insig == "h"
    assert "insig" not in t1.to_str_params(only_significant=True)
    assert t2.to_str_params()["insig"] == "other"
    assert "insig" not in TaskSig.get_param_names()
    assert "insig" in TaskSig.get_param_names(include_significant=True)


def test_hidden_parameter_is_significant_but_not_in_task_id():
    base = TaskSig(a="x")
    other = TaskSig(a="x", hid="y")
    assert base.to_str_params(only_significant=True)["hid"] == "x"
    assert "hid" not in base.to_str_params(only_significant=True, only_public=True)
    assert base.task_id == other.task_id


def test_private_parameter_never_serialized():
    t = TaskSig(a="x", priv="secret")
    assert "priv" not in t.to_str_params()
    assert "priv" not in t.to_str_params(only_significant=True)
    assert t.priv == "secret"
    assert TaskSig(a="x").task_id == t.task_id
    assert "secret" not in t.task_id


# -- defaults, positional, declaration order --------------------------------------------------


def test_defaults_are_normalized():
    class TaskDefaults(d6tflow.tasks.TaskPickle):
        lst = d6tflow.ListParameter(default=[1, 2])
        dct = d6tflow.DictParameter(default={"b": [1], "a": 2})
        day = d6tflow.DateParameter(default="2020-01-02")
        f = d6tflow.FloatParameter(default=1)

    t = TaskDefaults()
    assert t.lst == (1, 2) and isinstance(t.lst, tuple)
    assert isinstance(t.dct, FrozenDict) and t.dct["b"] == (1,)
    assert t.day == D(2020, 1, 2)
    assert t.f == 1.0 and isinstance(t.f, float)
    assert (
        t.task_id
        == TaskDefaults(lst=(1, 2), dct={"a": 2, "b": [1]}, day=D(2020, 1, 2), f=1.0).task_id
    )


def test_positional_parameters_in_declaration_order():
    class TaskPos(d6tflow.tasks.TaskPickle):
        zeta = d6tflow.Parameter()
        alpha = d6tflow.IntParameter()
        kw_only = d6tflow.Parameter(default="k", positional=False)

    t = TaskPos("z", "3")
    assert (t.zeta, t.alpha) == ("z", 3)
    assert list(t.to_str_params()) == ["zeta", "alpha", "kw_only"]
    with pytest.raises(ParameterError, match="positional"):
        TaskPos("z", 3, "k")
    with pytest.raises(ParameterError, match="twice"):
        TaskPos("z", zeta="again", alpha=1)


def test_unknown_keyword_is_ignored_like_d6tflow():
    class TaskKw(d6tflow.tasks.TaskPickle):
        a = d6tflow.IntParameter(default=1)

    assert TaskKw(unrelated="x").task_id == TaskKw().task_id


def test_subclass_inherits_and_overrides_parameters():
    class Base(d6tflow.tasks.TaskPickle):
        a = d6tflow.IntParameter(default=1)
        b = d6tflow.Parameter(default="x")

    class Child(Base):
        b = d6tflow.Parameter(default="y")

    assert Child().a == 1 and Child().b == "y"
    assert [n for n, _ in Child.get_params()] == ["a", "b"]


# -- mutable values become immutable; equal values, equal tasks -------------------------------


class TaskContainers(d6tflow.tasks.TaskPickle):
    lst = d6tflow.ListParameter(default=[])
    dct = d6tflow.DictParameter(default={})
    tup = d6tflow.TupleParameter(default=())


def test_list_becomes_tuple_and_equal_lists_equal_tasks():
    a, b = TaskContainers(lst=[1, [2, 3]]), TaskContainers(lst=(1, (2, 3)))
    assert a.lst == (1, (2, 3)) and isinstance(a.lst[1], tuple)
    assert a == b and hash(a) == hash(b) and a.task_id == b.task_id
    assert len({a, b}) == 1


def test_dict_is_frozen_and_key_order_does_not_matter():
    a = TaskContainers(dct={"b": 1, "a": {"y": [1], "x": 2}})
    b = TaskContainers(dct={"a": {"x": 2, "y": [1]}, "b": 1})
    assert isinstance(a.dct, FrozenDict) and isinstance(a.dct["a"], FrozenDict)
    assert a.dct["a"]["y"] == (1,)
    assert a == b and a.task_id == b.task_id and hash(a) == hash(b)
    with pytest.raises(TypeError):
        a.dct["c"] = 3  # type: ignore[index]


def test_list_of_dicts_is_hashable():
    t = TaskContainers(lst=[{"b": 1, "a": [1, 2]}])
    assert isinstance(t.lst[0], FrozenDict)
    hash(t.lst)
    assert t == TaskContainers(lst=({"a": (1, 2), "b": 1},))


def test_mutating_the_given_list_afterwards_does_not_change_the_task():
    given = [1, 2]
    d = {"k": [1]}
    t = TaskContainers(lst=given, dct=d)
    before = t.task_id
    given.append(3)
    d["k"].append(2)
    d["new"] = 1
    assert t.lst == (1, 2) and t.dct == {"k": (1,)}
    assert t.task_id == before


def test_tuple_parameter_from_list_equals_from_tuple():
    assert TaskContainers(tup=[1, 2]) == TaskContainers(tup=(1, 2))
    assert TaskContainers(tup="((1, 2),)").tup == ((1, 2),)


# -- FrozenDict ---------------------------------------------------------------------------------


def test_frozendict_hash_ignores_insertion_order():
    a = FrozenDict({"b": 1, "a": [1, {"c": 2}]})
    b = FrozenDict({"a": [1, {"c": 2}], "b": 1})
    assert a == b and hash(a) == hash(b)
    assert {a: "v"}[b] == "v"
    assert FrozenDict({"a": 1}) != FrozenDict({"a": 2})
    assert hash(FrozenDict()) == hash(FrozenDict({}))


def test_frozendict_compares_with_plain_dicts():
    assert FrozenDict({"a": 1}) == {"a": 1}
    assert {"a": 1} == FrozenDict({"a": 1})  # noqa: SIM300 (the dict on the left is the point)
    assert FrozenDict({"a": 1}) != {"a": 1, "b": 2}
    assert FrozenDict({"a": 1}) != [("a", 1)]


def test_frozendict_is_read_only_mapping():
    fd = FrozenDict({"a": 1})
    with pytest.raises(TypeError):
        fd["a"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        fd.update({"b": 2})  # type: ignore[attr-defined]
    assert dict(fd) == {"a": 1} and list(fd) == ["a"] and len(fd) == 1 and fd.get("z") is None


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_frozendict_pickles(protocol):
    fd = FrozenDict({"b": [1, 2], "a": {"x": [3]}})
    hash(fd)  # caches the hash; the copy must not depend on it
    back = pickle.loads(pickle.dumps(fd, protocol=protocol))
    assert type(back) is FrozenDict and back == fd and hash(back) == hash(fd)
    assert isinstance(back["a"], FrozenDict) and back["b"] == (1, 2)


def test_frozendict_copies():
    fd = FrozenDict({"a": [1]})
    assert copy.copy(fd) == fd and copy.deepcopy(fd) == fd
    assert type(copy.deepcopy(fd)) is FrozenDict


def test_freeze_recurses():
    frozen = freeze({"a": [1, {"b": [2]}], "c": (3, [4])})
    assert frozen == {"a": (1, {"b": (2,)}), "c": (3, (4,))}
    assert isinstance(frozen["a"][1], FrozenDict)
    hash(frozen)


def test_task_with_dict_parameter_pickles():
    t = TaskContainers(lst=[1], dct={"b": 1, "a": [2]})
    back = pickle.loads(pickle.dumps(t))
    assert back == t and back.task_id == t.task_id and back.dct == t.dct


# -- date_interval ----------------------------------------------------------------------------


@pytest.mark.parametrize("module", [date_interval, parameters], ids=lambda m: m.__name__)
def test_module_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    ("interval", "text", "first", "end", "days"),
    [
        (Date(2020, 1, 2), "2020-01-02", D(2020, 1, 2), D(2020, 1, 3), 1),
        (Week(2020, 1), "2020-W01", D(2019, 12, 30), D(2020, 1, 6), 7),
        (Week(2020, 53), "2020-W53", D(2020, 12, 28), D(2021, 1, 4), 7),
        (Month(2020, 2), "2020-02", D(2020, 2, 1), D(2020, 3, 1), 29),
        (Month(2021, 12), "2021-12", D(2021, 12, 1), D(2022, 1, 1), 31),
        (Year(2020), "2020", D(2020, 1, 1), D(2021, 1, 1), 366),
        (
            Custom(D(2020, 1, 1), D(2020, 1, 5)),
            "2020-01-01-2020-01-05",
            D(2020, 1, 1),
            D(2020, 1, 5),
            4,
        ),
    ],
    ids=["date", "week", "week53", "month-leap", "december", "year", "custom"],
)
def test_interval_text_and_range(interval, text, first, end, days):
    assert str(interval) == text
    assert (interval.date_a, interval.date_b) == (first, end)
    assert len(interval) == days
    assert interval.dates()[0] == first and interval.dates()[-1] == end - TD(days=1)
    assert list(interval) == interval.dates()
    assert first in interval and end not in interval and first - TD(days=1) not in interval
    assert date_interval.parse(text) == interval
    assert type(date_interval.parse(text)) is type(interval)
    assert repr(interval) == f"{type(interval).__name__}({text!r})"


def test_interval_equality_hash_order_and_pickle():
    assert Custom(D(2020, 1, 1), D(2020, 1, 2)) == Date(2020, 1, 1)
    assert hash(Custom(D(2020, 1, 1), D(2020, 1, 2))) == hash(Date(2020, 1, 1))
    assert Month(2020, 1) != Year(2020)
    assert Month(2020, 1) != "2020-01"
    assert sorted([Year(2020), Date(2019, 5, 5), Month(2020, 1)]) == [
        Date(2019, 5, 5),
        Month(2020, 1),
        Year(2020),
    ]
    for interval in (
        Date(2020, 1, 2),
        Week(2020, 5),
        Month(2020, 3),
        Year(2020),
        Custom.parse("2020-01-01-2020-03-01"),
    ):
        back = pickle.loads(pickle.dumps(interval))
        assert back == interval and type(back) is type(interval) and str(back) == str(interval)


@pytest.mark.parametrize(
    "text", ["2020-13", "2020-W54", "abc", "20-01-01", "2020-02-30", "2020-01-05-2020-01-01"]
)
def test_interval_parse_rejects(text):
    with pytest.raises(ValueError):
        date_interval.parse(text)


def test_interval_rejects_empty_range():
    with pytest.raises(ValueError, match="ends after it starts"):
        DateInterval(D(2020, 1, 2), D(2020, 1, 2))


def test_date_interval_parameter_in_task_id():
    class TaskDI(d6tflow.tasks.TaskPickle):
        di = d6tflow.DateIntervalParameter()

    assert TaskDI(di="2020-W05") == TaskDI(di=Week(2020, 5))
    assert TaskDI(di="2020-W05").to_str_params() == {"di": "2020-W05"}


def test_serialize_of_dict_is_canonical_json():
    p = d6tflow.DictParameter()
    text = p.serialize(p.normalize({"b": [1, {"d": 1, "c": 2}], "a": None}))
    assert text == json.dumps({"a": None, "b": [1, {"c": 2, "d": 1}]})


# -- values that must make exact ids -------------------------------------------------------------


class TaskWithConfig(d6tflow.tasks.TaskPickle):
    cfg = d6tflow.DictParameter(default={})


def test_dict_values_that_differ_anywhere_make_different_task_ids():
    np = pytest.importorskip("numpy")
    a = np.arange(2000)
    b = a.copy()
    b[1000] = -1  # str() of both arrays is the same abbreviated text
    assert str(a) == str(b)
    assert TaskWithConfig(cfg={"w": a}).task_id != TaskWithConfig(cfg={"w": b}).task_id
    assert TaskWithConfig(cfg={"w": a}).task_id == TaskWithConfig(cfg={"w": a.copy()}).task_id
    assert TaskWithConfig(cfg={"x": np.int64(3)}).task_id == TaskWithConfig(cfg={"x": 3}).task_id


def test_a_value_without_an_exact_text_is_refused_naming_the_task_and_parameter():
    with pytest.raises(ParameterError, match=r"TaskWithConfig parameter 'cfg'.*object"):
        TaskWithConfig(cfg={"o": object()})  # its text would be its memory address


def test_a_date_in_a_dict_reads_as_its_text_but_is_not_the_text():
    import datetime

    with pytest.warns(CompatibilityWarning, match="TaskWithConfig parameter 'cfg'"):
        task = TaskWithConfig(cfg={"day": datetime.date(2020, 1, 2)})
    text = TaskWithConfig(cfg={"day": "2020-01-02"})
    assert '"day": "2020-01-02"' in task.to_str_params()["cfg"]
    assert task.to_str_params() == text.to_str_params() and task.task_id != text.task_id


class TaskAny(d6tflow.tasks.TaskPickle):
    p = d6tflow.Parameter()


class TaskMaybe(d6tflow.tasks.TaskPickle):
    p = d6tflow.OptionalParameter()


class TaskSpan(d6tflow.tasks.TaskPickle):
    p = d6tflow.TimeDeltaParameter()


def _make(cls, value):
    return cls(cfg=value) if cls is TaskWithConfig else cls(p=value)


TWINS = [  # values run() tells apart whose texts are the same (d6tflow gave them one id)
    (TaskAny, 5, "5"),
    (TaskAny, 5.0, "5.0"),
    (TaskAny, True, "True"),
    (TaskAny, dt.date(2020, 1, 2), "2020-01-02"),
    (TaskAny, dt.timedelta(days=1), "1 day, 0:00:00"),
    (TaskAny, __import__("decimal").Decimal("1.10"), "1.10"),
    (TaskAny, [1, 2], "[1, 2]"),
    (TaskMaybe, None, ""),
    (TaskWithConfig, {1: "one"}, {"1": "one"}),
    (TaskWithConfig, {"a": {2: "b"}}, {"a": {"2": "b"}}),
    (TaskWithConfig, {"a": dt.date(2020, 1, 2)}, {"a": "2020-01-02"}),
    (TaskSpan, dt.timedelta(seconds=1.5), dt.timedelta(seconds=1)),
]


@pytest.mark.parametrize(("cls", "value", "twin"), TWINS, ids=lambda v: repr(v)[:30])
def test_values_that_run_tells_apart_never_share_an_id(cls, value, twin):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompatibilityWarning)
        one, other = _make(cls, value), _make(cls, twin)
    assert one.to_str_params() == other.to_str_params()  # the same text, as d6tflow's
    assert one.task_id != other.task_id


EXACT = [  # values whose text names only them: luigi's id, byte for byte (no warning)
    (TaskAny, "5"),
    (TaskAny, "True"),
    (TaskMaybe, None),
    (TaskMaybe, "x"),
    (TaskWithConfig, {"a": [1, 2.5, None, True], "b": {"c": "d"}}),
    (TaskWithConfig, {"w": np.arange(3), "x": np.int64(3)}),
    (TaskSpan, dt.timedelta(days=1, seconds=3)),
]


@pytest.mark.parametrize(("cls", "value"), EXACT, ids=lambda v: repr(v)[:30])
def test_values_their_text_names_exactly_keep_luigis_id(cls, value):
    from daskflow.tasks import task_id_str

    task = _make(cls, value)
    assert task.task_id == task_id_str(task.task_family, task.to_str_params(True, True))


def test_an_int_given_to_a_plain_parameter_says_how_to_keep_d6tflows_id():
    class TaskN(d6tflow.tasks.TaskPickle):
        n = d6tflow.Parameter()

    class TaskTyped(d6tflow.tasks.TaskPickle):
        n = d6tflow.IntParameter()

    with pytest.warns(CompatibilityWarning, match=r"TaskN parameter 'n'.*IntParameter"):
        TaskN(n=5)
    # IntParameter(5) hashes {"n": "5"}, as d6tflow hashed Parameter(5): the same digest
    assert TaskTyped(n=5).task_id.split("_")[-1] == TaskN(n="5").task_id.split("_")[-1]
