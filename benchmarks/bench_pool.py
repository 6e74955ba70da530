"""The local worker processes (issue 16): tasks that start process pools of their own, and
what keeping the workers across runs saves.

    python benchmarks/bench_pool.py [--dir /dev/shm] [--rounds 3]

1. joblib: two tasks that each call ``joblib.Parallel(n_jobs=2)``, as a whole script in a
   fresh process (what a user meets: the time until the shell prompt is back), on the
   default scheduler and beside it ``scheduler="sync"``. Before issue 16 the default took
   about 303 s: the forked worker could not exit until loky's workers timed out.
2. reuse: a fan of 4 tasks of 0.1 s and a join, run again and again in one process (as a
   notebook does), the default scheduler keeping its workers, against the same runs with the
   kept pool closed before each run (a new fork each time, as before issue 16).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

JOBLIB_SCRIPT = """
import sys
import daskflow
from joblib import Parallel, delayed

daskflow.set_dir(sys.argv[1])


def square(x):
    return x * x


class UsesJoblib(daskflow.tasks.TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        self.save(sum(Parallel(n_jobs=2)(delayed(square)(x) for x in range(100))))


class Both(daskflow.tasks.TaskPickle):
    def requires(self):
        return [UsesJoblib(i=0), UsesJoblib(i=1)]

    def run(self):
        self.save(sum(self.inputLoad()))


if __name__ == "__main__":
    scheduler = None if sys.argv[2] == "default" else sys.argv[2]
    daskflow.Workflow(Both).run(scheduler=scheduler, execution_summary=False)
"""


def bench_joblib(folder: str, rounds: int) -> None:
    script = os.path.join(folder, "joblib_flow.py")
    with open(script, "w") as f:
        f.write(textwrap.dedent(JOBLIB_SCRIPT))
    times: dict[str, list[float]] = {"default": [], "sync": []}
    for _ in range(rounds):
        for name in times:  # alternating
            out = os.path.join(folder, f"out-{name}")
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            # stdout and stderr through pipes: a process left holding them would hold this up
            subprocess.run(
                [sys.executable, script, out, name], check=True, capture_output=True, timeout=600
            )
            times[name].append(time.perf_counter() - start)
    print("\n1. joblib: two tasks with joblib.Parallel(n_jobs=2), a whole script, seconds")
    for name, ts in times.items():
        print(f"   {name:10} best {min(ts):6.2f}  median {statistics.median(ts):6.2f}")
    print("   (before issue 16 the default took about 303 s)")


def bench_reuse(folder: str, rounds: int) -> None:
    import daskflow
    from daskflow import pool

    class Slow(daskflow.tasks.TaskPickle):
        i = daskflow.IntParameter()

        def run(self):
            time.sleep(0.1)
            self.save(os.getpid())

    class Join(daskflow.tasks.TaskPickle):
        def requires(self):
            return [Slow(i=i) for i in range(4)]

        def run(self):
            self.save(self.inputLoad())

    root = os.path.join(folder, "reuse")
    daskflow.set_dir(root)
    times: dict[str, list[float]] = {"kept workers": [], "new workers each run": []}
    for r in range(rounds + 1):
        for name in times:
            if name.startswith("new"):
                pool.shutdown()
            shutil.rmtree(root, ignore_errors=True)
            start = time.perf_counter()
            daskflow.Workflow(Join).run(execution_summary=False)
            if r:  # the first round starts the workers for both
                times[name].append(time.perf_counter() - start)
    print("\n2. reuse: 4 tasks of 0.1 s and a join, again in one process, seconds per run")
    for name, ts in times.items():
        print(f"   {name:22} best {min(ts):6.3f}  median {statistics.median(ts):6.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dir", default=None, help="folder for outputs (default: a temporary one)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="joblib,reuse")
    args = p.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-pool-", dir=args.dir)
    try:
        if "joblib" in args.only:
            bench_joblib(folder, args.rounds)
        if "reuse" in args.only:
            bench_reuse(folder, args.rounds * 3)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
