"""Process-wide settings, read at the moment they are used (never cached at import).

Assign to them directly, as d6tflow users do::

    import daskflow as d6tflow
    d6tflow.settings.check_dependencies = False
    d6tflow.set_dir("/tmp/pipeline")          # or an fsspec URL such as "s3://bucket/prefix"

Attributes
----------
dirpath : pathlib.Path or str
    Root of every output: a local path (relative paths are relative to the working directory
    at the time an output is used) or an fsspec URL. ``set_dir`` sets it.
dir : str
    The same root as a string (d6tflow kept both).
storage_options : dict
    Keyword arguments for the fsspec filesystem of ``dirpath`` (credentials, endpoint, ...).
check_dependencies : bool
    A task is complete only when its own outputs exist *and* every upstream task is complete.
execution_summary : bool
    Print the execution summary after each run.
log_level : str
    ``'DEBUG'``, ``'INFO'``, ``'WARNING'`` (default), ``'ERROR'`` or ``'CRITICAL'``: the level
    of daskflow's logger; below ``WARNING`` progress is logged while a run is under way.
save_with_param : bool
    Put the task id in output file names (``{task_id}-{key}.{ext}``); ``False`` gives
    ``{key}.{ext}``.
cached : bool
    Keep every loaded output in memory (``daskflow.data``) and serve later loads from there.
scheduler : str or None
    Default scheduler for runs: ``"sync"`` or ``"threads"``; ``None`` lets daskflow choose.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "cached",
    "check_dependencies",
    "dir",
    "dirpath",
    "execution_summary",
    "log_level",
    "save_with_param",
    "scheduler",
    "set_dir",
    "storage_options",
]

dir: str = "data"
dirpath: Path | str = Path(dir)
storage_options: dict[str, Any] = {}
check_dependencies: bool = True
execution_summary: bool = True
log_level: str = "WARNING"
save_with_param: bool = True
cached: bool = False
scheduler: Any = None


def set_dir(dir: str | os.PathLike[str] | None = None) -> Path | str:
    """Set the root of all outputs and return it.

    Parameters
    ----------
    dir : str, os.PathLike or None
        A local directory or an fsspec URL (``"s3://bucket/prefix"``). ``None`` keeps the
        current root. The directory is created when the first output is written.
    """
    global dirpath
    if dir is None:
        return dirpath
    text = os.fspath(dir)
    if not isinstance(text, str):
        raise TypeError(f"set_dir expects a path or URL string, got {dir!r}")
    globals()["dir"] = text
    dirpath = text if "://" in text else Path(text)
    return dirpath
