"""Targets: exists/load/atomic save/remove on local disk and fsspec URLs, bulk existence with
one listing per folder, in-memory targets, pickling without a live filesystem, and a small
pipeline on a ``memory://`` root."""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
from pathlib import Path
from typing import ClassVar

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from helpers import is_manifest

import daskflow as d6tflow
from daskflow import settings
from daskflow.errors import OutputNotFoundError, StorageError
from daskflow.formats import Format, register
from daskflow.targets import MemoryTarget, Target, exists_many, make_target


class Boom(Exception):
    """Raised by a format halfway through writing."""


class HalfWrite(Format):
    """Writes some bytes, then fails: a save interrupted halfway."""

    name, ext = "halfwrite", "half"

    def save(self, obj, fs, path, **kwargs):
        with fs.open(path, "wb") as f:
            f.write(b"partial-")
            f.flush()
            raise Boom("failed halfway")

    def load(self, fs, path, **kwargs):
        with fs.open(path, "rb") as f:
            return f.read()


class Raw(Format):
    """Bytes as they are; records whether the final path was visible while writing."""

    name, ext = "raw", "raw"
    final = ""
    seen_during_write: ClassVar[list[bool]] = []

    def save(self, obj, fs, path, **kwargs):
        with fs.open(path, "wb") as f:
            f.write(obj)
        Raw.seen_during_write.append(os.path.exists(Raw.final))

    def load(self, fs, path, **kwargs):
        with fs.open(path, "rb") as f:
            return f.read()


@pytest.fixture
def formats_registered():
    register(HalfWrite())
    register(Raw())


def _files(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not is_manifest(p))


def _memfiles(url: str) -> list[str]:
    fs = fsspec.filesystem("memory")
    root = url.split("://", 1)[1]
    return sorted(p for p in fs.find(root) if not is_manifest(p)) if fs.exists(root) else []


# -- local targets --------------------------------------------------------------------------


def test_local_round_trip(tmp_path):
    t = Target("data/A/x.pkl", "pickle")
    assert not t.exists()
    assert t.save({"a": 1}) == Path("data/A/x.pkl")
    assert t.exists()
    assert t.load() == {"a": 1}
    assert (tmp_path / "data/A/x.pkl").is_file()
    t.remove()
    assert not t.exists() and not (tmp_path / "data/A/x.pkl").exists()


def test_identity_properties():
    t = Target("data/A/x-data.parquet", "parquet")
    assert t.path == Path("data/A/x-data.parquet") and isinstance(t.path, Path)
    assert t.folder == "data/A" and t.name == "x-data.parquet"
    assert t.format.name == "parquet"
    r = Target("memory://b/A/x.pkl", "pickle")
    assert r.path == "memory://b/A/x.pkl" and r.folder == "memory://b/A" and r.name == "x.pkl"
    assert repr(t) == "Target('data/A/x-data.parquet', format='parquet')"


def test_equality_and_hash():
    a, b = Target("d/x.pkl", "pickle"), Target("d/x.pkl", "pickle")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Target("d/y.pkl", "pickle")
    assert a != Target("d/x.pkl", "json")
    assert MemoryTarget("d/x.pkl") != Target("d/x.pkl", "cache")
    assert a != "d/x.pkl"


def test_construction_creates_no_folder(tmp_path):
    Target("data/A/x.pkl", "pickle")

    class NoDir(d6tflow.tasks.TaskPickle):
        pass

    NoDir().output()
    assert not (tmp_path / "data").exists()


def test_load_missing_raises_output_not_found():
    t = Target("data/A/missing.pkl", "pickle")
    with pytest.raises(OutputNotFoundError) as info:
        t.load()
    assert "data/A/missing.pkl" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("fmt", ["pickle", "json", "parquet", "csv", "csv.gz"])
@pytest.mark.parametrize("kind", ["local", "memory"])
def test_load_missing_in_every_format(fmt, kind, memory_url):
    root = "data" if kind == "local" else memory_url
    t = Target(f"{root}/A/missing.{fmt}", fmt)
    assert not t.exists()
    with pytest.raises(OutputNotFoundError, match="missing"):
        t.load()


def test_remove_missing_is_fine_and_invalidate_is_remove():
    t = Target("data/A/x.pkl", "pickle")
    t.remove()
    t.save(1)
    t.invalidate()
    assert not t.exists()


def test_absolute_and_file_url_targets(tmp_path):
    a = Target(str(tmp_path / "abs" / "x.json"), "json")
    a.save([1, 2])
    u = Target(f"file://{tmp_path}/abs/x.json", "json")
    assert u.exists() and u.load() == [1, 2]
    assert exists_many([u, a]) == [True, True]
    u.remove()
    assert not a.exists()


@pytest.mark.parametrize("scheme", ["file", "local"])
def test_file_and_local_urls_are_local_disk(tmp_path, scheme):
    t = Target(f"{scheme}://{tmp_path}/A/x.pkl", "pickle")
    assert t.path == t.url  # a URL stays a URL; a plain path is a Path
    assert isinstance(Target("data/A/x.pkl", "pickle").path, Path)
    t.save({"a": 1})
    assert os.listdir(tmp_path / "A") == ["x.pkl"]  # renamed into place, no temporary left
    assert t.exists() and t.load() == {"a": 1}
    assert exists_many([t]) == [True]


# -- atomic save ----------------------------------------------------------------------------


def test_failed_save_leaves_no_file_and_no_temp(tmp_path, formats_registered):
    t = Target("data/A/x.half", "halfwrite")
    with pytest.raises(Boom):
        t.save(b"x")
    assert not t.exists()
    assert _files(tmp_path / "data" / "A") == []
    assert exists_many([t]) == [False]


def test_failed_save_keeps_the_committed_output(tmp_path, formats_registered):
    good = Target("data/A/x.half", "raw")
    good.save(b"committed")
    before = (tmp_path / "data/A/x.half").stat()
    bad = Target("data/A/x.half", "halfwrite")
    with pytest.raises(Boom):
        bad.save(b"new")
    assert (tmp_path / "data/A/x.half").read_bytes() == b"committed"
    assert (tmp_path / "data/A/x.half").stat().st_mtime_ns == before.st_mtime_ns
    assert _files(tmp_path / "data" / "A") == ["x.half"]


def test_interrupted_save_leaves_no_temp(tmp_path):
    class Interrupt(Format):
        name, ext = "interrupt", "int"

        def save(self, obj, fs, path, **kwargs):
            with fs.open(path, "wb") as f:
                f.write(b"partial")
            raise KeyboardInterrupt

    register(Interrupt())
    with pytest.raises(KeyboardInterrupt):
        Target("data/A/x.int", "interrupt").save(1)
    assert _files(tmp_path / "data" / "A") == []


def test_output_is_invisible_until_complete(tmp_path, formats_registered):
    Raw.final = str(tmp_path / "data/A/x.raw")
    Raw.seen_during_write = []
    Target("data/A/x.raw", "raw").save(b"abc")
    assert Raw.seen_during_write == [False]
    assert (tmp_path / "data/A/x.raw").read_bytes() == b"abc"
    assert _files(tmp_path / "data" / "A") == ["x.raw"]


def test_failed_save_on_fsspec_url_leaves_no_file(memory_url, formats_registered):
    """An object-store write becomes visible only whole: a format that fails halfway must not
    leave a partial object that counts as a complete output."""
    t = Target(f"{memory_url}/A/x.half", "halfwrite")
    with pytest.raises(Boom):
        t.save(b"x")
    assert not t.exists()
    assert exists_many([t]) == [False]
    assert _memfiles(memory_url) == []


def test_failed_save_on_fsspec_url_keeps_committed_output(memory_url, formats_registered):
    Target(f"{memory_url}/A/x.half", "raw").save(b"committed")
    with pytest.raises(Boom):
        Target(f"{memory_url}/A/x.half", "halfwrite").save(b"new")
    assert Target(f"{memory_url}/A/x.half", "raw").load() == b"committed"


def test_failing_task_leaves_no_output(tmp_path, formats_registered):
    class Fails(d6tflow.tasks.TaskData):
        format = "halfwrite"

        def run(self):
            self.save(b"x")

    with pytest.raises(RuntimeError) as info:
        d6tflow.run(Fails(), scheduler="sync", execution_summary=False)
    assert isinstance(info.value.__cause__, Boom)
    assert not Fails().complete()
    assert _files(tmp_path / "data" / "Fails") == []


# -- exists_many: one fresh listing per folder ------------------------------------------------


@pytest.fixture
def count_scandir(monkeypatch):
    calls: list[str] = []
    real = os.scandir

    def counting(path="."):
        calls.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counting)
    return calls


def test_exists_many_lists_each_local_folder_once(tmp_path, count_scandir):
    from daskflow.targets.bulk import FEW

    names = [f"t{i}" for i in range(FEW + 1)]  # more than a few: listing beats a stat each
    a = [Target(f"data/A/{n}.pkl", "pickle") for n in names]
    b = [Target(f"data/B/{n}.json", "json") for n in names]
    for t in a[:2] + b[:1]:
        t.save(1)
    missing_folder = [Target(f"data/C/{n}.pkl", "pickle") for n in names]
    count_scandir.clear()
    found = exists_many(a + b + missing_folder)
    assert found == [True, True] + [False] * (FEW - 1) + [True] + [False] * FEW + [False] * (
        FEW + 1
    )
    assert sorted(count_scandir) == ["data/A", "data/B", "data/C"]


def test_exists_many_checks_a_few_outputs_of_a_big_folder_one_by_one(tmp_path, count_scandir):
    # one task of a family of thousands asks for its own output: no listing of the folder
    Target("data/A/x.pkl", "pickle").save(1)
    for i in range(50):
        Target(f"data/A/other{i}.pkl", "pickle").save(i)
    count_scandir.clear()
    assert exists_many([Target("data/A/x.pkl", "pickle"), Target("data/A/y.pkl", "pickle")]) == [
        True,
        False,
    ]
    assert count_scandir == []


def test_exists_many_never_reuses_a_listing(tmp_path, count_scandir):
    from daskflow.targets.bulk import FEW

    many = [Target(f"data/A/{i}.pkl", "pickle") for i in range(FEW + 1)]
    t, other = many[0], many[1]
    other.save(1)
    assert exists_many(many)[:2] == [False, True]
    t.save(1)
    other.remove()
    assert exists_many(many)[:2] == [True, False]
    assert count_scandir.count("data/A") == 2


def test_exists_many_ignores_folders_and_temp_files(tmp_path):
    (tmp_path / "data/A/x.pkl").mkdir(parents=True)  # a folder with the output's name
    (tmp_path / "data/A/.y.pkl.abc123.tmp").write_bytes(b"")
    targets = [Target("data/A/x.pkl", "pickle"), Target("data/A/y.pkl", "pickle")]
    assert exists_many(targets) == [False, False]


def test_exists_many_keeps_order_and_handles_empty():
    assert exists_many([]) == []
    a, b = Target("data/A/a.pkl", "pickle"), Target("data/B/b.pkl", "pickle")
    b.save(1)
    assert exists_many([b, a, b]) == [True, False, True]


def test_exists_many_memory_targets_need_no_listing(count_scandir):
    m = MemoryTarget("data/M/x.cache")
    assert exists_many([m]) == [False]
    m.save(1)
    assert exists_many([m]) == [True]
    assert count_scandir == []


def test_exists_many_lists_each_remote_folder_once(memory_url, monkeypatch):
    targets = [Target(f"{memory_url}/A/{n}.pkl", "pickle") for n in "abc"] + [
        Target(f"{memory_url}/B/{n}.pkl", "pickle") for n in "de"
    ]
    targets[0].save(1)
    targets[4].save(2)
    calls: list[str] = []
    real = MemoryFileSystem.ls

    def counting(self, path, detail=True, **kwargs):
        calls.append(path)
        return real(self, path, detail=detail, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "ls", counting)
    assert exists_many(targets) == [True, False, False, False, True]
    assert len(calls) == 2
    targets[1].save(3)
    assert exists_many(targets) == [True, True, False, False, True]  # fresh listing
    assert len(calls) == 4


def test_exists_many_missing_remote_folder(memory_url):
    assert exists_many([Target(f"{memory_url}/nothing/x.pkl", "pickle")]) == [False]


# -- cached loads ---------------------------------------------------------------------------


def test_cached_load_is_kept_and_dropped_on_save():
    settings.cached = True  # d6tflow serves from memory only with both
    t = Target("data/A/x.pkl", "pickle")
    t.save({"v": 1})
    first = t.load(cached=True)
    assert d6tflow.data["data/A/x.pkl"] == {"v": 1}
    assert t.load(cached=True) is first
    t.save({"v": 2})
    assert "data/A/x.pkl" not in d6tflow.data
    assert t.load(cached=True) == {"v": 2}
    t.remove()
    assert "data/A/x.pkl" not in d6tflow.data


def test_settings_cached_keeps_every_load():
    settings.cached = True
    t = Target("data/A/x.json", "json")
    t.save([1])
    assert t.load() == [1] and d6tflow.data["data/A/x.json"] == [1]


def test_settings_cached_alone_never_serves_a_load_from_memory():
    # d6tflow's rule: a task that changes its loaded input in place must not change what
    # the next load of the same input gives, whatever a notebook cell set earlier
    settings.cached = True
    t = Target("data/A/x.pkl", "pickle")
    t.save({"v": 1})
    first = t.load()
    first["v"] = 99
    assert t.load() == {"v": 1}
    assert t.load(cached=True) == {"v": 1}  # the fresh read was kept ...
    assert t.load(cached=True) is t.load(cached=True)  # ... and asked-for loads share it


def test_asking_for_the_cache_without_settings_cached_keeps_but_never_serves():
    # as d6tflow: another process may rerun the task; only settings.cached trusts memory
    t = Target("data/A/x.pkl", "pickle")
    t.save("old")
    assert t.load(cached=True) == "old"
    assert d6tflow.data["data/A/x.pkl"] == "old"
    Path("data/A/x.pkl").write_bytes(pickle.dumps("new"))  # rerun elsewhere
    assert t.load(cached=True) == "new"


def test_uncached_load_reads_the_file_each_time():
    t = Target("data/A/x.json", "json")
    t.save([1])
    assert t.load() == [1]
    assert "data/A/x.json" not in d6tflow.data
    Path("data/A/x.json").write_text(json.dumps({"data": [2]}))
    assert t.load() == [2]


# -- MemoryTarget ---------------------------------------------------------------------------


def test_memory_target_round_trip(tmp_path):
    m = MemoryTarget("data/T/T__99914b932b-data.cache")
    assert m.path == "data/T/T__99914b932b-data.cache" and isinstance(m.path, str)
    assert not m.exists()
    value = {"big": [1, 2, 3]}
    assert m.save(value) == m.path
    assert m.exists() and m.load() is value
    assert d6tflow.data[m.path] is value
    assert not (tmp_path / "data").exists()
    m.remove()
    assert not m.exists() and m.path not in d6tflow.data
    m.remove()


def test_memory_target_missing_says_run_first():
    with pytest.raises(OutputNotFoundError, match="run the flow first"):
        MemoryTarget("data/T/x.cache").load()


def test_memory_targets_share_values_by_url():
    MemoryTarget("data/T/x.cache").save(5)
    assert MemoryTarget("data/T/x.cache").load() == 5
    assert not MemoryTarget("data/T/y.cache").exists()


def test_make_target_picks_the_class():
    assert type(make_target("d/x.cache", "cache", {})) is MemoryTarget
    t = make_target("d/x.pkl", "pickle", {"k": 1})
    assert type(t) is Target and t.storage_options == {"k": 1}


# -- pickling: no live filesystem travels ---------------------------------------------------


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_target_pickles_without_filesystem(kind, tmp_path, memory_url):
    url = "data/A/x.pkl" if kind == "local" else f"{memory_url}/A/x.pkl"
    t = Target(url, "pickle")
    t.save([1, 2])
    _ = t.fs  # opens (and caches) the filesystem
    assert t.exists()
    data = pickle.dumps(t)
    for needle in (b"LocalFileSystem", b"MemoryFileSystem", b"fsspec"):
        assert needle not in data
    back = pickle.loads(data)
    assert back == t and back._fs_path is None
    assert back.exists() and back.load() == [1, 2]
    assert t.load() == [1, 2]  # the original still works


def test_target_pickle_keeps_storage_options():
    t = Target(
        "s3://bucket/x.pkl",
        "pickle",
        {"key": "k", "client_kwargs": {"endpoint_url": "http://127.0.0.1:1"}},
    )
    back = pickle.loads(pickle.dumps(t))
    assert back.storage_options == t.storage_options and back.url == t.url
    assert back.format is t.format


def test_memory_target_pickle_carries_only_the_url():
    m = MemoryTarget("data/T/x.cache")
    m.save("a" * 100_000)
    data = pickle.dumps(m)
    assert len(data) < 1000
    back = pickle.loads(data)
    assert type(back) is MemoryTarget and back.url == m.url and back.load() == "a" * 100_000


class PickledTask(d6tflow.tasks.TaskPickle):
    def run(self):
        self.save(1)


def test_task_output_pickles_after_use(tmp_path):
    d6tflow.run(PickledTask(), scheduler="sync", execution_summary=False)
    out = PickledTask().output()
    assert out.exists()
    assert b"LocalFileSystem" not in pickle.dumps(out)
    assert pickle.loads(pickle.dumps(PickledTask())).output().load() == 1


# -- storage errors -------------------------------------------------------------------------


def test_unknown_protocol_is_a_storage_error():
    t = Target("nosuchproto://bucket/x.pkl", "pickle")
    with pytest.raises(StorageError, match="nosuchproto"):
        t.exists()
    assert isinstance(StorageError("x"), OSError)


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs installed")
def test_missing_backend_gives_the_right_install_hint():
    with pytest.raises(StorageError) as info:
        Target("gs://bucket/x.pkl", "pickle").exists()
    message = str(info.value)
    assert "pip install gcsfs" in message
    assert "daskflow[s3]" not in message  # that extra installs s3fs, not gcsfs


@pytest.mark.skipif(importlib.util.find_spec("ocifs") is not None, reason="ocifs installed")
def test_install_hint_comes_from_fsspecs_registry():
    # daskflow names no OCI backend itself: fsspec's registry knows which package serves it
    with pytest.raises(StorageError) as info:
        Target("oci://bucket@namespace/x.pkl", "pickle").exists()
    assert "Install ocifs" in str(info.value)  # fsspec's own message
    assert "pip install ocifs" in str(info.value)


# -- a small pipeline on memory:// ------------------------------------------------------------


class MemGet(d6tflow.tasks.TaskPqPandas):
    n = d6tflow.IntParameter(default=3)

    def run(self):
        self.save(pd.DataFrame({"a": list(range(self.n)), "s": ["x"] * self.n}))


@d6tflow.requires(MemGet)
class MemSum(d6tflow.tasks.TaskJson):
    def run(self):
        df = self.inputLoad()
        self.save({"sum": int(df["a"].sum()), "rows": len(df)})


def test_memory_url_dirpath_end_to_end(memory_url, tmp_path):
    d6tflow.set_dir(memory_url)
    get, total = MemGet(), MemSum()
    assert get.output().path == f"{memory_url}/MemGet/{get.task_id}-data.parquet"
    assert total.output().path == f"{memory_url}/MemSum/{total.task_id}-data.json"
    assert not total.complete()

    result = d6tflow.Workflow(MemSum).run(scheduler="sync", execution_summary=False)
    assert result is not None and len(result.ran) == 2

    assert total.complete() and get.complete()
    assert MemSum().outputLoad() == {"sum": 3, "rows": 3}
    pd.testing.assert_frame_equal(
        MemGet().outputLoad(), pd.DataFrame({"a": [0, 1, 2], "s": ["x", "x", "x"]})
    )
    root = memory_url.split("://", 1)[1]
    assert _memfiles(memory_url) == [
        f"/{root}/MemGet/{get.task_id}-data.parquet",
        f"/{root}/MemSum/{total.task_id}-data.json",
    ]
    fs = fsspec.filesystem("memory")
    assert json.loads(fs.cat_file(f"{root}/MemSum/{total.task_id}-data.json")) == {
        "data": {"sum": 3, "rows": 3}
    }
    with fs.open(f"{root}/MemGet/{get.task_id}-data.parquet", "rb") as f:
        assert pq.ParquetFile(f).metadata.row_group(0).column(0).compression == "SNAPPY"
    assert list(tmp_path.iterdir()) == []  # nothing written to local disk

    again = d6tflow.Workflow(MemSum).run(scheduler="sync", execution_summary=False)
    assert again is not None and len(again.ran) == 0

    MemGet().reset()
    assert not MemGet().complete() and not MemSum().complete()
    d6tflow.Workflow(MemSum, {"n": 4}).run(scheduler="sync", execution_summary=False)
    assert MemSum(n=4).outputLoad() == {"sum": 6, "rows": 4}


def test_memory_url_with_settings_dirpath_and_env(memory_url):
    settings.dirpath = memory_url
    flow = d6tflow.Workflow(MemSum, env="dev")
    assert flow.outputPath() == f"{memory_url}/env=dev/MemSum/{MemSum().task_id}-data.json"
    flow.run(scheduler="sync", execution_summary=False)
    assert flow.outputLoad() == {"sum": 3, "rows": 3}
    assert not MemSum().complete()


# dask's parquet writer (dask 2026.8) still passes inplace=True to pandas 3.1
@pytest.mark.filterwarnings(
    r"ignore:The inplace keyword in DataFrame\.(reset|set)_index is deprecated"
    ":pandas.errors.Pandas4Warning"
)
def test_failed_dataset_commit_leaves_no_hidden_folder(tmp_path, monkeypatch):
    import os

    import dask.dataframe as dd
    import pandas as pd

    from daskflow.errors import DaskflowError
    from daskflow.targets import make_target

    target = make_target(str(tmp_path / "ds.parquet"), "dask-parquet", {})
    frame = dd.from_pandas(pd.DataFrame({"i": range(4)}), npartitions=2)

    def refuse(src, dst):
        raise OSError("refused")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="refused"):
        target.save(frame)
    monkeypatch.undo()
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == []
    assert not isinstance(OSError("x"), DaskflowError)
