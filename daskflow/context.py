"""What the task running now is given: the context the code that runs a task sets around its
``run()``, and the layers below (targets, formats) read.

run_inputs
    The values of in-memory outputs handed to this task, by URL: a node that runs in a worker
    process receives its upstream cache values as Dask arguments, not through that process's
    :data:`daskflow.targets.data`.
base_dir
    The folder relative local paths are relative to, when it is not the working directory (a
    worker process whose working directory differs from the caller's).
write_tag
    The tag of the lease the task running now holds (:mod:`daskflow.leases`): its temporary
    files carry it in their names, so a run that takes over the lease of a killed holder
    knows they are garbage.
compute_scope
    How a Dask collection computed *inside* the task (a Dask DataFrame a format writes) is
    computed: a function that returns a context manager, entered around the compute, which
    gives the keyword arguments for it (``{}`` is Dask's default, :func:`dask_default`).
    :func:`computing` enters it. The default, :func:`cluster_compute`, computes on the
    cluster when the task runs on a distributed worker (the worker's thread leaves its pool
    only while the collection computes) and with Dask's default elsewhere.

Each is a :class:`contextvars.ContextVar`, so what one task is given is seen by nothing that
runs beside it in another thread. Setting them is the runtime's job: this module imports no
other daskflow layer and knows nothing of how a task came to run.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from types import MappingProxyType
from typing import Any

__all__ = [
    "base_dir",
    "cluster_compute",
    "compute_scope",
    "computing",
    "dask_default",
    "run_inputs",
    "write_tag",
]

run_inputs: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "daskflow_run_inputs", default=MappingProxyType({})
)
"""Values of in-memory outputs handed to the task running now (by URL)."""

base_dir: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "daskflow_base_dir", default=None
)
"""The folder relative local paths are relative to (``None``: the working directory)."""

write_tag: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "daskflow_write_tag", default=None
)
"""The tag of the lease held by the task running now (``None``: it holds none)."""


@contextlib.contextmanager
def dask_default() -> Iterator[Mapping[str, Any]]:
    """Compute with Dask's default scheduler: no keyword arguments."""
    yield {}


@contextlib.contextmanager
def cluster_compute() -> Iterator[Mapping[str, Any]]:
    """On a distributed worker, compute on its cluster, with the worker's thread out of its
    pool meanwhile (``worker_client``), so a task waiting for its own collection cannot
    deadlock the cluster; elsewhere Dask's default.

    The thread leaves the pool only around the compute, not for the whole ``run()``: a task
    that holds a worker thread for its own work keeps counting against the worker's threads.
    """
    if "distributed" not in sys.modules:  # a worker has imported it: nothing to import here
        yield {}
        return
    from distributed import get_worker, worker_client

    try:
        get_worker()
    except ValueError:  # not on a distributed worker
        yield {}
        return
    with worker_client() as client:
        yield {"scheduler": client}


ComputeScope = Callable[[], AbstractContextManager[Mapping[str, Any]]]

compute_scope: contextvars.ContextVar[ComputeScope] = contextvars.ContextVar(
    "daskflow_compute_scope", default=cluster_compute
)
"""How Dask collections computed inside the task running now are computed (see
:func:`computing`). The default finds a distributed worker by itself, so a task that runs on
a cluster computes its collections there whoever ran it."""


def computing() -> AbstractContextManager[Mapping[str, Any]]:
    """Enter around computing a Dask collection inside a task; it gives the keyword arguments
    for the compute (``scheduler=...``, or none for Dask's default).

    >>> with computing() as kwargs:
    ...     print(kwargs)
    {}
    """
    return compute_scope.get()()
