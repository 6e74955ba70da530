"""The workflow: get data -> preprocess -> train, as d6tflow's project template lays it out.

Same task classes, bases and parameters as the template (so the task ids, and with them the
output paths, are d6tflow's); the data and the model are small stand-ins that need only
numpy and pandas.
"""

import cfg
import d6tflow
import numpy as np
import pandas as pd

FEATURES = [f"feature{i}" for i in range(4)]


class TaskGetData(d6tflow.tasks.TaskPqPandas):  # output: a parquet file
    dt_start = d6tflow.DateParameter(default=cfg.dt_start)
    dt_end = d6tflow.DateParameter(default=cfg.dt_end)

    def run(self):
        # three classes of 50 rows around three centres, the same every run
        rng = np.random.default_rng(0)
        centres = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
        y = np.repeat([0, 1, 2], 50)
        x = centres[y] + rng.normal(scale=0.3, size=(150, 4))
        df = pd.DataFrame(x.round(2), columns=FEATURES)
        df["y"] = y
        self.save(df)


@d6tflow.requires(TaskGetData)
class TaskPreprocess(d6tflow.tasks.TaskPqPandas):
    do_preprocess = d6tflow.BoolParameter(default=cfg.do_preprocess)

    def run(self):
        df = self.input().load()
        if self.do_preprocess:
            x = df[FEATURES]
            df[FEATURES] = (x - x.mean()) / x.std(ddof=0)
        self.save(df)


def fit(df):
    """A nearest-centroid model: one centre per class, as a plain dict."""
    centres = df.groupby("y")[FEATURES].mean()
    return {"classes": centres.index.tolist(), "centres": centres.to_numpy().tolist()}


def predict(model, x):
    centres = np.asarray(model["centres"])
    distances = ((x.to_numpy()[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(model["classes"])[distances.argmin(axis=1)]


@d6tflow.requires(TaskPreprocess)
class TaskTrain(d6tflow.tasks.TaskPickle):  # output: a pickle
    # As in d6tflow's template: a BoolParameter with a default that is not a bool. luigi
    # turns it into None, and d6tflow runs the template with that.
    model = d6tflow.BoolParameter(default="rf")

    def run(self):
        self.save(fit(self.input().load()))
