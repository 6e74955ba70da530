"""Outputs bigger than memory: a Dask DataFrame written as partitioned Parquet by the workers
of a distributed cluster, then loaded lazily and aggregated downstream.

    python examples/bigger_than_memory.py                     # 5 million rows, 2 workers
    python examples/bigger_than_memory.py /tmp/events --workers 4 --rows 20000000
    python examples/bigger_than_memory.py --scheduler tcp://10.0.0.5:8786  # your own cluster

``TaskEvents`` builds its table lazily: ``dask.dataframe.from_map`` describes one partition
per call of ``make_events``, and nothing is computed in the task itself. Saving it through
``TaskPqDask`` makes the *workers* generate their partitions and write them as Parquet parts,
so the whole table never passes through one process (the task's own memory holds only the
task graph). The output is committed with a ``_SUCCESS`` marker: a run killed halfway leaves
an incomplete folder that the next run rewrites.

``TaskDailyStats`` loads that folder as a lazy Dask DataFrame (``inputLoad()`` reads nothing
yet), aggregates it per day, and saves the small result as an ordinary Parquet file.

The script starts a ``LocalCluster`` of ``--workers`` processes itself and closes it at the
end. With ``--scheduler ADDRESS`` it uses your cluster instead; the output folder must then be
on storage every worker can reach (a shared filesystem or ``s3://...``).
"""

from __future__ import annotations

import argparse
import contextlib
import os

import numpy as np
import pandas as pd

import daskflow as d6tflow  # the same code runs on d6tflow itself

# The schema of one partition: dask needs it to describe the table without computing it.
EVENTS_META = pd.DataFrame(
    {
        "day": pd.Series([], dtype="datetime64[ns]"),
        "user": pd.Series([], dtype="int64"),
        "amount": pd.Series([], dtype="float64"),
    }
)


def make_events(part: int, rows: int, days: int) -> pd.DataFrame:
    """Partition ``part`` of the event table: ``rows`` made-up purchases over ``days`` days.

    Runs on a worker. Each partition has its own seed, so the table is the same on every run
    and any worker can (re)build any partition.
    """
    rng = np.random.default_rng(part)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, days, rows), unit="D")
    return pd.DataFrame(
        {
            "day": day.astype("datetime64[ns]"),
            "user": rng.integers(0, 100_000, rows),
            "amount": rng.gamma(2.0, 20.0, rows).round(2),
        }
    )


class TaskEvents(d6tflow.tasks.TaskPqDask):  # output: a folder of Parquet parts
    """The raw events, built lazily and written partition by partition by the workers."""

    rows = d6tflow.IntParameter(default=5_000_000)
    partitions = d6tflow.IntParameter(default=50)
    days = d6tflow.IntParameter(default=90)

    def run(self):
        import dask.dataframe as dd

        per_part = -(-self.rows // self.partitions)  # ceiling division
        sizes = [min(per_part, self.rows - i * per_part) for i in range(self.partitions)]
        ddf = dd.from_map(
            make_events,
            range(self.partitions),
            sizes,
            days=self.days,
            meta=EVENTS_META,
        )
        # keep the positive amounts: still lazy, still nothing computed here
        self.save(ddf[ddf.amount > 0])


@d6tflow.requires(TaskEvents)
class TaskDailyStats(d6tflow.tasks.TaskPqPandas):  # output: one small Parquet file
    """Purchases, revenue and buyers' average spend per day."""

    def run(self):
        ddf = self.inputLoad()  # a lazy dask DataFrame over the parts: nothing read yet
        daily = ddf.groupby("day").amount.agg(["count", "sum", "mean"])
        # compute() streams the parts through a tree reduction: only the per-day sums are
        # ever in memory together
        self.save(daily.compute().sort_index().rename(columns={"sum": "revenue"}))


def main(
    data_dir: str = "data",
    workers: int = 2,
    rows: int = 5_000_000,
    partitions: int = 50,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Run the pipeline with outputs under ``data_dir`` on a new ``LocalCluster`` of
    ``workers`` processes (or on ``scheduler``, a cluster address); return the daily stats."""
    from distributed import Client, LocalCluster

    if "://" not in data_dir:
        data_dir = os.path.abspath(data_dir)  # the workers' working directory may differ
    d6tflow.set_dir(data_dir)
    flow = d6tflow.Workflow(TaskDailyStats, {"rows": rows, "partitions": partitions})

    if scheduler is None:
        # one thread per worker process: pandas code holds the GIL, processes run in parallel
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0")
    else:
        cluster = contextlib.nullcontext(scheduler)  # an address: connect, start nothing
    # Leaving the with-block closes the client, then the cluster we started, however the run
    # ends (an exception included).
    with cluster as where, Client(where) as client:
        print("cluster dashboard:", client.dashboard_link)
        flow.preview()
        flow.run(scheduler=client)
        events = flow.outputLoad(TaskEvents)  # lazy: a Dask DataFrame over the parts
        print(f"events: {len(events):,} rows in {events.npartitions} parts")
        print(f"written to {flow.outputPath(TaskEvents)}")
        daily = flow.outputLoad()
    print(f"daily stats ({len(daily)} days):")
    print(daily.head().round(2).to_string())
    return daily


if __name__ == "__main__":  # required: the cluster's worker processes re-import this file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default="data", help="folder or fsspec URL")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows of the event table")
    parser.add_argument("--partitions", type=int, default=50, help="parts of the event table")
    parser.add_argument("--scheduler", help="an existing cluster's address instead")
    args = parser.parse_args()
    main(args.data_dir, args.workers, args.rows, args.partitions, args.scheduler)
