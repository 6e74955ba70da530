"""The task graph: building it (cycles, long chains, malformed requires()), statuses computed
once per call, what runs, and the preview tree."""

from __future__ import annotations

import sys

import pytest

import daskflow
from daskflow import graph
from daskflow.errors import DependencyCycleError, TaskDefinitionError
from daskflow.tasks import TaskCache, TaskPickle


class Leaf(TaskCache):
    def run(self):
        self.save("leaf")


# -- cycles ----------------------------------------------------------------------------------------


class CycA(TaskCache):
    def requires(self):
        return CycB()

    def run(self):
        self.save(1)


class CycB(TaskCache):
    def requires(self):
        return CycA()

    def run(self):
        self.save(1)


class CycSelf(TaskCache):
    def requires(self):
        return [Leaf(), CycSelf()]


class CycEntry(TaskCache):
    def requires(self):
        return [Leaf(), CycA()]


class Ring(TaskCache):
    """Ring(n=0) -> Ring(n=1) -> Ring(n=2) -> Ring(n=0)."""

    n = daskflow.IntParameter(default=0)

    def requires(self):
        return Ring(n=(self.n + 1) % 3)


def test_two_task_cycle_names_the_cycle():
    with pytest.raises(DependencyCycleError) as info:
        graph.build([CycA()])
    err = info.value
    assert err.cycle[0] == err.cycle[-1]
    assert set(err.cycle) == {CycA().task_id, CycB().task_id}
    assert CycA().task_id in str(err) and CycB().task_id in str(err)
    assert "->" in str(err)


def test_self_cycle():
    with pytest.raises(DependencyCycleError) as info:
        graph.build([CycSelf()])
    assert info.value.cycle == [CycSelf().task_id, CycSelf().task_id]


def test_cycle_reached_from_outside_names_only_the_cycle():
    with pytest.raises(DependencyCycleError) as info:
        graph.build([CycEntry()])
    assert CycEntry().task_id not in info.value.cycle
    assert set(info.value.cycle) == {CycA().task_id, CycB().task_id}


def test_cycle_through_parameters():
    with pytest.raises(DependencyCycleError) as info:
        graph.build([Ring()])
    assert len(info.value.cycle) == 4
    assert {Ring(n=i).task_id for i in range(3)} == set(info.value.cycle)


@pytest.mark.parametrize(
    "call",
    [
        lambda: daskflow.Workflow(CycA).run(),
        lambda: daskflow.Workflow(CycA).preview(),
        lambda: daskflow.Workflow(CycA).complete(),
        lambda: daskflow.run(CycEntry()),
        lambda: daskflow.preview(Ring()),
        lambda: CycA().complete(),
        lambda: daskflow.Workflow(CycA).outputLoadAll(),
        lambda: daskflow.taskflow_upstream(CycA()),
    ],
)
def test_every_entry_point_reports_a_cycle_not_recursion(call):
    with pytest.raises(DependencyCycleError):
        call()


def test_cycle_error_is_a_task_definition_error():
    assert issubclass(DependencyCycleError, TaskDefinitionError)
    assert issubclass(DependencyCycleError, daskflow.errors.DaskflowError)


# -- long chains -----------------------------------------------------------------------------------

CHAIN = 2000


class Chain(TaskCache):
    i = daskflow.IntParameter()

    def requires(self):
        return Chain(i=self.i - 1) if self.i > 0 else []

    def run(self):
        self.save(self.i if self.i == 0 else self.inputLoad() + 1)


def test_chain_longer_than_the_recursion_limit_builds():
    assert sys.getrecursionlimit() < CHAIN
    g = graph.build([Chain(i=CHAIN - 1)])
    assert len(g) == CHAIN
    assert g.edges == CHAIN - 1
    assert next(iter(g.tasks)) == Chain(i=0).task_id  # dependencies first
    assert list(g.tasks)[-1] == Chain(i=CHAIN - 1).task_id
    assert not any(g.status().values())


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_chain_longer_than_the_recursion_limit_runs(scheduler):
    flow = daskflow.Workflow(Chain, {"i": CHAIN - 1})
    result = flow.run(scheduler=scheduler, execution_summary=False)
    assert len(result.ran) == CHAIN
    assert flow.outputLoad() == CHAIN - 1
    assert flow.complete()
    again = flow.run(scheduler=scheduler, execution_summary=False)
    assert again.ran == []


def test_chain_preview_and_upstream_listing(capsys):
    daskflow.preview(Chain(i=CHAIN - 1))
    out = capsys.readouterr().out
    assert out.count("PENDING") == CHAIN
    assert len(daskflow.taskflow_upstream(Chain(i=CHAIN - 1))) == CHAIN
    assert daskflow.invalidate_upstream(Chain(i=CHAIN - 1)) is True


# -- malformed requires() --------------------------------------------------------------------------


class ReqString(TaskCache):
    def requires(self):
        return "Leaf"

    def run(self):
        self.save(1)


class ReqClass(TaskCache):
    def requires(self):
        return Leaf  # forgot the parentheses

    def run(self):
        self.save(1)


class ReqNested(TaskCache):
    def requires(self):
        return {"ok": Leaf(), "bad": [Leaf(), 42]}

    def run(self):
        self.save(1)


@pytest.mark.parametrize(
    ("task", "shown"), [(ReqString, "'Leaf'"), (ReqClass, "Leaf"), (ReqNested, "42")]
)
@pytest.mark.parametrize(
    "call",
    [
        lambda t: daskflow.Workflow(t).run(),
        lambda t: daskflow.Workflow(t).preview(),
        lambda t: t().complete(),
        lambda t: graph.build([t()]),
    ],
)
def test_requires_returning_a_non_task_is_a_clear_error(task, shown, call):
    with pytest.raises(TaskDefinitionError) as info:
        call(task)
    message = str(info.value)
    assert task.__name__ in message
    assert "requires()" in message
    assert shown in message


def test_requires_returning_a_class_suggests_an_instance():
    with pytest.raises(TaskDefinitionError, match=r"Leaf\(\)"):
        ReqClass().complete()


class ReqNone(TaskCache):
    def requires(self):
        return None

    def run(self):
        self.save("none")


def test_requires_returning_none_means_no_dependencies():
    g = graph.build([ReqNone()])
    assert list(g.tasks) == [ReqNone().task_id]
    daskflow.run(ReqNone(), execution_summary=False)
    assert ReqNone().outputLoad() == "none"


# -- status once per call --------------------------------------------------------------------------


class Layer(TaskPickle):
    """8 layers of 4 tasks, each fully connected to the layer below: 4**7 paths to the bottom."""

    layer = daskflow.IntParameter()
    k = daskflow.IntParameter()

    def requires(self):
        if self.layer == 0:
            return []
        return [Layer(layer=self.layer - 1, k=j) for j in range(4)]

    def run(self):
        self.save(1 if self.layer == 0 else sum(self.inputLoad()))


class LayerTop(TaskPickle):
    def requires(self):
        return [Layer(layer=7, k=j) for j in range(4)]

    def run(self):
        self.save(sum(self.inputLoad()))


@pytest.fixture
def exists_calls(monkeypatch):
    """Every call of daskflow.graph.exists_many (what completeness uses), as target lists."""
    calls: list[list] = []
    real = daskflow.graph.exists_many

    def counting(targets):
        targets = list(targets)
        calls.append(targets)
        return real(targets)

    monkeypatch.setattr(daskflow.graph, "exists_many", counting)
    return calls


def _assert_once_per_target(calls, n_targets):
    assert len(calls) == 1, f"status computed {len(calls)} times"
    urls = [t.url for t in calls[0]]
    assert len(urls) == n_targets
    assert len(set(urls)) == n_targets


def test_layered_graph_status_computed_once_per_call(exists_calls, capsys):
    n = 8 * 4 + 1
    flow = daskflow.Workflow(LayerTop)
    flow.preview()
    _assert_once_per_target(exists_calls, n)
    exists_calls.clear()
    assert flow.complete() is False
    _assert_once_per_target(exists_calls, n)
    exists_calls.clear()
    result = flow.run(execution_summary=False)
    assert len(result.ran) == n
    _assert_once_per_target(exists_calls, n)
    exists_calls.clear()
    assert flow.outputLoad() == 4**8
    assert len(exists_calls) == 1
    exists_calls.clear()
    flow.run(execution_summary=False)  # no-op rerun
    _assert_once_per_target(exists_calls, n)
    exists_calls.clear()
    flow.preview()
    _assert_once_per_target(exists_calls, n)
    assert capsys.readouterr().out.count("COMPLETE") <= 8 * 4 * 4 + 1 + 4  # edges, not paths


def test_layered_graph_preview_grows_with_edges_not_paths(capsys):
    daskflow.Workflow(LayerTop).preview()
    out = capsys.readouterr().out
    edges = graph.build([LayerTop()]).edges
    assert edges == 4 + 7 * 16
    assert out.count("PENDING") <= edges + 1


# -- pure graph functions --------------------------------------------------------------------------


class Diamond(TaskCache):
    def requires(self):
        return [Left(), Right()]

    def run(self):
        self.save("d")


class Left(TaskCache):
    def requires(self):
        return Leaf()

    def run(self):
        self.save("l")


class Right(TaskCache):
    def requires(self):
        return Leaf()

    def run(self):
        self.save("r")


def test_build_orders_dependencies_first_and_dedups():
    g = graph.build([Diamond()])
    keys = list(g.tasks)
    assert len(keys) == 4
    assert keys.index(Leaf().task_id) < keys.index(Left().task_id) < keys.index(Diamond().task_id)
    assert keys.index(Leaf().task_id) < keys.index(Right().task_id)
    assert g.deps[Diamond().task_id] == (Left().task_id, Right().task_id)
    assert set(g.dependents[Leaf().task_id]) == {Left().task_id, Right().task_id}
    assert g.roots == (Diamond().task_id,)
    assert graph.upstream_of(g, [Left().task_id]) == {Left().task_id, Leaf().task_id}
    assert graph.downstream_of(g, [Left().task_id]) == {Left().task_id, Diamond().task_id}


def test_graph_views_are_read_only():
    g = graph.build([Diamond()])
    with pytest.raises(TypeError):
        g.tasks["x"] = Leaf()  # type: ignore[index]
    with pytest.raises(TypeError):
        g.deps["x"] = ()  # type: ignore[index]


def test_to_run_skips_complete_and_follows_pending_only():
    g = graph.build([Diamond()])
    ids = {
        name: t().task_id for name, t in [("D", Diamond), ("L", Left), ("R", Right), ("F", Leaf)]
    }
    status = {ids["D"]: False, ids["L"]: True, ids["R"]: False, ids["F"]: False}
    # Leaf is incomplete but only reachable through complete Left and pending Right
    assert graph.to_run(g, status) == [k for k in g.tasks if k in {ids["D"], ids["R"], ids["F"]}]
    assert graph.to_run(g, dict.fromkeys(g.tasks, True)) == []
    forced = graph.to_run(g, dict.fromkeys(g.tasks, True), forced=[ids["D"]])
    assert forced == [ids["D"]]


def test_forced_keys_follow_d6tflow_options():
    g = graph.build([Diamond()])
    assert graph.forced_keys(g, forced_all_upstream=True) == set(g.tasks)
    assert graph.forced_keys(g, forced_all=True) == {Diamond().task_id}
    assert graph.forced_keys(g, forced=[Left()]) == {Left().task_id, Diamond().task_id}
    assert graph.forced_keys(g, forced=[Leaf()]) == set(g.tasks)
    assert graph.forced_keys(g) == set()


def test_status_with_and_without_dependency_checks():
    daskflow.run(Diamond(), execution_summary=False)
    Leaf().reset()
    g = graph.build([Diamond()])
    strict = g.status(check_dependencies=True)
    loose = g.status(check_dependencies=False)
    assert not any(strict.values())
    assert loose == {k: k != Leaf().task_id for k in g.tasks}


def test_preview_text_marks_siblings_and_last_child():
    g = graph.build([Diamond()])
    text = graph.preview_text(g, g.status(), color=False)
    lines = [line for line in text.splitlines() if "--[" in line]
    assert lines[0] == "└─--[Diamond-{} (PENDING)]"
    assert lines[1] == "   |--[Left-{} (PENDING)]"
    assert lines[2] == "   |  └─--[Leaf-{} (PENDING)]"
    assert lines[3].startswith("   └─--[Right-{} (PENDING)]")


def test_preview_text_colours_when_asked():
    g = graph.build([Leaf()])
    text = graph.preview_text(g, {Leaf().task_id: True}, color=True)
    assert "\x1b[92mCOMPLETE\x1b[0m" in text
    text = graph.preview_text(g, {Leaf().task_id: False}, color=True)
    assert "\x1b[94mPENDING\x1b[0m" in text


class BrokenRequires(daskflow.tasks.TaskPickle):
    n = daskflow.IntParameter(default=3)

    def requires(self):
        raise KeyError("no such input")


class BrokenOutput(daskflow.tasks.TaskPickle):
    def output(self):
        raise ValueError("bad location")


@daskflow.requires(BrokenRequires)
class AboveBroken(daskflow.tasks.TaskPickle):
    pass


def test_an_error_in_a_users_requires_or_output_names_the_task():
    with pytest.raises(KeyError) as info:  # the user's own exception, with a note
        graph.build([AboveBroken()])
    assert any("BrokenRequires(n=3).requires()" in n for n in info.value.__notes__)
    with pytest.raises(ValueError) as info:
        graph.build([BrokenOutput()]).status()
    assert any("BrokenOutput().output()" in n for n in info.value.__notes__)


@pytest.mark.parametrize("was_on", [True, False])
def test_the_collector_pause_nests_and_restores_what_was(was_on):
    import gc

    (gc.enable if was_on else gc.disable)()
    try:
        with graph.no_cycle_collection():
            assert not gc.isenabled()
            with graph.no_cycle_collection():  # a build inside a preview
                pass
            assert not gc.isenabled()  # the inner one ended: still paused
        assert gc.isenabled() is was_on
        with pytest.raises(KeyError), graph.no_cycle_collection():
            raise KeyError("x")  # an error inside still resumes it
        assert gc.isenabled() is was_on
    finally:
        gc.enable()


def test_the_collector_stays_paused_until_the_last_thread_is_done():
    import gc
    import threading

    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with graph.no_cycle_collection():
            inside.set()
            leave.wait(10)

    gc.enable()
    thread = threading.Thread(target=other)
    try:
        with graph.no_cycle_collection():
            thread.start()
            assert inside.wait(10)
        assert not gc.isenabled()  # the other thread's build still runs
        leave.set()
        thread.join(10)
        assert gc.isenabled()
    finally:
        leave.set()
        thread.join(10)
        gc.enable()


def test_a_plan_is_plain_data_that_prints_readably():
    from daskflow.tasks import TaskPickle

    class PlanLeaf(TaskPickle):
        def run(self):
            self.save(1)

    class PlanTop(TaskPickle):
        def requires(self):
            return PlanLeaf()

        def run(self):
            self.save(2)

    daskflow.run(PlanLeaf(), scheduler="sync", execution_summary=False)
    g = graph.build([PlanTop()])
    planned = graph.plan(g)
    assert planned.keys == (PlanTop().task_id,)
    assert planned.fresh == {PlanTop().task_id}
    assert dict(planned.complete) == {PlanLeaf().task_id: True, PlanTop().task_id: False}
    with pytest.raises(TypeError):
        planned.complete[PlanTop().task_id] = True  # read-only
    forced = graph.plan(g, forced={PlanLeaf().task_id})
    assert forced.keys == (PlanLeaf().task_id, PlanTop().task_id)
    assert forced.fresh == {PlanTop().task_id}
    text = str(forced)
    assert text.splitlines()[0] == "Plan: 2 tasks, 2 to run"
    assert "PlanLeaf() COMPLETE forced runs" in text
    assert "PlanTop() PENDING runs" in text and f"<- {PlanLeaf().task_id}" in text
