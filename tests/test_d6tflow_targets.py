"""d6tflow's target classes: on their own, as a task's ``target_class``, on S3, and the
optional-library submodules (``tasks.h5``, ``tasks.dt``, ``tasks.tf``, ``tasks.torch``)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd
import pytest

import daskflow
from daskflow import settings
from daskflow.errors import FormatError, OutputNotFoundError
from daskflow.targets import (
    CacheTarget,
    CSVGZPandasTarget,
    CSVPandasTarget,
    DataTarget,
    ExcelPandasTarget,
    JsonTarget,
    PdCacheTarget,
    PickleTarget,
    PqPandasTarget,
)
from daskflow.tasks import TaskData, TaskPqPandas

DF = pd.DataFrame({"a": range(5), "b": list("vwxyz")})

FRAME_TARGETS = [CSVPandasTarget, CSVGZPandasTarget, PqPandasTarget, ExcelPandasTarget]


@pytest.mark.parametrize("cls", FRAME_TARGETS)
def test_frame_targets_save_returns_the_path_and_load_reads_it_back(cls):
    path = Path("data") / f"test.{cls.__name__}"
    target = cls(path)
    assert target.save(DF) == path
    assert target.exists()
    assert target.load().equals(DF)
    assert not [p for p in Path("data").iterdir() if p.name.startswith(".")]  # no temporaries


@pytest.mark.parametrize(("cls", "obj"), [(JsonTarget, {"x": [1, 2]}), (PickleTarget, {1, 2})])
def test_object_targets(cls, obj):
    target = cls("data/obj")
    assert target.save(obj) == Path("data/obj")
    assert target.load() == obj
    target.invalidate()
    assert not target.exists()


def test_cache_targets_keep_values_in_daskflow_data():
    target = CacheTarget("data/x.cache")
    assert not target.exists()
    assert target.save(DF) == "data/x.cache"
    assert daskflow.data["data/x.cache"] is DF
    assert PdCacheTarget("data/x.cache").load() is DF
    target.invalidate()
    assert "data/x.cache" not in daskflow.data


def test_settings_cached_keys_daskflow_data_as_d6tflow_did():
    # d6tflow's own test: data[path] after a load with settings.cached, keyed by the Path
    settings.cached = True
    fname = Path("data") / "test.csv"
    t = CSVPandasTarget(fname)
    assert t.save(DF) == fname
    assert t.load().equals(DF)
    assert daskflow.data[fname].equals(DF)
    assert fname in daskflow.data and os.fspath(fname) in daskflow.data
    settings.cached = False
    other = Path("data") / "test.parquet"
    PqPandasTarget(other).save(DF)
    PqPandasTarget(other).load()
    assert other not in daskflow.data


def test_a_cached_load_is_dropped_when_the_output_is_saved_again():
    settings.cached = True
    t = PickleTarget("data/x.pkl")
    t.save(1)
    assert t.load() == 1
    t.save(2)
    assert t.load() == 2


class FeatherTarget(DataTarget):
    def load(self, cached=False, **kwargs):
        return super().load(pd.read_feather, cached, **kwargs)

    def save(self, df, **kwargs):
        return super().save(df, "to_feather", **kwargs)


class GzipJsonTarget(DataTarget):
    """Relies on pandas inferring compression from the file name's extension."""

    def load(self, cached=False, **kwargs):
        return super().load(pd.read_json, cached, **kwargs)

    def save(self, df, **kwargs):
        return super().save(df, "to_json", **kwargs)


def test_a_users_own_data_target_saves_and_loads_with_its_functions():
    t = FeatherTarget("data/x.feather")
    assert t.save(DF) == Path("data/x.feather")
    assert t.load().equals(DF)
    assert os.listdir("data") == ["x.feather"]  # the temporary folder is gone


def test_the_function_gets_a_path_with_the_outputs_own_name():
    t = GzipJsonTarget("data/x.json.gz")
    t.save(DF)
    with open("data/x.json.gz", "rb") as f:
        assert f.read(2) == b"\x1f\x8b"  # gzip: pandas saw the .gz of the real name
    assert t.load().equals(DF)


def test_a_data_target_function_that_fails_leaves_nothing():
    class Broken(DataTarget):
        def save(self, df, **kwargs):
            def write(obj, path):
                path.write_bytes(b"half")
                raise OSError("disk full")

            return super().save(df, write)

    with pytest.raises(OSError, match="disk full"):
        Broken("data/x.bin").save(DF)
    assert os.listdir("data") == []


def test_a_data_target_without_functions_says_how_to_use_it():
    with pytest.raises(FormatError, match="super"):
        DataTarget("data/x").save(DF)
    with pytest.raises(FormatError, match="no method 'to_nothing'"):
        DataTarget("data/x").save(DF, "to_nothing")


def test_loading_a_missing_data_target_names_it():
    with pytest.raises(OutputNotFoundError, match=r"data/missing\.feather"):
        FeatherTarget("data/missing.feather").load()


class TaskFeather(TaskData):
    target_class = FeatherTarget
    target_ext = "feather"
    n = daskflow.IntParameter(default=3)

    def run(self):
        self.save(DF.head(self.n))


@daskflow.requires(TaskFeather)
class TaskUsesFeather(daskflow.tasks.TaskPickle):
    def run(self):
        self.save(len(self.inputLoad()))


class TaskFeatherNoExt(TaskData):
    target_class = FeatherTarget

    def run(self):
        self.save(DF)


class TaskPqAsCsv(TaskPqPandas):
    format = "csv"  # set on the subclass itself: wins over the inherited target_class


@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes"])
def test_a_users_data_target_as_a_tasks_target_class(scheduler):
    flow = daskflow.Workflow(TaskUsesFeather)
    flow.run(scheduler=scheduler, execution_summary=False)
    assert flow.outputLoad() == 3
    out = flow.output(TaskFeather)
    assert isinstance(out, FeatherTarget)
    assert out.path == Path(f"data/TaskFeather/{TaskFeather().task_id}-data.feather")
    assert flow.outputLoad(TaskFeather).equals(DF.head(3))


def test_target_ext_defaults_as_in_d6tflow():
    assert str(TaskFeatherNoExt().output().path).endswith("-data.ext")
    assert isinstance(TaskPqPandas().output(), PqPandasTarget)
    assert isinstance(daskflow.tasks.TaskCachePandas().output(), PdCacheTarget)
    # a subclass that names another format gets that format's extension
    assert str(TaskPqAsCsv().output().path).endswith("-data.csv")
    assert TaskPqAsCsv().output().format.name == "csv"


@pytest.mark.parametrize(
    ("base", "ext"),
    [
        (daskflow.tasks.TaskCache, "cache"),
        (daskflow.tasks.TaskCachePandas, "cache"),
        (daskflow.tasks.TaskPickle, "pkl"),
        (daskflow.tasks.TaskJson, "json"),
        (TaskPqPandas, "parquet"),
        (daskflow.tasks.TaskCSVPandas, "csv"),
        (daskflow.tasks.TaskCSVGZPandas, "csv.gz"),
        (daskflow.tasks.TaskExcelPandas, "xlsx"),
        (daskflow.tasks.TaskPqDask, "parquet"),
        (daskflow.tasks.TaskCSVDask, "csv"),
    ],
)
def test_target_ext_reads_as_in_d6tflow_and_names_the_files(base, ext):
    # the bases do not restate it: it is their format's, read on the class or an instance
    assert "target_ext" not in vars(base)
    assert base.target_ext == ext and base().target_ext == ext
    assert base().output().url.endswith(f"-data.{ext}")

    class Mine(base):
        target_class = FeatherTarget  # a d6tflow subclass keeps its base's extension

    assert Mine.target_ext == ext and Mine().output().url.endswith(f"-data.{ext}")
    t = base()
    t.target_ext = "pq"  # as d6tflow's own tests set it on an instance
    assert t.output().url.endswith("-data.pq") and base().target_ext == ext


def test_target_class_must_be_a_target():
    with pytest.raises(daskflow.errors.TaskDefinitionError, match="target_class"):

        class Bad(TaskData):
            target_class = dict


def test_d6tflow_target_classes_and_a_users_data_target_on_s3(s3):
    url = f"{s3.url}/standalone/x.parquet"
    t = PqPandasTarget(url, storage_options=settings.storage_options)
    assert t.save(DF) == url
    assert t.load().equals(DF)
    f = FeatherTarget(f"{s3.url}/standalone/y.feather", storage_options=settings.storage_options)
    f.save(DF)
    assert f.load().equals(DF)
    flow = daskflow.Workflow(TaskUsesFeather)
    flow.run(execution_summary=False)
    assert flow.outputLoad() == 3
    assert flow.outputPath(TaskFeather).startswith(f"{s3.url}/TaskFeather/")
    assert s3.fs.exists(flow.outputPath(TaskFeather))
    assert not [k for k in s3.fs.find(s3.url) if ".tmp" in k]


def test_h5_task_roundtrip_or_install_hint():
    from daskflow.tasks.h5 import TaskH5Pandas

    class TaskH5(TaskH5Pandas):
        def run(self):
            self.save(DF)

    if importlib.util.find_spec("tables") is None:
        result = daskflow.run(TaskH5(), abort=False, execution_summary=False)
        assert "daskflow[h5]" in str(next(iter(result.errors.values())))
        return
    daskflow.run(TaskH5(), execution_summary=False)
    assert str(TaskH5().output().path).endswith("-data.hdf5")
    assert TaskH5().outputLoad().equals(DF)


@pytest.mark.parametrize(
    ("module", "task", "library"),
    [
        ("dt", "TaskDatatable", "datatable"),
        ("tf", "TaskH5Keras", "tensorflow"),
        ("torch", "PyTorch", "torch"),
    ],
)
def test_optional_library_tasks_import_without_it_and_say_what_to_install(module, task, library):
    mod = importlib.import_module(f"daskflow.tasks.{module}")
    cls = getattr(mod, task)
    assert issubclass(cls, TaskData)
    if importlib.util.find_spec(library) is not None:
        pytest.skip(f"{library} is installed")

    class Model(cls):
        def run(self):
            self.save(object())

    result = daskflow.run(Model(), abort=False, execution_summary=False)
    error = next(iter(result.errors.values()))
    assert isinstance(error, FormatError)
    assert f"pip install {library}" in str(error)


class SelfWritingPickle(DataTarget):
    """d6tflow's own PickleTarget pattern: writes self.path itself."""

    def save(self, obj, **kwargs):
        import pickle

        with self.path.open("wb") as f:
            pickle.dump(obj, f)
        return self.path

    def load(self):  # no cached argument: d6tflow called load() bare
        import pickle

        with self.path.open("rb") as f:
            return pickle.load(f)


def test_a_users_target_that_writes_its_path_itself_gets_its_folder():
    t = SelfWritingPickle("out/sub/x.pkl")
    assert t.save(1) == Path("out/sub/x.pkl")
    assert t.load() == 1


class TaskSelfWriting(TaskData):
    target_class = SelfWritingPickle
    target_ext = "pkl"

    def run(self):
        self.save({"v": 1})


@daskflow.requires(TaskSelfWriting)
class TaskAfterSelfWriting(daskflow.tasks.TaskPickle):
    def run(self):
        self.save(self.inputLoad()["v"] + 1)


def test_a_task_whose_target_writes_itself_and_loads_without_cached():
    flow = daskflow.Workflow(TaskAfterSelfWriting)
    flow.run(execution_summary=False)
    assert flow.outputLoad() == 2
    assert flow.outputLoad(TaskSelfWriting) == {"v": 1}


class CsvMixin:
    target_class = CSVPandasTarget
    target_ext = "csv"


class TaskFromMixin(CsvMixin, TaskData):
    def run(self):
        self.save(DF)


class TaskPqTargetNoExt(TaskData):
    target_class = PqPandasTarget


def test_target_class_from_a_mixin_and_d6tflows_ext_default():
    out = TaskFromMixin().output()
    assert isinstance(out, CSVPandasTarget) and out.format.name == "csv"
    daskflow.run(TaskFromMixin(), execution_summary=False)
    assert TaskFromMixin().outputLoad().equals(DF)
    # d6tflow's TaskData.target_ext is 'ext', whatever the target class
    assert str(TaskPqTargetNoExt().output().path).endswith("-data.ext")


class AlwaysThere(DataTarget):
    def exists(self):
        return True

    def load(self, cached=False, **kwargs):
        return "external"


class TaskAlwaysThere(TaskData):
    target_class = AlwaysThere

    def run(self):
        raise AssertionError("never runs: its target says it exists")


def test_a_target_classs_own_exists_decides_completeness():
    assert TaskAlwaysThere().complete()
    result = daskflow.run(TaskAlwaysThere(), execution_summary=False)
    assert result.ran == []
    assert TaskAlwaysThere().outputLoad() == "external"
