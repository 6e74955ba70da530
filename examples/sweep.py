"""A parameter sweep with ``WorkflowMulti``: one pipeline, every combination of its parameters.

    python examples/sweep.py                  # outputs under ./data
    python examples/sweep.py /tmp/sweep       # ... or any folder or fsspec URL
    python examples/sweep.py --scheduler sync # every task in this process (for pdb)

The pipeline: make a data set (once) -> preprocess it (with or without scaling) -> fit a
model (ordinary least squares or ridge) and score it on held-out rows. A grid of
``do_preprocess`` x ``model`` gives four flows. ``WorkflowMulti`` runs them as one Dask graph,
so the tasks they share run once: one ``TaskGetData`` for all four flows, one
``TaskPreprocess`` per ``do_preprocess`` value, one ``TaskTrain`` per flow. At the end the
script prints how many times each task ran and a comparison table of the four models, built
from ``outputLoad()``.

Run it a second time and nothing runs: every output already exists. Widen the grid (say with
``"alpha": [10.0, 100.0]``) and only the ``TaskTrain`` tasks with new parameters run.
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import pandas as pd

import daskflow as d6tflow  # the same code runs on d6tflow itself


class TaskGetData(d6tflow.tasks.TaskPqPandas):
    """A made-up regression data set: y = 3x + 2 + noise, with a train/test split column."""

    rows = d6tflow.IntParameter(default=1_000)

    def run(self):
        rng = np.random.default_rng(42)  # fixed seed: the same data on every run
        x = rng.uniform(0, 100, self.rows)
        y = 3 * x + 2 + rng.normal(0, 10, self.rows)
        self.save(pd.DataFrame({"x": x, "y": y, "test": rng.random(self.rows) < 0.2}))


@d6tflow.requires(TaskGetData)  # TaskPreprocess gets TaskGetData's parameters and output
class TaskPreprocess(d6tflow.tasks.TaskPqPandas):
    """Standardize x with the mean and spread of the training rows, or leave it alone."""

    do_preprocess = d6tflow.BoolParameter(default=True)

    def run(self):
        df = self.inputLoad()
        if self.do_preprocess:
            train = df[~df.test]
            df = df.assign(x=(df.x - train.x.mean()) / train.x.std())
        self.save(df)


@d6tflow.requires(TaskPreprocess)
class TaskTrain(d6tflow.tasks.TaskPickle):
    """Fit y = slope*x + intercept on the training rows; report the error on the test rows."""

    model = d6tflow.ChoiceParameter(choices=["ols", "ridge"], default="ols")
    alpha = d6tflow.FloatParameter(default=100.0)  # ridge penalty on the slope

    def run(self):
        df = self.inputLoad()
        train, test = df[~df.test], df[df.test]
        xm, ym = train.x.mean(), train.y.mean()
        sxy = ((train.x - xm) * (train.y - ym)).sum()
        sxx = ((train.x - xm) ** 2).sum()
        penalty = self.alpha if self.model == "ridge" else 0.0
        slope = sxy / (sxx + penalty)
        intercept = ym - slope * xm
        rmse = float(np.sqrt(((test.y - (slope * test.x + intercept)) ** 2).mean()))
        self.save({"slope": float(slope), "intercept": float(intercept), "rmse": rmse})


GRID = {"do_preprocess": [True, False], "model": ["ols", "ridge"]}


def main(data_dir: str = "data", scheduler: str | None = None) -> pd.DataFrame:
    """Run the sweep with outputs under ``data_dir``; return the comparison table."""
    d6tflow.set_dir(data_dir)

    # A grid {param: [values]} makes one flow per combination, named after its values:
    # "do_preprocess_True_model_ols", ... (a dict {name: params} or a list of dicts works too).
    flows = d6tflow.WorkflowMulti(TaskTrain, GRID)
    flows.preview(flow="do_preprocess_True_model_ols")  # one flow's tree; preview() shows all

    # One graph for all four flows; returns {flow name: RunResult}.
    results = flows.run(scheduler=scheduler)

    # Each flow's result lists the tasks it needed; a task shared by several flows has one
    # task id, so it appears once here: it ran once.
    ran = {task.task_id: task for result in results.values() for task in result.ran}
    counts = Counter(task.task_family for task in ran.values())
    print(f"tasks run for {len(results)} flows:")
    for family in ("TaskGetData", "TaskPreprocess", "TaskTrain"):
        print(f"  {family}: {counts[family]}")

    # outputLoad() on a WorkflowMulti gives {flow name: that flow's output}.
    rows = []
    for name, output in flows.outputLoad().items():
        params = flows.get_flow(name).params
        rows.append({"flow": name, **params, **output})
    table = pd.DataFrame(rows).set_index("flow").sort_values("rmse")
    print()
    print(table.round(3).to_string())
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default="data", help="folder or fsspec URL")
    parser.add_argument("--scheduler", help="sync, threads, processes or tcp://host:8786")
    args = parser.parse_args()
    main(args.data_dir, args.scheduler)
