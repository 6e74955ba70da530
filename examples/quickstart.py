"""The d6tflow documentation's pipeline on daskflow: get data -> preprocess -> train.

Run it with ``python examples/quickstart.py``; outputs go to ``./data`` (or the folder given
as the first argument). Each step is labelled: it previews the flow (all PENDING), runs it,
loads the model, previews again (all COMPLETE), resets the first task (so it and everything
downstream are PENDING once more) and runs again, which redoes just those tasks.
"""

from __future__ import annotations

import sys

import pandas as pd

import daskflow as d6tflow  # the same code runs on d6tflow itself


class TaskGetData(d6tflow.tasks.TaskPqPandas):
    """Load raw data (here: a small made-up table)."""

    def run(self):
        df = pd.DataFrame({"x": range(100), "y": [2 * i + 1 for i in range(100)]})
        self.save(df)


@d6tflow.requires(TaskGetData)
class TaskPreprocess(d6tflow.tasks.TaskCachePandas):  # kept in memory
    """Optionally scale the features."""

    do_preprocess = d6tflow.BoolParameter(default=True)

    def run(self):
        df = self.inputLoad()
        if self.do_preprocess:
            df = df.assign(x=(df.x - df.x.mean()) / df.x.std())
        self.save(df)


@d6tflow.requires(TaskPreprocess)
class TaskTrain(d6tflow.tasks.TaskPickle):
    """Fit y = a*x + b by least squares."""

    def run(self):
        df = self.inputLoad()
        xm, ym = df.x.mean(), df.y.mean()
        slope = ((df.x - xm) * (df.y - ym)).sum() / ((df.x - xm) ** 2).sum()
        self.save({"slope": float(slope), "intercept": float(ym - slope * xm)})


def phase(title: str) -> None:
    """A label before each step, so the output reads as the steps it shows."""
    print(f"\n== {title} ==")


def main(data_dir: str = "data") -> dict:
    d6tflow.set_dir(data_dir)
    flow = d6tflow.Workflow(TaskTrain, {"do_preprocess": False})

    phase("preview before running: every task is PENDING")
    flow.preview()

    phase("run: the three tasks run in order, then the execution summary")
    flow.run()

    phase("load the trained model")
    model = flow.outputLoad()
    print("model:", model)

    phase("preview again: every task is COMPLETE, a new run() would skip them")
    flow.preview()

    phase("reset TaskGetData: it and every task downstream of it are PENDING again")
    flow.reset(TaskGetData)  # deletes TaskGetData's output
    flow.preview()

    phase("run again: only the PENDING tasks run (here all three)")
    flow.run()
    print("model:", flow.outputLoad())
    print(f"\ndone: the outputs are under {data_dir}/")
    return model


if __name__ == "__main__":
    main(*sys.argv[1:2])
