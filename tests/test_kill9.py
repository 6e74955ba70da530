"""``kill -9`` at each named point of a task's write (tests/kill_flow.py): nothing partial
counts as complete, the next run finishes at once (no lease to wait out) with outputs of one
run, and what the killed process left is cleaned by that run, by ``reset()`` or by gc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import is_manifest

import daskflow
from daskflow.explain import garbage
from daskflow.graph import build, plan

HERE = Path(__file__).resolve().parent
POINTS = ["lease create", "lease renewal", "commit", "manifest", "dataset"]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_at_each_point_leaves_nothing_that_counts_or_blocks(point, tmp_path):
    root = str(tmp_path / "root")
    env = {**os.environ, "RUNS": str(tmp_path / "runs"), "FLOW_PAUSE": "0"}
    killed = _run(str(HERE / "kill_flow.py"), root, point, env=env)
    assert killed.returncode == -signal.SIGKILL, (point, killed.stdout, killed.stderr[-2000:])

    sys.path.insert(0, str(HERE))
    try:
        import concurrent_flow
    finally:
        sys.path.remove(str(HERE))
    daskflow.set_dir(root)
    before = plan(build([concurrent_flow.Top()]))
    assert not before.complete[concurrent_flow.Top().task_id]
    if point in ("commit", "dataset"):  # the task being written is not complete
        died = "Multi__99914b932b" if point == "commit" else "Dataset__99914b932b"
        assert not before.complete[died], point

    again = _run(str(HERE / "concurrent_flow.py"), root, "P2", env=env)  # at once: no waiting
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["status"] == "SUCCESS"
    folder = Path(root) / "Multi"
    labels = {p.read_bytes() for p in folder.glob("Multi__99914b932b-*.pkl")}
    assert len(labels) == 1  # six outputs of one run

    left = [p for p, _ in garbage(plan(build([concurrent_flow.Top()])), root, {})]
    for path in left:  # what the killed process left that nobody owns: gc deletes it
        os.remove(path)
    files = [p for p in Path(root).rglob("*") if p.is_file()]
    strays = [str(p) for p in files if ".lease" in p.name or p.name.endswith(".tmp")]
    assert strays == [], strays
    assert all(is_manifest(p) or not p.name.startswith(".") for p in files), files
    assert daskflow.Workflow(concurrent_flow.Top).complete()
