"""What the task running now is given: the context the code that runs a task sets around its
``run()``, and the layers below read.

run_inputs
    The values of in-memory outputs handed to this task, by URL: a node that runs in a worker
    process receives its upstream cache values as Dask arguments, not through that process's
    :data:`daskflow.targets.data`.
base_dir
    The folder relative local paths are relative to, when it is not the working directory (a
    worker process whose working directory differs from the caller's).

Each is a :class:`contextvars.ContextVar`, so what one task is given is seen by nothing that
runs beside it in another thread. Setting them is the runtime's job; nothing here knows how a
task came to run.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["base_dir", "run_inputs"]

run_inputs: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "daskflow_run_inputs", default=MappingProxyType({})
)
"""Values of in-memory outputs handed to the task running now (by URL)."""

base_dir: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "daskflow_base_dir", default=None
)
"""The folder relative local paths are relative to (``None``: the working directory)."""
