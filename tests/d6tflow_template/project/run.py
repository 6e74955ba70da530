"""The template's run script: preview, run, use the outputs, change a parameter, rerun."""

import importlib

import cfg
import d6tflow
import tasks
import visualize

# what would run
d6tflow.preview(tasks.TaskTrain())

# run the training task and everything it needs, all of it again
d6tflow.run(tasks.TaskTrain(), confirm=False, forced_all=True)

visualize.accuracy()
visualize.plot_importances()

# another parameter value is another output
d6tflow.run(tasks.TaskTrain(do_preprocess=False))
visualize.accuracy(do_preprocess=False)

# after editing the code: reload it, reset the first task, run what depends on it again
importlib.reload(cfg)
importlib.reload(tasks)
tasks.TaskGetData().invalidate(confirm=False)

d6tflow.preview(tasks.TaskTrain())
d6tflow.run(tasks.TaskTrain())
