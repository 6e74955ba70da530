"""Compile the tasks a run executes into one Dask graph.

The graph is a plain mapping any Dask get-function accepts: one key per task (its
``task_id``), whose value is ``(node, [upstream keys])``: a :class:`daskflow.runtime.Node`,
which Dask calls with the list of its upstream nodes' results; or one key per batch of
quick tasks (a :class:`daskflow.runtime.Batch`, which :mod:`daskflow.batching` groups). Only
tasks that run are in it; complete upstream tasks are read from storage by the tasks that
need them, except their in-memory outputs, which travel with the node (``given``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .fingerprint import Fingerprint, fingerprint
from .graph import TaskGraph
from .manifests import Provenance
from .runtime import Batch, Environment, Node, _dumps, memory_values
from .shipping import Shipped, Unsendable
from .tasks import Task

__all__ = ["Compiler", "annotated", "dask_key"]


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


class Compiler:
    """Compiles the tasks a run executes (``keys`` of ``graph``) into Dask graph parts.

    Each value is ``(node, [upstream Dask keys])``: a :class:`~daskflow.runtime.Node` for a
    key of one task, a :class:`~daskflow.runtime.Batch` for a key of several (see
    :mod:`daskflow.batching`). The values of in-memory outputs of complete upstream tasks
    travel with the node (``given``). With ``env`` (for workers in other processes) the node
    applies the caller's settings and working directory, and returns values and errors in a
    form that survives pickling; with ``ship`` each task travels cloudpickled
    (:class:`Shipped`). Keys are :func:`dask_key` of the task ids (a batch's, ``{family}-batch-``
    and its first task's). ``fresh`` names the tasks whose outputs did not exist when the run
    began (their nodes need no commit record on a cluster). ``commits``: the commit ids of
    complete tasks, from their manifests, which the manifests of the tasks that read them
    record (:class:`daskflow.manifests.Provenance`). ``codes``: the code fingerprints of the
    tasks' classes, filled as they are computed (a caller that needs them too passes its own).
    ``earlier``: the names of the manifests of the tasks that run over outputs they have
    (:attr:`daskflow.graph.Plan.earlier`), which their commits replace.

    A run may compile its tasks in several parts (:meth:`part`), each after the parts that
    hold its upstream tasks: a later part's nodes name the keys of earlier ones.

    >>> from daskflow.tasks import Task
    >>> class A(Task): pass
    >>> class B(Task):
    ...     def requires(self): return A()
    >>> from daskflow.graph import build
    >>> keys = ['A__99914b932b', 'B__99914b932b']
    >>> dsk = Compiler(build([B()]), keys).part([[k] for k in keys])
    >>> dsk['B__99914b932b']
    (Node(B__99914b932b, fresh=False), ['A__99914b932b'])
    """

    def __init__(
        self,
        graph: TaskGraph,
        keys: Iterable[str],
        env: Environment | None = None,
        ship: bool = False,
        token: str | None = None,
        fresh: Iterable[str] = (),
        commits: Mapping[str, str | None] | None = None,
        codes: dict[type, Fingerprint] | None = None,
        stale: Iterable[str] = (),
        earlier: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.graph = graph
        self.selected = set(keys)
        self.env, self.ship, self.token = env, ship, token
        self.fresh, self.stale = set(fresh), set(stale)
        self.commits = commits or {}
        self.earlier = earlier
        self.codes = {} if codes is None else codes
        self.classes: dict[type, bytes] = {}
        self.where: dict[str, str] = {}  # task key -> the Dask key that runs it
        self.members: dict[str, list[str]] = {}  # Dask key -> the task keys it runs

    def part(self, groups: Iterable[Sequence[str]]) -> dict[str, Any]:
        """The graph of ``groups`` of task keys, dependencies first: a key per group (a group
        of one is a node, of more a batch, whose tasks need none of each other)."""
        dsk: dict[str, Any] = {}
        for group in groups:
            first = self.graph.tasks[group[0]]
            if len(group) == 1:
                name = dask_key(first, self.token)
            else:
                name = f"{first.task_family}-batch-{first.task_id}"
                name = name if self.token is None else f"{name}@{self.token}"
            for k in group:
                self.where[k] = name
            self.members[name] = list(group)
            nodes = [self._node(k, batched=len(group) > 1) for k in group]
            upstream = list(dict.fromkeys(u for _, ups in nodes for u in ups))
            if len(group) == 1:
                dsk[name] = (nodes[0][0], upstream)
            else:
                dsk[name] = (Batch(name, tuple(n for n, _ in nodes)), upstream)
        return dsk

    def _node(self, k: str, batched: bool) -> tuple[Node, list[str]]:
        graph = self.graph
        ups = graph.deps[k]
        given = _given(graph, [d for d in ups if d not in self.selected], self.env)
        task: Task | Shipped = graph.tasks[k]
        if self.ship:
            task = Shipped(graph.tasks[k], self.classes)
        inside = [d for d in ups if d in self.selected]
        upstream = list(dict.fromkeys(self.where[d] for d in inside))
        needs = None
        if batched or any(len(self.members[u]) > 1 for u in upstream):
            needs = frozenset(graph.tasks[d].task_id for d in inside)
        prov = Provenance(
            fingerprint(type(graph.tasks[k]), self.codes),
            {graph.tasks[d].task_id: self.commits.get(d) for d in ups if d not in self.selected},
            clean=k not in self.fresh,
            dask_key=self.where[k],
            stale=k in self.stale,
            earlier=None if self.earlier is None else self.earlier.get(k, ()),
        )
        return Node(task, given, self.env, k in self.fresh, prov, needs), upstream


def annotated(dsk: dict[str, Any], graph: TaskGraph, members: Mapping[str, Sequence[str]]) -> Any:
    """``dsk`` with each task's ``resources`` as a Dask annotation (``members``: the task keys
    each Dask key runs; a batch's share their resources): a layer per set of resources, so no
    graph optimisation can drop them."""
    layers: dict[Any, dict[str, Any]] = {}
    for name, node in dsk.items():
        res = graph.tasks[members[name][0]].resources
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
