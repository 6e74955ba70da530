"""d6tflow's ``d6tflow.tasks.h5``: a DataFrame in an HDF5 file (needs PyTables,
``pip install "daskflow[h5]"``).

The library is imported when an output is saved or loaded, not when this module is.
"""

from __future__ import annotations

from ..targets.h5 import H5PandasTarget
from . import TaskData

__all__ = ["TaskH5Pandas"]


class TaskH5Pandas(TaskData):
    """A DataFrame in an HDF5 file (needs PyTables: ``pip install "daskflow[h5]"``)."""

    target_class = H5PandasTarget
    target_ext = "hdf5"
