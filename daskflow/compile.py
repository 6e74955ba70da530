"""Compile the tasks a run executes into one Dask graph.

The graph is a plain mapping any Dask get-function accepts: one key per task (its
``task_id``), whose value is ``(run_node, task, [upstream keys])``. Only tasks that run are in
it; complete upstream tasks are read from storage by the tasks that need them.

A task's saves are staged (:func:`daskflow.targets.staging`) and committed together when
its ``run()`` returns: a task that saves and then raises leaves no output, and the outputs of
an earlier successful run stay as they were.

A node never raises: :func:`run_node` returns a :class:`NodeResult` saying whether the task
ran, failed (with its exception), or was skipped because something upstream failed. So one
failure stops only what depends on it, and independent branches finish and keep their outputs,
whatever the scheduler. The node also returns the values of the task's in-memory outputs
(``TaskCache``): they travel to downstream nodes as Dask arguments, and the task that runs
finds them through :data:`daskflow.tasks.run_inputs` before it looks in storage.

A task whose ``run()`` is a generator yields the tasks it needs at run time (luigi's dynamic
dependencies). The node builds and runs their missing part as a nested graph, in the worker,
with the synchronous scheduler, and sends their outputs back into the generator.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dask.local

from .graph import TaskGraph, build, to_run
from .targets import staging
from .tasks import Task, flatten, memory_values, run_inputs

__all__ = ["NodeResult", "compile_graph", "run_node"]

logger = logging.getLogger("daskflow")

DONE, FAILED, UPSTREAM_FAILED = "done", "failed", "upstream_failed"


@dataclass
class NodeResult:
    """What running one task produced (small, picklable; the Dask result of its node)."""

    key: str
    state: str
    values: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    error_text: str = ""
    seconds: float = 0.0
    attempts: int = 0
    pid: int = 0


def compile_graph(graph: TaskGraph, keys: Iterable[str]) -> dict[str, Any]:
    """The Dask graph that runs ``keys`` (tasks of ``graph``), each after its upstream keys.

    >>> from daskflow.tasks import Task
    >>> class A(Task): pass
    >>> class B(Task):
    ...     def requires(self): return A()
    >>> from daskflow.graph import build
    >>> dsk = compile_graph(build([B()]), ['A__99914b932b', 'B__99914b932b'])
    >>> dsk['B__99914b932b'][2]
    ['A__99914b932b']
    """
    keys = list(keys)
    selected = set(keys)
    return {
        k: (run_node, graph.tasks[k], [d for d in graph.deps[k] if d in selected]) for k in keys
    }


def run_node(task: Task, upstream: list[NodeResult]) -> NodeResult:
    """Run one task in the current worker and report how it went."""
    key = task.task_id
    failed = [u.key for u in upstream if u.state != DONE]
    if failed:
        return NodeResult(key, UPSTREAM_FAILED, error_text=f"upstream failed: {failed}")
    values: dict[str, Any] = {}
    for u in upstream:
        values.update(u.values)
    start = time.perf_counter()
    attempts = 0
    token = run_inputs.set(values)
    try:
        while True:
            attempts += 1
            try:
                with staging() as saved:
                    _execute(task)
                    missing = [t for t in task.output_targets() if t.url not in saved]
                    missing = [t for t in missing if not t.exists()]
                    if missing:
                        raise RuntimeError(
                            f"{task!r}.run() finished without saving "
                            f"{', '.join(str(t.url) for t in missing)}; "
                            "call self.save(...) in run()"
                        )
                    saved.commit()
                break
            except Exception as e:
                if attempts <= task.retries:
                    logger.warning("%r failed (attempt %d), retrying: %s", task, attempts, e)
                    continue
                return NodeResult(
                    key,
                    FAILED,
                    error=e,
                    error_text="".join(traceback.format_exception(e)),
                    seconds=time.perf_counter() - start,
                    attempts=attempts,
                    pid=os.getpid(),
                )
    finally:
        run_inputs.reset(token)
    return NodeResult(
        key,
        DONE,
        values=memory_values(task),
        seconds=time.perf_counter() - start,
        attempts=attempts,
        pid=os.getpid(),
    )


def _execute(task: Task) -> None:
    logger.info("running %r", task)
    result = task.run()
    if inspect.isgenerator(result):
        _drive(task, result)


def _drive(task: Task, gen: Any) -> None:
    """Run the tasks a generator ``run()`` yields, sending their outputs back in."""
    try:
        needed = next(gen)
        while True:
            handed = [task._hand_down(t) for t in flatten(needed)]
            run_nested(handed)
            by_id = {t.task_id: t.output() for t in handed}
            outputs = _shape(needed, by_id)
            needed = gen.send(outputs)
    except StopIteration:
        return


def _shape(struct: Any, by_id: dict[str, Any]) -> Any:
    if isinstance(struct, dict):
        return {k: _shape(v, by_id) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return [_shape(v, by_id) for v in struct]
    return by_id[struct.task_id]


def run_nested(tasks: list[Task]) -> None:
    """Run the missing part of ``tasks``' graph here, synchronously; raise the first error."""
    if not tasks:
        return
    graph = build(tasks)
    keys = to_run(graph, graph.status())
    if not keys:
        return
    results = dask.local.get_sync(compile_graph(graph, keys), keys)
    for res in results:
        if res.state == FAILED:
            assert res.error is not None
            raise res.error
    # in-memory values made by nested tasks are already in this process's store
