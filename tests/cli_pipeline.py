"""A small pipeline for the command-line tests (imported by path or by name)."""

import pandas as pd

import daskflow as d6tflow


class GetData(d6tflow.tasks.TaskPqPandas):
    rows = d6tflow.IntParameter(default=5)

    def run(self):
        self.save(pd.DataFrame({"x": range(self.rows)}))


@d6tflow.requires(GetData)
class Train(d6tflow.tasks.TaskJson):
    scale = d6tflow.FloatParameter(default=1.0)
    tags = d6tflow.ListParameter(default=[])

    def run(self):
        self.save({"total": float(self.inputLoad().x.sum() * self.scale), "tags": list(self.tags)})


@d6tflow.requires(Train)
class Report(d6tflow.tasks.TaskJson):
    def run(self):
        self.save({"report": self.inputLoad()["total"]})


class Broken(d6tflow.tasks.TaskPickle):
    def run(self):
        raise ZeroDivisionError("deliberately broken")
