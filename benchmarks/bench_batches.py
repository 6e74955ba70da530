"""Issue 19's figures: fans of tiny tasks on a 2-worker ``LocalCluster``, batched, each beside
plain Dask in the same run.

    python benchmarks/bench_batches.py                         # fans of 1,000 and 10,000
    python benchmarks/bench_batches.py --sizes 1000,10000,100000 --rounds 1
    python benchmarks/bench_batches.py --dir /dev/shm          # data on tmpfs

For each N of ``--sizes``, on one ``LocalCluster(n_workers=2, threads_per_worker=1)``
started untimed (one per size), every variant once per round, in an order that rotates, each
in a fresh root (``--dir``), after one untimed warm-up of each on 10 tasks:

- ``daskflow batched``: ``Workflow(Join, n=N).run(scheduler=client)`` with the default
  ``settings.batch_seconds`` (0.1): the first run of the flow, so with no history; the batches
  are sized by the run's probes (:mod:`daskflow.batching`);
- ``daskflow one key per task``: the same with ``batch_seconds = 0`` (up to ``--unbatched``
  tasks: at 100,000 it takes minutes);
- ``plain client.get, one key per task``: the same pickle writes and reads as a plain dict
  graph through ``client.get`` (up to ``--unbatched`` tasks too);
- ``plain client.get, 8 keys``: the same work in 8 keys (4 per worker) and a join: the
  batched floor the goal is measured against;
- ``plain loop``: the writes and reads in this process, no scheduler at all.

Then ``forced rerun``: a first run of the fan (untimed), then ``run(forced_all_upstream=True)``
timed, batched (sized from the durations the manifests of the first run record: no probes)
and one key per task.

Printed: seconds (best, median) and daskflow batched / plain 8 keys (goal <= 2x), and plain
one key per task / daskflow batched (goal >= 5x). The final value of every run is checked.
Prints figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_engine as be

import daskflow
from daskflow import settings

CHUNKS = 8


@contextlib.contextmanager
def batch_seconds(value: float) -> Iterator[None]:
    before = settings.batch_seconds
    settings.batch_seconds = value
    try:
        yield
    finally:
        settings.batch_seconds = before


def flow(client: Any, seconds: float, **kwargs: Any) -> be.Variant:
    run = be.flow_run(be.Join, be._fan_params, scheduler=client, execution_summary=False, **kwargs)

    def go(root: str, n: int) -> Callable[[], Any]:
        with batch_seconds(seconds):
            return run(root, n)

    return go


def _plain_chunk(items: list[tuple[str, int]]) -> list[str]:
    return [be._plain_leaf(path, value) for path, value in items]


def _plain_join_chunks(path: str, chunks: list[list[str]]) -> int:
    return be._plain_join(path, [p for chunk in chunks for p in chunk])


def plain_chunked(client: Any) -> be.Variant:
    """The fan's writes in ``CHUNKS`` keys and a join, through ``client.get``."""

    def go(root: str, n: int) -> Callable[[], Any]:
        paths, out = be._plain_paths(root, n)
        items = list(zip(paths, range(n), strict=True))
        step = -(-n // CHUNKS)
        dsk: dict[str, Any] = {
            f"chunk-{j}": (_plain_chunk, items[j * step : (j + 1) * step]) for j in range(CHUNKS)
        }
        dsk["join"] = (_plain_join_chunks, out, [f"chunk-{j}" for j in range(CHUNKS)])
        total = client.get(dsk, "join")
        return lambda: total

    return go


def bench_size(n: int, args: argparse.Namespace) -> None:
    t = time.perf_counter()
    with be.two_worker_client() as client:
        started = time.perf_counter() - t
        variants: list[tuple[str, be.Variant]] = [("daskflow batched", flow(client, 0.1))]
        if n <= args.unbatched:
            variants += [
                ("daskflow one key per task", flow(client, 0.0)),
                ("plain client.get, one key per task", be.plain_fan_get(client)),
            ]
        variants += [
            (f"plain client.get, {CHUNKS} keys", plain_chunked(client)),
            ("plain loop", be.plain_fan_loop_variant),
        ]
        series = be.alternate(variants, n, args.rounds, be._fan_sum, args, f"batches{n}")
        forced = forced_reruns(client, n, args)
    ours = series["daskflow batched"]
    floor = series[f"plain client.get, {CHUNKS} keys"]
    notes = [
        f"daskflow batched / plain {CHUNKS} keys: best {be._ratio(ours.best(), floor.best())}, "
        f"median {be._ratio(ours.median(), floor.median())}   goal <= 2x"
    ]
    if "plain client.get, one key per task" in series:
        per_key = series["plain client.get, one key per task"]
        notes.append(
            "plain one key per task / daskflow batched: best "
            f"{be._ratio(per_key.best(), ours.best())}, median "
            f"{be._ratio(per_key.median(), ours.median())}   goal >= 5x"
        )
    notes.append(f"cluster start-up {started:.1f} s, untimed; data under {args.dir or '/tmp'}")
    be.print_series(
        f"fan of {n:,} TaskPickle leaves into 1 on LocalCluster(n_workers=2, "
        f"threads_per_worker=1), {args.rounds} interleaved rounds, seconds",
        series,
        notes,
    )
    be.print_series(
        f"forced rerun of the fan of {n:,} (after an untimed first run), seconds", forced
    )


def forced_reruns(client: Any, n: int, args: argparse.Namespace) -> dict[str, be.Series]:
    """``run(forced_all_upstream=True)`` after an untimed first run, batched (from the
    history the first run recorded) and one key per task, alternating."""
    labels = [("batched, sized from history", 0.1)]
    if n <= args.unbatched:
        labels.append(("one key per task", 0.0))
    series = {label: be.Series(label) for label, _ in labels}
    for r in range(args.rounds):
        for label, seconds in labels[r % len(labels) :] + labels[: r % len(labels)]:
            root = tempfile.mkdtemp(prefix=f"bench-batches-forced{n}-", dir=args.dir)
            try:
                flow(client, 0.1)(root, n)
                gc.collect()
                secs, note, read = be.timed(
                    lambda root=root, seconds=seconds: flow(
                        client, seconds, forced_all_upstream=True
                    )(root, n),
                    args.timeout,
                )
                if secs is not None and read is not None and read() == be._fan_sum(n):
                    series[label].seconds.append(secs)
                else:
                    series[label].notes.append(note or "WRONG final value")
                be.progress(f"  forced {n} round {r + 1} {label:<30} {be._shown(secs, note)}")
            finally:
                shutil.rmtree(root, ignore_errors=True)
    return series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--unbatched",
        type=int,
        default=10000,
        help="largest fan also run one key per task (default 10,000)",
    )
    parser.add_argument("--dir", default=None, help="where the roots go (default: the temp dir)")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    daskflow.settings.log_level = "ERROR"
    for n in (int(s) for s in args.sizes.split(",")):
        bench_size(n, args)


if __name__ == "__main__":
    main()
