"""What a task owns (daskflow.owned), and ``gc``, which deletes only what no task owns: meta
files, the tasks a ``run()`` yielded, a running task's lease and temporaries, every value of
a parameter sweep; locally, on S3, and in a root copied elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import daskflow
from daskflow import leases, manifests
from daskflow.explain import garbage
from daskflow.graph import build, plan
from daskflow.targets.names import temporary_prefix
from daskflow.tasks import TaskPickle


class Leaf(TaskPickle):
    k = daskflow.IntParameter()

    def run(self):
        self.save(self.k)
        self.metaSave({"leaf": self.k})


class Dyn(TaskPickle):
    k = daskflow.IntParameter()

    def run(self):
        leaf = yield Leaf(k=self.k * 10)  # a dynamic dependency of a dynamic dependency
        self.save(leaf.load() + self.k)
        self.metaSave({"dyn": self.k})


class Parent(TaskPickle):
    def run(self):
        got = yield Dyn(k=7)
        self.save(got.load() + 1)
        self.metaSave({"rows": 78})


class After(TaskPickle):
    def requires(self):
        return Parent()

    def run(self):
        self.save(self.inputLoad() * 2)


def _listed(root: str, options: dict | None = None) -> list[str]:
    return [p for p, _ in garbage(plan(build([After()])), root, options or {})]


def _files(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if p.is_file()}


def test_gc_keeps_meta_files_and_the_tasks_a_run_yielded(tmp_path):
    daskflow.set_dir(tmp_path / "data")
    daskflow.run(After(), execution_summary=False)
    root = tmp_path / "data"
    everything = _files(root)
    assert {Path(p).parent.name for p in everything} >= {"Leaf", "Dyn", "Parent", "After"}
    stale = root / "Parent" / "Parent_old_0123456789-data.pkl"
    stale.write_bytes(b"x")
    assert _listed(str(root)) == [str(stale)]
    stale.unlink()
    assert _files(root) == everything  # gc --yes would delete nothing
    assert Parent().outputLoadMeta() == {"rows": 78}
    assert Dyn(k=7).outputLoadMeta() == {"dyn": 7}
    assert Leaf(k=70).outputLoad() == 70
    assert daskflow.Workflow(After).complete()


def test_the_manifest_names_the_yielded_tasks_files_relative_to_the_root(tmp_path):
    daskflow.set_dir(tmp_path / "data")
    daskflow.run(Parent(), execution_summary=False)
    (manifest,) = (tmp_path / "data" / ".manifests" / "Parent").iterdir()
    dynamic = json.loads(manifest.read_text())["dynamic"]
    assert dynamic == {
        Dyn(k=7).task_id: [
            f"./Dyn/{Dyn(k=7).task_id}-data.pkl",
            f"./Dyn/{Dyn(k=7).task_id}-meta.pickle",
        ]
    }
    (inner,) = (tmp_path / "data" / ".manifests" / "Dyn").iterdir()
    assert list(json.loads(inner.read_text())["dynamic"]) == [Leaf(k=70).task_id]


def test_gc_keeps_the_yielded_tasks_of_a_root_copied_elsewhere(tmp_path):
    daskflow.set_dir(tmp_path / "first")
    daskflow.run(After(), execution_summary=False)
    shutil.copytree(tmp_path / "first", tmp_path / "second")
    shutil.rmtree(tmp_path / "first")
    daskflow.set_dir(tmp_path / "second")
    assert _listed(str(tmp_path / "second")) == []


def test_a_running_tasks_lease_and_temporaries_are_its_own_until_the_lease_goes(tmp_path):
    daskflow.set_dir(tmp_path / "data")
    task = Leaf(k=1)
    target = task.output()
    lease = leases.take(task.task_id, [target], run="test")
    assert isinstance(lease, leases.Lease)
    folder = Path(target.path).parent
    temporary = folder / (temporary_prefix(Path(target.path).name) + "0123456789abcde.tmp")
    temporary.write_bytes(b"half written")
    cut = folder / (leases.lease_name(task.task_id) + ".0a1b2c3d")  # a renewal cut short
    cut.write_bytes(b"{}")
    nested = folder / (temporary_prefix(Path(target.path).name) + "fedcba987654321.tmp")
    nested.mkdir()
    (nested / "part.0.parquet").write_bytes(b"a dataset being written")
    try:
        listed = [p for p, _ in garbage(plan(build([task])), str(tmp_path / "data"), {})]
        assert listed == []  # while a run holds the lease, what it writes is its own
    finally:
        lease.release()
    listed = [p for p, _ in garbage(plan(build([task])), str(tmp_path / "data"), {})]
    assert listed == [str(cut)]  # the temporaries are young: a writer may have just begun
    old = time.time() - 600
    for path in (temporary, cut, nested / "part.0.parquet"):
        os.utime(path, (old, old))
    listed = [p for p, _ in garbage(plan(build([task])), str(tmp_path / "data"), {})]
    dead = sorted([str(temporary), str(cut), str(nested / "part.0.parquet")])
    assert sorted(listed) == dead  # a dead writer's leftovers


def test_gc_on_s3_keeps_meta_files_and_yielded_tasks(s3):
    daskflow.run(After(), execution_summary=False)
    before = set(s3.objects())
    s3.fs.pipe(f"{s3.bucket}/{s3.prefix}/Dyn/Dyn_old_0123456789-data.pkl", b"x")
    assert _listed(s3.url, daskflow.settings.storage_options) == [
        f"{s3.bucket}/{s3.prefix}/Dyn/Dyn_old_0123456789-data.pkl"
    ]
    assert any("Leaf" in key for key in before) and any("meta" in key for key in before)
    assert Dyn(k=7).outputLoadMeta() == {"dyn": 7}


SWEEP = """
import daskflow
from daskflow.tasks import TaskPickle


class Step(TaskPickle):
    n = daskflow.IntParameter()

    def run(self):
        self.save(self.n)
"""


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "daskflow", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gc_keeps_every_value_of_a_parameter_given_several_times(tmp_path):
    (tmp_path / "sweep.py").write_text(textwrap.dedent(SWEEP))
    root = tmp_path / "out"
    for n in ("1", "2", "3"):
        ran = _cli(tmp_path, "run", "sweep.py:Step", "-p", f"n={n}", "--dir", str(root), "--quiet")
        assert ran.returncode == 0, ran.stderr
    sweep = ["-p", "n=1", "-p", "n=2"]
    gc = _cli(tmp_path, "gc", "sweep.py:Step", *sweep, "--dir", str(root), "--yes")
    assert gc.returncode == 0, gc.stderr
    left = sorted(p.name for p in (root / "Step").iterdir())
    assert [name.split("_")[1] for name in left] == ["1", "2"], left
    assert "deleted 2 files" in gc.stdout  # n=3's output and its manifest


def test_a_parameter_given_twice_is_refused_outside_gc(tmp_path):
    (tmp_path / "sweep.py").write_text(textwrap.dedent(SWEEP))
    ran = _cli(tmp_path, "run", "sweep.py:Step", "-p", "n=1", "-p", "n=2", "--dir", str(tmp_path))
    assert ran.returncode != 0
    assert "--param n is given twice ('1', '2')" in ran.stderr


@pytest.mark.parametrize(
    ("url", "folder", "entry"),
    [
        ("s3://b/data/Dyn/x.pkl", "s3://b/data/Task", "./Dyn/x.pkl"),
        ("data/Dyn/x.pkl", "data/Task", "./Dyn/x.pkl"),
        ("/elsewhere/x.pkl", "/root/Task", "/elsewhere/x.pkl"),
    ],
)
def test_recorded_entries_round_trip(url, folder, entry):
    assert manifests.relative(url, folder) == entry
    assert manifests.resolved(entry, folder) == url
