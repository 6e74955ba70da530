"""Compile the tasks a run executes into one Dask graph.

The graph is a plain mapping any Dask get-function accepts: one key per task (its
``task_id``), whose value is ``(run_node, task, [upstream keys], given, env)``, calling
:func:`daskflow.runtime.run_node`. Only tasks that run are in it; complete upstream tasks are
read from storage by the tasks that need them, except their in-memory outputs, which travel
with the node (``given``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .graph import TaskGraph
from .runtime import Environment, Shipped, Unsendable, _dumps, memory_values, run_node
from .tasks import Task

__all__ = ["compile_graph"]


def _given(graph: TaskGraph, ups: list[str], env: Environment | None) -> Any:
    """The in-memory values of complete upstream tasks ``ups``, for a node: as they are for
    this process, cloudpickled (once) for another."""
    given: dict[str, Any] = {}
    for d in ups:
        given.update(memory_values(graph.tasks[d]))
    if env is None or not given:
        return given
    try:
        return _dumps(given)
    except Exception as e:
        makers = [repr(graph.tasks[d]) for d in ups if memory_values(graph.tasks[d])]
        return Unsendable(
            f"the in-memory output of {', '.join(makers)} cannot be sent to another process "
            f"({type(e).__name__}: {e}); save a picklable object, or use a file format"
        )


def compile_graph(
    graph: TaskGraph,
    keys: Iterable[str],
    env: Environment | None = None,
    ship: bool = False,
    suffix: str = "",
) -> dict[str, Any]:
    """The Dask graph that runs ``keys`` (tasks of ``graph``), each after its upstream keys.

    Each node is ``(run_node, task, [upstream keys], {url: value}, env)``: the values of
    in-memory outputs of complete upstream tasks travel with it. With ``env`` (for workers
    in other processes) the node applies the caller's settings and working directory, and
    returns values and errors in a form that survives pickling; with ``ship`` each task
    travels cloudpickled (:class:`Shipped`). ``suffix`` is appended to every Dask key, so
    runs sharing a cluster never share a key (the results keep the task ids).

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
    dsk: dict[str, Any] = {}
    for k in keys:
        ups = graph.deps[k]
        given = _given(graph, [d for d in ups if d not in selected], env)
        task: Task | Shipped = Shipped(graph.tasks[k]) if ship else graph.tasks[k]
        upstream = [d + suffix for d in ups if d in selected]
        dsk[k + suffix] = (run_node, task, upstream, given, env)
    return dsk
