"""Every public name of d6tflow 0.2.8's top level is there (``import daskflow as d6tflow``),
and those that exist only for d6tflow (daskflow.compat) do what d6tflow's did, or say what
replaces them."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import daskflow as d6tflow
from daskflow.errors import CompatibilityWarning

D6TFLOW_TOP_LEVEL = [
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
    "FlowExport",
    "FlowImport",
    "IntParameter",
    "ListParameter",
    "MonthParameter",
    "NumericalParameter",
    "OptionalParameter",
    "Parameter",
    "TaskParameter",
    "TimeDeltaParameter",
    "TupleParameter",
    "Workflow",
    "WorkflowMulti",
    "YearParameter",
    "cache",
    "clone_parent",
    "data",
    "dict_inherits",
    "dict_requires",
    "dotdict",
    "enable_cloud_storage",
    "enable_gcs",
    "flatten",
    "functional",
    "inherits",
    "invalidate_all",
    "invalidate_downstream",
    "invalidate_orphans",
    "invalidate_upstream",
    "luigi_inherits",
    "luigi_requires",
    "preview",
    "requires",
    "run",
    "set_dir",
    "settings",
    "show",
    "targets",
    "taskflow_downstream",
    "taskflow_upstream",
    "tasks",
    "utils",
]


@pytest.mark.parametrize("name", D6TFLOW_TOP_LEVEL)
def test_every_d6tflow_top_level_name_is_there(name):
    assert hasattr(d6tflow, name), f"d6tflow.{name} is missing"


def test_d6tflow_modules_import_by_their_names():
    code = (
        "import daskflow.utils, daskflow.cache\n"
        "from daskflow.utils import traverse, print_tree, to_parquet\n"
        "from daskflow.cache import data\n"
        "import daskflow\n"
        "assert data is daskflow.data and daskflow.cache.pipes == {}\n"
        "import sys; assert 'dask' not in sys.modules, 'importing daskflow loaded dask'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


class Raw(d6tflow.tasks.TaskPickle):
    n = d6tflow.IntParameter(default=1)

    def run(self):
        self.save(self.n)


class Other(d6tflow.tasks.TaskPickle):
    m = d6tflow.IntParameter(default=2)

    def run(self):
        self.save(self.m)


def test_clone_parent_is_deprecated_and_requires_the_inherited_task():
    with pytest.warns(DeprecationWarning, match="@daskflow.requires"):

        @d6tflow.clone_parent
        @d6tflow.inherits(Raw)
        class Child(d6tflow.tasks.TaskPickle):
            def run(self):
                self.save(self.inputLoad() * 10)

    assert Child(n=4).requires() == Raw(n=4)
    d6tflow.run(Child(n=4), execution_summary=False)
    assert Child(n=4).outputLoad() == 40


def test_dict_forms_and_luigi_names_are_the_decorators():
    @d6tflow.dict_requires({"a": Raw, "b": Other})
    class Both(d6tflow.tasks.TaskPickle):
        def run(self):
            got = self.inputLoad()
            self.save(got["a"] + got["b"])

    @d6tflow.dict_inherits({"a": Raw})
    class Inherits(d6tflow.tasks.TaskPickle):
        pass

    assert Both(n=3, m=4).requires() == {"a": Raw(n=3), "b": Other(m=4)}
    d6tflow.run(Both(n=3, m=4), execution_summary=False)
    assert Both(n=3, m=4).outputLoad() == 7
    assert Inherits(n=5).n == 5
    assert Inherits(n=5).clone_parents_dict() == {"a": Raw(n=5)}
    assert d6tflow.luigi_requires is d6tflow.requires
    assert d6tflow.luigi_inherits is d6tflow.inherits
    assert d6tflow.flatten({"a": [1, 2], "b": 3}) == [1, 2, 3]
    with pytest.raises(TypeError, match="dict"):
        d6tflow.dict_requires()


@pytest.mark.parametrize("name", ["invalidate_all", "invalidate_orphans"])
def test_what_d6tflow_never_implemented_says_what_to_use(name):
    with pytest.raises(NotImplementedError, match="daskflow gc"):
        getattr(d6tflow, name)()


def test_dotdict_reads_keys_as_attributes():
    d = d6tflow.dotdict({"a": 1})
    d.b = 2
    assert (d.a, d.b, d.missing, d) == (1, 2, None, {"a": 1, "b": 2})
    del d.a
    assert d == {"b": 2}


def test_enable_cloud_storage_sets_the_root_as_d6tflow_placed_outputs(memory_url):
    bucket = memory_url.split("://", 1)[1]
    d6tflow.set_dir("data")
    with pytest.warns(CompatibilityWarning, match=r"set_dir\('memory://.*/pre/data'\)"):
        prefix = d6tflow.enable_cloud_storage("memory", bucket, "pre")
    assert prefix == f"memory://{bucket}/pre"
    assert str(d6tflow.settings.dirpath) == f"memory://{bucket}/pre/data"
    d6tflow.run(Raw(n=9), execution_summary=False)
    assert Raw(n=9).output().url == f"memory://{bucket}/pre/data/Raw/{Raw(n=9).task_id}-data.pkl"
    assert Raw(n=9).outputLoad() == 9
    with pytest.warns(CompatibilityWarning):
        assert d6tflow.enable_gcs("b") == "gcs://b"


def test_utils_print_tree_traverse_to_parquet_and_the_grids(tmp_path):
    @d6tflow.requires(Raw)
    class Top(d6tflow.tasks.TaskPickle):
        def run(self):
            self.save(self.inputLoad())

    tree = d6tflow.utils.print_tree(Top())
    assert "Top" in tree and "Raw" in tree and "PENDING" in tree
    assert d6tflow.utils.traverse(Top()) == [Top(), Raw()]
    frame = pd.DataFrame({"a": [1, 2]})
    d6tflow.utils.to_parquet(frame, tmp_path / "new" / "x.parquet")
    assert pd.read_parquet(tmp_path / "new" / "x.parquet").equals(frame)
    grid = d6tflow.utils.generate_exps_for_multi_param(
        {"model": ["ols", "gbm"], "scale": [False, True]}
    )
    assert list(grid) == [
        "model_ols_scale_False",
        "model_ols_scale_True",
        "model_gbm_scale_False",
        "model_gbm_scale_True",
    ]
    assert grid["model_gbm_scale_True"] == {"model": "gbm", "scale": True}
    assert d6tflow.utils.params_generator_single({"a": [1, 2]}) == {0: {"a": 1}, 1: {"a": 2}}
