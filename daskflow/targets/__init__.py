"""Targets: one output location (a URL, a format and storage options) and what can be done
with it: ``exists``, ``load``, an atomic ``save`` and ``remove``.

A target holds only plain data, never a live filesystem, so it pickles to any worker, which
opens the filesystem itself (``fsspec.core.url_to_fs``). Every fsspec URL (``s3://``,
``gs://``, ``memory://``, ``file://``, ...) goes through the same code; a plain local path
takes a shorter way through ``os`` (no URL to parse, no fsspec call). :func:`protocol` is the
one place that tells the two apart, and fsspec's registry says which package a missing
backend needs.

Atomic saves
    A local file is written under a hidden temporary name in its folder and renamed into place
    (``os.replace``), so a task that fails halfway leaves nothing that counts as complete. An
    object-store file is written with one upload, which becomes visible only when it is whole.

Completeness in bulk
    :func:`exists_many` answers for many targets with one listing per folder instead of one
    request per file, and never trusts a cached listing.

In-memory outputs
    :class:`MemoryTarget` (the ``cache`` format) keeps its value in :data:`data`, a dict of
    this process keyed by the target's URL, as d6tflow's ``d6tflow.data`` did. A task
    running in another process finds the values handed to it in
    :data:`daskflow.context.run_inputs` first.

d6tflow's target classes
    :class:`DataTarget` and its subclasses (:class:`PqPandasTarget`, :class:`CSVPandasTarget`,
    ...) keep d6tflow's names and calls: ``PqPandasTarget(path).save(df)`` returns the path,
    ``.load()`` reads it back. A user's own ``DataTarget`` subclass that saves with
    ``super().save(obj, "to_feather")`` and loads with ``super().load(read_fn)`` works as a
    task's ``target_class``; its function is handed a local ``pathlib.Path`` whose name is the
    output's, and daskflow makes the result atomic and uploads it to object stores.

Modules
    :mod:`.urls` (paths and URLs, opening a filesystem), :mod:`.core` (:class:`Target`,
    :class:`MemoryTarget`, :func:`staging`), :mod:`.dataset` (:class:`DatasetTarget`,
    :func:`make_target`), :mod:`.bulk` (:func:`exists_many`), :mod:`.classes` (d6tflow's
    target classes). This package re-exports their names. Used by the layers above, not
    re-exported: :mod:`.names` (temporary and fitted file names), :mod:`.leftovers`
    (temporaries of dead writers), :mod:`.exclusive` (one small object created only if
    absent: what leases are made of).
"""

from __future__ import annotations

from .bulk import OBJECT_STORES as OBJECT_STORES
from .bulk import exists_many as exists_many
from .classes import CacheTarget as CacheTarget
from .classes import CSVGZPandasTarget as CSVGZPandasTarget
from .classes import CSVPandasTarget as CSVPandasTarget
from .classes import DataTarget as DataTarget
from .classes import ExcelPandasTarget as ExcelPandasTarget
from .classes import JsonTarget as JsonTarget
from .classes import PdCacheTarget as PdCacheTarget
from .classes import PickleTarget as PickleTarget
from .classes import PqPandasTarget as PqPandasTarget
from .classes import require_module as require_module
from .core import MemoryTarget as MemoryTarget
from .core import Staging as Staging
from .core import Target as Target
from .core import _data_lock as _data_lock
from .core import data as data
from .core import staging as staging
from .dataset import DatasetTarget as DatasetTarget
from .dataset import make_target as make_target
from .urls import is_local as is_local
from .urls import protocol as protocol
from .urls import redact as redact
from .urls import resolve as resolve

__all__ = [
    "CSVGZPandasTarget",
    "CSVPandasTarget",
    "CacheTarget",
    "DataTarget",
    "DatasetTarget",
    "ExcelPandasTarget",
    "JsonTarget",
    "MemoryTarget",
    "PdCacheTarget",
    "PickleTarget",
    "PqPandasTarget",
    "Staging",
    "Target",
    "data",
    "exists_many",
    "is_local",
    "make_target",
    "protocol",
    "redact",
    "require_module",
    "staging",
]
