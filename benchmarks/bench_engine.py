"""The engine figures of issue 9, each side by side with plain Dask doing the same work in
the same run.

    python benchmarks/bench_engine.py                          # fan,cache,cpu,cluster,scale,chain
    python benchmarks/bench_engine.py --only fan,cache --rounds 6
    python benchmarks/bench_engine.py --only scale --sizes 1000,10000,100000 --cluster
    python benchmarks/bench_engine.py --quick                  # small sizes, runs in < 1 min

Sections (``--only``):

1. ``fan``: 1,000 trivial ``TaskPickle`` leaves (each saves its int) into one join that loads
   all of them and saves their sum, data on local disk in a fresh temporary root for every
   measurement. daskflow: ``Workflow(Join).run()`` with no scheduler argument (the default),
   and ``scheduler="sync"``, ``"threads"``, ``"processes"`` for reference. Plain Dask: the
   same pickle writes (temporary file + ``os.replace``) and reads as a ``dask.delayed`` graph
   (one delayed per leaf, one join) on dask's sync, threads and processes schedulers.
   Printed: daskflow default / the best of those plain local schedulers (goal <= 1.1x).
   For reference, not in that ratio: the same graph as a plain dict through ``dask.get``
   (sync; no ``dask.delayed`` overhead) and a plain Python loop (no scheduler at all).
2. ``cache``: the same fan with ``TaskCache`` leaves and join (in-memory outputs) on the
   default scheduler (goal < 0.35 s), and plain ``dask.delayed`` in memory for reference.
3. ``cpu``: 8 tasks of 0.5 s of pure Python (holding the GIL; ``bench_parallel``'s calibrated
   spin) plus a join: serial (``scheduler="sync"``) against the default (goal >= 1.9x), and
   plain Dask serial against a plain ``distributed.LocalCluster`` (2 workers, 1 thread each;
   started and stopped untimed around each of its measurements, so that its idle processes
   do not take CPU from the other variants).
4. ``cluster``: the fan on a ``LocalCluster(n_workers=2, threads_per_worker=1)``: daskflow
   ``run(scheduler=client)`` against the same writes and reads as a plain dict graph through
   ``client.get`` (goal <= 1.2x).
5. ``scale``: for each N of ``--sizes`` (1k, 10k, 100k), in a fresh subprocess (so the peak
   RSS is that size's): the fan of N ``TaskPickle`` leaves into one on the default scheduler,
   first run; a plain Python loop doing the same writes and reads; engine overhead per task
   (first run - loop) / N (goal <= 0.2 ms); then on the completed flow ``complete()``,
   ``preview()`` (into /dev/null) and a no-op ``run()`` (goal < 2 s each at 100k); peak RSS
   (goal < 1 GB). ``--cluster`` adds the first run on a 2-worker ``LocalCluster`` against a
   plain dict graph through ``client.get`` (not ``dask.delayed``: one call with 100,000
   delayed arguments spends minutes culling its graph).
6. ``chain``: a 5,000-task chain (each loads its upstream and saves it + 1) at Python's
   default recursion limit (never raised here); seconds or the error, and a plain dict graph
   of the same writes and reads on dask's sync scheduler for reference.

Every variant of a section runs once per round, in an order that rotates from round to
round, after one untimed warm-up of each on a 10-task graph; best and median are printed.
Each measurement stops after ``--timeout`` seconds (SIGALRM; a scale subprocess is killed
with its process group) and shows as ``timeout``. Progress goes to stderr, figures to
stdout. Prints figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import pickle
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import daskflow
from daskflow.tasks import TaskCache, TaskPickle

HERE = Path(__file__).resolve().parent
SECTIONS = ("fan", "cache", "cpu", "cluster", "scale", "chain")
WARM_N = 10  # tasks of the untimed warm-up graphs

# per section: size and rounds; --rounds overrides every section's rounds
FULL: dict[str, dict[str, Any]] = {
    "fan": {"n": 1000, "rounds": 4},
    "cache": {"n": 1000, "rounds": 4},
    "cpu": {"n": 8, "seconds": 0.5, "rounds": 2},
    "cluster": {"n": 1000, "rounds": 3},
    "scale": {"sizes": [1000, 10_000, 100_000]},
    "chain": {"n": 5000, "rounds": 2},
}
QUICK: dict[str, dict[str, Any]] = {
    "fan": {"n": 100, "rounds": 2},
    "cache": {"n": 100, "rounds": 2},
    "cpu": {"n": 4, "seconds": 0.1, "rounds": 1},
    "cluster": {"n": 100, "rounds": 1},
    "scale": {"sizes": [100, 1000]},
    "chain": {"n": 500, "rounds": 1},
}

Variant = Callable[[str, int], Callable[[], Any]]  # (root, n) -> read the final value


@dataclass
class Around:
    """A variant that needs something running while it is measured (a cluster): ``setup()``
    is entered untimed around each of its measurements, and ``variant(thing)`` is measured,
    so that the thing does not load the machine while the other variants run."""

    setup: Callable[[], contextlib.AbstractContextManager[Any]]
    variant: Callable[[Any], Variant]


# -- the tasks -------------------------------------------------------------------------------


class Leaf(TaskPickle):
    i = daskflow.IntParameter()

    def run(self) -> None:
        self.save(self.i)


class Join(TaskPickle):
    n = daskflow.IntParameter(default=1000)

    def requires(self) -> list[Leaf]:
        return [Leaf(i=i) for i in range(self.n)]

    def run(self) -> None:
        self.save(sum(self.inputLoad()))


class CacheLeaf(TaskCache):
    i = daskflow.IntParameter()

    def run(self) -> None:
        self.save(self.i)


class CacheJoin(TaskCache):
    n = daskflow.IntParameter(default=1000)

    def requires(self) -> list[CacheLeaf]:
        return [CacheLeaf(i=i) for i in range(self.n)]

    def run(self) -> None:
        self.save(sum(self.inputLoad()))


def _spin_iters(iters: int) -> int:
    """bench_parallel's spin with the iteration count given (its rate calibrated there)."""
    total = 0
    for i in range(iters):
        total += i * i % 7
    return total


class Spin(TaskPickle):
    i = daskflow.IntParameter()
    iters = daskflow.IntParameter()

    def run(self) -> None:
        self.save(_spin_iters(self.iters) + self.i)


class SpinJoin(TaskPickle):
    n = daskflow.IntParameter(default=8)
    iters = daskflow.IntParameter()

    def requires(self) -> list[Spin]:
        return [Spin(i=i, iters=self.iters) for i in range(self.n)]

    def run(self) -> None:
        self.save(sum(self.inputLoad()))


class Chain(TaskPickle):
    i = daskflow.IntParameter()

    def requires(self) -> Chain | list[Chain]:
        return Chain(i=self.i - 1) if self.i > 0 else []

    def run(self) -> None:
        self.save(self.inputLoad() + 1 if self.i > 0 else 1)


def _fan_sum(n: int) -> int:
    return n * (n - 1) // 2


# -- plain work: the same writes and reads without daskflow -----------------------------------


def _save(obj: Any, path: str) -> None:
    """Pickle ``obj`` to ``path`` atomically: a temporary name beside it, then a rename."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _load(path: str) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


def _plain_leaf(path: str, value: int) -> str:
    _save(value, path)
    return path  # a small token, as a daskflow file task returns


def _plain_join(path: str, inputs: list[str]) -> int:
    total = sum(_load(p) for p in inputs)
    _save(total, path)
    return total


def _plain_step(path: str, upstream: str | None) -> str:
    _save(_load(upstream) + 1 if upstream else 1, path)
    return path


def _plain_paths(root: str, n: int) -> tuple[list[str], str]:
    """Leaf and join paths laid out as daskflow lays them out (one folder per family)."""
    leaves, joins = os.path.join(root, "Leaf"), os.path.join(root, "Join")
    os.makedirs(leaves, exist_ok=True)
    os.makedirs(joins, exist_ok=True)
    paths = [os.path.join(leaves, f"Leaf_{i}-data.pkl") for i in range(n)]
    return paths, os.path.join(joins, f"Join_{n}-data.pkl")


def plain_fan_dict(root: str, n: int) -> tuple[dict[str, Any], str]:
    """The fan as a plain Dask graph mapping (key ``join``)."""
    paths, out = _plain_paths(root, n)
    dsk: dict[str, Any] = {f"leaf-{i}": (_plain_leaf, p, i) for i, p in enumerate(paths)}
    dsk["join"] = (_plain_join, out, [f"leaf-{i}" for i in range(n)])
    return dsk, "join"


def plain_fan_delayed(scheduler: Any) -> Variant:
    def go(root: str, n: int) -> Callable[[], Any]:
        import dask

        paths, out = _plain_paths(root, n)
        leaf = dask.delayed(_plain_leaf)
        parts = [leaf(p, i) for i, p in enumerate(paths)]
        total = dask.delayed(_plain_join)(out, parts).compute(scheduler=scheduler)
        return lambda: total

    return go


def plain_fan_dict_sync(root: str, n: int) -> Callable[[], Any]:
    import dask

    dsk, key = plain_fan_dict(root, n)
    total = dask.get(dsk, key)
    return lambda: total


def plain_fan_loop_variant(root: str, n: int) -> Callable[[], Any]:
    total = plain_fan_loop(root, n)
    return lambda: total


def plain_fan_loop(root: str, n: int) -> int:
    """The fan's writes and reads as a plain Python loop: the floor under any engine."""
    paths, out = _plain_paths(root, n)
    for i, p in enumerate(paths):
        _save(i, p)
    return _plain_join(out, paths)


def plain_fan_get(client: Any) -> Variant:
    def go(root: str, n: int) -> Callable[[], Any]:
        dsk, key = plain_fan_dict(root, n)
        total = client.get(dsk, key)
        return lambda: total

    return go


def _trivial(i: int) -> int:
    return i


def _total(xs: list[int]) -> int:
    return sum(xs)


# -- daskflow runs -----------------------------------------------------------------------------


def flow_run(task: type[Any], params: Callable[[int], dict[str, Any]], **kwargs: Any) -> Variant:
    """``Workflow(task, params(n)).run(**kwargs)`` in ``root``; returns its output's loader."""

    def go(root: str, n: int) -> Callable[[], Any]:
        daskflow.set_dir(root)
        flow = daskflow.Workflow(task, params(n))
        flow.run(**kwargs)
        return flow.outputLoad

    return go


def _fan_params(n: int) -> dict[str, Any]:
    return {"n": n}


def default_choice(task: Any) -> str:
    """What daskflow's default scheduler picks for ``task``'s pending graph (daskflow
    internals, read untimed; '' when they are not there, as while the engine changes)."""
    try:
        from daskflow.graph import build, to_run
        from daskflow.schedulers import resolve, width

        graph = build([task])
        keys = to_run(graph, graph.status())
        return str(resolve(None, None, width(graph, keys)).describe())
    except Exception:
        return ""


def _picked(task: type[Any], params: dict[str, Any], base_dir: str | None) -> str:
    root = tempfile.mkdtemp(prefix="bench-engine-pick-", dir=base_dir)
    try:
        daskflow.set_dir(root)
        return default_choice(daskflow.Workflow(task, params).get_task())
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- timing ------------------------------------------------------------------------------------


class MeasurementTimeout(BaseException):
    """Raised by SIGALRM past the timeout (a BaseException: ``except Exception`` in an engine
    does not swallow it)."""


def _alarm(signum: int, frame: Any) -> None:
    raise MeasurementTimeout


def timed(fn: Callable[[], Any], timeout: float) -> tuple[float | None, str, Any]:
    """(seconds, '', result) or (None, 'timeout' or the error, None). After the deadline
    SIGALRM fires again every second until ``fn`` gives up."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout, 1.0)
    start = time.perf_counter()
    try:
        result = fn()
        return time.perf_counter() - start, "", result
    except MeasurementTimeout:
        return None, "timeout", None
    except Exception as e:
        if time.perf_counter() - start >= timeout:
            return None, "timeout", None  # the engine turned our interrupt into its own error
        return None, _describe(e), None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _describe(e: BaseException) -> str:
    """``Name: message`` of the error and of the errors it was raised from (clipped)."""
    parts = []
    cur: BaseException | None = e
    while cur is not None and len(parts) < 3:
        text = str(cur).strip().splitlines()
        parts.append(f"{type(cur).__name__}: {text[0][:100]}" if text else type(cur).__name__)
        cur = cur.__cause__
    return " <- ".join(parts)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Send this process's stdout to /dev/null, file descriptor and ``sys.stdout`` both."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        with open(os.devnull, "w") as f, contextlib.redirect_stdout(f):
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


@dataclass
class Series:
    label: str
    seconds: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def best(self) -> float | None:
        return min(self.seconds) if self.seconds else None

    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None


def alternate(
    variants: Sequence[tuple[str, Variant | Around]],
    n: int,
    rounds: int,
    expected: Callable[[int], Any] | None,
    args: argparse.Namespace,
    tag: str,
) -> dict[str, Series]:
    """Each variant once per round in a rotating order, each in a fresh temporary root, after
    one untimed warm-up run of each on a small graph."""
    series = {label: Series(label) for label, _ in variants}
    schedule: list[tuple[int, str, Variant | Around]] = [(-1, label, fn) for label, fn in variants]
    for r in range(rounds):
        k = r % len(variants)
        schedule += [(r, label, fn) for label, fn in [*variants[k:], *variants[:k]]]
    for r, label, fn in schedule:
        size = WARM_N if r < 0 else n
        root = tempfile.mkdtemp(prefix=f"bench-engine-{tag}-", dir=args.dir)
        try:
            with fn.setup() if isinstance(fn, Around) else contextlib.nullcontext() as thing:
                run = fn.variant(thing) if isinstance(fn, Around) else fn
                gc.collect()
                secs, note, read = timed(
                    lambda run=run, root=root, size=size: run(root, size), args.timeout
                )
            wrong = ""
            if read is not None and expected is not None:
                try:
                    value = read()
                except Exception as e:
                    value = f"unreadable ({_describe(e)})"
                if value != expected(size):
                    wrong = f"WRONG final value {value!r}, expected {expected(size)!r}"
            if r < 0:
                progress(f"  {tag} warm-up {label}: {_shown(secs, note)} {wrong}".rstrip())
                continue
            if secs is not None and not wrong:
                series[label].seconds.append(secs)
            series[label].notes += [x for x in (note, wrong) if x]
            progress(f"  {tag} round {r + 1} {label:<34} {_shown(secs, note)} {wrong}".rstrip())
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return series


def _shown(secs: float | None, note: str) -> str:
    return f"{secs:.3f} s" if secs is not None else note


def _s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def print_series(title: str, series: dict[str, Series], notes: list[str] | None = None) -> None:
    print(f"\n{title}")
    print(f"   {'run':<40} {'best s':>8} {'median s':>9}  rounds")
    for s in series.values():
        rounds = ", ".join(f"{x:.3f}" for x in s.seconds)
        print(f"   {s.label:<40} {_s(s.best()):>8} {_s(s.median()):>9}  {rounds}")
        for note in dict.fromkeys(s.notes):
            print(f"      ! {s.label}: {note}")
    for note in notes or []:
        print(f"   {note}")


def _rounds(args: argparse.Namespace, section: str) -> int:
    return int(args.rounds or args.sizes_table[section]["rounds"])


# -- 1. fan ------------------------------------------------------------------------------------


def bench_fan(args: argparse.Namespace) -> None:
    n, rounds = args.sizes_table["fan"]["n"], _rounds(args, "fan")
    variants: list[tuple[str, Variant]] = [
        ("daskflow default (no scheduler=)", flow_run(Join, _fan_params)),
        ("daskflow sync", flow_run(Join, _fan_params, scheduler="sync")),
        ("daskflow threads", flow_run(Join, _fan_params, scheduler="threads")),
        ("daskflow processes", flow_run(Join, _fan_params, scheduler="processes")),
        ("plain dask.delayed sync", plain_fan_delayed("sync")),
        ("plain dask.delayed threads", plain_fan_delayed("threads")),
        ("plain dask.delayed processes", plain_fan_delayed("processes")),
        ("ref: plain dict graph dask.get (sync)", plain_fan_dict_sync),
        ("ref: plain Python loop", plain_fan_loop_variant),
    ]
    picked = _picked(Join, {"n": n}, args.dir)
    series = alternate(variants, n, rounds, _fan_sum, args, "fan")
    plain = [s for s in series.values() if s.label.startswith("plain dask") and s.seconds]
    best_plain = min(plain, key=lambda s: s.best() or 0.0) if plain else None
    ours = series["daskflow default (no scheduler=)"]
    notes = [f"daskflow's default ran: {picked}"] if picked else []
    if best_plain:
        notes += [
            f"best plain local: {best_plain.label} {_s(best_plain.best())} s "
            f"(median {_s(best_plain.median())} s)",
            f"daskflow default / best plain local: best {_ratio(ours.best(), best_plain.best())}"
            f", median {_ratio(ours.median(), best_plain.median())}   goal <= 1.1x",
        ]
    for ref in ("ref: plain dict graph dask.get (sync)", "ref: plain Python loop"):
        r = series[ref]
        notes.append(
            f"daskflow default / {ref[5:]}: best {_ratio(ours.best(), r.best())}, median "
            f"{_ratio(ours.median(), r.median())} (reference, no goal)"
        )
    print_series(
        f"1. fan: {n:,} TaskPickle leaves into 1 join, data on local disk "
        f"({args.dir or tempfile.gettempdir()}), {rounds} alternating rounds, seconds",
        series,
        notes,
    )


# -- 2. cache ----------------------------------------------------------------------------------


def cache_run(**kwargs: Any) -> Variant:
    run = flow_run(CacheJoin, _fan_params, **kwargs)

    def go(root: str, n: int) -> Callable[[], Any]:
        daskflow.data.clear()  # the previous round's in-memory outputs
        return run(root, n)

    return go


def plain_cache_delayed(scheduler: str) -> Variant:
    def go(root: str, n: int) -> Callable[[], Any]:
        import dask

        parts = [dask.delayed(_trivial)(i) for i in range(n)]
        total = dask.delayed(_total)(parts).compute(scheduler=scheduler)
        return lambda: total

    return go


def bench_cache(args: argparse.Namespace) -> None:
    n, rounds = args.sizes_table["cache"]["n"], _rounds(args, "cache")
    variants: list[tuple[str, Variant]] = [
        ("daskflow default (no scheduler=)", cache_run()),
        ("daskflow sync", cache_run(scheduler="sync")),
        ("plain dask.delayed sync (in memory)", plain_cache_delayed("sync")),
        ("plain dask.delayed threads (in memory)", plain_cache_delayed("threads")),
    ]
    picked = _picked(CacheJoin, {"n": n}, args.dir)
    try:
        series = alternate(variants, n, rounds, _fan_sum, args, "cache")
    finally:
        daskflow.data.clear()
    ours = series["daskflow default (no scheduler=)"]
    plain = [s for s in series.values() if s.label.startswith("plain") and s.seconds]
    best_plain = min(plain, key=lambda s: s.best() or 0.0) if plain else None
    notes = [f"daskflow's default ran: {picked}"] if picked else []
    notes.append(
        f"daskflow default: best {_s(ours.best())} s, median {_s(ours.median())} s"
        f"   goal < 0.35 s (at 1,000 leaves)"
    )
    if best_plain:
        notes.append(
            f"best plain in memory: {best_plain.label} {_s(best_plain.best())} s; "
            f"ratio {_ratio(ours.best(), best_plain.best())} (reference, no goal)"
        )
    print_series(
        f"2. cache: {n:,} TaskCache leaves into 1 TaskCache join (in-memory outputs), "
        f"{rounds} alternating rounds, seconds",
        series,
        notes,
    )


# -- 3. cpu ------------------------------------------------------------------------------------


def _calibrated_rate() -> float:
    """Iterations per second of bench_parallel's spin loop, calibrated by bench_parallel."""
    sys.path.insert(0, str(HERE))
    try:
        import bench_parallel
    finally:
        sys.path.remove(str(HERE))
    bench_parallel._calibrate()
    return float(bench_parallel._spin.rate)  # type: ignore[attr-defined]


def _spin_plus(iters: int, i: int) -> int:
    return _spin_iters(iters) + i


def _spin_sum(xs: list[int]) -> int:
    return sum(xs)


def plain_spin(scheduler: Any, iters: int) -> Variant:
    def go(root: str, n: int) -> Callable[[], Any]:
        import dask

        size = iters if n != WARM_N else 1000  # the warm-up spins briefly
        parts = [dask.delayed(_spin_plus)(size, i) for i in range(n)]
        total = dask.delayed(_spin_sum)(parts).compute(scheduler=scheduler)
        return lambda: total

    return go


def flow_spin(iters: int, **kwargs: Any) -> Variant:
    def go(root: str, n: int) -> Callable[[], Any]:
        size = iters if n != WARM_N else 1000  # the warm-up spins briefly
        return flow_run(SpinJoin, lambda n: {"n": n, "iters": size}, **kwargs)(root, n)

    return go


@contextlib.contextmanager
def two_worker_client() -> Iterator[Any]:
    """A client of a fresh ``LocalCluster`` of 2 worker processes with 1 thread each (every
    cluster figure runs on one of these)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client


def bench_cpu(args: argparse.Namespace) -> None:
    cfg = args.sizes_table["cpu"]
    n, seconds, rounds = cfg["n"], cfg["seconds"], _rounds(args, "cpu")
    iters = int(_calibrated_rate() * seconds)
    one = _spin_iters(iters)  # the value of one task, for the check (untimed)

    def expected(k: int) -> int:
        return k * (one if k != WARM_N else _spin_iters(1000)) + _fan_sum(k)

    picked = _picked(SpinJoin, {"n": n, "iters": iters}, args.dir)
    # the cluster runs only while its own variant is measured (its 3 idle processes would
    # take CPU from the others'), started and stopped untimed around each measurement
    variants: list[tuple[str, Variant | Around]] = [
        ("daskflow serial (scheduler='sync')", flow_spin(iters, scheduler="sync")),
        ("daskflow default (no scheduler=)", flow_spin(iters)),
        ("plain dask.delayed sync (serial)", plain_spin("sync", iters)),
        (
            "plain dask.delayed LocalCluster(2x1)",
            Around(
                two_worker_client,
                lambda client: plain_spin(client, iters),
            ),
        ),
    ]
    series = alternate(variants, n, rounds, expected, args, "cpu")
    serial, ours = (
        series["daskflow serial (scheduler='sync')"],
        series["daskflow default (no scheduler=)"],
    )
    pserial = series["plain dask.delayed sync (serial)"]
    pdist = series["plain dask.delayed LocalCluster(2x1)"]
    notes = [f"daskflow's default ran: {picked}"] if picked else []
    notes += [
        f"daskflow speedup default / serial: best {_ratio(serial.best(), ours.best())}, "
        f"median {_ratio(serial.median(), ours.median())}   goal >= 1.9x",
        f"plain dask speedup LocalCluster(2 workers x 1 thread) / sync: best "
        f"{_ratio(pserial.best(), pdist.best())}, median "
        f"{_ratio(pserial.median(), pdist.median())} (reference; the cluster starts and "
        "stops untimed around each of its measurements)",
    ]
    print_series(
        f"3. cpu: {n} tasks of {seconds} s pure Python (GIL held) + a join, "
        f"{os.cpu_count()} cores, {rounds} alternating rounds, seconds",
        series,
        notes,
    )


# -- 4. cluster --------------------------------------------------------------------------------


def bench_cluster(args: argparse.Namespace) -> None:
    n, rounds = args.sizes_table["cluster"]["n"], _rounds(args, "cluster")
    t = time.perf_counter()
    with two_worker_client() as client:
        started = time.perf_counter() - t
        variants: list[tuple[str, Variant]] = [
            ("daskflow run(scheduler=client)", flow_run(Join, _fan_params, scheduler=client)),
            ("plain dict graph client.get", plain_fan_get(client)),
        ]
        series = alternate(variants, n, rounds, _fan_sum, args, "cluster")
    ours, plain = series["daskflow run(scheduler=client)"], series["plain dict graph client.get"]
    print_series(
        f"4. cluster: {n:,} TaskPickle leaves into 1 on LocalCluster(n_workers=2, "
        f"threads_per_worker=1, processes=True), {rounds} interleaved rounds, seconds",
        series,
        [
            f"daskflow / plain distributed: best {_ratio(ours.best(), plain.best())}, median "
            f"{_ratio(ours.median(), plain.median())}   goal <= 1.2x "
            f"(cluster start-up {started:.1f} s, untimed)"
        ],
    )


# -- 5. scale ----------------------------------------------------------------------------------

SCALE_STEPS = (
    "loop",
    "first run",
    "complete()",
    "preview",
    "no-op rerun",
    "cluster first run",
    "plain client.get",
)


def scale_child(n: int, out: str, args: argparse.Namespace) -> None:
    """One size, in this (fresh) process; figures written to ``out`` after every step."""
    fig: dict[str, Any] = {"n": n}

    def dump() -> None:
        with open(out + ".tmp", "w") as f:
            json.dump(fig, f)
        os.replace(out + ".tmp", out)

    def step(name: str, fn: Callable[[], Any]) -> Any:
        gc.collect()
        secs, note, result = timed(fn, args.timeout)
        fig[name] = secs if secs is not None else note
        progress(f"  scale {n:>7,} {name:<18} {_shown(secs, note)}")
        dump()
        return result if secs is not None else None

    roots: list[str] = []

    def fresh() -> str:
        roots.append(tempfile.mkdtemp(prefix=f"bench-engine-scale{n}-", dir=args.dir))
        return roots[-1]

    try:
        flow_run(Join, _fan_params)(fresh(), WARM_N)  # warm-up: imports, first calls
        shutil.rmtree(roots.pop(), ignore_errors=True)
        root = fresh()
        total = step("loop", lambda: plain_fan_loop(root, n))
        if total is not None and total != _fan_sum(n):
            fig["wrong"] = f"loop: {total!r}"
        shutil.rmtree(root, ignore_errors=True)

        daskflow.set_dir(fresh())
        flow = daskflow.Workflow(Join, {"n": n})
        if step("first run", lambda: flow.run() or True) is not None:
            value = flow.outputLoad()
            if value != _fan_sum(n):
                fig["wrong"] = f"first run: {value!r}"
            fig["complete value"] = step("complete()", flow.complete)

            def preview() -> bool:
                with stdout_to_devnull():
                    flow.preview()
                return True

            step("preview", preview)
            step("no-op rerun", lambda: flow.run() or True)
        fig["rss self MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        fig["rss largest child MB"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        dump()
        shutil.rmtree(roots.pop(), ignore_errors=True)
        if args.cluster:
            scale_cluster(n, step, fresh, fig, args)
    finally:
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
        dump()


def scale_cluster(
    n: int,
    step: Callable[[str, Callable[[], Any]], Any],
    fresh: Callable[[], str],
    fig: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    t = time.perf_counter()
    with two_worker_client() as client:
        fig["cluster start-up"] = time.perf_counter() - t
        ours, plain = flow_run(Join, _fan_params, scheduler=client), plain_fan_get(client)
        for fn in (ours, plain):  # warm-up: workers import daskflow, the functions arrive
            root = fresh()
            fn(root, WARM_N)
            shutil.rmtree(root, ignore_errors=True)
        for name, fn in (("cluster first run", ours), ("plain client.get", plain)):
            root = fresh()
            step(name, lambda fn=fn, root=root: fn(root, n))
            shutil.rmtree(root, ignore_errors=True)


def bench_scale(args: argparse.Namespace) -> None:
    sizes = args.sizes or args.sizes_table["scale"]["sizes"]
    rows = []
    steps = len(SCALE_STEPS) if args.cluster else 5
    for n in sizes:
        fd, out = tempfile.mkstemp(prefix=f"bench-engine-scale{n}-", suffix=".json")
        os.close(fd)
        cmd = [sys.executable, os.path.abspath(__file__), "--scale-child", str(n)]
        cmd += ["--scale-out", out, "--timeout", str(args.timeout)]
        if args.dir:
            cmd += ["--dir", args.dir]
        if args.cluster:
            cmd.append("--cluster")
        limit = steps * args.timeout + 120
        proc = subprocess.Popen(cmd, start_new_session=True)
        killed = ""
        try:
            proc.wait(timeout=limit)
        except BaseException as e:  # the limit, or Ctrl-C: take its workers down too
            killed = "timeout" if isinstance(e, subprocess.TimeoutExpired) else type(e).__name__
            if not isinstance(e, subprocess.TimeoutExpired):
                raise
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # its group: forked or spawned workers too
            proc.wait()
        try:
            with open(out) as f:
                fig = json.load(f)
        except (OSError, ValueError):
            fig = {"n": n}
        finally:
            os.unlink(out)
        if killed:
            fig["killed"] = f"subprocess killed after {limit:g} s"
        elif proc.returncode:
            fig["killed"] = f"subprocess exited {proc.returncode}"
        rows.append(fig)
        first = fig.get("first run")
        if isinstance(first, float) and n < 100_000 and first > 20 and 100_000 in sizes:
            progress(f"  scale: {n:,} took {first:.0f} s; 100,000 may take many minutes")
    print_scale(rows, args)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return _s(v)
    return "-" if v is None else str(v)


def print_scale(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\n5. scale: fan of N TaskPickle leaves into 1 on the default scheduler, one fresh "
        f"subprocess per N, data in {args.dir or tempfile.gettempdir()}, seconds"
    )
    head = (
        f"   {'N':>7} {'first run':>9} {'loop':>7} {'ms/task':>8} {'complete()':>10} "
        f"{'preview':>8} {'no-op':>7} {'RSS MB':>7} {'child MB':>8}"
    )
    if args.cluster:
        head += f" {'cluster':>8} {'plain':>8} {'ratio':>6}"
    print(head)
    print(
        "   goals:            <= 0.2 ms/task above the loop; complete(), preview, no-op < 2 s "
        "at 100k; RSS < 1024 MB" + ("; cluster <= 1.2x plain" if args.cluster else "")
    )
    for fig in rows:
        n, first, loop = fig["n"], fig.get("first run"), fig.get("loop")
        per = (
            f"{(first - loop) / n * 1000:.3f}"
            if isinstance(first, float) and isinstance(loop, float)
            else "-"
        )
        line = (
            f"   {n:>7,} {_cell(first):>9} {_cell(loop):>7} {per:>8} "
            f"{_cell(fig.get('complete()')):>10} {_cell(fig.get('preview')):>8} "
            f"{_cell(fig.get('no-op rerun')):>7} {_cell(fig.get('rss self MB')):>7} "
            f"{_cell(fig.get('rss largest child MB')):>8}"
        )
        if args.cluster:
            ours, plain = fig.get("cluster first run"), fig.get("plain client.get")
            ratio = (
                _ratio(ours, plain) if isinstance(ours, float) and isinstance(plain, float) else "-"
            )
            line += f" {_cell(ours):>8} {_cell(plain):>8} {ratio:>6}"
        print(line)
        for key in ("wrong", "killed"):
            if key in fig:
                print(f"      ! N={n:,}: {key}: {fig[key]}")
        if fig.get("complete value") not in (None, True):
            print(f"      ! N={n:,}: complete() returned {fig['complete value']!r}")
    print(
        "   ms/task = (first run - loop) / N; RSS MB = peak RSS of the subprocess itself "
        "(ru_maxrss, before any cluster); child MB = the largest of its finished children"
    )


# -- 6. chain ----------------------------------------------------------------------------------


def plain_chain(root: str, n: int) -> Callable[[], Any]:
    import dask

    folder = os.path.join(root, "Chain")
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"Chain_{i}-data.pkl") for i in range(n)]
    dsk: dict[str, Any] = {"c-0": (_plain_step, paths[0], None)}
    dsk.update({f"c-{i}": (_plain_step, paths[i], f"c-{i - 1}") for i in range(1, n)})
    last = dask.get(dsk, f"c-{n - 1}")
    return lambda: _load(last)


def bench_chain(args: argparse.Namespace) -> None:
    n, rounds = args.sizes_table["chain"]["n"], _rounds(args, "chain")
    limit = sys.getrecursionlimit()
    variants: list[tuple[str, Variant]] = [
        ("daskflow default (no scheduler=)", flow_run(Chain, lambda n: {"i": n - 1})),
        ("plain dict graph dask sync", plain_chain),
    ]
    series = alternate(variants, n, rounds, lambda n: n, args, "chain")
    ours = series["daskflow default (no scheduler=)"]
    verdict = (
        f"runs: best {_s(ours.best())} s"
        if ours.seconds
        else f"fails: {'; '.join(dict.fromkeys(ours.notes))}"
    )
    print_series(
        f"6. chain: {n:,} tasks, each loads its upstream and saves it + 1, recursion limit "
        f"{limit}, {rounds} alternating rounds, seconds",
        series,
        [f"daskflow at recursion limit {limit} {verdict}   goal: runs"],
    )


# -- main --------------------------------------------------------------------------------------


def header() -> str:
    from importlib.metadata import version

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"daskflow {daskflow.__version__} ({Path(daskflow.__file__).parent}), dask "
        f"{version('dask')}, distributed {version('distributed')}, Python "
        f"{platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated: {SECTIONS}")
    p.add_argument("--rounds", type=int, default=None, help="rounds for every section")
    p.add_argument("--sizes", default=None, help="scale: comma-separated N (1000,10000,100000)")
    p.add_argument("--cluster", action="store_true", help="scale: also on a LocalCluster")
    p.add_argument("--quick", action="store_true", help="small sizes, to check it runs")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per measurement")
    p.add_argument("--dir", default=None, help="where temporary data roots go (default: tmp)")
    p.add_argument("--scale-child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--scale-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in args.only if s not in SECTIONS]
    if bad:
        p.error(f"unknown section(s) {bad}; choose from {','.join(SECTIONS)}")
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
    args.sizes_table = QUICK if args.quick else FULL
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    daskflow.settings.execution_summary = False  # the summary's print stays out of the times
    if args.scale_child is not None:
        scale_child(args.scale_child, args.scale_out, args)
        return
    print(header(), flush=True)
    benches = {
        "fan": bench_fan,
        "cache": bench_cache,
        "cpu": bench_cpu,
        "cluster": bench_cluster,
        "scale": bench_scale,
        "chain": bench_chain,
    }
    for name in SECTIONS:
        if name in args.only:
            t = time.perf_counter()
            benches[name](args)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"   ({name}: {time.perf_counter() - t:.0f} s in all; load average {load})")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
