"""Uses of the outputs: accuracy, and which features separate the classes."""

import pathlib

import cfg
import pandas as pd
import tasks


def accuracy(do_preprocess=cfg.do_preprocess):
    model = tasks.TaskTrain(do_preprocess=do_preprocess).output().load()
    df = tasks.TaskPreprocess(do_preprocess=do_preprocess).output().load()
    score = (tasks.predict(model, df[tasks.FEATURES]) == df["y"]).mean()
    print(f"accuracy: {score:.3f}")
    return score


def plot_importances():
    model = tasks.TaskTrain().output().load()
    spread = pd.DataFrame(model["centres"], columns=tasks.FEATURES).std()
    pathlib.Path("reports").mkdir(exist_ok=True)
    spread.sort_values(ascending=False).to_csv("reports/importances.csv", header=["spread"])
