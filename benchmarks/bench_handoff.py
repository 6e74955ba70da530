"""Hand-offs on the default scheduler (issue 18): two branches of four pure-Python tasks of
0.3 s of CPU each, joined; the default against ``sync`` and against the ideal (two cores:
the time of one branch), alternating in one process, on a fresh root each time.

    python benchmarks/bench_handoff.py [--rounds 3] [--dir /dev/shm]

Before issue 16 a worker that finished waited for the calling process's own task to end
(0.8-1.1 s idle per hand-off on such a pipeline). The figure printed is the default's time
over the ideal: what the hand-offs (and starting the workers, in the first round) cost.
This is a benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

import daskflow
from daskflow.tasks import TaskPickle

SECONDS, STEPS = 0.3, 4


def burn(seconds: float) -> int:
    """Hold the CPU (and the GIL) for ``seconds`` of process time."""
    start, n = time.process_time(), 0
    while time.process_time() - start < seconds:
        n += 1
    return n


class Step(TaskPickle):
    branch = daskflow.IntParameter()
    k = daskflow.IntParameter()

    def requires(self):
        return Step(branch=self.branch, k=self.k - 1) if self.k > 0 else []

    def run(self):
        burn(SECONDS)
        self.save(self.k)


class Join(TaskPickle):
    def requires(self):
        return [Step(branch=0, k=STEPS - 1), Step(branch=1, k=STEPS - 1)]

    def run(self):
        self.save(1)


def once(scheduler: str | None, where: str | None) -> float:
    root = tempfile.mkdtemp(dir=where)
    try:
        daskflow.set_dir(root)
        start = time.perf_counter()
        daskflow.Workflow(Join).run(scheduler=scheduler, execution_summary=False)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the roots go (default: the temp dir)")
    args = parser.parse_args()
    default, sync = [], []
    for i in range(args.rounds):
        default.append(once(None, args.dir))
        sync.append(once("sync", args.dir))
        print(f"  round {i + 1}: default {default[-1]:.2f} s, sync {sync[-1]:.2f} s", flush=True)
    ideal = SECONDS * STEPS
    best, median = min(default), statistics.median(default)
    print(
        f"handoff: 2 branches x {STEPS} tasks of {SECONDS} s, joined: default best {best:.2f} s, "
        f"median {median:.2f} s; sync median {statistics.median(sync):.2f} s; ideal on 2 cores "
        f"{ideal:.2f} s; idle over the ideal: {best - ideal:.2f} s best, {median - ideal:.2f} s "
        f"median ({STEPS - 1} hand-offs a branch)"
    )


if __name__ == "__main__":
    main()
