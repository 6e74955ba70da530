"""What leases cost, and what they save when runs overlap.

1. ``cost``: the fan of ``--n`` (1,000) trivial ``TaskPickle`` leaves into one (as in
   ``bench_engine.py``) on local disk, with ``settings.leases`` on and off, alternating in
   one process (``--rounds`` each, fresh root each time): the lease's cost per task that
   runs, in ms, and the ratio. A no-op rerun takes no lease, so it is not measured here.
2. ``s3``: the same on a local S3 server (``moto_server``, started by the script), with
   ``--s3-n`` (200) leaves: a lease is one conditional put, one read and one delete.
3. ``procs``: ``--procs`` (2 and 4) processes start the same flow at once on one fresh root
   (a fan of ``--procs-n`` leaves of 20 ms each): the wall time until all have finished and
   how many task runs they did in all, with leases and without (then each process runs
   every task itself).

Usage::

    python benchmarks/bench_leases.py                  # all three
    python benchmarks/bench_leases.py --only cost --n 1000 --rounds 4

This is a benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_engine import Join, alternate, flow_run, progress

import daskflow
from daskflow import settings
from daskflow.tasks import TaskPickle

SECTIONS = ("cost", "s3", "procs")


class Work(TaskPickle):
    """A leaf that takes 20 ms and records that it ran (``RUNS``)."""

    i = daskflow.IntParameter()

    def run(self) -> None:
        fd = os.open(os.environ["RUNS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{self.i}\n".encode())
        finally:
            os.close(fd)
        time.sleep(0.02)
        self.save(self.i)


class WorkJoin(TaskPickle):
    n = daskflow.IntParameter()

    def requires(self) -> list[Work]:
        return [Work(i=i) for i in range(self.n)]

    def run(self) -> None:
        self.save(sum(self.inputLoad()))


def _fan_sum(n: int) -> int:
    return n * (n - 1) // 2


def _with_leases(on: bool) -> Any:
    run = flow_run(Join, lambda n: {"n": n}, execution_summary=False)

    def go(root: str, n: int) -> Any:
        settings.leases = on
        try:
            return run(root, n)
        finally:
            settings.leases = True

    return go


def _cost(args: argparse.Namespace, n: int, tag: str) -> None:
    series = alternate(
        [("leases on", _with_leases(True)), ("leases off", _with_leases(False))],
        n,
        args.rounds,
        _fan_sum,
        args,
        tag,
    )
    on, off = (statistics.median(series[k].seconds) for k in ("leases on", "leases off"))
    where = "local disk" if tag == "cost" else "moto S3"
    print(
        f"{tag}: fan of {n:,} TaskPickle leaves into 1 on {where}, median of {args.rounds}: "
        f"leases on {on:.3f} s, off {off:.3f} s; {1000 * (on - off) / (n + 1):+.3f} ms per "
        f"task that runs ({on / off:.2f}x)"
    )


def bench_cost(args: argparse.Namespace) -> None:
    _cost(args, args.n, "cost")


def bench_s3(args: argparse.Namespace) -> None:
    import s3fs
    from bench_s3 import DUMMY_AWS, moto_server

    os.environ.update(DUMMY_AWS)  # moto's dummy credentials, for this process only

    with moto_server() as endpoint:
        options = {"client_kwargs": {"endpoint_url": endpoint}}
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("bench-leases")
        before = settings.storage_options
        settings.storage_options = options
        args.dir_s3 = "s3://bench-leases"
        try:
            series = alternate(
                [("leases on", _s3_variant(True)), ("leases off", _s3_variant(False))],
                args.s3_n,
                args.rounds,
                _fan_sum,
                args,
                "s3",
            )
        finally:
            settings.storage_options = before
    on, off = (statistics.median(series[k].seconds) for k in ("leases on", "leases off"))
    print(
        f"s3: fan of {args.s3_n:,} TaskPickle leaves into 1 on moto S3, median of "
        f"{args.rounds}: leases on {on:.3f} s, off {off:.3f} s; "
        f"{1000 * (on - off) / (args.s3_n + 1):+.3f} ms per task that runs ({on / off:.2f}x)"
    )


def _s3_variant(on: bool) -> Any:
    local = _with_leases(on)

    def go(root: str, n: int) -> Any:
        return local(f"s3://bench-leases/{os.path.basename(root)}", n)

    return go


def bench_procs(args: argparse.Namespace) -> None:
    n = args.procs_n
    print(f"procs: N processes start a fan of {n} leaves of 20 ms each at once on one root")
    print(f"   {'N':>3} {'leases':>7} {'wall s':>8} {'task runs':>10} {'tasks':>6}")
    for procs in args.procs:
        for on in (True, False):
            root = tempfile.mkdtemp(prefix="bench-leases-procs-", dir=args.dir)
            runs = os.path.join(root, "runs")
            env = {**os.environ, "RUNS": runs}
            cmd = [sys.executable, os.path.abspath(__file__), "--child", root, str(n)]
            cmd += [] if on else ["--no-leases"]
            start = time.perf_counter()
            children = [subprocess.Popen(cmd, env=env) for _ in range(procs)]
            for child in children:
                if child.wait(timeout=600) != 0:
                    raise SystemExit(f"a child run failed ({child.returncode})")
            wall = time.perf_counter() - start
            with open(runs) as f:
                total = len(f.read().splitlines())
            print(f"   {procs:>3} {'on' if on else 'off':>7} {wall:>8.2f} {total:>10} {n:>6}")
            shutil.rmtree(root, ignore_errors=True)


def child(root: str, n: int, leases: bool) -> None:
    settings.leases = leases
    daskflow.set_dir(os.path.join(root, "data"))
    result = daskflow.Workflow(WorkJoin, {"n": n}).run(execution_summary=False)
    assert result is not None and result.status == "SUCCESS", result
    value = daskflow.Workflow(WorkJoin, {"n": n}).outputLoad()
    assert value == _fan_sum(n), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--s3-n", type=int, default=200)
    parser.add_argument("--procs-n", type=int, default=200)
    parser.add_argument("--procs", type=lambda s: [int(x) for x in s.split(",")], default=[2, 4])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--dir", default=None, help="where the local roots go (system temp)")
    parser.add_argument("--child", nargs=2, metavar=("ROOT", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--no-leases", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), not args.no_leases)
        return
    print(
        f"daskflow {daskflow.__version__}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for section in args.only or SECTIONS:
        progress(f"-- {section}")
        {"cost": bench_cost, "s3": bench_s3, "procs": bench_procs}[section](args)
    print(json.dumps({"load average": os.getloadavg()}))


if __name__ == "__main__":
    main()
