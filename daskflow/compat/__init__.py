"""What exists only because d6tflow 0.2.8 has it, so ``import daskflow as d6tflow`` keeps
code that uses it working: names d6tflow had (each says what replaces it, where something
does), its ``utils`` and ``cache`` modules, FlowExport/FlowImport (:mod:`.export`) and the
decorator API (:mod:`.functional`; also importable as ``daskflow.functional``).

The core never imports this package; ``daskflow/__init__.py`` re-exports its names.
"""

from __future__ import annotations

import warnings
from pathlib import PurePosixPath
from typing import Any

from .. import settings
from ..errors import CompatibilityWarning
from ..tasks import Task, flatten, inherits, requires
from . import cache as cache
from . import export as export
from . import functional as functional
from . import utils as utils

__all__ = [
    "cache",
    "clone_parent",
    "dict_inherits",
    "dict_requires",
    "dotdict",
    "enable_cloud_storage",
    "enable_gcs",
    "export",
    "flatten",
    "functional",
    "invalidate_all",
    "invalidate_orphans",
    "luigi_inherits",
    "luigi_requires",
    "utils",
]

luigi_inherits = inherits  # d6tflow re-exported luigi.util's decorators under these names
luigi_requires = requires


def dict_inherits(*tasks: Any) -> Any:
    """``@inherits({name: TaskClass, ...})``: d6tflow's class behind the dict form."""
    if not tasks:
        raise TypeError("dict_inherits needs a dict {name: task class}")
    return inherits(*tasks)


def dict_requires(*tasks: Any) -> Any:
    """``@requires({name: TaskClass, ...})``: d6tflow's class behind the dict form."""
    if not tasks:
        raise TypeError("dict_requires needs a dict {name: task class}")
    return requires(*tasks)


def clone_parent(cls: type[Task]) -> type[Task]:
    """Deprecated in d6tflow for ``@requires(...)``: a ``requires()`` that returns
    ``self.clone_parent()`` (the first class the task ``@inherits``)."""
    warnings.warn(
        "clone_parent is replaced with @daskflow.requires(...)", DeprecationWarning, stacklevel=2
    )

    def requires(self: Task) -> Any:
        return self.clone_parent()

    cls.requires = requires  # type: ignore[method-assign]
    return cls


def invalidate_all(confirm: bool = False) -> None:
    """Not implemented in d6tflow either: ``Workflow.reset_upstream()`` resets a flow, and
    ``daskflow gc`` deletes what no task owns."""
    raise NotImplementedError(
        "invalidate_all is not implemented (nor in d6tflow); use Workflow(...).reset_upstream() "
        "for a flow, or `daskflow gc MODULE:Task --yes` for the files no task owns"
    )


def invalidate_orphans(confirm: bool = False) -> None:
    """Not implemented in d6tflow either: ``daskflow gc`` lists and deletes orphans."""
    raise NotImplementedError(
        "invalidate_orphans is not implemented (nor in d6tflow); `daskflow gc MODULE:Task` "
        "lists the files no task of your flows owns, and deletes them with --yes"
    )


class dotdict(dict[Any, Any]):
    """A dict whose keys read as attributes (a missing one reads as None), as d6tflow's."""

    __getattr__ = dict.get
    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__


def enable_cloud_storage(protocol: str, bucket: str, prefix: str | None = None) -> str:
    """d6tflow 0.2.8's switch to fsspec storage: here the root itself is a URL. Sets the root
    to ``{protocol}://{bucket}[/{prefix}]/{settings.dir}`` (d6tflow kept the relative local
    folder inside the key the same way) and says so; returns the prefix, as d6tflow did."""
    where = f"{protocol}://{PurePosixPath(bucket) / prefix if prefix else bucket}"
    local = str(settings.dir)
    root = where if "://" in local or local.startswith("/") else f"{where}/{local}"
    settings.set_dir(root)
    warnings.warn(
        f"enable_cloud_storage: daskflow takes a URL as the root; this call did "
        f"set_dir({root!r}). Use set_dir() instead, with credentials and endpoints in "
        "daskflow.settings.storage_options",
        CompatibilityWarning,
        stacklevel=2,
    )
    return where


def enable_gcs(bucket: str, prefix: str | None = None) -> str:
    """``enable_cloud_storage("gcs", bucket, prefix)``; use ``set_dir("gs://bucket/...")``."""
    return enable_cloud_storage("gcs", bucket, prefix)
