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
    Keep every loaded output in memory (``daskflow.data``); as in d6tflow, a load is served
    from there only when it asks to (``load(cached=True)``, ``inputLoad(cached=True)``) and
    this is on.
scheduler : str, distributed.Client or None
    Default scheduler for runs (see :func:`daskflow.run`); ``None`` lets daskflow choose.
mp_context : str or None
    How local worker processes start: ``"fork"``, ``"forkserver"`` or ``"spawn"``; ``None``
    forks on Linux (fast, and classes defined in a notebook need no import) and spawns
    elsewhere.
connect_timeout : float
    Seconds to wait for a Dask scheduler given by address before giving up.
worker_wait : float
    Seconds a run waits for a cluster to have a worker at all, and one with the
    ``resources`` each task asks for (an adaptive cluster may be starting them), before it
    fails naming what is missing.
leases : bool
    Take a lease on each task before running it (:mod:`daskflow.leases`), so concurrent runs
    on one root execute each task once and never mix their outputs. On by default.
lease_ttl : float
    Seconds a lease lives unless its holder renews it (it does so every third of this while
    the task runs): how long a run waits to take over the lease of a holder that vanished on
    another machine (one on this machine that died is taken over at once).
lease_wait : float
    The longest a run waits for a task whose lease another live run holds, before the task
    fails with :class:`~daskflow.leases.LeaseError` naming the holder.
invalidation : str
    When a task whose outputs exist must run again: ``"exists"`` (never: d6tflow's rule, the
    default), ``"code"`` (also when the code that makes them changed) or ``"code+data"``
    (also when an input changed). A task class's own ``invalidation`` attribute wins. The
    environment variable ``DASKFLOW_INVALIDATION`` sets it for a process (``daskflow run
    --invalidation code`` on the command line).
batch_seconds : float
    On a cluster and on the default local scheduler, quick tasks of one family run in
    batches of about this many seconds of work, one Dask key per batch instead of one per
    task (a scheduler's cost per key is up to a few milliseconds): sized by the durations the
    family's manifests record, or by its first tasks of the run (:mod:`daskflow.batching`).
    ``0`` runs every task as a key of its own.
strict : bool
    Make errors of what d6tflow accepted and daskflow only warns about
    (:class:`~daskflow.errors.CompatibilityWarning`): a ``run()`` that saves nothing, a
    parameter name that no task of a flow declares, a class default that does not parse.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import SettingsError

__all__ = [
    "applied",
    "batch_seconds",
    "cached",
    "check_dependencies",
    "connect_timeout",
    "current",
    "dir",
    "dirpath",
    "execution_summary",
    "invalidation",
    "lease_ttl",
    "lease_wait",
    "leases",
    "log_level",
    "mp_context",
    "save_with_param",
    "scheduler",
    "set_dir",
    "snapshot",
    "storage_options",
    "strict",
    "worker_wait",
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
mp_context: str | None = None
connect_timeout: float = 10.0
worker_wait: float = 60.0
INVALIDATION_MODES = ("exists", "code", "code+data")
invalidation: str = os.environ.get("DASKFLOW_INVALIDATION", "exists")
leases: bool = True
lease_ttl: float = 60.0
lease_wait: float = 3600.0
strict: bool = False
batch_seconds: float = 0.1

# the settings a task needs wherever it runs; shipped with it to other processes
SHARED = (
    "dir",
    "dirpath",
    "storage_options",
    "check_dependencies",
    "save_with_param",
    "cached",
    "log_level",
    "strict",
    "leases",
    "lease_ttl",
    "lease_wait",
    "invalidation",
)


def snapshot() -> dict[str, Any]:
    """The values of the settings tasks use, as the code running now sees them (its run's,
    inside a task: see :func:`applied`), to apply in another process or for a whole call."""
    return {name: current(name) for name in SHARED}


_override: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "daskflow_settings", default=None
)


def current(name: str) -> Any:
    """The value of setting ``name`` for the code running now: the caller's value while a
    task from another process runs here (see :func:`applied`), else this module's."""
    override = _override.get()
    if override is not None and name in override:
        return override[name]
    return globals()[name]


@contextlib.contextmanager
def applied(values: dict[str, Any]) -> Iterator[None]:
    """Use a :func:`snapshot`'s values for the code run inside, in this thread or task only.

    Nothing of this module changes: daskflow reads the values through :func:`current`, and
    task code that reads ``settings.dirpath`` itself is answered from them too (this module's
    attribute lookup asks :func:`current` for the shared settings). So tasks of different
    runs on one worker each see their own run's settings, a run leaves no trace in the
    process's settings, and a setting that task code assigns (the process's, as ever) is not
    put back afterwards; it also holds for the rest of that task.
    """
    unknown = set(values) - set(SHARED)
    if unknown:
        raise SettingsError(f"not shared settings: {sorted(unknown)}; shared: {list(SHARED)}")
    token = _override.set({**(_override.get() or {}), **values})  # (layered on an outer one)
    try:
        yield
    finally:
        _override.reset(token)


class _Module(types.ModuleType):
    """This module, whose shared settings answer with the values of the run whose task
    runs now (:func:`applied`)."""

    def __getattribute__(self, name: str) -> Any:
        if name in _SHARED_SET:
            override = _override.get()
            if override is not None and name in override:
                return override[name]
        return super().__getattribute__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SECONDS:
            value = _seconds(name, value)
        if name == "invalidation" and value not in INVALIDATION_MODES:
            raise SettingsError(
                f"settings.invalidation must be one of {INVALIDATION_MODES}, got {value!r}"
            )
        if name in ("dir", "dirpath") and isinstance(value, (str, os.PathLike)):
            _check_root(os.fspath(value), f"settings.{name} = {value!r}")
        override = _override.get()
        if override is not None and name in override:  # task code sets it during its run
            override[name] = value
        super().__setattr__(name, value)


_SHARED_SET = frozenset(SHARED)
_SECONDS = {  # 0 allowed?
    "lease_ttl": False,
    "lease_wait": True,
    "connect_timeout": False,
    "worker_wait": True,
    "batch_seconds": True,
}


def _seconds(name: str, value: Any) -> float:
    """``value`` as a number of seconds for setting ``name``, or :class:`SettingsError`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    zero = _SECONDS[name]
    if (
        isinstance(value, bool)
        or not math.isfinite(number)
        or number < 0
        or (number == 0 and not zero)
    ):
        wanted = "0 or more" if zero else "more than 0"
        raise SettingsError(
            f"settings.{name} must be a finite number of seconds, {wanted}; got {value!r}"
        )
    return number


sys.modules[__name__].__class__ = _Module
if invalidation not in INVALIDATION_MODES:
    raise SettingsError(
        f"the environment variable DASKFLOW_INVALIDATION must be one of {INVALIDATION_MODES}, "
        f"got {invalidation!r}"
    )


_ONE_SLASH = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]+):/(?!/)")  # (two letters at least: C:/)


def _check_root(text: str, where: str) -> None:
    """Refuse a URL written with one slash ("s3:/bucket/x" would be a local folder "s3:")."""
    scheme = _ONE_SLASH.match(text)
    if scheme:
        rest = text[scheme.end() :]
        fixed = f"{scheme.group(1)}://{'/' if scheme.group(1) == 'file' else ''}{rest}"
        raise SettingsError(f"{where} is a URL with one slash; did you mean {fixed!r}?")


def set_dir(dir: str | os.PathLike[str] | None = None) -> Path | str:
    """Set the root of all outputs and return it.

    Parameters
    ----------
    dir : str, os.PathLike or None
        A local directory or an fsspec URL (``"s3://bucket/prefix"``). ``None`` keeps the
        current root. The directory is created when the first output is written.
    """
    module: Any = sys.modules[__name__]
    if dir is None:
        return module.dirpath  # type: ignore[no-any-return]
    try:
        text: Any = os.fspath(dir)
    except TypeError:
        text = None
    if not isinstance(text, str):
        raise SettingsError(f"set_dir expects a path or URL string, got {dir!r}")
    _check_root(text, f"set_dir({text!r})")
    module.dir = text  # (through the module: during a task, its run's values change too)
    module.dirpath = text if "://" in text else Path(text)
    return module.dirpath  # type: ignore[no-any-return]
