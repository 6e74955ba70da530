"""Tasks and helpers for the parallel and distributed tests, in a module that worker
processes can import by name.

Workers that share nothing with the test process -- spawned local workers
(``settings.mp_context = "spawn"``) and ``dask worker`` processes started by the tests with
this folder on ``PYTHONPATH`` -- receive a task pickled *by reference*
(``parallel_tasks.Leaf``) and import this module to rebuild it.

Tasks record where they ran with :func:`where` (saved in their outputs). :func:`record` and
:func:`meet` keep their files under ``settings.dirpath``, which daskflow ships to every worker:
give it as an absolute path when the workers' working directory is not the test's (a
distributed cluster), since ``helpers.RunLog`` writes to the working directory.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd

import daskflow
from daskflow.tasks import TaskCache, TaskCachePandas, TaskPickle, TaskPqPandas

# -- helpers ---------------------------------------------------------------------------------


def where() -> dict:
    """The process, thread and (on a distributed worker) worker address running this."""
    worker = None
    if "distributed" in sys.modules:  # always so on a worker; importing it costs 0.2 s
        from distributed import get_worker

        with contextlib.suppress(ValueError):
            worker = get_worker().address
    return {"pid": os.getpid(), "thread": threading.get_ident(), "worker": worker}


def _root() -> Path:
    return Path(os.fspath(daskflow.settings.dirpath))


def record(item: str) -> None:
    """Append a line to the run log beside the outputs (any process, any worker)."""
    path = _root() / ".runlog"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (item + "\n").encode())
    finally:
        os.close(fd)


def records(root: str | os.PathLike[str] | None = None) -> list[str]:
    """The lines :func:`record` wrote under ``root`` (default ``settings.dirpath``)."""
    path = Path(root if root is not None else _root()) / ".runlog"
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def meet(name: str, parties: int, timeout: float = 10.0) -> None:
    """A barrier across processes: wait until ``parties`` callers reached ``name``.

    Raises :class:`TimeoutError` after ``timeout`` seconds, naming how many came: a
    scheduler that runs the callers one after another fails the task (and so the test)
    saying so, instead of hanging or passing unseen.
    """
    folder = _root() / ".meet" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / uuid.uuid4().hex).touch()
    deadline = time.monotonic() + timeout
    while (came := len(os.listdir(folder))) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"meet {name!r}: {came} of {parties} callers came within {timeout:g} s; "
                "they did not run at the same time"
            )
        time.sleep(0.01)


# -- tasks -----------------------------------------------------------------------------------


class Leaf(TaskPickle):
    """An independent branch; ``together=N`` waits until N leaves run at the same time."""

    i = daskflow.IntParameter()
    together = daskflow.IntParameter(default=0)

    def run(self):
        record(repr(self))
        if self.together:
            meet("leaves", self.together)
        self.save({"i": self.i, **where()})


class Fan(TaskPickle):
    """``n`` independent leaves joined."""

    n = daskflow.IntParameter(default=2)
    together = daskflow.IntParameter(default=0)

    def requires(self):
        return [Leaf(i=i, together=self.together) for i in range(self.n)]

    def run(self):
        record(repr(self))
        self.save({"leaves": self.inputLoad(), **where()})


class LeftSide(TaskCache):
    """An in-memory branch (its value must travel to the task that needs it)."""

    def run(self):
        record(repr(self))
        self.save({"side": "left", **where()})


class RightSide(TaskPickle):
    def run(self):
        record(repr(self))
        self.save({"side": "right", **where()})


class BothSides(TaskPickle):
    def requires(self):
        return {"left": LeftSide(), "right": RightSide()}

    def run(self):
        record(repr(self))
        inputs = self.inputLoad()
        self.save({"left": inputs["left"], "right": inputs["right"], **where()})


# the quickstart pipeline: get data -> preprocess (in memory) -> train


class GetData(TaskPqPandas):
    def run(self):
        record(repr(self))
        self.save(pd.DataFrame({"x": range(100), "y": [2 * i + 1 for i in range(100)]}))


@daskflow.requires(GetData)
class Preprocess(TaskCachePandas):
    do_preprocess = daskflow.BoolParameter(default=True)

    def run(self):
        record(repr(self))
        df = self.inputLoad()
        if self.do_preprocess:
            df = df.assign(x=(df.x - df.x.mean()) / df.x.std())
        self.save(df.assign(pid=os.getpid()))


@daskflow.requires(Preprocess)
class Train(TaskPickle):
    def run(self):
        record(repr(self))
        df = self.inputLoad()
        xm, ym = df.x.mean(), df.y.mean()
        slope = ((df.x - xm) * (df.y - ym)).sum() / ((df.x - xm) ** 2).sum()
        self.save(
            {
                "slope": float(slope),
                "intercept": float(ym - slope * xm),
                "preprocess_pid": int(df.pid.iloc[0]),
                **where(),
            }
        )
