"""Tasks declared with luigi's parameter classes (older d6tflow code) work when luigi is
installed; daskflow never imports luigi itself."""

import datetime as dt

import pytest

import daskflow as d6tflow

luigi = pytest.importorskip("luigi")


class LuigiTask(d6tflow.tasks.TaskPickle):
    n = luigi.IntParameter(default=3)
    day = luigi.DateParameter(default=dt.date(2020, 1, 2))
    items = luigi.ListParameter(default=[1, 2])
    hidden = luigi.Parameter(default="x", significant=False)

    def run(self):
        self.save(self.n * 2)


@d6tflow.requires(LuigiTask)
class Downstream(d6tflow.tasks.TaskJson):
    def run(self):
        self.save({"twice": self.inputLoad()})


def test_luigi_parameters_give_luigi_task_ids():
    ours = LuigiTask(n=5)
    # what luigi itself computes for the same parameters
    str_params = {"n": "5", "day": "2020-01-02", "items": "[1, 2]"}
    assert ours.to_str_params(only_significant=True) == str_params
    assert ours.task_id == luigi.task.task_id_str("LuigiTask", str_params)


def test_luigi_parameters_parse_and_normalize():
    t = LuigiTask(n="7", items=[3, 4])
    assert t.n == 7
    assert t.items == (3, 4)
    assert LuigiTask(n=7, items=(3, 4)) == t.clone()
    assert LuigiTask(n=7) != t


def test_luigi_parameter_rejects_bad_value_naming_task_and_parameter():
    with pytest.raises(d6tflow.errors.ParameterError, match=r"LuigiTask parameter 'n'"):
        LuigiTask(n="abc")


def test_luigi_parameters_are_inherited_and_run():
    flow = d6tflow.Workflow(Downstream, {"n": 4})
    flow.run(execution_summary=False)
    assert flow.outputLoad() == {"twice": 8}
    assert flow.outputLoad(LuigiTask) == 8
    assert "n" in Downstream._params


@pytest.mark.parametrize("sentinel", ["luigi's own", "object() (luigi < 3.8)"])
def test_a_required_luigi_parameter_left_unset_raises_as_in_d6tflow(sentinel, monkeypatch):
    if sentinel != "luigi's own":
        monkeypatch.setattr(luigi.parameter, "_no_value", object())
    required = luigi.Parameter()  # no default: luigi marks it with its _no_value
    required._default = luigi.parameter._no_value

    class Needs(d6tflow.tasks.TaskPickle):
        name = required

    with pytest.raises(d6tflow.errors.MissingParameterError, match=r"Needs needs parameter 'name'"):
        Needs()
    assert Needs(name="x").task_id == luigi.task.task_id_str("Needs", {"name": "x"})
