"""Parallel execution: speedup of independent CPU-bound branches, per-task overhead against
raw ``dask.delayed``, and the quickstart as a fresh process against d6tflow.

    python benchmarks/bench_parallel.py                 # everything
    python benchmarks/bench_parallel.py --only speedup  # speedup | overhead | quickstart
    python benchmarks/bench_parallel.py --quick         # smaller sizes, to check it runs

1. speedup: 8 independent tasks of ~0.5 s of pure-Python work (they hold the GIL) plus a join:
   serial (``scheduler="sync"``), ``flow.run()`` with the default scheduler, and ``workers=2``.
   With d6tflow available (``--d6tflow-python``, default ``.d6t-venv/bin/python`` or
   ``$D6TFLOW_PYTHON``) the same flow runs on d6tflow with ``workers=2`` for comparison.
2. overhead: 1,000 trivial independent in-memory tasks plus a join, per-task milliseconds of
   ``flow.run()`` on the default scheduler and on a 2-worker ``LocalCluster``, against the
   same graph built with ``dask.delayed`` and computed on the same scheduler.
3. quickstart: ``python examples/quickstart.py`` as a fresh process, against the same file run
   on d6tflow (its import line switched to ``import d6tflow``), best of 3.

Prints figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_DEFAULT_D6T = str(Path(__file__).resolve().parent.parent / ".d6t-venv" / "bin" / "python")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK_SECONDS = 0.5


def _spin(seconds: float) -> int:
    """Pure-Python work of about ``seconds`` (calibrated once), holding the GIL."""
    n = int(_spin.rate * seconds)  # type: ignore[attr-defined]
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def _calibrate() -> None:
    n = 2_000_000
    t = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i % 7
    _spin.rate = n / (time.perf_counter() - t)  # type: ignore[attr-defined]


def _d6tflow_python(arg: str | None) -> str | None:
    cand = arg or os.environ.get("D6TFLOW_PYTHON") or _DEFAULT_D6T
    return cand if Path(cand).exists() else None


# -- 1. speedup ------------------------------------------------------------------------------

SPEEDUP_TASKS = """
import time
import {engine} as d6tflow

RATE = {rate}
SECONDS = {seconds}


def spin():
    total = 0
    for i in range(int(RATE * SECONDS)):
        total += i * i % 7
    return total


class Work(d6tflow.tasks.TaskPickle):
    i = d6tflow.IntParameter()

    def run(self):
        self.save(spin() + self.i)


class Join(d6tflow.tasks.TaskPickle):
    n = d6tflow.IntParameter(default={n})

    def requires(self):
        return [Work(i=i) for i in range(self.n)]

    def run(self):
        self.save(sum(self.inputLoad()))
"""


def _speedup_module(engine: str, n: int, folder: Path) -> Path:
    path = folder / f"speedup_{engine}.py"
    text = SPEEDUP_TASKS.format(engine=engine, rate=_spin.rate, seconds=WORK_SECONDS, n=n)  # type: ignore[attr-defined]
    path.write_text(text)
    return path


def bench_speedup(n: int, d6t_python: str | None) -> None:
    import importlib.util

    folder = Path(tempfile.mkdtemp(prefix="bench-speedup-"))
    try:
        spec = importlib.util.spec_from_file_location(
            "speedup_daskflow", _speedup_module("daskflow", n, folder)
        )
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules["speedup_daskflow"] = mod
        spec.loader.exec_module(mod)
        import daskflow

        rows = []
        for label, kwargs in [
            ("serial (scheduler='sync')", {"scheduler": "sync"}),
            ("flow.run() default", {}),
            ("flow.run(workers=2)", {"workers": 2}),
        ]:
            daskflow.set_dir(str(folder / "data" / label.split()[0]))
            flow = daskflow.Workflow(mod.Join)
            t = time.perf_counter()
            flow.run(execution_summary=False, **kwargs)
            rows.append((label, time.perf_counter() - t))
        serial = rows[0][1]
        print(
            f"\n1. speedup: {n} independent tasks of {WORK_SECONDS} s pure Python + a join, "
            f"{os.cpu_count()} cores"
        )
        print(f"   {'run':32s} {'seconds':>8s} {'speedup':>8s}")
        for label, secs in rows:
            print(f"   {label:32s} {secs:8.2f} {serial / secs:7.2f}x")
        if d6t_python:
            code = (
                "import sys, time, importlib.util, contextlib, io\n"
                f"sys.path.insert(0, {str(folder)!r})\n"
                "with contextlib.redirect_stdout(io.StringIO()):\n"
                "    import speedup_d6tflow as m, d6tflow\n"
                "res = {}\n"
                "for label, w in (('serial', 1), ('w2', 2)):\n"
                "    d6tflow.set_dir(f'data_d6t_{label}')\n"
                "    t = time.perf_counter()\n"
                "    with contextlib.redirect_stdout(io.StringIO()):\n"
                "        d6tflow.Workflow(m.Join).run(workers=w, execution_summary=False)\n"
                "    res[label] = time.perf_counter() - t\n"
                "print(res['serial'], res['w2'])\n"
            )
            _speedup_module("d6tflow", n, folder)
            out = subprocess.run(
                [d6t_python, "-c", code], cwd=folder, capture_output=True, text=True, timeout=600
            )
            if out.returncode == 0:
                s, w2 = map(float, out.stdout.split()[-2:])
                print(f"   {'d6tflow workers=1':32s} {s:8.2f} {s / s:7.2f}x")
                print(f"   {'d6tflow workers=2':32s} {w2:8.2f} {s / w2:7.2f}x")
            else:
                print("   d6tflow failed:", out.stderr.strip().splitlines()[-1:])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- 2. overhead -----------------------------------------------------------------------------


def _trivial(i: int) -> int:
    return i


def _total(xs: list[int]) -> int:
    return sum(xs)


def bench_overhead(n: int) -> None:
    import dask
    from distributed import Client, LocalCluster

    import daskflow
    from daskflow.tasks import TaskCache

    class Tiny(TaskCache):
        i = daskflow.IntParameter()

        def run(self):
            self.save(self.i)

    class Total(TaskCache):
        n = daskflow.IntParameter()

        def requires(self):
            return [Tiny(i=i) for i in range(self.n)]

        def run(self):
            self.save(sum(self.inputLoad()))

    def flow_run(**kwargs: object) -> float:
        daskflow.data.clear()
        t = time.perf_counter()
        daskflow.Workflow(Total, {"n": n}).run(execution_summary=False, **kwargs)
        return time.perf_counter() - t

    def delayed_run(**kwargs: object) -> float:
        t = time.perf_counter()
        parts = [dask.delayed(_trivial)(i) for i in range(n)]
        dask.delayed(_total)(parts).compute(**kwargs)
        return time.perf_counter() - t

    rows = []
    best = lambda f, **kw: min(f(**kw) for _ in range(3))  # noqa: E731
    rows.append(
        ("default (local processes)", best(flow_run), best(delayed_run, scheduler="processes"))
    )
    rows.append(
        ("threads", best(flow_run, scheduler="threads"), best(delayed_run, scheduler="threads"))
    )
    rows.append(("sync", best(flow_run, scheduler="sync"), best(delayed_run, scheduler="sync")))
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        rows.append(
            (
                "distributed LocalCluster(2)",
                best(flow_run, scheduler=client),
                best(delayed_run, scheduler=client),
            )
        )
    print(f"\n2. overhead: {n} trivial in-memory tasks + a join (best of 3)")
    print(
        f"   {'scheduler':30s} {'daskflow ms/task':>17s} {'dask.delayed ms/task':>21s}"
        f" {'ratio':>6s}"
    )
    for label, ours, raw in rows:
        print(
            f"   {label:30s} {1000 * ours / (n + 1):17.3f} {1000 * raw / (n + 1):21.3f}"
            f" {ours / raw:6.2f}"
        )


# -- 3. quickstart as a fresh process --------------------------------------------------------


def bench_quickstart(d6t_python: str | None) -> None:
    src = ROOT / "examples" / "quickstart.py"

    def best(cmd: list[str], cwd: Path) -> float:
        times = []
        for _ in range(3):
            shutil.rmtree(cwd / "data", ignore_errors=True)
            t = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=300)
            times.append(time.perf_counter() - t)
        return min(times)

    folder = Path(tempfile.mkdtemp(prefix="bench-qs-"))
    try:
        ours = best([sys.executable, str(src)], folder)
        print("\n3. quickstart as a fresh process (preview, run, load, reset, rerun), best of 3")
        print(f"   daskflow {ours:6.2f} s")
        if d6t_python:
            copy = folder / "quickstart_d6tflow.py"
            copy.write_text(src.read_text().replace("import daskflow as d6tflow", "import d6tflow"))
            theirs = best([d6t_python, str(copy)], folder)
            print(f"   d6tflow  {theirs:6.2f} s   (daskflow/d6tflow = {ours / theirs:.2f})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="speedup,overhead,quickstart")
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--d6tflow-python", default=None)
    args = parser.parse_args()
    only = set(args.only.split(","))
    d6t = _d6tflow_python(args.d6tflow_python)
    import dask

    import daskflow

    print(
        f"daskflow {daskflow.__version__}, dask {dask.__version__}, python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores; d6tflow: {d6t or 'not found'}"
    )
    _calibrate()
    if "speedup" in only:
        bench_speedup(4 if args.quick else 8, d6t)
    if "overhead" in only:
        bench_overhead(100 if args.quick else 1000)
    if "quickstart" in only:
        bench_quickstart(d6t)


if __name__ == "__main__":
    main()
