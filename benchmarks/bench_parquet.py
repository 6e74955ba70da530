"""Saving and loading a large DataFrame through ``daskflow.tasks.TaskPqPandas``, against
plain pandas in the same process.

The frame (5 million rows by default: int64, two float64, int32 and a categorical string
column) is built once, outside the timings, and held at module level; the task's ``run()``
saves it. Timed, best of ``--repeat`` (default 3), each in a fresh folder:

- ``daskflow save``: ``Workflow.run()`` of the task (graph, status check, scheduler, ``run()``,
  the atomic write), against ``df.to_parquet(path)``;
- ``daskflow load``: ``Workflow.outputLoad()`` (completeness check and read), against
  ``pd.read_parquet(path)``.

The goal is daskflow within 1.2x of plain pandas. ``--with-gzip`` adds d6tflow 0.2.8's
default, ``df.to_parquet(path, compression='gzip')`` (d6tflow's ``PqPandasTarget`` writes
gzip; daskflow and pandas default to snappy).

Usage::

    python benchmarks/bench_parquet.py [--rows 5000000] [--repeat 3] [--with-gzip] [--dir DIR]

This is a benchmark, not a test: it prints figures and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import daskflow as d6tflow

FRAME: pd.DataFrame | None = None  # what SaveFrame.run() saves; set by main()


class SaveFrame(d6tflow.tasks.TaskPqPandas):
    def run(self) -> None:
        self.save(FRAME)


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cities = np.array([f"city_{i:03d}" for i in range(200)])
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "x": rng.standard_normal(rows),
            "y": rng.uniform(0, 1000, rows),
            "n": rng.integers(0, 1_000_000, rows, dtype="int32"),
            "city": pd.Categorical.from_codes(rng.integers(0, len(cities), rows), cities),
        }
    )


def best_of(repeat: int, fn: Callable[[], Any], setup: Callable[[], Any] | None = None) -> float:
    """The fastest of ``repeat`` timed calls of ``fn`` (``setup`` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def size_mb(path: str) -> float:
    return os.path.getsize(path) / 1e6


def main(argv: list[str] | None = None) -> None:
    global FRAME
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--repeat", type=int, default=3, help="best of this many")
    p.add_argument(
        "--with-gzip",
        action="store_true",
        help="also time d6tflow's default, to_parquet(compression='gzip')",
    )
    p.add_argument("--dir", default=None, help="where the temporary files go")
    p.add_argument("--scheduler", default=None, help="daskflow scheduler (default: daskflow's)")
    args = p.parse_args(argv)

    import dask
    import pyarrow

    print(
        f"daskflow {d6tflow.__version__} (dask {dask.__version__}) | pandas {pd.__version__} | "
        f"pyarrow {pyarrow.__version__} | Python {platform.python_version()} | "
        f"{os.cpu_count()} cores"
    )
    FRAME = make_frame(args.rows)
    print(
        f"frame: {args.rows:,} rows, {FRAME.shape[1]} columns "
        f"({', '.join(f'{c}:{t}' for c, t in FRAME.dtypes.astype(str).items())}), "
        f"{FRAME.memory_usage(deep=True).sum() / 1e6:.0f} MB in memory; best of {args.repeat}"
    )

    base = tempfile.mkdtemp(prefix="bench-parquet-", dir=args.dir)
    try:
        rows = run(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print()
    print(f"{'operation':<34}{'seconds':>9}{'vs plain':>10}{'file MB':>9}")
    print("-" * 62)
    for name, seconds, ratio, mb in rows:
        r = f"{ratio:.2f}x" if ratio is not None else ""
        m = f"{mb:.0f}" if mb is not None else ""
        print(f"{name:<34}{seconds:>9.3f}{r:>10}{m:>9}")


def run(args: argparse.Namespace, base: str) -> list[tuple[str, float, float | None, float | None]]:
    df = FRAME
    assert df is not None
    plain_path = os.path.join(base, "plain.parquet")
    plain_save = best_of(
        args.repeat,
        lambda: df.to_parquet(plain_path),
        lambda: os.path.exists(plain_path) and os.remove(plain_path),
    )
    plain_mb = size_mb(plain_path)
    plain_load = best_of(args.repeat, lambda: pd.read_parquet(plain_path))

    d6tflow.set_dir(os.path.join(base, "daskflow"))
    flow = d6tflow.Workflow(SaveFrame)
    run_kwargs = {"scheduler": args.scheduler} if args.scheduler else {}

    def reset() -> None:
        flow.reset()

    flow_save = best_of(args.repeat, lambda: flow.run(execution_summary=False, **run_kwargs), reset)
    flow_path = str(flow.outputPath())
    flow_mb = size_mb(flow_path)
    loaded = flow.outputLoad()
    if not loaded.equals(df):
        print("WARNING: the frame daskflow loaded differs from the one it saved")
    del loaded
    flow_load = best_of(args.repeat, flow.outputLoad)

    rows = [
        ("pandas  df.to_parquet(path)", plain_save, None, plain_mb),
        ("daskflow Workflow.run() (save)", flow_save, flow_save / plain_save, flow_mb),
        ("pandas  pd.read_parquet(path)", plain_load, None, None),
        ("daskflow Workflow.outputLoad()", flow_load, flow_load / plain_load, None),
    ]
    if args.with_gzip:
        gz_path = os.path.join(base, "gzip.parquet")
        gz_save = best_of(
            args.repeat,
            lambda: df.to_parquet(gz_path, compression="gzip"),
            lambda: os.path.exists(gz_path) and os.remove(gz_path),
        )
        gz_load = best_of(args.repeat, lambda: pd.read_parquet(gz_path))
        rows += [
            ("d6tflow default: gzip to_parquet", gz_save, gz_save / plain_save, size_mb(gz_path)),
            ("  read_parquet of the gzip file", gz_load, gz_load / plain_load, None),
        ]
    return rows


if __name__ == "__main__":
    main()
