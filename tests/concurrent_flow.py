"""A flow that several processes run at once on one root, for tests/test_leases.py.

    python concurrent_flow.py ROOT LABEL [--force] [--scheduler NAME] [--storage JSON]

Each task appends ``{task}:{LABEL}`` to the file ``RUNS`` (environment variable; one line a
run, with O_APPEND so lines of processes never interleave) when its ``run()`` starts, so a
test counts how often each task ran and by which process. ``Multi`` saves six outputs that
each hold the label: a mix of labels among them is a mix of two runs. The process prints
one JSON line: its run's states.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import ClassVar

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import daskflow
from daskflow.tasks import TaskPickle, TaskPqDask


def label() -> str:
    """Which process this is (read when a task runs: a module constant would be code, and
    processes with different labels would each find the others' outputs stale)."""
    return os.environ.get("FLOW_LABEL", "?")


PAUSE = float(os.environ.get("FLOW_PAUSE", "0.3"))
EPOCH = os.environ.get("FLOW_EPOCH", "1")  # every task's code reads it: a new one is an edit


def ran(name: str) -> None:
    fd = os.open(os.environ["RUNS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{name}:{label()}:{EPOCH}\n".encode())
    finally:
        os.close(fd)


class Leaf(TaskPickle):
    i = daskflow.IntParameter()

    def run(self):
        ran(f"Leaf{self.i}")
        time.sleep(PAUSE)
        self.save(label())


class Multi(TaskPickle):
    persist: ClassVar[list[str]] = ["a", "b", "c", "d", "e", "f"]

    def requires(self):
        return Leaf(i=0)

    def run(self):
        ran("Multi")
        time.sleep(PAUSE)
        self.save({name: label() for name in self.persist})


class Dataset(TaskPqDask):
    def requires(self):
        return Leaf(i=1)

    def run(self):
        import dask.dataframe as dd

        ran("Dataset")
        frame = pd.DataFrame({"x": range(40), "label": [label()] * 40})
        time.sleep(PAUSE)
        self.save(dd.from_pandas(frame, npartitions=4))


class Top(TaskPickle):
    def requires(self):
        return {"multi": Multi(), "data": Dataset(), "leaf": Leaf(i=2)}

    def run(self):
        ran("Top")
        self.save(label())


class Hang(TaskPickle):
    """Saves (the save is staged: its temporary lies beside the output), then hangs until
    it is killed."""

    def run(self):
        ran("Hang")
        self.save(b"x" * 1_000_000)
        time.sleep(float(os.environ.get("FLOW_HANG", "120")))


class Sleeper(TaskPickle):
    """Records the process it runs in, then sleeps (until its process is killed)."""

    i = daskflow.IntParameter()

    def run(self):
        ran(f"Sleeper{self.i}-{os.getpid()}")
        time.sleep(float(os.environ.get("FLOW_HANG", "120")))
        self.save(self.i)


class Sleepers(TaskPickle):
    def requires(self):
        return [Sleeper(i=i) for i in range(4)]

    def run(self):
        self.save(None)


def main() -> None:
    args = sys.argv[1:]
    root = args.pop(0)
    os.environ["FLOW_LABEL"] = args.pop(0)
    force = "--force" in args
    scheduler = args[args.index("--scheduler") + 1] if "--scheduler" in args else None
    if "--storage" in args:
        daskflow.settings.storage_options = json.loads(args[args.index("--storage") + 1])
    daskflow.set_dir(root)
    top = Hang if "--hang" in args else Sleepers if "--sleepers" in args else Top
    flow = daskflow.Workflow(top)
    result = flow.run(
        forced=[Multi(), Dataset()] if force else None,
        scheduler=scheduler,
        execution_summary=False,
        abort=False,
    )
    print(json.dumps({"status": result.status, "states": result.states}, sort_keys=True))


if __name__ == "__main__":
    main()
