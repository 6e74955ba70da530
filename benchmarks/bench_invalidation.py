"""What change detection costs.

1. ``fingerprint``: a generated project module of typical size (``--functions`` (40) helper
   functions of about 12 lines in chains, ``--classes`` (8) task classes whose ``run()``
   reaches 5 of them, 10 module constants), imported fresh: the first fingerprint of each
   class (each function parsed once per process), then the cost per task instance of a
   class already fingerprinted (goal: under 1 ms per task), and the example pipelines'
   classes.
2. ``status``: ``complete()`` of a fan of ``--n`` (10,000) complete ``TaskPickle`` leaves into
   one, with ``settings.invalidation`` ``"exists"``, ``"code"`` and ``"code+data"``, best of
   ``--rounds``: the status pass decides from the manifests' names in the listing it makes
   anyway, so the modes should cost about the same.

Usage::

    python benchmarks/bench_invalidation.py
    python benchmarks/bench_invalidation.py --only status --n 100000

This is a benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_engine import Join

import daskflow
from daskflow import fingerprint as fp
from daskflow import settings


def _module(functions: int, classes: int) -> str:
    lines = ["from daskflow.tasks import TaskPickle", ""]
    lines += [f"LIMIT_{i} = {i * 7}" for i in range(10)]
    for i in range(functions):
        call = f"step_{i + 1}(total)" if (i + 1) % 5 else "total"
        lines += [
            "",
            "",
            f"def step_{i}(values):",
            f'    """Step {i}: a typical helper."""',
            "    total = 0",
            "    for v in values if isinstance(values, list) else [values]:",
            f"        if v > LIMIT_{i % 10}:",
            "            total += v * 2",
            "        else:",
            "            total -= 1",
            "    result = {'total': total, 'n': len(str(values))}",
            "    if result['n'] > 3:",
            "        result['big'] = True",
            f"    return {call if i + 1 < functions else 'total'}",
        ]
    for c in range(classes):
        lines += [
            "",
            "",
            f"class Task{c}(TaskPickle):",
            "    def run(self):",
            f"        self.save(step_{(c * 5) % functions}([1, 2, 3]))",
        ]
    return "\n".join(lines) + "\n"


def bench_fingerprint(args: argparse.Namespace) -> None:
    folder = tempfile.mkdtemp(prefix="bench-invalidation-")
    try:
        name = "typical_project_module"
        with open(os.path.join(folder, f"{name}.py"), "w") as f:
            f.write(_module(args.functions, args.classes))
        sys.path.insert(0, folder)
        module = importlib.import_module(name)
        classes = [getattr(module, f"Task{c}") for c in range(args.classes)]
        start = time.perf_counter()
        covered = [len(fp.fingerprint(cls).covered) for cls in classes]
        first = (time.perf_counter() - start) / len(classes)
        tasks = [cls() for cls in classes for _ in range(1000)]
        start = time.perf_counter()
        for task in tasks:
            fp.fingerprint(type(task))
        per_task = (time.perf_counter() - start) / len(tasks)
        print(
            f"fingerprint: module of {args.functions} helpers and {args.classes} task classes: "
            f"first fingerprint {1000 * first:.2f} ms per class (covering {min(covered)}-"
            f"{max(covered)} functions and constants), then {1e6 * per_task:.2f} us per task "
            "(goal: under 1 ms per task)"
        )
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
        for example in ("quickstart", "sweep", "bigger_than_memory"):
            mod = importlib.import_module(example)
            found = [v for v in vars(mod).values() if isinstance(v, type) and hasattr(v, "run")]
            tasks_of = [c for c in found if c.__module__ == example]
            start = time.perf_counter()
            for cls in tasks_of:
                fp.fingerprint(cls)
            took = (time.perf_counter() - start) / max(1, len(tasks_of))
            print(f"   examples/{example}.py: {1000 * took:.2f} ms per task class, first time")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_status(args: argparse.Namespace) -> None:
    root = tempfile.mkdtemp(prefix="bench-invalidation-status-")
    try:
        daskflow.set_dir(root)
        flow = daskflow.Workflow(Join, {"n": args.n})
        flow.run(execution_summary=False)
        print(f"status: complete() of a fan of {args.n:,} complete leaves, best of {args.rounds}")
        base = None
        for mode in ("exists", "code", "code+data"):
            settings.invalidation = mode
            best = min(_timed(flow.complete) for _ in range(args.rounds))
            assert flow.complete(), mode
            base = base or best
            print(f"   {mode:<10} {best:.3f} s  ({best / base:.2f}x)")
    finally:
        settings.invalidation = "exists"
        shutil.rmtree(root, ignore_errors=True)


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("fingerprint", "status"), action="append")
    parser.add_argument("--functions", type=int, default=40)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for section in args.only or ("fingerprint", "status"):
        {"fingerprint": bench_fingerprint, "status": bench_status}[section](args)


if __name__ == "__main__":
    main()
