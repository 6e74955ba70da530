"""Formats: each built-in round-trips on local disk and on an fsspec memory filesystem, stores
what d6tflow stored; the registry refuses silent overwrites and explains unknown names."""

from __future__ import annotations

import gzip
import importlib.util
import json
import pickle
import sys
from dataclasses import dataclass

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

import daskflow as d6tflow
from daskflow import formats
from daskflow.errors import DaskflowError, FormatError
from daskflow.formats import Format, get_format, register, registry

HAS_OPENPYXL = importlib.util.find_spec("openpyxl") is not None


@dataclass(frozen=True)
class Point:
    x: int
    y: int


def frame():
    return pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, 1.5, -2.0],
            "s": ["a", "b", "ü"],
            "b": [True, False, True],
        }
    )


@pytest.fixture(params=["local", "memory"])
def where(request, tmp_path, memory_url):
    """(filesystem, folder path on it)."""
    if request.param == "local":
        return fsspec.filesystem("file"), str(tmp_path / "out")
    fs = fsspec.filesystem("memory")
    return fs, memory_url.split("://", 1)[1]


def _path(where, name):
    fs, folder = where
    fs.makedirs(folder, exist_ok=True)
    return fs, f"{folder}/{name}"


# -- built-ins --------------------------------------------------------------------------------


def test_builtin_names_and_extensions():
    want = {
        "pickle": "pkl",
        "json": "json",
        "parquet": "parquet",
        "csv": "csv",
        "csv.gz": "csv.gz",
        "excel": "xlsx",
        "cache": "cache",
    }
    assert {name: get_format(name).ext for name in want} == want
    assert all(get_format(name).name == name for name in want)
    assert set(want) <= set(registry)


@pytest.mark.parametrize(
    "obj",
    [{"a": [1, 2], "s": {1, 2}}, Point(1, 2), [None, 1.5, "ü"], frame()],
    ids=["dict-with-set", "dataclass", "list", "dataframe"],
)
def test_pickle_round_trip(where, obj):
    fs, path = _path(where, "x.pkl")
    get_format("pickle").save(obj, fs, path)
    back = get_format("pickle").load(fs, path)
    with fs.open(path, "rb") as f:
        plain = pickle.load(f)  # a plain pickle, readable without daskflow
    if isinstance(obj, pd.DataFrame):
        pd.testing.assert_frame_equal(back, obj)
        pd.testing.assert_frame_equal(plain, obj)
    else:
        assert back == obj and plain == obj


@pytest.mark.parametrize(
    "obj",
    [{"model": "ols", "n": 3, "nested": {"x": [1, 2]}}, [1, "a", None, True], "text", 1.5, {}],
    ids=["dict", "list", "str", "float", "empty"],
)
def test_json_round_trip_and_d6tflow_layout(where, obj):
    fs, path = _path(where, "x.json")
    get_format("json").save(obj, fs, path)
    assert get_format("json").load(fs, path) == obj
    text = fs.cat_file(path).decode("utf-8")
    assert json.loads(text) == {"data": obj}
    assert text == json.dumps({"data": obj}, indent=4)  # d6tflow: json.dump(..., indent=4)


def test_json_unserializable_raises_before_writing(where):
    fs, path = _path(where, "x.json")
    with pytest.raises(TypeError):
        get_format("json").save({"s": {1, 2}}, fs, path)
    assert not fs.exists(path)


def test_json_reads_a_file_d6tflow_wrote(where):
    fs, path = _path(where, "d6t.json")
    with fs.open(path, "wb") as f:
        f.write(json.dumps({"data": {"a": 1}}, indent=4).encode())
    assert get_format("json").load(fs, path) == {"a": 1}


def test_parquet_round_trip(where):
    fs, path = _path(where, "x.parquet")
    df = frame()
    get_format("parquet").save(df, fs, path)
    pd.testing.assert_frame_equal(get_format("parquet").load(fs, path), df)


def test_parquet_is_snappy_compressed(where):
    fs, path = _path(where, "x.parquet")
    df = frame()
    get_format("parquet").save(df, fs, path)
    with fs.open(path, "rb") as f:
        meta = pq.ParquetFile(f).metadata
    assert meta.num_rows == len(df)
    compressions = {
        meta.row_group(g).column(c).compression
        for g in range(meta.num_row_groups)
        for c in range(meta.row_group(g).num_columns)
    }
    assert compressions == {"SNAPPY"}


def test_parquet_kwargs_reach_the_writer(where):
    fs, path = _path(where, "x.parquet")
    get_format("parquet").save(frame(), fs, path, compression="gzip")
    with fs.open(path, "rb") as f:
        assert pq.ParquetFile(f).metadata.row_group(0).column(0).compression == "GZIP"
    back = get_format("parquet").load(fs, path, columns=["s"])
    assert list(back.columns) == ["s"]


def test_parquet_task_output_is_snappy(tmp_path):
    class Pq(d6tflow.tasks.TaskPqPandas):
        def run(self):
            self.save(frame())

    d6tflow.run(Pq(), scheduler="sync", execution_summary=False)
    meta = pq.ParquetFile(tmp_path / Pq().output().path).metadata
    assert meta.row_group(0).column(0).compression == "SNAPPY"


def test_csv_round_trip_without_index(where):
    fs, path = _path(where, "x.csv")
    df = frame()
    get_format("csv").save(df, fs, path)
    text = fs.cat_file(path).decode("utf-8")
    assert text.splitlines()[0] == "i,f,s,b"  # no index column, like d6tflow's index=False
    pd.testing.assert_frame_equal(get_format("csv").load(fs, path), df)


def test_csv_kwargs_pass_through(where):
    fs, path = _path(where, "x.csv")
    get_format("csv").save(frame(), fs, path, sep=";")
    assert fs.cat_file(path).decode().splitlines()[0] == "i;f;s;b"
    pd.testing.assert_frame_equal(get_format("csv").load(fs, path, sep=";"), frame())


def test_csv_gz_is_gzip(where):
    fs, path = _path(where, "x.csv.gz")
    df = frame()
    get_format("csv.gz").save(df, fs, path)
    raw = fs.cat_file(path)
    assert raw[:2] == b"\x1f\x8b"
    assert gzip.decompress(raw).decode("utf-8").splitlines()[0] == "i,f,s,b"
    pd.testing.assert_frame_equal(get_format("csv.gz").load(fs, path), df)


def test_csv_gz_reads_plain_pandas_gzip(where):
    fs, path = _path(where, "pandas.csv.gz")
    with fs.open(path, "wb") as f:
        f.write(gzip.compress(frame().to_csv(index=False).encode()))
    pd.testing.assert_frame_equal(get_format("csv.gz").load(fs, path), frame())


@pytest.mark.skipif(not HAS_OPENPYXL, reason="openpyxl not installed")
def test_excel_round_trip(where):  # pragma: no cover - depends on openpyxl
    fs, path = _path(where, "x.xlsx")
    df = frame()
    get_format("excel").save(df, fs, path)
    pd.testing.assert_frame_equal(get_format("excel").load(fs, path), df)


@pytest.fixture
def no_openpyxl(monkeypatch):
    """openpyxl made unimportable, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "openpyxl", None)


def test_excel_without_openpyxl_gives_install_hint(where, no_openpyxl):
    fs, path = _path(where, "x.xlsx")
    with pytest.raises(FormatError, match="pip install openpyxl"):
        get_format("excel").save(frame(), fs, path)
    assert not fs.exists(path)
    with pytest.raises(FormatError, match="pip install openpyxl"):
        get_format("excel").load(fs, path)


def test_excel_task_without_openpyxl_fails_with_hint(tmp_path, no_openpyxl):
    class Xl(d6tflow.tasks.TaskExcelPandas):
        def run(self):
            self.save(frame())

    assert str(Xl().output().path).endswith("-data.xlsx")
    with pytest.raises(RuntimeError) as info:
        d6tflow.run(Xl(), scheduler="sync", execution_summary=False)
    cause = info.value.__cause__
    assert isinstance(cause, FormatError) and "pip install openpyxl" in str(cause)
    assert not list(tmp_path.rglob("*.xlsx"))


# -- registry ---------------------------------------------------------------------------------


class Upper(Format):
    """Text, stored upper-case."""

    name, ext = "upper", "txt"

    def save(self, obj, fs, path, **kwargs):
        with fs.open(path, "wb") as f:
            f.write(obj.upper().encode())

    def load(self, fs, path, **kwargs):
        with fs.open(path, "rb") as f:
            return f.read().decode()


class Lazy(Format):
    """Imported by dotted path on first use."""

    ext = "lazy"

    def save(self, obj, fs, path, **kwargs):
        with fs.open(path, "wb") as f:
            f.write(repr(obj).encode())

    def load(self, fs, path, **kwargs):
        with fs.open(path, "rb") as f:
            return f.read().decode()


def test_register_and_use_by_name(where):
    fmt = register(Upper())
    assert get_format("upper") is fmt and registry["upper"] is fmt
    fs, path = _path(where, "x.txt")
    fmt.save("abc", fs, path)
    assert get_format("upper").load(fs, path) == "ABC"


def test_register_refuses_silent_overwrite():
    first = register(Upper())
    with pytest.raises(FormatError) as info:
        register(Upper())
    assert "'upper'" in str(info.value) and "clobber=True" in str(info.value)
    assert get_format("upper") is first
    with pytest.raises(FormatError, match="'parquet'"):
        register(type("P2", (Upper,), {"name": "parquet", "ext": "pq"})())
    assert get_format("parquet").ext == "parquet"


def test_register_clobber_replaces():
    register(Upper())
    second = Upper()
    assert register(second, clobber=True) is second
    assert get_format("upper") is second


def test_register_rejects_non_formats_and_nameless():
    with pytest.raises(FormatError, match="Format instance"):
        register(Upper)  # the class, not an instance
    with pytest.raises(FormatError, match="Format instance"):
        register("upper")  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="name and an ext"):
        register(type("NoExt", (Format,), {"name": "noext"})())
    with pytest.raises(FormatError, match="name and an ext"):
        register(type("NoName", (Format,), {"ext": "x"})())


def test_unknown_format_lists_registered_names():
    with pytest.raises(FormatError) as info:
        get_format("feather-nope")
    message = str(info.value)
    assert "'feather-nope'" in message
    for name in ("pickle", "json", "parquet", "csv", "csv.gz", "excel", "cache"):
        assert repr(name) in message
    assert isinstance(info.value, LookupError) and isinstance(info.value, DaskflowError)


def test_unknown_format_on_task_is_reported():
    class Odd(d6tflow.tasks.TaskData):
        format = "feather-nope"

    with pytest.raises(FormatError, match="feather-nope"):
        Odd().output()


def test_registry_is_read_only_view():
    with pytest.raises(TypeError):
        registry["x"] = Upper()  # type: ignore[index]
    assert "upper" not in registry
    register(Upper())
    assert "upper" in registry


def test_lazy_entry_imported_on_first_use():
    formats._formats["lazy"] = (f"{__name__}:Lazy", "pip install lazy-formats")
    fmt = get_format("lazy")
    assert isinstance(fmt, Lazy) and fmt.name == "lazy"
    assert get_format("lazy") is fmt and registry["lazy"] is fmt


def test_lazy_entry_missing_package_gives_install_hint():
    formats._formats["ghost"] = ("no_such_module_xyz.formats:Ghost", "pip install ghost-formats")
    with pytest.raises(FormatError) as info:
        get_format("ghost")
    assert "'ghost'" in str(info.value) and "pip install ghost-formats" in str(info.value)
    assert isinstance(info.value.__cause__, ImportError)


def test_task_uses_registered_format_and_its_extension(tmp_path):
    register(Upper())

    class Shout(d6tflow.tasks.TaskData):
        format = "upper"

        def run(self):
            self.save("hello")

    t = Shout()
    assert str(t.output().path) == "data/Shout/Shout__99914b932b-data.txt"
    d6tflow.run(t, scheduler="sync", execution_summary=False)
    assert (tmp_path / t.output().path).read_text() == "HELLO"
    assert Shout().outputLoad() == "HELLO"


# -- pickling of formats ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pickle", "json", "parquet", "csv", "csv.gz", "excel", "cache"])
def test_builtin_format_pickles_by_name(name):
    fmt = get_format(name)
    data = pickle.dumps(fmt)
    assert pickle.loads(data) is fmt
    assert len(data) < 200


def test_unregistered_format_pickles_by_value():
    fmt = Upper()
    back = pickle.loads(pickle.dumps(fmt))
    assert type(back) is Upper and back.name == "upper" and back is not fmt


def test_format_repr():
    assert repr(get_format("csv.gz")) == "<Format 'csv.gz' (.csv.gz)>"


def test_base_format_methods_are_abstract(tmp_path):
    fs = fsspec.filesystem("file")
    with pytest.raises(NotImplementedError):
        Format().save(1, fs, str(tmp_path / "x"))
    with pytest.raises(NotImplementedError):
        Format().load(fs, str(tmp_path / "x"))


# -- Dask DataFrames compute as the running task was told ---------------------------------------


@pytest.mark.parametrize("name", ["dask-parquet", "dask-csv"])
def test_dask_formats_compute_as_the_context_says(where, name):
    import contextlib

    dd = pytest.importorskip("dask.dataframe")
    from daskflow import context

    entered = []

    @contextlib.contextmanager
    def scope():
        entered.append("in")
        yield {"scheduler": "sync"}
        entered.append("out")

    fs, path = _path(where, "parts")
    token = context.compute_scope.set(scope)
    try:
        # (dask's parquet writer sets an index in place, which pandas 3.1 warns about)
        kwargs = {"write_index": False} if name == "dask-parquet" else {}
        get_format(name).save(dd.from_pandas(frame(), npartitions=2), fs, path, **kwargs)
    finally:
        context.compute_scope.reset(token)
    assert entered == ["in", "out"]
    assert len(fs.ls(path, detail=False)) == 2  # the parts


def test_default_compute_outside_a_cluster_is_dasks_default():
    from daskflow import context

    with context.computing() as kwargs:
        assert kwargs == {}
