"""d6tflow's project template runs unchanged through the import alias, and daskflow finds
complete what d6tflow 0.2.8 wrote for it.

``d6tflow_template/project/`` is a project in the layout of d6tflow's template (the
d6t/d6tflow-template repository: ``run.py``, ``tasks.py``, ``cfg.py``, ``visualize.py``),
with the template's task classes and parameters, including its
``model = d6tflow.BoolParameter(default='rf')``; ``d6tflow_template/README.md`` says why the
template's own files are not stored here. ``d6tflow_outputs.json`` and ``d6tflow_outputs/``
are what the real d6tflow 0.2.8 wrote for that project (``make_outputs.py`` records them).

Both checks run in a subprocess with ``PYTHONPATH`` starting with ``d6tflow_suite/alias``, so
``import d6tflow`` there is daskflow, exactly as a d6tflow user's project would see it.

Set ``DASKFLOW_D6TFLOW_TEMPLATE`` to a checkout of d6t/d6tflow-template to run the same checks
on the template's own files too (it needs scikit-learn and matplotlib).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "d6tflow_template"
ALIAS = HERE / "d6tflow_suite" / "alias"
RECORD: dict[str, Any] = json.loads((FIXTURE / "d6tflow_outputs.json").read_text())
RECORDED_PATHS = sorted(output["path"] for output in RECORD["outputs"])
UPSTREAM_ENV = "DASKFLOW_D6TFLOW_TEMPLATE"
TEMPLATE_FILES = ("run.py", "tasks.py", "cfg.py", "visualize.py")
DATA_SUFFIXES = {".parquet", ".pkl"}

# Runs in the project folder, with the alias first on the path: builds each flow run.py
# runs, and reports what daskflow says about the outputs d6tflow wrote. It runs nothing.
CHECK = """
import contextlib, io, json, pickle, sys
import pandas as pd
import d6tflow
import tasks

record = json.loads(sys.argv[1])
families = ("TaskGetData", "TaskPreprocess", "TaskTrain")
report = []
for spec in record["flows"]:
    flow = d6tflow.Workflow(getattr(tasks, spec["task"]), params=spec["params"])
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        flow.preview()
    paths = {name: str(flow.outputPath(getattr(tasks, name))) for name in families}
    loads_match = {}
    for name in families:
        loaded = flow.outputLoad(getattr(tasks, name))
        if paths[name].endswith(".parquet"):
            expected = pd.read_parquet(paths[name])
            loads_match[name] = isinstance(loaded, pd.DataFrame) and loaded.equals(expected)
        else:
            with open(paths[name], "rb") as stream:
                loads_match[name] = loaded == pickle.load(stream)
    report.append({
        "params": spec["params"],
        "complete": flow.complete(),
        "tasks_complete": {name: flow.complete(getattr(tasks, name)) for name in families},
        "preview": shown.getvalue(),
        "paths": paths,
        "loads_match": loads_match,
    })
print(json.dumps(report))
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ALIAS), str(cwd), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["MPLBACKEND"] = "Agg"  # the template's own visualize.py plots
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _data_files(root: Path) -> list[str]:
    return sorted(
        path.relative_to(root).as_posix()
        for path in (root / "data").rglob("*")
        if path.is_file() and path.suffix in DATA_SUFFIXES
    )


@pytest.fixture(params=["fixture", "upstream"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A fresh copy of the template project (ours, or the upstream checkout if given)."""
    if request.param == "fixture":
        source = FIXTURE / "project"
    else:
        upstream = os.environ.get(UPSTREAM_ENV)
        if not upstream:
            pytest.skip(f"set {UPSTREAM_ENV} to a d6t/d6tflow-template checkout")
        pytest.importorskip("sklearn")
        pytest.importorskip("matplotlib")
        source = Path(upstream)
    target = tmp_path / "project"
    target.mkdir()
    for name in TEMPLATE_FILES:
        shutil.copyfile(source / name, target / name)
    (target / "reports").mkdir()  # the template ships this folder for its plot
    return target


def test_template_runs_unchanged_through_the_alias(project: Path) -> None:
    done = _run(["run.py"], cwd=project)
    assert done.returncode == 0, f"run.py failed:\n{done.stdout}\n{done.stderr}"
    # exactly the outputs d6tflow 0.2.8 writes for it, at d6tflow's paths
    assert _data_files(project) == RECORDED_PATHS
    assert any((project / "reports").iterdir()), "visualize.py wrote nothing"


def test_outputs_written_by_d6tflow_are_complete(project: Path) -> None:
    shutil.copytree(FIXTURE / "d6tflow_outputs" / "data", project / "data")
    before = {path: (project / path).read_bytes() for path in RECORDED_PATHS}

    done = _run(["-c", CHECK, json.dumps({"flows": RECORD["flows"]})], cwd=project)
    assert done.returncode == 0, f"the check failed:\n{done.stdout}\n{done.stderr}"
    report = json.loads(done.stdout.strip().splitlines()[-1])

    by_family = {}
    for output in RECORD["outputs"]:
        by_family.setdefault(output["task_family"], set()).add(output["path"])
    for flow in report:
        assert flow["complete"], flow
        assert all(flow["tasks_complete"].values()), flow
        assert flow["preview"].count("COMPLETE") == 3, flow["preview"]
        assert "PENDING" not in flow["preview"], flow["preview"]
        for family, path in flow["paths"].items():
            assert path in by_family[family], (family, path)
        assert all(flow["loads_match"].values()), flow
    seen = sorted({path for flow in report for path in flow["paths"].values()})
    assert seen == RECORDED_PATHS
    # nothing ran, nothing was rewritten or added
    assert {path: (project / path).read_bytes() for path in RECORDED_PATHS} == before
    assert _data_files(project) == RECORDED_PATHS


def test_recorded_outputs_match_their_description() -> None:
    """The stored files are what the JSON says d6tflow wrote (guards a stale fixture)."""
    for output in RECORD["outputs"]:
        path = FIXTURE / "d6tflow_outputs" / output["path"]
        assert output["path"].startswith(f"data/{output['task_family']}/{output['task_id']}-")
        if output["format"] == "parquet":
            df = pd.read_parquet(path)
            assert [str(c) for c in df.columns] == output["columns"]
            assert [str(t) for t in df.dtypes] == output["dtypes"]
            assert len(df) == output["rows"]
        else:
            assert output["format"] == "pickle"
            assert path.read_bytes()[:1] == b"\x80"  # a pickle's protocol opcode
