"""Scheduling overhead of daskflow and d6tflow 0.2.8 on three graph shapes.

Every task is tiny (a pickled int), so the figures measure what the engine does around the
tasks: building the graph, checking completeness, scheduling, loading inputs, saving outputs.

Workloads (one parameterised task class each, the same definitions for both engines):

- ``chain``: 500 tasks, each requires the previous one and saves its input + 1;
- ``fan``: 1,000 independent tasks joined by one task that loads all 1,000 inputs;
- ``layered``: 8 layers of 4 tasks, each requiring all 4 tasks of the layer below, plus one
  root on top (33 tasks, 116 edges; 4**8 paths from the root to the bottom).

For each workload, in a fresh temporary data dir, it times the first run, ``complete()`` of the
final task, the preview of the complete graph (printed into a buffer) and the no-op rerun.

Usage::

    python benchmarks/bench_core.py                       # daskflow: default and sync scheduler
    python benchmarks/bench_core.py --quick --only chain
    .d6t-venv/bin/python benchmarks/bench_core.py --engine d6tflow
    python benchmarks/bench_core.py --compare              # both engines and the speedup

``--compare`` runs daskflow here and d6tflow with another interpreter (``--d6tflow-python``,
or the ``D6TFLOW_PYTHON`` environment variable, default ``.d6t-venv/bin/python``).
Each measurement stops after ``--timeout`` seconds (reported as ``> N s``); a measurement that
raises is reported by the exception's name (d6tflow recurses through the 500-chain in
``complete()``: at the default recursion limit its first run, ``complete()``, preview and
rerun fail; ``--recursion-limit 5000`` lets it finish). This is a benchmark, not a test: it
prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_D6TFLOW_PYTHON = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".d6t-venv", "bin", "python"
)  # (benchmarks/README.md: how to make it)
WORKLOADS = ("chain", "fan", "layered")
SCHEDULERS = ("default", "sync", "threads", "processes")  # daskflow's columns
MEASUREMENTS = ("first run", "complete()", "preview", "no-op rerun")
FULL = {"chain": 500, "fan": 1000, "layered": (8, 4)}
QUICK = {"chain": 50, "fan": 100, "layered": (4, 4)}


# -- engines -----------------------------------------------------------------------------------


def import_engine(name: str) -> types.ModuleType:
    """The engine module, imported as user code imports it (d6tflow prints at import)."""
    with contextlib.redirect_stdout(io.StringIO()):
        if name == "daskflow":
            import daskflow as d6tflow
        elif name == "d6tflow":
            import d6tflow
        else:
            raise SystemExit(f"unknown engine {name!r}; expected daskflow or d6tflow")
    return d6tflow


def engine_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "?"

    if name == "daskflow":
        return f"daskflow {v('daskflow')} (dask {v('dask')})"
    return f"d6tflow {v('d6tflow')} (luigi {v('luigi')})"


def cores() -> str:
    total = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = total
    return f"{usable} cores" if usable == total else f"{usable} usable of {total} cores"


# -- the task definitions, shared by both engines ---------------------------------------------


def define_tasks(d6tflow: types.ModuleType) -> types.SimpleNamespace:
    """The benchmark's task classes, written once against the d6tflow API."""

    class Warmup(d6tflow.tasks.TaskPickle):
        def run(self):
            self.save(0)

    class Chain(d6tflow.tasks.TaskPickle):
        i = d6tflow.IntParameter()

        def requires(self):
            return Chain(i=self.i - 1) if self.i > 0 else []

        def run(self):
            self.save(self.inputLoad() + 1 if self.i > 0 else 1)

    class FanLeaf(d6tflow.tasks.TaskPickle):
        i = d6tflow.IntParameter()

        def run(self):
            self.save(self.i)

    class FanJoin(d6tflow.tasks.TaskPickle):
        n = d6tflow.IntParameter()

        def requires(self):
            return [FanLeaf(i=i) for i in range(self.n)]

        def run(self):
            self.save(sum(self.inputLoad()))

    class Layer(d6tflow.tasks.TaskPickle):
        layer = d6tflow.IntParameter()
        j = d6tflow.IntParameter()
        width = d6tflow.IntParameter()

        def requires(self):
            if self.layer == 0:
                return []
            return [Layer(layer=self.layer - 1, j=k, width=self.width) for k in range(self.width)]

        def run(self):
            self.save(sum(self.inputLoad()) + 1 if self.layer > 0 else 1)

    class LayerRoot(d6tflow.tasks.TaskPickle):
        layers = d6tflow.IntParameter()
        width = d6tflow.IntParameter()

        def requires(self):
            top = self.layers - 1
            return [Layer(layer=top, j=k, width=self.width) for k in range(self.width)]

        def run(self):
            self.save(sum(self.inputLoad()))

    return types.SimpleNamespace(
        **{c.__name__: c for c in (Warmup, Chain, FanLeaf, FanJoin, Layer, LayerRoot)}
    )


@dataclass
class Workload:
    name: str
    label: str
    task_class: Any
    params: dict[str, int]
    expected: int


def workloads(t: types.SimpleNamespace, sizes: dict[str, Any], only: list[str]) -> list[Workload]:
    out = []
    for name in only:
        if name == "chain":
            n = sizes["chain"]
            out.append(Workload(name, f"chain-{n}", t.Chain, {"i": n - 1}, n))
        elif name == "fan":
            n = sizes["fan"]
            out.append(Workload(name, f"fan-{n}", t.FanJoin, {"n": n}, n * (n - 1) // 2))
        elif name == "layered":
            layers, width = sizes["layered"]
            value = 1
            for _ in range(layers - 1):
                value = width * value + 1
            out.append(
                Workload(
                    name,
                    f"layered-{layers}x{width}",
                    t.LayerRoot,
                    {"layers": layers, "width": width},
                    width * value,
                )
            )
    return out


def count_graph(root: Any) -> tuple[int, int]:
    """(tasks, edges) of ``root``'s graph, walked through ``requires()`` (not timed)."""
    seen: set[str] = set()
    edges = 0
    stack = [root]
    while stack:
        task = stack.pop()
        if task.task_id in seen:
            continue
        seen.add(task.task_id)
        req = task.requires()
        children = req if isinstance(req, list) else [req]
        edges += len(children)
        stack.extend(children)
    return len(seen), edges


# -- timing ------------------------------------------------------------------------------------


class MeasurementTimeout(BaseException):
    """Raised by SIGALRM when a measurement runs past ``--timeout`` (a BaseException, so that
    an engine's ``except Exception`` does not swallow it)."""


@dataclass
class Figure:
    workload: str
    tasks: int
    edges: int
    measurement: str
    column: str
    seconds: float | None = None
    note: str = ""  # "timeout", "skipped" or the exception's name
    detail: str = ""  # for an error: how long it ran and what the engine logged
    picked: str = ""  # for daskflow's default scheduler: what it chose for the first run

    def cell(self, timeout: float) -> tuple[str, str]:
        if self.seconds is not None:
            return f"{self.seconds:.3f}", f"{self.seconds / self.tasks * 1000:.2f}"
        if self.note == "timeout":
            return f"> {timeout:g} s", ""
        return self.note, ""


def _alarm(signum: int, frame: Any) -> None:
    raise MeasurementTimeout


class _ErrorLog(logging.Handler):
    """Collects the exceptions an engine logs instead of raising (luigi logs a task's error
    and d6tflow raises a bare RuntimeError without it)."""

    LOGGERS = ("luigi-interface", "luigi", "daskflow")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:  # luigi: "... failed    Task(..)"
            task = message.rsplit("failed", 1)[-1].strip()
            what = type(record.exc_info[1]).__name__
            self.seen.append(f"{what} in {task}" if task else what)
        elif "Traceback (most recent call last)" in message:  # a traceback logged as text
            lines = [line for line in message.splitlines() if line.strip()]
            what = lines[-1].split(":", 1)[0].strip()
            self.seen.append(f"{what} ({lines[0].rstrip(':')})")

    def __enter__(self) -> _ErrorLog:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


def timed(fn: Callable[[], Any], timeout: float) -> tuple[float | None, str, str]:
    """Seconds ``fn`` took, or (None, why it did not finish, details).

    After the deadline SIGALRM fires once a second until ``fn`` gives up, so an engine that
    catches the first interrupt in some inner loop is interrupted again.
    """
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout, 1.0)
    expired = False
    note = detail = ""
    seconds: float | None = None
    start = time.perf_counter()
    with _ErrorLog() as log:
        try:
            fn()
            seconds = time.perf_counter() - start
        except MeasurementTimeout:
            note, expired = "timeout", True
        except Exception as e:
            note = _describe(e)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    elapsed = time.perf_counter() - start
    if seconds is None and not expired:
        if elapsed >= timeout:
            note = "timeout"  # the engine turned our interrupt into its own error
        else:
            logged = f"; logged {', '.join(dict.fromkeys(log.seen))}" if log.seen else ""
            detail = f"{note} after {elapsed:.2f} s{logged}"
    return seconds, note, detail


def _describe(e: BaseException) -> str:
    """The exception's name, and the names of the errors it was raised from."""
    names = [type(e).__name__]
    cause = e.__cause__
    while cause is not None and len(names) < 3:
        names.append(type(cause).__name__)
        cause = cause.__cause__
    return " <- ".join(dict.fromkeys(names))


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bench_workload(
    d6tflow: types.ModuleType,
    wl: Workload,
    column: str,
    run_kwargs: dict[str, Any],
    timeout: float,
    base_dir: str | None = None,
) -> list[Figure]:
    tmp = tempfile.mkdtemp(prefix=f"bench-{wl.name}-", dir=base_dir)
    d6tflow.set_dir(tmp)
    flow = d6tflow.Workflow(wl.task_class, params=dict(wl.params))
    tasks, edges = count_graph(flow.get_task())
    picked = default_choice(flow.get_task()) if column == "default" else ""
    actions: list[tuple[str, Callable[[], Any]]] = [
        ("first run", lambda: flow.run(execution_summary=False, **run_kwargs)),
        ("complete()", flow.complete),
        ("preview", lambda: _quiet(flow.preview)),
        ("no-op rerun", lambda: flow.run(execution_summary=False, **run_kwargs)),
    ]
    figures = []
    try:
        for measurement, fn in actions:
            gc.collect()  # no garbage of the previous step collected inside this one
            seconds, note, detail = timed(fn, timeout)
            shown = f"{seconds:.3f} s" if seconds is not None else detail or note
            progress(f"  {wl.label:<14} {column:<8} {measurement:<12} {shown}")
            figures.append(
                Figure(wl.label, tasks, edges, measurement, column, seconds, note, detail)
            )
            if measurement == "first run":
                figures[-1].picked = picked
            if measurement == "first run":
                if seconds is None and not (note != "timeout" and _finish(flow, figures[-1])):
                    # nothing below means anything without a complete graph
                    figures += [
                        Figure(wl.label, tasks, edges, m, column, None, "skipped")
                        for m in MEASUREMENTS[1:]
                    ]
                    break
                check = _check(flow, wl)
                if check:
                    progress(f"  {wl.label}: {check}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


FINISH_RECURSION_LIMIT = 20_000


def _finish(flow: Any, failed: Figure) -> bool:
    """After a first run that raised: run again, untimed, with a high recursion limit, so the
    other measurements still see a complete graph (d6tflow's 500-chain needs it)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, FINISH_RECURSION_LIMIT))
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            flow.run(execution_summary=False)
        ok = bool(flow.complete())
    except Exception:
        ok = False
    finally:
        sys.setrecursionlimit(limit)
    if ok:
        failed.detail += (
            f"; the graph was then completed untimed with recursion limit "
            f"{FINISH_RECURSION_LIMIT} and the rows below measured at {limit}"
        )
        progress(
            f"  {failed.workload}: completed the graph untimed (recursion limit "
            f"{FINISH_RECURSION_LIMIT}) for the remaining measurements"
        )
    return ok


def default_choice(task: Any) -> str:
    """What daskflow's default scheduler picks for the pending graph of ``task`` (untimed;
    daskflow internals, so '' when they are not there)."""
    try:
        from daskflow.graph import build, to_run
        from daskflow.schedulers import resolve, width

        graph = build([task])
        keys = to_run(graph, graph.status())
        return str(resolve(None, None, width(graph, keys)).describe())
    except Exception:
        return ""


def _quiet(fn: Callable[[], Any]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        fn()


def _check(flow: Any, wl: Workload) -> str:
    """'' when the final output holds the expected value (read straight from its target)."""
    try:
        value = flow.output().load()
    except Exception as e:
        return f"could not read the final output: {e!r}"
    return "" if value == wl.expected else f"WRONG final value {value!r}, expected {wl.expected}"


def warm_up(
    d6tflow: types.ModuleType,
    t: types.SimpleNamespace,
    run_kwargs: dict[str, Any],
    base_dir: str | None = None,
) -> None:
    """One 1-task run, so lazy imports and first-call costs stay out of the figures."""
    tmp = tempfile.mkdtemp(prefix="bench-warmup-", dir=base_dir)
    try:
        d6tflow.set_dir(tmp)
        flow = d6tflow.Workflow(t.Warmup)
        flow.run(execution_summary=False, **run_kwargs)
        flow.complete()
        _quiet(flow.preview)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- the tables --------------------------------------------------------------------------------


def header(engine: str) -> str:
    return (
        f"{engine_version(engine)} | Python {platform.python_version()} | "
        f"{platform.system()} {platform.machine()} | {cores()}"
    )


def table(figures: list[Figure], timeout: float) -> str:
    columns = list(dict.fromkeys(f.column for f in figures))
    rows = list(dict.fromkeys((f.workload, f.measurement) for f in figures))
    by = {(f.workload, f.measurement, f.column): f for f in figures}
    meta = {f.workload: (f.tasks, f.edges) for f in figures}
    head = f"{'workload':<16}{'tasks':>6}{'edges':>7}  {'measurement':<13}"
    head += "".join(f"{c + ' s':>16}{'ms/task':>9}" for c in columns)
    lines = [head, "-" * len(head)]
    last = None
    for workload, measurement in rows:
        tasks, edges = meta[workload]
        lead = f"{workload:<16}{tasks:>6}{edges:>7}  " if workload != last else " " * 31
        last = workload
        line = f"{lead}{measurement:<13}"
        for c in columns:
            f = by.get((workload, measurement, c))
            s, ms = f.cell(timeout) if f else ("", "")
            line += f"{s:>16}{ms:>9}"
        lines.append(line.rstrip())
    picked = [f"{f.workload} {f.picked}" for f in figures if f.picked]
    if picked:
        lines.append(f"  default scheduler ran: {'; '.join(picked)}")
    lines += [
        f"  {f.workload} {f.measurement} ({f.column}): {f.detail}" for f in figures if f.detail
    ]
    return "\n".join(lines)


def run_engine(args: argparse.Namespace) -> list[Figure]:
    d6tflow = import_engine(args.engine)
    d6tflow.settings.execution_summary = False
    t = define_tasks(d6tflow)
    sizes = QUICK if args.quick else FULL
    if args.engine == "daskflow":
        schedulers = args.scheduler
        columns = [(s, {} if s == "default" else {"scheduler": s}) for s in schedulers]
    else:
        columns = [("luigi", {})]  # d6tflow: luigi.build, local scheduler, workers=1
    limit = f" | recursion limit {sys.getrecursionlimit()}" if args.engine == "d6tflow" else ""
    where = args.dir or tempfile.gettempdir()
    print(f"{header(args.engine)}{limit} | data in {where}", flush=True)
    progress(f"running {args.engine} ({'quick' if args.quick else 'full'} sizes)")
    figures: list[Figure] = []
    for column, kwargs in columns:
        warm_up(d6tflow, t, kwargs, args.dir)
        for wl in workloads(t, sizes, args.only):
            figures += bench_workload(d6tflow, wl, column, kwargs, args.timeout, args.dir)
    return figures


# -- --compare ---------------------------------------------------------------------------------


def compare(args: argparse.Namespace) -> None:
    args.engine = "daskflow"
    ours = run_engine(args)
    print()
    print(table(ours, args.timeout))
    python = args.d6tflow_python or os.environ.get("D6TFLOW_PYTHON") or DEFAULT_D6TFLOW_PYTHON
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        print(
            f"\nd6tflow interpreter {python} not found: showing daskflow only "
            "(set --d6tflow-python or D6TFLOW_PYTHON)"
        )
        return
    print(f"\nd6tflow, run by {python}:", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "d6tflow.json")
        cmd = [
            python,
            os.path.abspath(__file__),
            "--engine",
            "d6tflow",
            "--only",
            ",".join(args.only),
            "--timeout",
            str(args.timeout),
            "--json",
            out,
        ]
        if args.quick:
            cmd.append("--quick")
        if args.dir:
            cmd += ["--dir", args.dir]
        if args.recursion_limit:
            cmd += ["--recursion-limit", str(args.recursion_limit)]
        proc = subprocess.run(cmd, check=False)
        if proc.returncode != 0 or not os.path.exists(out):
            print(f"d6tflow benchmark exited with {proc.returncode}: no comparison")
            return
        with open(out) as f:
            theirs = [Figure(**d) for d in json.load(f)["figures"]]
    print()
    print(ratio_table(ours, theirs, args.timeout))


def ratio_table(ours: list[Figure], theirs: list[Figure], timeout: float) -> str:
    columns = list(dict.fromkeys(f.column for f in ours))
    by = {(f.workload, f.measurement, f.column): f for f in [*ours, *theirs]}
    rows = list(dict.fromkeys((f.workload, f.measurement) for f in ours))
    head = f"{'workload':<16}{'measurement':<13}{'d6tflow s':>14}"
    head += "".join(f"{'daskflow ' + c + ' s':>22}{'speedup':>12}" for c in columns)
    lines = ["d6tflow / daskflow (how many times faster daskflow is):", head, "-" * len(head)]
    for workload, measurement in rows:
        d6 = by.get((workload, measurement, "luigi"))
        d6_cell = d6.cell(timeout)[0] if d6 else "-"
        line = f"{workload:<16}{measurement:<13}{d6_cell:>14}"
        for c in columns:
            f = by[(workload, measurement, c)]
            line += f"{f.cell(timeout)[0]:>22}{_ratio(d6, f, timeout):>12}"
        lines.append(line)
    return "\n".join(lines)


def _ratio(d6: Figure | None, ours: Figure, timeout: float) -> str:
    if d6 is None or ours.seconds is None:
        return "-"
    base = max(ours.seconds, 1e-6)
    if d6.seconds is not None:
        ratio = d6.seconds / base
        return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"
    if d6.note == "timeout":
        return f"> {timeout / base:.0f}x"
    return "n/a"


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=("daskflow", "d6tflow"), default="daskflow")
    p.add_argument(
        "--only", default=",".join(WORKLOADS), help="comma-separated workloads: chain,fan,layered"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (chain 50, fan 100, layered 4x4) for a smoke run",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per measurement")
    p.add_argument(
        "--scheduler",
        default="default,sync",
        help="daskflow: comma-separated scheduler columns from default (daskflow's own "
        "choice), sync, threads, processes (default: default,sync)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="run daskflow here, then d6tflow with --d6tflow-python, side by side",
    )
    p.add_argument(
        "--d6tflow-python",
        default=None,
        help=f"interpreter with d6tflow installed (env D6TFLOW_PYTHON; "
        f"default {DEFAULT_D6TFLOW_PYTHON})",
    )
    p.add_argument(
        "--recursion-limit",
        type=int,
        default=None,
        help="sys.setrecursionlimit for the run (default: the interpreter's, 1000); "
        "d6tflow's 500-chain fails at 1000 and finishes at 5000",
    )
    p.add_argument(
        "--dir",
        default=None,
        help="where the temporary data dirs go (default: the system temp dir); "
        "e.g. /dev/shm to leave the disk out",
    )
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args(argv)
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    bad = [w for w in args.only if w not in WORKLOADS]
    if bad:
        p.error(f"unknown workload(s) {bad}; choose from {','.join(WORKLOADS)}")
    args.scheduler = [s.strip() for s in args.scheduler.split(",") if s.strip()]
    bad = [s for s in args.scheduler if s not in SCHEDULERS]
    if bad or not args.scheduler:
        p.error(f"unknown scheduler(s) {bad}; choose from {','.join(SCHEDULERS)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.recursion_limit:
        sys.setrecursionlimit(args.recursion_limit)
    if args.compare:
        compare(args)
        return
    figures = run_engine(args)
    print()
    print(table(figures, args.timeout))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"header": header(args.engine), "figures": [asdict(fig) for fig in figures]}, f
            )


if __name__ == "__main__":
    main()
