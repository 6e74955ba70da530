"""d6tflow's ``d6tflow.tasks.dt``: A datatable Frame (needs ``pip install datatable``).

The library is imported when an output is saved or loaded, not when this module is.
"""

from __future__ import annotations

from ..targets.dt import DatatableTarget
from . import TaskData

__all__ = ["TaskDatatable"]


class TaskDatatable(TaskData):
    """A datatable Frame (needs ``pip install datatable``)."""

    target_class = DatatableTarget
    target_ext = "nff"
