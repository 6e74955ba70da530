"""The daskflow command line, run as a real console script in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PIPELINE = str(HERE / "cli_pipeline.py")
EXE = shutil.which("daskflow", path=os.path.dirname(sys.executable)) or shutil.which("daskflow")


def daskflow(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    assert EXE, "the daskflow console script is not installed (pip install -e .)"
    return subprocess.run(
        [EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, input=stdin, env=env
    )


def test_preview_prints_the_tree(tmp_path):
    out = daskflow("preview", f"{PIPELINE}:Report", "--param", "scale=2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "└─--[Report-{'rows': '5', 'scale': '2.0', 'tags': '[]'} (PENDING)]" in out.stdout
    assert out.stdout.count("PENDING") == 3
    assert not (tmp_path / "data").exists()


def test_run_writes_outputs_parsed_by_the_parameter_classes(tmp_path):
    out = daskflow(
        "run",
        f"{PIPELINE}:Report",
        "-p",
        "scale=0.5",
        "-p",
        'tags=["a", "b"]',
        "-p",
        "rows=4",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "3 ran successfully" in out.stdout
    assert "[daskflow] 3/3 tasks done" in out.stderr
    train = json.loads(next((tmp_path / "data" / "Train").glob("*.json")).read_text())
    assert train == {"data": {"total": 3.0, "tags": ["a", "b"]}}
    again = daskflow(
        "run",
        f"{PIPELINE}:Report",
        "-p",
        "scale=0.5",
        "-p",
        'tags=["a", "b"]',
        "-p",
        "rows=4",
        "--quiet",
        cwd=tmp_path,
    )
    assert again.returncode == 0 and again.stdout == "" and "[daskflow]" not in again.stderr


def test_run_by_dotted_module_with_dir_and_scheduler(tmp_path):
    env_dir = tmp_path / "out"
    out = subprocess.run(
        [
            EXE,
            "run",
            "cli_pipeline:Report",
            "--dir",
            str(env_dir),
            "--scheduler",
            "sync",
            "--quiet",
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert len(list((env_dir / "Report").glob("*.json"))) == 1


def test_forced_all_upstream_reruns_everything(tmp_path):
    assert daskflow("run", f"{PIPELINE}:Report", "--quiet", cwd=tmp_path).returncode == 0
    out = daskflow("run", f"{PIPELINE}:Report", "--forced-all-upstream", cwd=tmp_path)
    assert out.returncode == 0
    assert "3 ran successfully" in out.stdout
    out = daskflow("run", f"{PIPELINE}:Report", "--forced-all", cwd=tmp_path)
    assert "1 ran successfully" in out.stdout


def test_failing_task_exits_1_with_its_error(tmp_path):
    out = daskflow("run", f"{PIPELINE}:Broken", cwd=tmp_path)
    assert out.returncode == 1
    assert "ZeroDivisionError: deliberately broken" in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "error: Broken() failed: ZeroDivisionError: deliberately broken"
    )
    assert "1 failed" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", f"{PIPELINE}:Nope"], "has no 'Nope'; its tasks: Broken, GetData, Report, Train"),
        (
            ["run", f"{PIPELINE}:Report", "-p", "rows=abc"],
            "Report parameter 'rows': expected an integer, got 'abc'",
        ),
        (["run", f"{PIPELINE}:Report", "-p", "typo=1"], "unknown parameter 'typo' for Report"),
        (["run", f"{PIPELINE}:Report", "-p", "rows"], "--param expects name=value"),
        (["run", "no_such_module:Report"], "cannot import module 'no_such_module'"),
        (["run", "missing.py:Report"], "no such file: missing.py"),
        (["run", "Report"], "expected MODULE:TaskClass"),
        (["run", f"{PIPELINE}:Report", "--scheduler", "nope"], "unknown scheduler 'nope'"),
    ],
)
def test_mistakes_are_one_line_errors_with_status_2(tmp_path, args, message):
    out = daskflow(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr


def test_show_lists_status_and_output_url_and_draws_the_graph(tmp_path):
    daskflow("run", f"{PIPELINE}:Train", "--quiet", cwd=tmp_path)
    out = daskflow("show", f"{PIPELINE}:Report", "--graph", "flow.svg", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()
    assert rows[0].startswith("PENDING") and "Report(" in rows[0]
    assert rows[1].startswith("COMPLETE") and "data/Train/Train_" in rows[1]
    assert rows[2].startswith("COMPLETE") and rows[2].rstrip().endswith(".parquet")
    svg = (tmp_path / "flow.svg").read_text()  # graphviz's drawing, or daskflow's own
    assert "<svg" in svg and all(name in svg for name in ("GetData", "Train", "Report"))
    assert svg.count('fill="#e8f5e9"') == 2  # complete
    assert svg.count('fill="#e3f2fd"') == 1  # pending


def test_show_graph_in_a_format_only_graphviz_writes_is_a_one_line_error_without_it(tmp_path):
    no_dot = tmp_path / "empty-bin"  # a PATH without graphviz's dot, installed here or not
    no_dot.mkdir()
    env = {**os.environ, "PATH": str(no_dot)}
    out = daskflow("show", f"{PIPELINE}:Report", "--graph", "flow.png", cwd=tmp_path, env=env)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("daskflow show: error: cannot draw the graph into flow.png")
    assert "'png' format needs graphviz" in line and 'pip install "daskflow[graphviz]"' in line
    assert list(tmp_path.glob("flow.*")) == []
    svg = daskflow("show", f"{PIPELINE}:Report", "--graph", "flow.svg", cwd=tmp_path, env=env)
    assert svg.returncode == 0 and (tmp_path / "flow.svg").read_text().startswith("<svg")


def test_reset_asks_unless_yes_and_resets_up_and_downstream(tmp_path):
    assert daskflow("run", f"{PIPELINE}:Report", "--quiet", cwd=tmp_path).returncode == 0
    files = lambda: sorted(p.parent.name for p in (tmp_path / "data").rglob("*-data.*"))  # noqa: E731
    assert files() == ["GetData", "Report", "Train"]
    refused = daskflow("reset", f"{PIPELINE}:GetData", cwd=tmp_path, stdin="")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert files() == ["GetData", "Report", "Train"]
    out = daskflow("reset", f"{PIPELINE}:GetData", "--downstream", "--yes", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert files() == []
    daskflow("run", f"{PIPELINE}:Report", "--quiet", cwd=tmp_path)
    out = daskflow("reset", f"{PIPELINE}:Train", "--upstream", "--yes", cwd=tmp_path)
    assert out.returncode == 0
    assert files() == ["Report"]
    out = daskflow("reset", f"{PIPELINE}:Report", "--yes", cwd=tmp_path)
    assert files() == []


def test_python_dash_m_is_the_same_command(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "daskflow", "preview", f"{PIPELINE}:GetData"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "GetData-{'rows': '5'} (PENDING)" in out.stdout


@pytest.mark.parametrize("command", [[EXE], [sys.executable, "-m", "daskflow"]])
def test_version_prints_the_installed_version(tmp_path, command):
    import importlib.metadata

    import daskflow

    assert command[0], "the daskflow console script is not installed (pip install -e .)"
    out = subprocess.run(
        [*command, "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"daskflow {daskflow.__version__}\n"
    assert daskflow.__version__ == importlib.metadata.version("daskflow")


MODULE_SETS_DIR = """
import daskflow
from daskflow.tasks import TaskPickle

daskflow.set_dir("chosen_by_the_module")  # as d6tflow scripts commonly do at import


class Made(TaskPickle):
    def run(self):
        self.save(1)
"""


def test_dir_on_the_command_line_wins_over_a_set_dir_at_import(tmp_path):
    (tmp_path / "flow_mod.py").write_text(MODULE_SETS_DIR)
    out = daskflow("run", "flow_mod.py:Made", "--dir", str(tmp_path / "given"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [p.name for p in (tmp_path / "given" / "Made").iterdir()] == [
        "Made__99914b932b-data.pkl"
    ]
    assert not (tmp_path / "chosen_by_the_module").exists()
    out = daskflow("run", "flow_mod.py:Made", cwd=tmp_path)  # without --dir: the module's
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "chosen_by_the_module" / "Made").is_dir()


def test_a_url_with_one_slash_is_refused_with_the_fix(tmp_path):
    out = daskflow("run", f"{PIPELINE}:Report", "--dir", "s3:/bucket/x", cwd=tmp_path)
    assert out.returncode != 0
    assert "did you mean 's3://bucket/x'" in out.stderr
    assert not (tmp_path / "s3:").exists()


CODE_V1 = """
from daskflow.tasks import TaskPickle


class Edited(TaskPickle):
    def run(self):
        self.save({version})
"""


def test_invalidation_from_the_command_line_and_the_environment(tmp_path):
    module = tmp_path / "edited.py"
    module.write_text(CODE_V1.format(version=1))
    root = str(tmp_path / "out")
    out = daskflow("run", "edited.py:Edited", "--dir", root, "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    module.write_text(CODE_V1.format(version=2))  # the code that made the output changed
    by_flag = daskflow(
        "preview", "edited.py:Edited", "--dir", root, "--invalidation", "code", cwd=tmp_path
    )
    assert by_flag.returncode == 0, by_flag.stderr
    assert "PENDING" in by_flag.stdout
    env = {**os.environ, "DASKFLOW_INVALIDATION": "code"}
    by_env = daskflow("preview", "edited.py:Edited", "--dir", root, cwd=tmp_path, env=env)
    assert "PENDING" in by_env.stdout, by_env.stderr
    default = daskflow("preview", "edited.py:Edited", "--dir", root, cwd=tmp_path)
    assert "COMPLETE" in default.stdout  # "exists", d6tflow's rule
    env["DASKFLOW_INVALIDATION"] = "sometimes"
    wrong = daskflow("preview", "edited.py:Edited", "--dir", root, cwd=tmp_path, env=env)
    assert wrong.returncode != 0 and "DASKFLOW_INVALIDATION must be one of" in wrong.stderr
