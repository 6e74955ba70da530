"""d6tflow's ``d6tflow.tasks.tf``: A Keras model (needs ``pip install tensorflow``).

The library is imported when an output is saved or loaded, not when this module is.
"""

from __future__ import annotations

from ..targets.tf import H5KerasTarget
from . import TaskData

__all__ = ["TaskH5Keras"]


class TaskH5Keras(TaskData):
    """A Keras model (needs ``pip install tensorflow``)."""

    target_class = H5KerasTarget
    target_ext = "hdf5"
