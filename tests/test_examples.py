"""Every example in ``examples/`` runs as a newcomer runs it: ``python examples/x.py ...`` in a
fresh folder, checked by exit status, the lines it prints and the outputs it leaves; plus
calls of their ``main()`` where the returned values say more.

The distributed example starts (and must close) its own ``LocalCluster``; the S3 example runs
against the session's moto server (``s3_server`` / ``s3`` in conftest.py) through the
environment variables it reads.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from helpers import is_manifest

import daskflow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MARKER = "DASKFLOW_TEST_PROCESS_MARKER"


def run_example(script: str, *args: str, env: dict[str, str] | None = None, timeout=120):
    """``python examples/{script} *args`` in the current (temporary) folder; every process
    it starts carries a marker in its environment, so leftovers can be found."""
    marker = uuid.uuid4().hex
    full_env = {**os.environ, **(env or {}), MARKER: marker}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    proc.marker = marker
    return proc


def processes_with_marker(marker: str) -> list[int]:
    """Live processes whose environment holds ``MARKER=marker`` (Linux: /proc)."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:  # gone, or not ours to read
                pass
    return found


def ok(proc) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture
def examples_importable(monkeypatch):
    """``examples/`` on sys.path (s3_pipeline imports quickstart by name), and the example
    modules forgotten afterwards."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    names = ("quickstart", "sweep", "bigger_than_memory", "s3_pipeline")
    yield lambda name: importlib.import_module(name)
    for name in names:
        sys.modules.pop(name, None)


# -- quickstart ------------------------------------------------------------------------------


def test_quickstart_as_in_the_readme(tmp_path):
    out = ok(run_example("quickstart.py"))  # no argument: ./data, the README's command
    assert "model: {'slope': 2.0, 'intercept': 1.0}" in out
    assert "Execution Summary" in out and "3 ran successfully" in out
    assert list((tmp_path / "data" / "TaskTrain").glob("TaskTrain_False_*-data.pkl"))
    # each step under its label, with the statuses that label announces
    labels = re.findall(r"^== (.*) ==$", out, re.MULTILINE)
    assert [label.split(":")[0] for label in labels] == [
        "preview before running",
        "run",
        "load the trained model",
        "preview again",
        "reset TaskGetData",
        "run again",
    ]
    steps = dict(zip(labels, re.split(r"^== .* ==$", out, flags=re.MULTILINE)[1:], strict=True))
    statuses = [re.findall(r"\((PENDING|COMPLETE)\)", text) for text in steps.values()]
    assert statuses == [["PENDING"] * 3, [], [], ["COMPLETE"] * 3, ["PENDING"] * 3, []]
    # it ends on the rerun: the reset tasks ran again and the model loads as before
    last = list(steps.values())[-1]
    assert "3 ran successfully" in last and "model: {'slope': 2.0, 'intercept': 1.0}" in last
    assert out.rstrip().endswith("done: the outputs are under data/")


def test_quickstart_main(tmp_path, examples_importable):
    quickstart = examples_importable("quickstart")
    model = quickstart.main(str(tmp_path / "out"))
    assert model == pytest.approx({"slope": 2.0, "intercept": 1.0})
    assert (tmp_path / "out" / "TaskGetData").is_dir()


# -- sweep -----------------------------------------------------------------------------------


def _counts(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^  (Task\w+): (\d+)$", out, re.MULTILINE)}


def test_sweep_runs_shared_tasks_once_and_prints_the_table(tmp_path):
    out = ok(run_example("sweep.py", str(tmp_path / "sweep")))
    assert "tasks run for 4 flows:" in out
    assert _counts(out) == {"TaskGetData": 1, "TaskPreprocess": 2, "TaskTrain": 4}
    assert "Scheduled 7 tasks" in out  # 4 flows, one graph: 1 + 2 + 4 tasks
    header = next(line for line in out.splitlines() if "rmse" in line)
    assert header.split() == ["do_preprocess", "model", "slope", "intercept", "rmse"]
    flows = re.findall(r"^(do_preprocess_\w+_model_\w+)\s", out, re.MULTILINE)
    assert sorted(flows) == sorted(
        f"do_preprocess_{p}_model_{m}" for p in (True, False) for m in ("ols", "ridge")
    )
    # a second run finds every output complete and runs nothing
    again = ok(run_example("sweep.py", str(tmp_path / "sweep")))
    assert _counts(again) == {"TaskGetData": 0, "TaskPreprocess": 0, "TaskTrain": 0}


def test_sweep_main_returns_the_comparison(tmp_path, examples_importable):
    sweep = examples_importable("sweep")
    table = sweep.main(str(tmp_path / "sweep"), scheduler="sync")
    assert len(table) == 4 and list(table.columns) == [
        "do_preprocess",
        "model",
        "slope",
        "intercept",
        "rmse",
    ]
    raw_ols = table.loc["do_preprocess_False_model_ols"]
    assert raw_ols.slope == pytest.approx(3.0, abs=0.1)  # y = 3x + 2 + noise
    assert raw_ols.rmse == pytest.approx(10.0, abs=2.0)  # the noise's spread
    # the same fit either way; ridge shrinks only the small standardized slope noticeably
    assert table.loc["do_preprocess_True_model_ols"].rmse == pytest.approx(raw_ols.rmse)
    assert table.rmse.idxmax() == "do_preprocess_True_model_ridge"
    assert list(table.rmse) == sorted(table.rmse)


# -- bigger than memory ----------------------------------------------------------------------


@pytest.mark.slow
def test_bigger_than_memory_on_a_local_cluster(tmp_path):
    proc = run_example(
        "bigger_than_memory.py",
        str(tmp_path / "big"),
        "--workers",
        "2",
        "--rows",
        "200000",
        "--partitions",
        "8",
    )
    out = ok(proc)
    assert "cluster dashboard: http://" in out
    assert "events: 200,000 rows in 8 parts" in out
    assert "daily stats (90 days):" in out
    # the event table: 8 Parquet parts, committed with the marker written last
    (events,) = [p for p in (tmp_path / "big" / "TaskEvents").iterdir() if not is_manifest(p)]
    assert sorted(p.name for p in events.iterdir()) == ["_SUCCESS"] + [
        f"part.{i}.parquet" for i in range(8)
    ]
    # the aggregate: one row per day, counting every event
    (stats,) = (tmp_path / "big" / "TaskDailyStats").glob("*.parquet")
    daily = pd.read_parquet(stats)
    assert len(daily) == 90 and list(daily.columns) == ["count", "revenue", "mean"]
    assert daily["count"].sum() == 200_000
    assert daily["mean"].between(30, 50).all()  # gamma(2, 20): mean 40
    # the script closed its cluster: no worker or nanny process is left
    if Path("/proc/self/environ").exists():
        assert processes_with_marker(proc.marker) == []


def test_bigger_than_memory_builds_the_table_lazily(examples_importable):
    btm = examples_importable("bigger_than_memory")
    part = btm.make_events(3, rows=1000, days=7)
    assert list(part.columns) == list(btm.EVENTS_META.columns)
    assert (part.dtypes == btm.EVENTS_META.dtypes).all()
    assert part.day.nunique() == 7 and len(part) == 1000
    assert part.equals(btm.make_events(3, rows=1000, days=7))  # the same on any worker


# -- S3 --------------------------------------------------------------------------------------


def objects(s3, under: str) -> list[str]:
    """The keys of the objects under ``under`` in the test's bucket, read behind daskflow's
    back with the fixture's own (uncached) s3fs filesystem."""
    found = s3.fs.find(f"{s3.bucket}/{under}")
    return sorted(path.split("/", 1)[1] for path in found if not is_manifest(path))


def test_s3_pipeline_without_settings_explains_what_to_set(monkeypatch):
    for name in ("DASKFLOW_S3_BUCKET", "DASKFLOW_S3_ENDPOINT", "DASKFLOW_S3_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    proc = run_example("s3_pipeline.py")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    for name in ("DASKFLOW_S3_BUCKET", "DASKFLOW_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "daskflow[s3]"):
        assert name in proc.stderr
    assert proc.stdout == ""


def test_s3_pipeline_on_moto(s3):
    env = {
        "DASKFLOW_S3_BUCKET": s3.bucket,
        "DASKFLOW_S3_ENDPOINT": s3.endpoint,
        "DASKFLOW_S3_PREFIX": "examples/quickstart",
    }  # the credentials: the s3_server fixture's AWS_* variables, inherited
    out = ok(run_example("s3_pipeline.py", env=env))
    assert "model: {'slope': 2.0, 'intercept': 1.0}" in out
    root = f"s3://{s3.bucket}/examples/quickstart"
    assert f"model stored at: {root}/TaskTrain/TaskTrain_False_" in out
    keys = objects(s3, "examples/quickstart")
    assert any(k.startswith("examples/quickstart/TaskTrain/") for k in keys), keys
    assert any(k.startswith("examples/quickstart/TaskGetData/") for k in keys), keys
    # nothing written locally
    assert not Path("data").exists()
    # a second run finds the data in the bucket; the in-memory TaskPreprocess (gone with the
    # first process) and TaskTrain after it run again
    again = ok(run_example("s3_pipeline.py", env=env))
    assert "* 1 complete ones were encountered:\n    - 1 TaskGetData()" in again
    assert "* 2 ran successfully:" in again


def test_s3_pipeline_missing_bucket_is_one_clear_line(s3):
    env = {"DASKFLOW_S3_BUCKET": f"{s3.bucket}-missing", "DASKFLOW_S3_ENDPOINT": s3.endpoint}
    proc = run_example("s3_pipeline.py", env=env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"bucket s3://{s3.bucket}-missing does not exist" in proc.stderr


def test_s3_pipeline_main_and_location(s3, examples_importable, monkeypatch):
    s3_pipeline = examples_importable("s3_pipeline")
    url, options = s3_pipeline.s3_location(
        {"DASKFLOW_S3_BUCKET": "b", "DASKFLOW_S3_ENDPOINT": "http://e:9000"}
    )
    assert url == "s3://b/pipelines/quickstart"
    assert options["client_kwargs"] == {"endpoint_url": "http://e:9000"}
    url, options = s3_pipeline.s3_location({"DASKFLOW_S3_BUCKET": "b", "DASKFLOW_S3_PREFIX": ""})
    assert url == "s3://b" and "client_kwargs" not in options  # AWS S3 itself
    with pytest.raises(s3_pipeline.MissingSettings, match="DASKFLOW_S3_BUCKET"):
        s3_pipeline.s3_location({})

    monkeypatch.setenv("DASKFLOW_S3_BUCKET", s3.bucket)
    monkeypatch.setenv("DASKFLOW_S3_ENDPOINT", s3.endpoint)
    monkeypatch.setenv("DASKFLOW_S3_PREFIX", "in-process")
    model = s3_pipeline.main()
    assert model == pytest.approx({"slope": 2.0, "intercept": 1.0})
    assert daskflow.settings.dirpath == f"s3://{s3.bucket}/in-process"
    assert any(k.startswith("in-process/TaskTrain/") for k in objects(s3, "in-process"))


# -- the migration note ----------------------------------------------------------------------


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_migration_note_code_is_valid_and_names_real_api():
    text = (EXAMPLES / "migrating_from_d6tflow.md").read_text()
    assert "import daskflow as d6tflow" in text
    blocks = _python_blocks(text)
    assert blocks
    for block in blocks:
        ast.parse(block)  # every snippet is Python
    # every d6tflow.x.y its code uses exists in daskflow
    chains = set(re.findall(r"\bd6tflow((?:\.[A-Za-z_]\w*)+)", "\n".join(blocks)))
    assert {".set_dir", ".settings.storage_options", ".Workflow"} <= chains
    for chain in sorted(chains):
        obj = daskflow
        for part in chain.strip(".").split("."):
            assert hasattr(obj, part), f"d6tflow{chain}: daskflow has no {part!r}"
            obj = getattr(obj, part)
    # the differences it lists are the README's
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert "Where daskflow differs" in readme
    for phrase in ("Task_Under", "task_group", "DictParameter", "OutputKeyError", "confirm=True"):
        assert phrase in text and phrase in readme
