"""Run ``concurrent_flow.Top`` on a root and ``kill -9`` this process at a named point, for
tests/test_kill9.py::

    python kill_flow.py ROOT POINT

POINT is where the first task that reaches it dies: ``lease create`` (its lease file
created, not yet locked nor written), ``lease renewal`` (the renewed lease written, not
yet renamed over the old one), ``commit`` (an output written to its temporary, not yet
renamed), ``manifest`` (the outputs committed, the manifest not written), ``dataset`` (a
Dask DataFrame's parts written into their hidden folder, not yet moved into place).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import concurrent_flow

import daskflow
from daskflow import manifests
from daskflow.targets import core, dataset, exclusive


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def before(owner: Any, name: str, when: Any = None) -> None:
    """Die when ``owner.name`` is first called (and ``when(*args)`` says so)."""
    real = getattr(owner, name)

    def patched(*args: Any, **kwargs: Any) -> Any:
        if when is None or when(*args, **kwargs):
            die()
        return real(*args, **kwargs)

    setattr(owner, name, patched)


def main() -> None:
    root, point = sys.argv[1], sys.argv[2]
    if point == "lease create":
        before(exclusive.fcntl, "flock")  # created, not yet locked nor written
    elif point == "lease renewal":
        daskflow.settings.lease_ttl = 0.3  # (renewed every 0.1 s while a task runs)
        os.environ["FLOW_PAUSE"] = "1.0"
        concurrent_flow.PAUSE = 1.0
        before(exclusive.os, "replace", lambda src, dst: str(dst).endswith(".lease"))
    elif point == "commit":
        before(core.Target, "_commit", lambda self, tmp: "Multi" in self.url)
    elif point == "manifest":
        before(manifests, "write", lambda target, task, *a, **k: "Multi" in task.task_id)
    elif point == "dataset":
        before(dataset.DatasetTarget, "_commit")
    else:
        raise SystemExit(f"unknown point {point!r}")
    daskflow.set_dir(root)
    daskflow.Workflow(concurrent_flow.Top).run(scheduler="sync", execution_summary=False)
    raise SystemExit(f"{point}: never reached")


if __name__ == "__main__":
    main()
