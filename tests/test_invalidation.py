"""Change detection: under ``settings.invalidation = "code"`` or ``"code+data"`` a task whose
code or input changed runs again, with everything downstream of it; explain says why; accept
adopts outputs as they are; gc finds what no task owns.

Each step edits real module files in a temporary project folder and runs the flow in a fresh
subprocess that imports them, as a user editing and rerunning would.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import is_manifest

import daskflow
from daskflow import fingerprint, settings
from daskflow.explain import reasons
from daskflow.graph import build, plan
from daskflow.tasks import TaskPickle

HELPERS = """
SCALE = 2


def inner(x):
    return x * SCALE


def helper(x):
    return inner(x) + 1
"""

PIPELINE = """
import os

import daskflow
from daskflow.tasks import TaskPickle
from helpers_mod import helper


def ran(name):
    with open(os.environ["RUNS"], "a") as f:
        f.write(name + "\\n")


class Source(TaskPickle):
    def run(self):
        ran("Source")
        self.save(1)


class Compute(TaskPickle):
    def requires(self):
        return Source()

    def run(self):
        ran("Compute")
        self.save(helper(self.inputLoad()))


class Report(TaskPickle):
    def requires(self):
        return Compute()

    def run(self):
        ran("Report")
        self.save({"value": self.inputLoad()})


class ReadCsv(TaskPickle):
    reads = [os.environ["CSV"]]

    def run(self):
        ran("ReadCsv")
        with open(os.environ["CSV"]) as f:
            self.save(f.read())
"""

STEP = """
import json, sys
import daskflow
import pipeline
daskflow.set_dir(sys.argv[1])
daskflow.settings.invalidation = sys.argv[2]
action, name = sys.argv[3], sys.argv[4]
flow = daskflow.Workflow(getattr(pipeline, name))
if action == "run":
    flow.run(execution_summary=False)
elif action == "force":
    flow.run(forced_all=True, execution_summary=False)
elif action == "explain":
    flow.preview(explain=True)
elif action == "accept":
    print(json.dumps([repr(t) for t in flow.accept()]))
elif action == "complete":
    print(json.dumps(flow.complete()))
"""


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "helpers_mod.py").write_text(HELPERS)
    (folder / "pipeline.py").write_text(PIPELINE)
    (folder / "step.py").write_text(STEP)
    (tmp_path / "input.csv").write_text("a,b\n1,2\n")
    return Project(folder, tmp_path / "root", tmp_path / "runs", tmp_path / "input.csv")


class Project:
    def __init__(self, folder: Path, root: Path, runs: Path, csv: Path) -> None:
        self.folder, self.root, self.runs, self.csv = folder, root, runs, csv

    def step(self, action: str, mode: str, task: str = "Report") -> str:
        env = {**os.environ, "RUNS": str(self.runs), "CSV": str(self.csv)}
        env["PYTHONPATH"] = os.pathsep.join([str(self.folder), env.get("PYTHONPATH", "")])
        done = subprocess.run(
            [
                sys.executable,
                "-B",
                str(self.folder / "step.py"),
                str(self.root),
                mode,
                action,
                task,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.folder,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def run(self, mode: str, task: str = "Report") -> list[str]:
        """Run the flow; which tasks ran."""
        self.runs.unlink(missing_ok=True)
        self.step("run", mode, task)
        return self.runs.read_text().split() if self.runs.exists() else []

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.folder / name
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new))


def test_a_helper_two_calls_away_changes_the_task_and_its_downstream(project):
    assert project.run("code") == ["Source", "Compute", "Report"]
    assert project.run("code") == []
    project.edit("helpers_mod.py", "return x * SCALE", "return x * SCALE * 10")
    assert project.run("exists") == []  # d6tflow's rule: outputs exist, nothing runs
    explained = project.step("explain", "code")
    assert "Compute()" in explained and "code changed" in explained
    assert "helpers_mod.inner" in explained and "helpers_mod.py" in explained
    assert "Report(): upstream pending" in explained
    assert project.run("code") == ["Compute", "Report"]  # Source's code did not change
    with open(project.root / "Report" / "Report__99914b932b-data.pkl", "rb") as f:
        assert pickle.load(f) == {"value": 21}
    assert project.run("code") == []


def test_a_module_constant_counts_and_comments_or_formatting_do_not(project):
    project.run("code")
    project.edit("helpers_mod.py", "def inner(x):\n", "# scaled\ndef inner( x ):  # really\n\n")
    project.edit(
        "helpers_mod.py", "    return inner(x) + 1", '    """Doc."""\n    return (inner(x) + 1)'
    )
    assert project.run("code") == []
    project.edit("helpers_mod.py", "SCALE = 2", "SCALE = 3")
    assert project.run("code") == ["Compute", "Report"]


def test_version_attribute_replaces_the_computed_fingerprint(project):
    project.edit(
        "pipeline.py",
        "class Compute(TaskPickle):\n",
        'class Compute(TaskPickle):\n    version = "1"\n',
    )
    project.run("code")
    project.edit("helpers_mod.py", "return x * SCALE", "return x * SCALE * 10")
    assert project.run("code") == []  # the author decides: still version 1
    project.edit("pipeline.py", 'version = "1"', 'version = "2"')
    assert "version '1' -> '2'" in project.step("explain", "code")
    assert project.run("code") == ["Compute", "Report"]


def test_an_external_file_rewritten_counts_under_code_and_data_only(project):
    assert project.run("code+data", "ReadCsv") == ["ReadCsv"]
    time.sleep(0.01)
    project.csv.write_text("a,b\n1,3\n")
    assert project.run("code", "ReadCsv") == []
    assert "input changed: file" in project.step("explain", "code+data", "ReadCsv")
    assert project.run("code+data", "ReadCsv") == ["ReadCsv"]
    assert project.run("code+data", "ReadCsv") == []


def test_an_upstream_remade_makes_its_readers_pending_under_code_and_data(project):
    project.run("code+data")
    project.step("force", "code+data", "Source")  # Source alone is made again
    assert project.run("code") == []  # its readers' code did not change
    explained = project.step("explain", "code+data")
    assert "Compute(): input changed: Source() was remade" in explained
    assert project.run("code+data") == ["Compute", "Report"]  # but what they read did
    assert project.run("code+data") == []


def test_accept_makes_tasks_current_without_running_them(project):
    project.run("code")
    project.edit("helpers_mod.py", "return x * SCALE", "return SCALE * x")  # a refactor
    assert json.loads(project.step("complete", "code")) is False
    accepted = json.loads(project.step("accept", "code"))
    assert accepted == ["Compute()"]
    assert json.loads(project.step("complete", "code")) is True
    assert project.run("code") == []


def test_outputs_without_a_manifest_are_complete_under_exists_and_unknown_otherwise(project):
    project.run("exists")
    for manifest in project.root.rglob("*"):
        if is_manifest(manifest) and manifest.is_file():
            manifest.unlink()  # as d6tflow (or daskflow before provenance) left them
    assert json.loads(project.step("complete", "exists")) is True
    assert json.loads(project.step("complete", "code")) is False
    assert "no manifest" in project.step("explain", "code")
    assert json.loads(project.step("accept", "code")) == ["Source()", "Compute()", "Report()"]
    assert project.run("code+data") == []


def test_every_commit_writes_a_manifest_with_its_provenance(project):
    project.run("exists")
    (manifest,) = (project.root / ".manifests" / "Compute").iterdir()
    content = json.loads(manifest.read_text())
    assert content["task_id"] == "Compute__99914b932b" and content["task_family"] == "Compute"
    assert {"Compute.run", "Compute.requires", "helpers_mod.helper", "helpers_mod.inner"} <= set(
        content["covered"]
    )
    assert "constant SCALE" in content["covered"]
    assert content["upstream"] == {"Source__99914b932b": content["upstream"]["Source__99914b932b"]}
    assert content["finished"] >= content["started"] > 0
    assert content["libraries"]["daskflow"] and content["libraries"]["dask"]
    assert content["host"] and content["dask_key"] == "Compute__99914b932b"


def test_gc_lists_what_no_task_owns_and_deletes_only_with_yes(project):
    project.run("exists")
    stale = project.root / "Source" / "Source_old_0123456789-data.pkl"
    stale.write_bytes(b"x" * 100)
    temp = project.root / "Compute" / ".Compute__99914b932b-data.pkl.0123456789abcde.tmp"
    temp.write_bytes(b"y" * 10)
    os.utime(temp, (time.time() - 600, time.time() - 600))  # left by a writer long gone
    env = {**os.environ, "RUNS": str(project.runs), "CSV": str(project.csv)}
    env["PYTHONPATH"] = os.pathsep.join([str(project.folder), env.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        "-m",
        "daskflow",
        "gc",
        "pipeline.py:Report",
        "--dir",
        str(project.root),
    ]
    listed = subprocess.run(
        command, env=env, capture_output=True, text=True, cwd=project.folder, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert str(stale) in listed.stdout and str(temp) in listed.stdout
    assert "2 files, 110 bytes" in listed.stdout
    assert stale.exists() and temp.exists()
    deleted = subprocess.run(
        [*command, "--yes"],
        env=env,
        capture_output=True,
        text=True,
        cwd=project.folder,
        timeout=120,
    )
    assert deleted.returncode == 0, deleted.stderr
    assert not stale.exists() and not temp.exists()
    assert project.run("exists") == []  # everything reachable stayed


class LongId(TaskPickle):
    a = daskflow.Parameter()
    b = daskflow.Parameter()
    c = daskflow.Parameter()
    d = daskflow.Parameter()

    def run(self):
        self.save(1)


def test_gc_keeps_the_lease_of_a_task_with_a_long_id(tmp_path):
    # a lease's name is fitted to the file-name limit on its own, not as a manifest's is
    from daskflow import leases
    from daskflow.explain import garbage
    from daskflow.leases import lease_name

    daskflow.set_dir(tmp_path)
    task = LongId(a="a" * 50, b="b" * 50, c="c" * 50, d="d" * 50)
    assert 200 < len(task.task_id) < 240
    daskflow.run(task, execution_summary=False)
    held = leases.take(task.task_id, task.own_targets())  # as while a run holds it
    assert Path(task.output().path).with_name(lease_name(task.task_id)).exists()
    stale = tmp_path / "LongId" / "old-data.pkl"
    stale.write_bytes(b"x")
    try:
        assert [p for p, _ in garbage(plan(build([task])), str(tmp_path), {})] == [str(stale)]
    finally:
        assert isinstance(held, leases.Lease)
        held.release()


def test_fingerprint_costs_little_per_task():
    """A pass that asks for many tasks of one class computes its fingerprint once (its
    memo); the covered functions are parsed once per code object."""
    from daskflow.fingerprint import _parsed

    class Local(TaskPickle):
        def run(self):
            self.save(textwrap.dedent("x"))

    memo: dict = {}
    first = fingerprint.fingerprint(Local, memo)
    parsed = len(_parsed)
    assert fingerprint.fingerprint(Local, memo) is first and len(_parsed) == parsed
    assert fingerprint.fingerprint(Local) == first and len(_parsed) == parsed


def test_a_helper_redefined_in_the_same_process_changes_the_fingerprint():
    """As a notebook cell that redefines a helper: nothing of the first fingerprint is kept
    past the call that made it, so the task is pending at once, and again complete after
    it ran with the new helper."""
    namespace: dict = {"TaskPickle": TaskPickle, "__name__": __name__}
    exec("def helper(x):\n    return x + 1\n", namespace)
    exec(
        "class Uses(TaskPickle):\n    def run(self):\n        self.save(helper(1))\n",
        namespace,
    )
    settings.invalidation = "code"
    task = namespace["Uses"]()
    before = fingerprint.fingerprint(type(task)).key
    daskflow.run(task, execution_summary=False)
    assert task.complete() and task.outputLoad() == 2
    exec("def helper(x):\n    return x + 2\n", namespace)
    assert fingerprint.fingerprint(type(task)).key != before
    assert not task.complete()
    daskflow.run(task, execution_summary=False)
    assert task.complete() and task.outputLoad() == 3


def test_preview_with_explain_makes_one_status_pass(monkeypatch, capsys):
    from daskflow import graph

    settings.invalidation = "code"
    flow = daskflow.Workflow(S3Reader)  # (any two tasks: local here)
    passes = []
    completeness = graph.completeness
    monkeypatch.setattr(
        graph, "completeness", lambda *a, **k: passes.append(1) or completeness(*a, **k)
    )
    flow.preview(explain=True)
    out = capsys.readouterr().out
    assert "PENDING" in out and "S3Reader(): output missing" in out
    assert len(passes) == 1  # the tree and the reasons share it


class S3Source(TaskPickle):
    def run(self):
        self.save(1)


class S3Reader(TaskPickle):
    def requires(self):
        return S3Source()

    def run(self):
        self.save(self.inputLoad() + 1)


def test_code_mode_explain_and_accept_on_s3(s3, monkeypatch):
    settings.invalidation = "code+data"
    flow = daskflow.Workflow(S3Reader)
    flow.run(execution_summary=False)
    keys = s3.fs.find(s3.bucket)
    assert sum(is_manifest(k) for k in keys) == 2  # one beside each task's outputs
    assert flow.complete()
    monkeypatch.setattr(S3Reader, "version", "2", raising=False)
    assert not flow.complete()
    why = reasons(build([S3Reader()]))
    assert why == {
        S3Reader().task_id: "code changed: version None -> '2' (its last run took "
        + why[S3Reader().task_id].rsplit("took ", 1)[1]
    }
    assert [repr(t) for t in flow.accept()] == ["S3Reader()"]
    assert flow.complete()
    s3_before = len(s3.fs.find(s3.bucket))
    flow.run(execution_summary=False)
    assert len(s3.fs.find(s3.bucket)) == s3_before  # nothing written: nothing ran


def test_cli_preview_explain_and_accept(project):
    project.run("code")
    project.edit("helpers_mod.py", "return x * SCALE", "return SCALE * x")
    env = {**os.environ, "RUNS": str(project.runs), "CSV": str(project.csv)}
    env["PYTHONPATH"] = os.pathsep.join([str(project.folder), env.get("PYTHONPATH", "")])
    setting = "import daskflow; daskflow.settings.invalidation = 'code'; "

    def cli(*args: str) -> str:
        code = setting + "from daskflow.cli import main; raise SystemExit(main())"
        argv = [sys.executable, "-c", code, *args, "pipeline.py:Report", "--dir", str(project.root)]
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, cwd=project.folder, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    explained = cli("preview", "--explain")
    assert "Compute(): code changed: changed helpers_mod.inner" in explained
    assert "accepted:\n  Compute()" in cli("accept")
    assert "Every task is complete." in cli("preview", "--explain")


def test_manifests_name_source_files_relative_to_their_import_root(project):
    project.run("code")
    (manifest,) = (project.root / ".manifests" / "Compute").iterdir()
    covered = json.loads(manifest.read_text())["covered"]
    files = {where for where, _ in covered.values() if where}
    assert "helpers_mod.py" in files and "pipeline.py" in files, files
    assert not [f for f in files if os.path.isabs(f)], files
