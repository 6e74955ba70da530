"""Task identity and output layout, checked against the vectors recorded from d6tflow 0.2.8
(tests/d6tflow_vectors/vectors.json).

daskflow must give the same ``task_id``, ``to_str_params``, repr and output paths as d6tflow,
except for six deliberate differences, each tested below as daskflow's own behaviour:

1. DictParameter serializes with sorted keys (d6tflow kept insertion order), so dicts that
   compare equal are the same task;
2. an int given to FloatParameter becomes a float (``1`` -> ``'1.0'``);
3. a class name containing ``_`` keeps its own folder (d6tflow cut the name at the first ``_``);
4. ``task_group`` gives ``{root}/group=g1/...`` under the root (d6tflow: ``/group=g1/...``);
5. the meta file is always ``{task_id}-meta.pickle`` (d6tflow: ``-meta.csv.pickle`` for csv.gz);
6. a value whose text also names another value of its parameter (``1`` given to a plain
   ``Parameter``, whose text ``'1'`` names the string ``'1'``; ``''`` given to an optional one;
   ``{1: 'a'}``; a timedelta with microseconds) hashes its types too, so values ``run()`` can
   tell apart never share an id (d6tflow gave them one, and the second loaded the first's
   output).
"""

from __future__ import annotations

import datetime as dt
import doctest
import enum
import hashlib
import json
import os
import pickle
import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import is_manifest

import daskflow as d6tflow
from daskflow import date_interval, parameters, settings
from daskflow.targets import MemoryTarget

VECTORS = json.loads((Path(__file__).parent / "d6tflow_vectors" / "vectors.json").read_text())
TASK_IDS = VECTORS["task_ids"]
MISC = VECTORS["misc"]

ENUMS = {name: enum.Enum(name, members) for name, members in VECTORS["enums"].items()}
VISIBILITY = {"PUBLIC": 0, "HIDDEN": 1, "PRIVATE": 2}


# -- rebuilding d6tflow's task classes in daskflow ---------------------------------------------

CLASSES: dict[str, type] = {}


def untag(v):
    """make_vectors.py's decoder, producing daskflow values."""
    if not isinstance(v, dict):
        return v
    kind = v["kind"]
    if kind == "none":
        return None
    if kind == "datetime":
        return dt.datetime.fromisoformat(v["value"])
    if kind == "date":
        return dt.date.fromisoformat(v["value"])
    if kind == "timedelta":
        return dt.timedelta(days=v["days"], seconds=v["seconds"], microseconds=v["microseconds"])
    if kind == "date_interval":
        args = [untag(a) for a in v["args"]]
        if v["type"] == "Custom":
            return date_interval.Custom(*args)
        return getattr(date_interval, v["type"])(*args)
    if kind == "enum":
        return ENUMS[v["enum"]][v["name"]]
    if kind == "task_class":
        return CLASSES[v["name"]]
    if kind == "tuple":
        return tuple(untag(x) for x in v["items"])
    if kind == "list":
        return [untag(x) for x in v["items"]]
    if kind == "dict":
        return {untag(a): untag(b) for a, b in v["items"]}
    raise TypeError(kind)


def build_param(spec):
    kwargs = {}
    for k, v in spec.get("kwargs", {}).items():
        if k == "enum":
            kwargs[k] = ENUMS[v]
        elif k == "var_type":
            kwargs[k] = {"int": int, "float": float, "str": str}[v]
        elif k == "visibility":
            kwargs[k] = VISIBILITY[v]
        elif k == "choices":
            kwargs[k] = [untag(x) for x in v]
        else:
            kwargs[k] = untag(v)
    return getattr(d6tflow, spec["type"])(**kwargs)


def build_class(spec):
    attrs = {"__module__": __name__, **spec.get("attrs", {})}
    for p in spec.get("params", []):
        attrs[p["name"]] = build_param(p)
    base = getattr(d6tflow.tasks, spec.get("base", "TaskPqPandas"))
    cls = type(spec["name"], (base,), attrs)
    CLASSES[spec["name"]] = cls
    return cls


for _spec in TASK_IDS["classes"]:
    build_class(_spec)

CASES = TASK_IDS["cases"]


def case_id(case):
    params = json.dumps(case["params"], sort_keys=True, ensure_ascii=True)
    return f"{case['class']}-{params[:60]}"


def make(case):
    import warnings

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        task = CLASSES[case["class"]](**{k: untag(v) for k, v in case["params"].items()})
    kinds = _kinds(case)
    hashed = [k for k, v in case["params"].items() if _inexact(kinds[k], untag(v))]
    assert [str(w.message).split(" (")[0] for w in said] == [
        f"{case['task_family']} parameter {k!r}" for k in hashed
    ], "difference 6 warns once for each value hashed with its types, and nothing else does"
    return task


# -- an independent oracle for luigi's task id ---------------------------------------------------


def luigi_task_id(family, str_params, hashed=None):
    """luigi.task.task_id_str with d6tflow's settings (20 params, 64 chars, 10 hash chars);
    ``hashed``: the texts the digest is made of, where they differ (difference 6)."""
    canonical = json.dumps(hashed or str_params, separators=(",", ":"), sort_keys=True)
    digest = hashlib.md5(canonical.encode("utf-8")).hexdigest()
    summary = "_".join(str_params[p][:64] for p in sorted(str_params)[:20])
    summary = re.sub(r"[^A-Za-z0-9_]", "_", summary)
    return f"{family}_{summary}_{digest[:10]}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_oracle_reproduces_recorded_ids(case):
    """The oracle used for the deliberate differences agrees with every recorded id."""
    assert luigi_task_id(case["task_family"], json.loads(case["hash_input"])) == case["task_id"]


# -- what daskflow must give for each recorded case ---------------------------------------------

JSON_KINDS = {"DictParameter", "ListParameter", "TupleParameter"}


def _kinds(case):
    spec = next(s for s in TASK_IDS["classes"] if s["name"] == case["class"])
    return {p["name"]: p["type"] for p in spec.get("params", [])}


def _canonical(name, value, kinds, case):
    kind = kinds[name]
    if kind in JSON_KINDS:  # difference 1: dicts, also inside lists, with sorted keys
        return json.dumps(json.loads(value), sort_keys=True)
    if kind == "FloatParameter":  # difference 2: an int given becomes a float
        return str(float(untag(case["params"][name]))) if name in case["params"] else value
    return value


def _inexact(kind, value):
    """Difference 6: whether the text d6tflow hashed for ``value`` also names another value
    of its parameter (``1`` on a plain parameter: the string ``'1'``; ``''`` on an optional
    one: None; a dict key that JSON turns into a string; a timedelta's microseconds, which
    luigi's text drops)."""
    if kind == "Parameter":
        return value is not None and not isinstance(value, str)
    if kind == "OptionalParameter":
        return value in ("", "None")
    if kind in JSON_KINDS:
        return _has_key_not_str(value)
    if kind == "TimeDeltaParameter":
        return value.microseconds != 0
    return False


def _has_key_not_str(value):
    if isinstance(value, dict):
        return any(not isinstance(k, str) or _has_key_not_str(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_key_not_str(v) for v in value)
    return False


def expected(case):
    """d6tflow's record with the six deliberate differences applied."""
    kinds = _kinds(case)
    sig = [[k, _canonical(k, v, kinds, case)] for k, v in case["to_str_params_significant"]]
    every = [[k, _canonical(k, v, kinds, case)] for k, v in case["to_str_params_all"]]
    public = {k: _canonical(k, v, kinds, case) for k, v in json.loads(case["hash_input"]).items()}
    hashed = dict(public)
    for name, value in ((k, untag(v)) for k, v in case["params"].items()):
        if name in hashed and _inexact(kinds[name], value):
            frozen = parameters.freeze(value) if kinds[name] in JSON_KINDS else value
            hashed[name] = f"{public[name]}\x1f{parameters.typed(frozen)}"
    task_id = luigi_task_id(case["task_family"], public, hashed)
    changed = task_id != case["task_id"]
    if changed:
        text = ", ".join(f"{k}={v}" for k, v in sig)
        repr_ = f"{case['class']}({text})"
    else:
        repr_ = case["repr"]

    def path(p):
        p = p.replace(case["task_id"], task_id)
        if case["class"] == "Task_Underscore":  # difference 3
            p = p.replace("data/Task/", "data/Task_Underscore/")
        if case["class"] == "TTaskGroup":  # difference 4
            p = "data" + p
        return p

    out = {
        "task_id": task_id,
        "sig": sig,
        "all": every,
        "hash_input": json.dumps(public, separators=(",", ":"), sort_keys=True),
        "repr": repr_,
    }
    if "output_paths" in case:
        out["output_paths"] = {k: path(v) for k, v in case["output_paths"].items()}
        out["output_path_types"] = case["output_path_types"]
    else:
        out["output_path"] = path(case["output_path"])
        out["output_path_type"] = case.get("output_path_type", "PosixPath")
    meta = path(case["meta_path"])
    if not meta.endswith("/meta.pickle"):  # difference 5 (save_attrib=False keeps meta.pickle)
        meta = f"{meta.rsplit('/', 1)[0]}/{task_id}-meta.pickle"
    out["meta_path"] = meta
    return out


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_task_id(case):
    assert make(case).task_id == expected(case)["task_id"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_to_str_params(case):
    t = make(case)
    want = expected(case)
    assert [list(kv) for kv in t.to_str_params(only_significant=True).items()] == want["sig"]
    assert [list(kv) for kv in t.to_str_params().items()] == want["all"]
    hash_input = json.dumps(
        t.to_str_params(only_significant=True, only_public=True),
        separators=(",", ":"),
        sort_keys=True,
    )
    assert hash_input == want["hash_input"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_repr(case):
    t = make(case)
    assert repr(t) == expected(case)["repr"]
    assert str(t) == expected(case)["repr"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_task_family(case):
    assert make(case).task_family == case["task_family"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_output_paths(case):
    t = make(case)
    want = expected(case)
    out = t.output()
    if "output_paths" in want:
        assert {k: str(v.path) for k, v in out.items()} == want["output_paths"]
        assert {k: type(v.path).__name__ for k, v in out.items()} == want["output_path_types"]
    else:
        assert str(out.path) == want["output_path"]
        assert type(out.path).__name__ == want["output_path_type"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_meta_file_lands_at_expected_path(case, tmp_path):
    t = make(case)
    t.metaSave({"m": 1})
    meta = expected(case)["meta_path"]
    assert (tmp_path / meta).is_file(), sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
    )
    with open(tmp_path / meta, "rb") as f:
        assert pickle.load(f) == {"m": 1}


def test_every_recorded_case_constructs():
    assert all("exception" not in c for c in CASES)
    assert len({case_id(c) for c in CASES}) > 90


@pytest.mark.parametrize("module", ["ids", "core"])
def test_tasks_module_doctests(module):
    """The examples in daskflow.tasks (task_id_str; flatten, root_of) are correct."""
    import importlib

    result = doctest.testmod(importlib.import_module(f"daskflow.tasks.{module}"))
    assert result.attempted > 0
    assert result.failed == 0


# -- the deliberate differences, as daskflow's behaviour ----------------------------------------


def test_dict_key_order_gives_the_same_task():
    TDict = CLASSES["TDict"]
    a, b = TDict(d={"b": 1, "a": 2}), TDict(d={"a": 2, "b": 1})
    assert a == b and a.task_id == b.task_id
    # the id d6tflow gave the dict already written in sorted order
    sorted_case = next(
        c
        for c in CASES
        if c["class"] == "TDict" and c["to_str_params_significant"] == [["d", '{"a": 2, "b": 1}']]
    )
    assert a.task_id == sorted_case["task_id"] == "TDict___a___2___b___1__b13b336ccd"
    assert a.to_str_params() == {"d": '{"a": 2, "b": 1}'}
    assert str(a.output().path) == sorted_case["output_path"]


def test_nested_dict_keys_sorted_at_every_level():
    TDict = CLASSES["TDict"]
    t = TDict(d={"z": {"y": 1, "x": [1, 2]}})
    assert t.to_str_params() == {"d": '{"z": {"x": [1, 2], "y": 1}}'}
    assert t == TDict(d={"z": {"x": [1, 2], "y": 1}})


def test_int_given_to_float_parameter_is_the_float_task():
    TFloat = CLASSES["TFloat"]
    t = TFloat(f=1)
    assert t.f == 1.0 and isinstance(t.f, float)
    assert t.to_str_params() == {"f": "1.0"}
    assert t.task_id == "TFloat_1_0_0f8eeb1ec4"  # d6tflow's id for f=1.0
    assert t == TFloat(f=1.0)
    d6t_int = next(c for c in CASES if c["class"] == "TFloat" and c["params"] == {"f": 1})
    assert d6t_int["task_id"] == "TFloat_1_d35678f1b6" != t.task_id


def test_class_with_underscore_keeps_its_own_folder():
    Task_Underscore = CLASSES["Task_Underscore"]
    t = Task_Underscore()
    assert str(t.output().path) == "data/Task_Underscore/Task_Underscore_1_978d9e1e62-data.parquet"

    class Task_Other(d6tflow.tasks.TaskPqPandas):
        x = d6tflow.IntParameter(default=1)

    assert Path(t.output().path).parent != Path(Task_Other().output().path).parent
    assert str(Task_Other().output().path).startswith("data/Task_Other/")


def test_task_group_is_a_folder_under_the_root(tmp_path):
    TTaskGroup = CLASSES["TTaskGroup"]
    t = TTaskGroup()
    path = t.output().path
    assert str(path) == "data/group=g1/TTaskGroup/TTaskGroup__99914b932b-data.parquet"
    assert not Path(path).is_absolute()
    t.save(pd.DataFrame({"a": [1]}))
    assert (tmp_path / "data" / "group=g1" / "TTaskGroup").is_dir()
    d6tflow.set_dir("elsewhere")
    assert (
        str(TTaskGroup().output().path)
        == "elsewhere/group=g1/TTaskGroup/TTaskGroup__99914b932b-data.parquet"
    )


def test_meta_file_name_does_not_depend_on_the_extension(tmp_path):
    TCSVGZ = CLASSES["TCSVGZ"]
    t = TCSVGZ()
    t.metaSave({"m": 1})
    assert (tmp_path / "data/TCSVGZ/TCSVGZ_1_978d9e1e62-meta.pickle").is_file()
    assert not list(tmp_path.rglob("*meta.csv.pickle"))
    t.save(pd.DataFrame({"a": [1]}))
    assert t.outputLoadMeta() == {"m": 1}


# -- output layout of every task base -----------------------------------------------------------

DF = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})

BASES = [
    (d6tflow.tasks.TaskPqPandas, "parquet", DF),
    (d6tflow.tasks.TaskCSVPandas, "csv", DF),
    (d6tflow.tasks.TaskCSVGZPandas, "csv.gz", DF),
    (d6tflow.tasks.TaskJson, "json", {"k": [1, 2]}),
    (d6tflow.tasks.TaskPickle, "pkl", {"k": {1, 2}}),
]


def _check_loaded(value, obj):
    if isinstance(obj, pd.DataFrame):
        pd.testing.assert_frame_equal(value, obj)
    else:
        assert value == obj


@pytest.mark.parametrize(("base", "ext", "obj"), BASES, ids=[b[1] for b in BASES])
def test_file_layout_per_base(base, ext, obj, tmp_path):
    class Layout(base):
        n = d6tflow.IntParameter(default=3)

        def run(self):
            self.save(obj)

    t = Layout()
    want = f"data/Layout/{t.task_id}-data.{ext}"
    assert t.task_id == "Layout_3_" + hashlib.md5(b'{"n":"3"}').hexdigest()[:10]
    assert str(t.output().path) == want and isinstance(t.output().path, Path)
    d6tflow.run(t, scheduler="sync", execution_summary=False)
    assert _names(tmp_path / "data" / "Layout") == [f"{t.task_id}-data.{ext}"]
    _check_loaded(Layout().outputLoad(), obj)


@pytest.mark.parametrize(("base", "ext", "obj"), BASES, ids=[b[1] for b in BASES])
def test_multi_output_layout_per_base(base, ext, obj, tmp_path):
    class Multi(base):
        persist = ["x", "y"]  # noqa: RUF012 (d6tflow spelling)

        def run(self):
            self.save({"x": obj, "y": obj})

    t = Multi()
    d6tflow.run(t, scheduler="sync", execution_summary=False)
    assert _names(tmp_path / "data" / "Multi") == [
        f"{t.task_id}-x.{ext}",
        f"{t.task_id}-y.{ext}",
    ]
    x, y = Multi().outputLoad()
    _check_loaded(x, obj)
    _check_loaded(y, obj)


def test_cache_layout(tmp_path):
    class Cached(d6tflow.tasks.TaskCache):
        n = d6tflow.IntParameter(default=3)

        def run(self):
            self.save({"v": 1})

    t = Cached()
    target = t.output()
    assert isinstance(target, MemoryTarget)
    assert target.path == f"data/Cached/{t.task_id}-data.cache"
    assert isinstance(target.path, str)
    d6tflow.run(t, scheduler="sync", execution_summary=False)
    assert d6tflow.data[f"data/Cached/{t.task_id}-data.cache"] == {"v": 1}
    assert not (tmp_path / "data").exists()
    assert Cached().outputLoad() == {"v": 1}


def test_cache_pandas_layout():
    class CachedDf(d6tflow.tasks.TaskCachePandas):
        pass

    assert CachedDf().output().path == "data/CachedDf/CachedDf__99914b932b-data.cache"


def test_save_attrib_false_drops_the_task_id(tmp_path):
    class NoAttrib(d6tflow.tasks.TaskPqPandas):
        save_attrib = False
        n = d6tflow.IntParameter(default=1)

    t = NoAttrib()
    assert str(t.output().path) == "data/NoAttrib/data.parquet"
    t.save(DF)
    t.metaSave(1)
    assert _names(tmp_path / "data" / "NoAttrib") == ["data.parquet", "meta.pickle"]


def test_settings_save_with_param_false(tmp_path):
    class NoParam(d6tflow.tasks.TaskPickle):
        persist = ["x", "y"]  # noqa: RUF012 (d6tflow spelling)

    settings.save_with_param = False
    out = NoParam().output()
    assert {k: str(v.path) for k, v in out.items()} == {
        "x": "data/NoParam/x.pkl",
        "y": "data/NoParam/y.pkl",
    }
    settings.save_with_param = True
    assert str(NoParam().output()["x"].path) == "data/NoParam/NoParam__99914b932b-x.pkl"


def test_target_dir():
    class Custom(d6tflow.tasks.TaskJson):
        target_dir = "custom_dir"

    assert str(Custom().output().path) == "data/custom_dir/Custom__99914b932b-data.json"


def test_task_namespace_names_the_family_and_folder():
    class Named(d6tflow.tasks.TaskPickle):
        task_namespace = "proj"

    t = Named()
    assert t.task_family == "proj.Named"
    assert t.task_id == "proj.Named__99914b932b"
    assert str(t.output().path) == "data/proj.Named/proj.Named__99914b932b-data.pkl"


def test_set_dir_changes_the_root(tmp_path):
    class Rooted(d6tflow.tasks.TaskPickle):
        pass

    d6tflow.set_dir("out/sub")
    assert str(Rooted().output().path) == "out/sub/Rooted/Rooted__99914b932b-data.pkl"
    d6tflow.set_dir(tmp_path / "abs")
    assert Rooted().output().path == tmp_path / "abs" / "Rooted" / "Rooted__99914b932b-data.pkl"
    settings.dirpath = "plain"
    assert str(Rooted().output().path) == "plain/Rooted/Rooted__99914b932b-data.pkl"


def test_class_path_attribute():
    class Rooted(d6tflow.tasks.TaskPickle):
        path = "classpath"

    assert str(Rooted().output().path) == "classpath/Rooted/Rooted__99914b932b-data.pkl"


def test_path_given_to_instance_wins_over_class_path():
    """daskflow's documented order (tasks.py): instance path, class path, settings.dirpath.
    d6tflow kept the class attribute here (vector 'class attr wins')."""

    class Rooted(d6tflow.tasks.TaskPickle):
        path = "classpath"

    assert (
        str(Rooted(path="explicit").output().path) == "explicit/Rooted/Rooted__99914b932b-data.pkl"
    )


# -- Workflow path= and env= against the vectors ---------------------------------------------------


class MFile(d6tflow.tasks.TaskPqPandas):
    def run(self):
        self.save(pd.DataFrame({"a": [1]}))


@d6tflow.requires(MFile)
class MCache(d6tflow.tasks.TaskCache):
    def run(self):
        self.save("c")


class MFileMulti(d6tflow.tasks.TaskPickle):
    persist = ["x", "y"]  # noqa: RUF012 (d6tflow spelling)

    def run(self):
        self.save({"x": 1, "y": 2})


class MUnrelated(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save(1)


class MClassPath(d6tflow.tasks.TaskPickle):
    path = "classpath"

    def run(self):
        self.save(1)


WORKFLOWS = {
    "Workflow(MFile)": lambda: d6tflow.Workflow(MFile),
    "Workflow(MFile, env='prod')": lambda: d6tflow.Workflow(MFile, env="prod"),
    "Workflow(MFile, path='p', env='prod')": lambda: d6tflow.Workflow(MFile, path="p", env="prod"),
    "Workflow(MFile, path='p')": lambda: d6tflow.Workflow(MFile, path="p"),
    "Workflow(MFileMulti, env='prod')": lambda: d6tflow.Workflow(MFileMulti, env="prod"),
    "Workflow(MClassPath)": lambda: d6tflow.Workflow(MClassPath),
    "Workflow(MClassPath, env='prod')": lambda: d6tflow.Workflow(MClassPath, env="prod"),
    "Workflow(MClassPath, path='p')": lambda: d6tflow.Workflow(MClassPath, path="p"),
}


def _pathval(p):
    if isinstance(p, dict):
        return {k: _pathval(v) for k, v in p.items()}
    return {"type": type(p).__name__, "value": str(p)}


@pytest.mark.parametrize("label", list(WORKFLOWS))
def test_workflow_output_path_matches_d6tflow(label):
    assert _pathval(WORKFLOWS[label]().outputPath()) == MISC["workflow_paths"][label]


def test_workflow_env_reaches_upstream_and_cache_tasks():
    paths = MISC["workflow_paths"]
    flow = d6tflow.Workflow(MCache, env="prod")
    assert (
        _pathval(flow.outputPath(MFile))
        == paths["Workflow(MCache, env='prod').outputPath(MFile) [upstream]"]
    )
    assert (
        _pathval(flow.outputPath())
        == paths["Workflow(MCache, env='prod').outputPath() [cache task]"]
    )
    fresh = MISC["instance_cache_and_kwargs"][
        "fresh: Workflow(MFile, env='prod').outputPath(MUnrelated)"
    ]
    assert str(d6tflow.Workflow(MFile, env="prod").outputPath(MUnrelated)) == fresh


def test_workflow_output_path_of_cache_and_multi_tasks_match_d6tflow():
    rec = MISC["workflow_outputPath"]
    assert _pathval(d6tflow.Workflow(MCache).outputPath()) == rec["cache_task"]
    assert _pathval(d6tflow.Workflow(MFile).outputPath()) == rec["file_task"]
    assert _pathval(d6tflow.Workflow(MFileMulti).outputPath()) == rec["multi_output_file_task"]
    assert type(MCache().output().path).__name__ == rec["task_output_cache_path_type"]
    assert type(MFile().output().path).__name__ == rec["task_output_file_path_type"]


def test_explicit_instance_path_matches_d6tflow():
    want = MISC["workflow_paths"]["MFile(path='explicit').output().path"]
    assert str(MFile(path="explicit").output().path) == want


def test_workflow_env_does_not_leak_into_other_instances():
    """d6tflow's instance cache made a Workflow's env apply to every later MFile(); not here."""
    d6tflow.Workflow(MCache, env="prod").outputPath()
    assert str(MFile().output().path) == "data/MFile/MFile__99914b932b-data.parquet"
    assert MCache().output().path == "data/MCache/MCache__99914b932b-data.cache"
    a = MFile()
    MFile(path="other")
    assert str(a.output().path) == "data/MFile/MFile__99914b932b-data.parquet"
    assert str(MFile(path="other").output().path) == "other/MFile/MFile__99914b932b-data.parquet"


def test_workflow_env_run_writes_under_env(tmp_path):
    flow = d6tflow.Workflow(MCache, env="prod")
    flow.run(scheduler="sync", execution_summary=False)
    assert (tmp_path / "data/env=prod/MFile/MFile__99914b932b-data.parquet").is_file()
    assert not (tmp_path / "data/MFile").exists()
    assert flow.outputLoad() == "c"
    assert not MFile().complete()  # the plain instance lives under data/, not data/env=prod/
    assert flow.complete()


def test_workflow_path_run_writes_under_path(tmp_path):
    flow = d6tflow.Workflow(MCache, path="p")
    flow.run(scheduler="sync", execution_summary=False)
    assert (tmp_path / "p/MFile/MFile__99914b932b-data.parquet").is_file()
    assert d6tflow.data.get("p/MCache/MCache__99914b932b-data.cache") == "c"


def test_workflow_params_ignore_unknown_names():
    class MGrid(d6tflow.tasks.TaskPickle):
        a = d6tflow.IntParameter(default=0)
        b = d6tflow.Parameter(default="x")

    want = MISC["instance_cache_and_kwargs"]['Workflow(MGrid, {"a": 1, "zzz": 2}).get_task() repr']
    assert repr(d6tflow.Workflow(MGrid, {"a": 1, "zzz": 2}).get_task()) == want
    unknown = MISC["instance_cache_and_kwargs"][
        "unknown kwarg silently dropped: MFile(foo=1).task_id"
    ]
    assert MFile(foo=1).task_id == unknown


# -- a parameter value cannot move the output outside the root ---------------------------------

HOSTILE = ["../../x", "..", "../up", "/etc/passwd", "a/b", "..\\..\\x", "~", "x/../../y", "\x00"]


@pytest.mark.parametrize("value", HOSTILE)
def test_parameter_value_cannot_escape_dirpath(value, tmp_path):
    class Escape(d6tflow.tasks.TaskPickle):
        s = d6tflow.Parameter()

        def run(self):
            self.save(1)

    root = (tmp_path / "data").resolve()
    t = Escape(s=value)
    path = Path(t.output().path)
    assert path.parent == Path("data/Escape")
    resolved = (tmp_path / path).resolve()
    assert resolved.is_relative_to(root)
    d6tflow.run(t, scheduler="sync", execution_summary=False)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and not is_manifest(p)]
    assert files == [tmp_path / path]


@pytest.mark.parametrize("value", ["../../x", "/abs"])
def test_parameter_value_cannot_escape_through_workflow_or_multi_output(value):
    class EscapeWf(d6tflow.tasks.TaskPickle):
        s = d6tflow.Parameter()
        persist = ["a", "b"]  # noqa: RUF012 (d6tflow spelling)

    wf = d6tflow.Workflow(EscapeWf, {"s": value}, env="e")
    paths = wf.outputPath()
    assert {Path(p).parent for p in paths.values()} == {Path("data/env=e/EscapeWf")}

    class EscapeNoAttrib(d6tflow.tasks.TaskPickle):
        s = d6tflow.Parameter()
        save_attrib = False

    assert str(EscapeNoAttrib(s=value).output().path) == "data/EscapeNoAttrib/data.pkl"


def _names(folder) -> list[str]:
    """The files of an output folder, but for the tasks' manifests."""
    return sorted(n for n in os.listdir(folder) if not is_manifest(n))
