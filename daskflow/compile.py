"""Compile the tasks a run executes into one Dask graph.

The graph is a plain mapping any Dask get-function accepts: one key per task (its
``task_id``), whose value is ``(node, [upstream keys])``: a :class:`daskflow.runtime.Node`,
which Dask calls with the list of its upstream nodes' results. Only tasks that run are in it;
complete upstream tasks are read from storage by the tasks that need them, except their
in-memory outputs, which travel with the node (``given``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .fingerprint import Fingerprint, fingerprint
from .graph import TaskGraph
from .manifests import Provenance
from .runtime import Environment, Node, _dumps, memory_values
from .shipping import Shipped, Unsendable
from .tasks import Task

__all__ = ["annotated", "compile_graph", "dask_key"]


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


def dask_key(task: Task, token: str | None = None) -> str:
    """The Dask key of a task: its id; with ``token`` (a run's, on a cluster) its family, its id
    and the token. Concurrent runs on one cluster never share a key, and the family leads, so
    the scheduler groups a family's tasks as one prefix (one duration estimate, one bar on the
    dashboard) instead of learning each task as a kind of its own.

    >>> from daskflow.tasks import Task
    >>> class A(Task): pass
    >>> dask_key(A()), dask_key(A(), 'f00d')
    ('A__99914b932b', 'A-A__99914b932b@f00d')
    >>> from dask.utils import key_split
    >>> key_split(dask_key(A(), 'f00d'))
    'A'
    """
    return task.task_id if token is None else f"{task.task_family}-{task.task_id}@{token}"


def compile_graph(
    graph: TaskGraph,
    keys: Iterable[str],
    env: Environment | None = None,
    ship: bool = False,
    token: str | None = None,
    fresh: Iterable[str] = (),
    commits: Mapping[str, str | None] | None = None,
    codes: dict[type, Fingerprint] | None = None,
    stale: Iterable[str] = (),
) -> dict[str, Any]:
    """The Dask graph that runs ``keys`` (tasks of ``graph``), each after its upstream keys.

    Each value is ``(Node(task, given, env, fresh, prov), [upstream keys])``: the values of
    in-memory outputs of complete upstream tasks travel with the node (``given``). With ``env``
    (for workers in other processes) the node applies the caller's settings and working
    directory, and returns values and errors in a form that survives pickling; with ``ship``
    each task travels cloudpickled (:class:`Shipped`). Keys are :func:`dask_key` of the task
    ids. The graph lists dependencies before dependents. ``fresh`` names the tasks whose outputs
    did not exist when the run began (their nodes need no commit record on a cluster).
    ``commits``: the commit ids of complete tasks, from their manifests, which the manifests of
    the tasks that read them record (:class:`daskflow.manifests.Provenance`). ``codes``: the
    code fingerprints of the tasks' classes, filled as they are computed (a caller that needs
    them too passes its own).

    >>> from daskflow.tasks import Task
    >>> class A(Task): pass
    >>> class B(Task):
    ...     def requires(self): return A()
    >>> from daskflow.graph import build
    >>> dsk = compile_graph(build([B()]), ['A__99914b932b', 'B__99914b932b'])
    >>> dsk['B__99914b932b']
    (Node(B__99914b932b, fresh=False), ['A__99914b932b'])
    """
    keys = list(keys)
    selected = set(keys)
    fresh = set(fresh)
    stale = set(stale)
    dsk: dict[str, Any] = {}
    classes: dict[type, bytes] = {}
    codes = {} if codes is None else codes
    for k in keys:
        ups = graph.deps[k]
        given = _given(graph, [d for d in ups if d not in selected], env)
        task: Task | Shipped = Shipped(graph.tasks[k], classes) if ship else graph.tasks[k]
        upstream = [dask_key(graph.tasks[d], token) for d in ups if d in selected]
        name = dask_key(graph.tasks[k], token)
        prov = Provenance(
            fingerprint(type(graph.tasks[k]), codes),
            {graph.tasks[d].task_id: (commits or {}).get(d) for d in ups if d not in selected},
            clean=k not in fresh,
            dask_key=name,
            stale=k in stale,
        )
        dsk[name] = (Node(task, given, env, k in fresh, prov), upstream)
    return dsk


def annotated(dsk: dict[str, Any], graph: TaskGraph, keys: Iterable[str]) -> Any:
    """``dsk`` (whose nodes run ``keys``, in order) with each task's ``resources`` as a
    Dask annotation: a layer per set of resources, so no graph optimisation can drop them."""
    layers: dict[Any, dict[str, Any]] = {}
    for (name, node), k in zip(dsk.items(), keys, strict=True):
        res = graph.tasks[k].resources
        layers.setdefault(tuple(sorted(res.items())) if res else None, {})[name] = node
    if list(layers) == [None]:
        return dsk
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    named = {
        f"daskflow-{i}": MaterializedLayer(
            part, annotations={"resources": dict(res)} if res else None
        )
        for i, (res, part) in enumerate(layers.items())
    }
    return HighLevelGraph(named, {name: set() for name in named})
