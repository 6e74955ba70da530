"""daskflow where users really run it: one long-lived process across several runs.

Each sequence is a list of cells (a name and Python source, each asserting what it expects).
It runs twice: as a notebook executed cell by cell by ``nbclient`` in a real Jupyter kernel
(this virtualenv's Python, through a kernel spec written into the test's temporary folder),
and as a plain Python script run with ``subprocess``. Either way every cell runs in one
process, one after the other, as in a notebook kept open for days or a script that runs
several flows: nothing daskflow remembers between runs may go stale.

1. run a flow, ``shutil.rmtree`` its output folder, run it again;
2. ``settings.invalidation = "code"``: redefine a helper the task's ``run()`` calls, in a
   later cell; the task is pending again and its new output reflects the new helper;
3. on S3 (moto), with the default scheduler, a flow with a two-output task, run for three
   years in successive cells;
4. a flow on a ``distributed.LocalCluster`` through a Client, then (client closed) with the
   default scheduler, then ``reset()`` and run again.

A failing cell fails the test with the cell's index, name and traceback. Each cell has a
timeout (a script has one for the whole sequence), and the kernel, the script and every
process they started (worker processes, clusters) are gone when a test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CELL_TIMEOUT = 120  # seconds, per notebook cell
SCRIPT_TIMEOUT = 240  # seconds, per script (a whole sequence)
KERNEL_NAME = "daskflow-test-venv"
MARK = "@@daskflow-test cell "  # a script prints it before each cell

Cell = tuple[str, str]  # (name, source)


def cell(name: str, source: str) -> Cell:
    return name, textwrap.dedent(source).strip() + "\n"


# -- running a sequence: in a Jupyter kernel, or as a script ----------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _kill_group(pgid: int | None) -> None:
    """SIGKILL whatever is left of the process group (session) a test started: a kernel or a
    script, and the worker processes and clusters they started."""
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def jupyter_env(tmp_path, monkeypatch):
    """A kernel spec for this virtualenv's Python in a temporary Jupyter path, and Jupyter's and
    IPython's own folders (runtime files, profile) under ``tmp_path``; nothing is registered
    outside it, and monkeypatch restores the environment."""
    root = tmp_path / ".jupyter"
    spec = root / "path" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "daskflow tests (venv)",
                "language": "python",
                "metadata": {"debugger": False},
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(root / "path"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(root / "runtime"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(root / "config"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(root / "ipython"))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy's frozen-module notice
    return root


def run_notebook(cells: list[Cell], workdir: Path) -> None:
    """Write ``cells`` as a notebook and execute it cell by cell in one kernel started in
    ``workdir``; the first failing cell fails the test. The kernel is shut down (and its
    process group killed) in every case; the executed notebook is left in ``workdir``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellControlSignal, DeadKernelError

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_NAME}
    nb.cells = [nbformat.v4.new_code_cell(f"# {name}\n{source}") for name, source in cells]
    path = workdir / "sequence.ipynb"
    nbformat.write(nb, path)
    nb = nbformat.read(path, as_version=4)

    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT,
        startup_timeout=60,
        shutdown_kernel="graceful",
        resources={"metadata": {"path": str(workdir)}},
    )
    pgid = None
    failure = ""
    try:
        with client.setup_kernel():
            pgid = client.km.provisioner.pgid or client.km.provisioner.pid
            for index, (code_cell, (name, _)) in enumerate(zip(nb.cells, cells, strict=True)):
                try:
                    client.execute_cell(code_cell, index)
                except (CellControlSignal, DeadKernelError) as error:
                    failure = (
                        f"notebook cell {index} [{name}] failed ({type(error).__name__}):\n"
                        + _ANSI.sub("", str(error))
                    )
                    break
    finally:
        if client.km is not None:  # setup_kernel failed halfway
            with contextlib.suppress(Exception):
                client._cleanup_kernel()
        _kill_group(pgid)
        with contextlib.suppress(Exception):
            nbformat.write(nb, path)
    if failure:  # out here: the report is the cell's traceback, not this function's
        pytest.fail(failure, pytrace=False)


def run_script(cells: list[Cell], workdir: Path) -> None:
    """Write ``cells`` as one script (under ``if __name__ == "__main__":``, as a script that
    starts spawned worker processes must be) and run it in ``workdir`` with this Python, in
    a session of its own; a failure names the cell it happened in."""
    lines = ["if __name__ == '__main__':"]
    for index, (name, source) in enumerate(cells):
        lines.append(f"    print({f'{MARK}{index} [{name}]'!r}, flush=True)")
        lines += [f"    {line}" if line.strip() else "" for line in source.splitlines()]
    path = workdir / "sequence.py"
    path.write_text("\n".join(lines) + "\n")

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, str(path)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        try:
            output, _ = process.communicate(timeout=SCRIPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            output, _ = process.communicate()
            failed = f"timed out after {SCRIPT_TIMEOUT} s"
        else:
            failed = f"exit status {process.returncode}" if process.returncode else ""
    finally:
        _kill_group(process.pid)
        if process.poll() is None:
            process.kill()
            process.wait()
    if failed:
        lines = output.splitlines()
        marks = [i for i, line in enumerate(lines) if line.startswith(MARK)]
        where = f"cell {lines[marks[-1]][len(MARK) :]}" if marks else "before the first cell"
        shown = lines[marks[-1] + 1 if marks else 0 :][-150:]  # what the failing cell printed
        pytest.fail(
            f"script {path.name} failed in {where} ({failed}):\n" + "\n".join(shown),
            pytrace=False,
        )


@pytest.fixture(params=["notebook", "script"])
def run_cells(request, tmp_path):
    """Run a sequence of cells in one long-lived process: a Jupyter kernel or a script."""
    if request.param == "notebook":
        pytest.importorskip("nbclient")
        pytest.importorskip("ipykernel")
        request.getfixturevalue("jupyter_env")
        return lambda cells: run_notebook(cells, tmp_path)
    return lambda cells: run_script(cells, tmp_path)


def setup_cell(root: object, storage_options: dict | None = None) -> Cell:
    """The first cell: imports, and the project's settings."""
    return cell(
        "setup",
        f"""
        import os
        import shutil
        import time

        import pandas as pd

        import daskflow as d6tflow

        ROOT = {str(root)!r}
        d6tflow.settings.storage_options = {storage_options or {}!r}
        d6tflow.set_dir(ROOT)
        d6tflow.settings.invalidation = "code"
        """,
    )


# The flow of sequences 3 and 4: a task with two outputs and a second branch, both ~0.1 s
# (long enough for the default scheduler to send some to worker processes), and a task
# requiring both. Every output records the process that made it.
DASHBOARD_FLOW = cell(
    "define the flow",
    """
    class SegmentStats(d6tflow.tasks.TaskPqPandas):
        year = d6tflow.IntParameter()
        persist = ["a", "b"]

        def run(self):
            time.sleep(0.1)
            pid = os.getpid()
            self.save(
                {
                    "a": pd.DataFrame({"year": [self.year], "value": [1], "pid": [pid]}),
                    "b": pd.DataFrame({"year": [self.year], "value": [2], "pid": [pid]}),
                }
            )


    class Other(d6tflow.tasks.TaskPickle):
        year = d6tflow.IntParameter()

        def run(self):
            time.sleep(0.1)
            self.save({"year": self.year, "value": 10, "pid": os.getpid()})


    @d6tflow.requires({"seg": SegmentStats, "other": Other})
    class Dashboard(d6tflow.tasks.TaskJson):
        def run(self):
            time.sleep(0.1)
            seg = self.inputLoad(task="seg")
            other = self.inputLoad(task="other")
            total = int(seg[0].value.sum() + seg[1].value.sum()) + other["value"]
            pids = [int(seg[0].pid[0]), int(seg[1].pid[0]), other["pid"], os.getpid()]
            self.save({"year": self.year, "total": total, "pids": pids})


    def check(flow, year):
        assert flow.complete(), f"{year}: not complete after run()"
        out = flow.outputLoad()
        assert out["year"] == year and out["total"] == 13, out
        a, b = flow.outputLoad(SegmentStats)
        assert list(a.year) == [year] and list(b.value) == [2], (a, b)
        assert flow.outputLoad(Other)["year"] == year
        return out["pids"]
    """,
)


# -- 1. the output folder deleted between two runs --------------------------------------------


def test_rerun_after_output_folder_deleted(run_cells, tmp_path):
    run_cells(
        [
            setup_cell(tmp_path / "data"),
            cell(
                "define the flow",
                """
                class Load(d6tflow.tasks.TaskPqPandas):
                    def run(self):
                        self.save(pd.DataFrame({"x": range(5)}))


                @d6tflow.requires(Load)
                class Double(d6tflow.tasks.TaskPqPandas):
                    def run(self):
                        self.save(self.inputLoad() * 2)


                @d6tflow.requires(Double)
                class Total(d6tflow.tasks.TaskPickle):
                    def run(self):
                        self.save({"total": int(self.inputLoad().x.sum())})


                flow = d6tflow.Workflow(Total)
                assert not flow.complete()
                """,
            ),
            cell(
                "first run",
                """
                flow.run()
                assert flow.outputLoad() == {"total": 20}
                """,
            ),
            cell(
                "delete the output folder",
                """
                shutil.rmtree(ROOT)
                assert not flow.complete()
                """,
            ),
            cell(
                "run again",
                """
                flow.run()
                assert flow.complete()
                assert flow.outputLoad() == {"total": 20}
                assert list(flow.outputLoad(Load).x) == [0, 1, 2, 3, 4]
                """,
            ),
        ]
    )


# -- 2. a helper redefined in a later cell --------------------------------------------------


def test_redefined_helper_invalidates_task(run_cells, tmp_path):
    run_cells(
        [
            setup_cell(tmp_path / "data"),
            cell(
                "define helper and task",
                """
                import contextlib
                import io


                def helper(x):
                    return x + 1


                class Plus(d6tflow.tasks.TaskPickle):
                    x = d6tflow.IntParameter(default=1)

                    def run(self):
                        self.save(helper(self.x))


                flow = d6tflow.Workflow(Plus, {"x": 1})


                def preview_text():
                    with contextlib.redirect_stdout(io.StringIO()) as text:
                        flow.preview()
                    return text.getvalue()
                """,
            ),
            cell(
                "first run",
                """
                flow.run()
                assert flow.complete()
                assert flow.outputLoad() == 2
                assert "COMPLETE" in preview_text()
                """,
            ),
            cell(
                "redefine helper",
                """
                def helper(x):
                    return x + 2


                text = preview_text()
                assert not flow.complete(), "Plus is complete after helper changed:\\n" + text
                assert "PENDING" in text, text
                """,
            ),
            cell(
                "run with the new helper",
                """
                flow.run()
                assert flow.complete()
                assert flow.outputLoad() == 3
                """,
            ),
        ]
    )


# -- 3. S3, the default scheduler, three years in successive cells --------------------------


def test_s3_default_scheduler_successive_runs(run_cells, tmp_path, s3):
    # The kernel and the script inherit the dummy AWS credentials s3_server puts in the
    # environment; the endpoint comes in through storage_options.
    cells = [setup_cell(s3.url, s3.storage_options), DASHBOARD_FLOW, cell("pids", "seen = []")]
    cells += [
        cell(
            f"run {year}",
            f"""
            flow = d6tflow.Workflow(Dashboard, {{"year": {year}}})
            assert not flow.complete()
            flow.run()
            seen += check(flow, {year})
            """,
        )
        for year in (2020, 2021, 2022)
    ]
    cells.append(
        cell(
            "some tasks ran in worker processes",
            """
            assert set(seen) - {os.getpid()}, (
                f"every task ran in this process ({seen}): the default scheduler started no "
                "worker process, so this test does not cover them any more"
            )
            """,
        )
    )
    run_cells(cells)
    dashboards = [key for key in s3.objects() if "Dashboard" in key]
    assert len(dashboards) == 3, s3.objects()


# -- 4. a LocalCluster through a Client, then the default scheduler, then reset -------------


def test_cluster_then_local_then_reset(run_cells, tmp_path):
    pytest.importorskip("distributed")
    run_cells(
        [
            setup_cell(tmp_path / "data"),  # absolute: the workers share it
            DASHBOARD_FLOW,
            cell(
                "run on a LocalCluster",
                """
                from distributed import Client, LocalCluster

                cluster = LocalCluster(
                    n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                client = Client(cluster)
                worker_pids = set(client.run(os.getpid).values())
                flow2020 = d6tflow.Workflow(Dashboard, {"year": 2020})
                flow2020.run(scheduler=client)
                on_cluster = check(flow2020, 2020)
                assert set(on_cluster) <= worker_pids, (on_cluster, worker_pids)
                """,
            ),
            cell(
                "close the client and the cluster",
                """
                client.close()
                cluster.close()
                """,
            ),
            cell(
                "run locally, default scheduler",
                """
                flow2021 = d6tflow.Workflow(Dashboard, {"year": 2021})
                flow2021.run()
                local = check(flow2021, 2021)
                assert not set(local) & worker_pids, (local, worker_pids)
                """,
            ),
            cell(
                "reset and run again",
                """
                flow2020.reset()  # Dashboard's outputs only: its inputs stay the cluster's
                assert not flow2020.complete()
                flow2020.run()
                again = check(flow2020, 2020)
                assert again[:3] == on_cluster[:3], (again, on_cluster)
                assert again[3] not in worker_pids, (again, worker_pids)
                """,
            ),
        ]
    )
