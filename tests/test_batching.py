"""Batches of quick tasks as one Dask key (:mod:`daskflow.batching`, ``runtime.Batch``).

The policy first, on real task graphs and no cluster: probes, sizes, groups by family,
level and resources, every task released once after what it needs. Then on a real
two-worker ``LocalCluster``: a batched fan's values, progress and summary; a failure inside a
batch; in-memory outputs out of a batch; a worker that dies mid-batch; a forced rerun that
sizes its batches from the manifests' durations and leaves one manifest per task; and
``settings.batch_seconds = 0``.

Which Dask key ran a task is read back from its manifest (``dask_key``), so the tests see
what the cluster ran without looking inside the engine.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

import dask.system
import pytest
from parallel_tasks import record, records

import daskflow
from daskflow import settings
from daskflow.batching import PER_SLOT, SMALL, Batcher, history
from daskflow.errors import SettingsError
from daskflow.graph import build
from daskflow.tasks import TaskCache, TaskPickle


class Tiny(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        self.save(self.i)


class Other(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        self.save(-self.i)


class Heavy(TaskPickle):
    i = daskflow.IntParameter()
    resources: ClassVar[dict[str, float]] = {"GPU": 1}

    def run(self):
        self.save(self.i)


class Sum(TaskPickle):
    n = daskflow.IntParameter()
    others = daskflow.IntParameter(default=0)
    heavy = daskflow.IntParameter(default=0)

    def requires(self):
        return (
            [Tiny(i=i) for i in range(self.n)]
            + [Other(i=i) for i in range(self.others)]
            + [Heavy(i=i) for i in range(self.heavy)]
        )

    def run(self):
        self.save(sum(self.inputLoad()))


def _batcher(root, slots=2, target=0.1, known=None, staged=False):
    graph = build([root])
    keys = list(graph.tasks)
    return graph, keys, Batcher(graph, keys, slots, target, known, staged)


def _families(graph, group):
    return {graph.tasks[k].task_family for k in group}


# -- the policy ------------------------------------------------------------------------------


def test_an_unknown_family_sends_probes_first_then_batches_sized_by_them():
    graph, keys, b = _batcher(Sum(n=40))
    first = b.release()
    assert [len(g) for g in first] == [1] * 4  # probes: two per worker thread
    probes = [g[0] for g in first]
    assert _families(graph, probes) == {"Tiny"}
    assert b.learned({probes[0]: 0.03, probes[1]: 0.02}) == []  # not before every probe is back
    rest = b.learned({probes[2]: 0.001, probes[3]: 0.003})
    # the low median, 0.002 s (a worker's first task pays for its folders): 0.1 s would be 50
    # a batch, but 36 leaves make at least 2 batches per thread
    sizes = [len(g) for g in rest]
    assert sizes == [9, 9, 9, 9, 1]
    assert _families(graph, rest[-1]) == {"Sum"}  # the join, once every leaf is sent
    assert sorted(k for g in first + rest for k in g) == sorted(keys)


def test_known_durations_batch_at_once_and_slow_families_stay_one_key_each():
    root = Sum(n=12, others=12)
    graph, _keys, b = _batcher(root, known={"Tiny": 0.02, "Other": 0.05})
    groups = b.release()
    by_family = {}
    for g in groups:
        (family,) = _families(graph, g)  # a batch holds one family
        by_family.setdefault(family, []).append(len(g))
    assert by_family["Tiny"] == [3, 3, 3, 3]  # 0.1 / 0.02 = 5, but 2 batches per thread
    assert by_family["Other"] == [1] * 12  # half the target or more: slow
    assert by_family["Sum"] == [1]


def test_a_larger_target_or_fewer_threads_make_larger_batches():
    _graph, _, b = _batcher(Sum(n=100), slots=1, target=1.0, known={"Tiny": 0.001})
    assert [len(g) for g in b.release()][:-1] == [50, 50]  # PER_SLOT batches of one thread
    assert PER_SLOT == 2


def test_small_groups_of_unknown_families_are_not_probed():
    _graph, _keys, b = _batcher(Sum(n=SMALL - 1))
    assert [len(g) for g in b.release()] == [1] * (SMALL - 1) + [1]
    assert b.pending == []


def test_tasks_that_ask_for_other_resources_are_never_in_one_batch():
    graph, _, b = _batcher(Sum(n=10, heavy=10), known={"Tiny": 0.001, "Heavy": 0.001})
    for g in b.release():
        assert len({tuple(sorted((graph.tasks[k].resources or {}).items())) for k in g}) == 1
        assert len(_families(graph, g)) == 1


def test_a_probe_lost_by_dask_counts_as_slow():
    _graph, _, b = _batcher(Sum(n=20))
    probes = [g[0] for g in b.release()]
    rest = b.learned(dict.fromkeys(probes))  # the key erred: its tasks said nothing
    assert [len(g) for g in rest] == [1] * 16 + [1]


class Layer(TaskPickle):
    level = daskflow.IntParameter()
    i = daskflow.IntParameter()
    width = daskflow.IntParameter()
    seed = daskflow.IntParameter()

    def requires(self):
        if self.level == 0:
            return []
        rng = random.Random(self.seed * 1000 + self.level * 100 + self.i)
        picked = rng.sample(range(self.width), rng.randint(1, 3))
        return [Layer(level=self.level - 1, i=j, width=self.width, seed=self.seed) for j in picked]


class Top(TaskPickle):
    seed = daskflow.IntParameter()

    def requires(self):
        return [Layer(level=4, i=i, width=12, seed=self.seed) for i in range(12)]


@pytest.mark.parametrize("seed", range(8))
def test_every_task_is_released_once_after_the_tasks_it_needs(seed):
    graph, keys, b = _batcher(Top(seed=seed), slots=1 + seed % 3)
    rng = random.Random(seed)
    sent: list[str] = []
    groups = b.release()
    while groups:
        for g in groups:
            assert len(_families(graph, g)) == 1
            for k in g:
                assert all(d in sent for d in graph.deps[k]), f"{k} sent before what it needs"
                # (and never beside a task it needs: a batch is one level)
                assert not set(graph.deps[k]) & set(g)
            sent.extend(g)
        groups = b.learned({k: rng.choice([0.0005, 0.002, None]) for g in groups for k in g})
    assert sorted(sent) == sorted(keys) and len(sent) == len(set(sent))


def test_history_reads_the_durations_the_manifests_record():
    daskflow.Workflow(Sum, params={"n": 3}).run(scheduler="sync", execution_summary=False)
    graph = build([Sum(n=3)])
    found = history(graph, list(graph.tasks), ["Tiny", "Sum", "Other"])
    assert set(found) == {"Tiny", "Sum"}  # Other never ran
    assert all(0 <= s < 5 for s in found.values())


def test_batch_seconds_must_be_a_number_of_seconds():
    for bad in (-1, "fast", float("nan"), True):
        with pytest.raises(SettingsError, match="batch_seconds"):
            settings.batch_seconds = bad
    settings.batch_seconds = 0  # off
    settings.batch_seconds = 0.1


# -- on a cluster ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def absolute_data_dir(tmp_path):
    """Outputs under one absolute folder every worker can reach."""
    daskflow.set_dir(tmp_path / "data")
    return tmp_path / "data"


def _dask_keys(root: Path) -> dict[str, str]:
    """``{task_id: the Dask key that ran it}`` from the manifests under ``root``."""
    out = {}
    for path in root.rglob("*.manifest"):
        m = json.loads(path.read_text())
        out[m["task_id"]] = m["dask_key"]
    return out


class Leaf(TaskPickle):
    i = daskflow.IntParameter()
    bad = daskflow.IntParameter(default=-1)

    def run(self):
        record(f"Leaf({self.i})")
        if self.i == self.bad:
            raise ValueError(f"leaf {self.i} is bad")
        self.save(self.i)


class Join(TaskPickle):
    n = daskflow.IntParameter()
    bad = daskflow.IntParameter(default=-1)

    def requires(self):
        return [Leaf(i=i, bad=self.bad) for i in range(self.n)]

    def run(self):
        self.save(sum(self.inputLoad()))


def test_a_fan_runs_in_batches_and_reports_every_task(client, absolute_data_dir, capsys):
    settings.batch_seconds = 10.0  # (the fewest batches: 2 per worker thread, however loaded)
    result = daskflow.Workflow(Join, params={"n": 60}).run(scheduler=client)
    assert result.status == "SUCCESS"
    assert Join(n=60).outputLoad() == sum(range(60))
    keys = _dask_keys(absolute_data_dir)
    leaves = Counter(v for k, v in keys.items() if k.startswith("Leaf_"))
    batches = [k for k in leaves if "-batch-" in k]
    assert batches and all(k.startswith("Leaf-batch-") for k in batches)
    assert len(leaves) == 8  # 60 leaves in 4 probes, then 4 batches
    assert sum(leaves.values()) == 60
    out, err = capsys.readouterr()
    assert "[daskflow] 61/61 tasks done: Join 1/1, Leaf 60/60" in err
    assert "* 61 ran successfully:" in out and "- 60 Leaf(" in out  # tasks, not batches
    assert sorted(records()) == sorted(f"Leaf({i})" for i in range(60))


def test_a_failure_in_a_batch_fails_only_its_task_and_what_needs_it(client, absolute_data_dir):
    settings.batch_seconds = 10.0  # (tiny tasks batch, however loaded the machine)
    result = daskflow.Workflow(Join, params={"n": 40, "bad": 17}).run(
        scheduler=client, abort=False, execution_summary=False
    )
    assert result.status == "FAILED"
    assert [repr(t) for t in result.failed] == ["Leaf(i=17, bad=17)"]
    assert isinstance(result.errors[Leaf(i=17, bad=17).task_id], ValueError)
    assert [type(t).__name__ for t in result.upstream_failed] == ["Join"]
    assert len(result.ran) == 39
    batch = _dask_keys(absolute_data_dir)
    keys = [batch.get(Leaf(i=i, bad=17).task_id) for i in range(40)]
    neighbours = [i for i in range(40) if i != 17 and "-batch-" in str(keys[i])]
    assert neighbours, "the leaves ran in batches"
    assert all(Leaf(i=i, bad=17).complete() for i in range(40) if i != 17)


class Kept(TaskCache):
    i = daskflow.IntParameter()

    def run(self):
        self.save({"i": self.i, "pid": os.getpid()})


class KeptJoin(TaskPickle):
    n = daskflow.IntParameter()

    def requires(self):
        return [Kept(i=i) for i in range(self.n)]

    def run(self):
        self.save(sorted(x["i"] for x in self.inputLoad()))


def test_in_memory_outputs_travel_out_of_a_batch(client):
    settings.batch_seconds = 10.0  # every Kept after the probes in as few batches as it can
    result = daskflow.Workflow(KeptJoin, params={"n": 30}).run(
        scheduler=client, execution_summary=False
    )
    assert result.status == "SUCCESS"
    assert KeptJoin(n=30).outputLoad() == list(range(30))
    assert Kept(i=29).outputLoad()["i"] == 29  # and reach this process


class DiesInBatch(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        record(f"DiesInBatch({self.i})")
        if self.i == 25:
            marker = Path(os.fspath(settings.dirpath)) / ".died"
            if not marker.exists():
                marker.touch()
                os._exit(1)
        self.save(self.i)


class DiesJoin(TaskPickle):
    def requires(self):
        return [DiesInBatch(i=i) for i in range(40)]

    def run(self):
        self.save(sum(self.inputLoad()))


@pytest.mark.slow
def test_a_worker_that_dies_mid_batch_loses_nothing_committed(one_worker_cluster):
    # the worker dies on task 25 of its batch; Dask runs the batch again on the restarted
    # worker, where the tasks the batch committed before 25 are not run again
    result = daskflow.Workflow(DiesJoin).run(scheduler=one_worker_cluster, execution_summary=False)
    assert result.status == "SUCCESS"
    assert DiesJoin().outputLoad() == sum(range(40))
    ran = Counter(records())
    assert ran["DiesInBatch(25)"] == 2
    assert all(ran[f"DiesInBatch({i})"] == 1 for i in range(40) if i != 25), ran


def test_a_forced_rerun_batches_from_history_and_keeps_one_manifest_per_task(
    client, absolute_data_dir
):
    settings.batch_seconds = 10.0  # (tiny tasks batch, however loaded the machine)
    daskflow.Workflow(Join, params={"n": 30}).run(scheduler=client, execution_summary=False)
    first = _dask_keys(absolute_data_dir)
    assert sum("-batch-" not in v for k, v in first.items() if k.startswith("Leaf_")) == 4
    result = daskflow.Workflow(Join, params={"n": 30}).run(
        scheduler=client, forced_all_upstream=True, execution_summary=False
    )
    assert len(result.ran) == 31
    again = _dask_keys(absolute_data_dir)
    leaves = [v for k, v in again.items() if k.startswith("Leaf_")]
    assert all("-batch-" in v for v in leaves), "known durations: no probes"
    manifests = list(absolute_data_dir.rglob("*.manifest"))
    assert len(manifests) == 31  # the rerun replaced each task's manifest
    assert Join(n=30).outputLoad() == sum(range(30))


def test_batch_seconds_0_sends_every_task_as_a_key_of_its_own(client, absolute_data_dir):
    settings.batch_seconds = 0
    daskflow.Workflow(Join, params={"n": 20}).run(scheduler=client, execution_summary=False)
    keys = _dask_keys(absolute_data_dir)
    assert len(keys) == 21 and not any("-batch-" in v for v in keys.values())


# -- on the default local scheduler ----------------------------------------------------------


two_cores = pytest.mark.skipif(
    dask.system.CPU_COUNT < 2, reason="the default runs in this thread alone on one core"
)


class Nap(TaskPickle):
    i = daskflow.IntParameter()
    bad = daskflow.IntParameter(default=-1)

    def run(self):
        record(f"Nap({self.i})")
        time.sleep(0.01)
        if self.i == self.bad:
            raise ValueError(f"nap {self.i} is bad")
        self.save(self.i)


class Naps(TaskPickle):
    bad = daskflow.IntParameter(default=-1)

    def requires(self):
        return [Nap(i=i, bad=self.bad) for i in range(30)]

    def run(self):
        self.save(sum(self.inputLoad()))


@two_cores
def test_the_default_scheduler_probes_then_batches(absolute_data_dir):
    # tasks of 10 ms against batches of 0.1 s: worth batching (26 of them are 0.26 s of work)
    # and quick enough to batch (under half of 0.1 s), on a fast machine or a loaded one
    # a first run: the probes (two per worker process), then the rest in batches
    result = daskflow.Workflow(Naps).run(execution_summary=False)
    assert len(result.ran) == 31 and Naps().outputLoad() == sum(range(30))
    keys = _dask_keys(absolute_data_dir)
    first = Counter(v for k, v in keys.items() if k.startswith("Nap_"))
    probes = 2 * min(dask.system.CPU_COUNT, 30)  # two per worker process
    assert sum(1 for v in first if "-batch-" not in v) == probes
    assert sum(n for v, n in first.items() if "-batch-" in v) == 30 - probes
    assert sorted(records()) == sorted(f"Nap({i})" for i in range(30))  # each once
    # a rerun: the manifests say how long a Nap takes, so no probes
    result = daskflow.Workflow(Naps).run(forced_all_upstream=True, execution_summary=False)
    assert len(result.ran) == 31
    keys = _dask_keys(absolute_data_dir)
    again = Counter(v for k, v in keys.items() if k.startswith("Nap_"))
    assert all("-batch-" in v for v in again) and 2 <= len(again) < 30
    assert Naps().outputLoad() == sum(range(30))
    assert len(list(absolute_data_dir.rglob("*.manifest"))) == 31


def test_a_small_fan_of_quick_tasks_is_not_batched_locally(absolute_data_dir):
    # 30 quick tasks against batches of 10 s: less than a batch of work in all, however
    # loaded the machine, so they stay one key each, and the local scheduler runs them here
    settings.batch_seconds = 10.0
    daskflow.Workflow(Join, params={"n": 30}).run(execution_summary=False)
    keys = _dask_keys(absolute_data_dir)
    assert len(keys) == 31 and not any("-batch-" in v for v in keys.values())


def test_a_staged_release_holds_back_what_the_probes_do_not_need():
    # Dask's local scheduler runs a part to its end: the first part is the probes alone
    # (and what they need), so tasks held back for them never wait on unrelated work
    graph, keys, b = _batcher(Sum(n=20, others=3), staged=True)
    first = [k for g in b.release() for k in g]
    assert len(first) == 4 and _families(graph, first) == {"Tiny"}
    rest = [k for g in b.learned(dict.fromkeys(first, 0.001)) for k in g]
    assert sorted(first + rest) == sorted(keys)
    assert _families(graph, rest) == {"Tiny", "Other", "Sum"}


@two_cores
def test_a_failure_in_a_local_batch_fails_only_its_task(absolute_data_dir):
    result = daskflow.Workflow(Naps, params={"bad": 6}).run(abort=False, execution_summary=False)
    assert [repr(t) for t in result.failed] == ["Nap(i=6, bad=6)"]
    assert [type(t).__name__ for t in result.upstream_failed] == ["Naps"]
    assert len(result.ran) == 29
    keys = _dask_keys(absolute_data_dir)
    batch = {v for k, v in keys.items() if "-batch-" in v}
    assert batch, "the naps after the probes ran in batches"


class Locky(TaskPickle):
    i = daskflow.IntParameter()
    handle = daskflow.Parameter(default=None, significant=False, optional=True)

    def run(self):
        self.save(self.i)


class LockyJoin(TaskPickle):
    def requires(self):
        import threading

        # the first tasks (the probes) pickle; from the 10th on, each holds a lock
        return [Locky(i=i, handle=threading.Lock() if i >= 10 else None) for i in range(20)]

    def run(self):
        self.save(sum(self.inputLoad()))


def test_tasks_that_cannot_be_sent_after_the_probes_fail_saying_why(client, absolute_data_dir):
    result = daskflow.Workflow(LockyJoin).run(
        scheduler=client, abort=False, execution_summary=False
    )
    assert result.status == "FAILED"
    assert {t.i for t in result.ran} == set(range(4))  # the probes
    failed = {t.task_id: result.errors[t.task_id] for t in result.failed}
    assert len(failed) == 16
    assert all("could not be sent to the cluster" in str(e) for e in failed.values())
    assert "lock" in str(next(iter(failed.values()))).lower()


class Mid(TaskPickle):
    j = daskflow.IntParameter()
    bad = daskflow.IntParameter(default=-1)

    def requires(self):
        return [Leaf(i=2 * self.j, bad=self.bad), Leaf(i=2 * self.j + 1, bad=self.bad)]

    def run(self):
        self.save(sum(self.inputLoad()))


class Apex(TaskPickle):
    bad = daskflow.IntParameter(default=-1)

    def requires(self):
        return [Mid(j=j, bad=self.bad) for j in range(12)]

    def run(self):
        self.save(sum(self.inputLoad()))


def test_batches_downstream_of_batches_take_their_own_inputs(client, absolute_data_dir):
    settings.batch_seconds = 10.0  # large batches on both levels, after the probes
    ok = daskflow.Workflow(Apex).run(scheduler=client, execution_summary=False)
    bad = daskflow.Workflow(Apex, params={"bad": 13}).run(
        scheduler=client, abort=False, execution_summary=False
    )
    assert ok.status == "SUCCESS" and Apex().outputLoad() == sum(range(24))
    assert all(Mid(j=j).outputLoad() == 4 * j + 1 for j in range(12))
    keys = _dask_keys(absolute_data_dir)
    assert any(v.startswith("Mid-batch-") for v in keys.values())  # the second level batched
    # a failure below one Mid fails that Mid alone, not the others of its batch
    assert [repr(t) for t in bad.failed] == ["Leaf(i=13, bad=13)"]
    assert sorted(repr(t) for t in bad.upstream_failed) == ["Apex(bad=13)", "Mid(j=6, bad=13)"]
    assert all(Mid(j=j, bad=13).complete() for j in range(12) if j != 6)
