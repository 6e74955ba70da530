"""d6tflow's ``d6tflow.tasks.torch``: A PyTorch model (needs ``pip install torch``).

The library is imported when an output is saved or loaded, not when this module is.
"""

from __future__ import annotations

from ..targets.torch import PyTorchModel
from . import TaskData

__all__ = ["PyTorch"]


class PyTorch(TaskData):
    """A PyTorch model (needs ``pip install torch``)."""

    target_class = PyTorchModel
    target_ext = "pt"
