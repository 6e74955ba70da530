"""Batches: many quick tasks as one Dask key.

A Dask scheduler spends one to several milliseconds on each key, whoever built the graph; a
task that writes one small file takes about one. So on a cluster (and on the default local
scheduler, whose worker processes then share a fan of tiny tasks), a run groups the quick
tasks it is about to send into batches (:class:`daskflow.runtime.Batch`): tasks of one
family, at one level of the run's graph (so none needs another of its batch), with the same
``resources``, run one after another by one worker, each with its own lease, attempts,
commit and manifest, each failing alone.

How many tasks make a batch comes from how long the family's tasks take:

- the durations their manifests record (:func:`history`: the last few runs of the family);
- where there is no record, the run's own measure: the first tasks of a large group of the
  family (:data:`PER_SLOT` per worker thread) run as keys of their own, and the rest of the
  family, with what depends on it, is sent once they have returned (:class:`Batcher`): on a
  cluster the run's graph grows as they return; locally the probes run as a stage of their
  own. The
  low median of their times leaves out what only a worker's first task of a family pays
  (creating its folders, a first import).

A batch aims at ``settings.batch_seconds`` of work; a group is cut into at least
:data:`PER_SLOT` batches per worker thread when it has the tasks for it, so batching never
leaves a worker idle that one key per task would have kept busy. A task estimated at half
the target or more, and a group too small to gain from batches, stay one key each.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence

from . import manifests
from .graph import TaskGraph, levels

__all__ = ["PER_SLOT", "Batcher", "history"]

PER_SLOT = 2
"""Batches per worker thread at least, for a group that has the tasks for it; and probes
per worker thread, for a family whose durations are not known."""

SMALL = 8
"""A group of fewer tasks than this is not batched (unless its family's durations are known):
a probe would cost more than it saves."""


def history(graph: TaskGraph, keys: Iterable[str], families: Iterable[str]) -> dict[str, float]:
    """The typical duration, in seconds, of a task of each of ``families`` (among ``keys`` of
    ``graph``), from the manifests of the family's last runs: the low median of at most three,
    read beside the first stored output of one of its tasks. A family without any is left
    out."""
    wanted = set(families)
    found: dict[str, float] = {}
    for k in keys:
        task = graph.tasks[k]
        family = task.task_family
        if family not in wanted:
            continue
        wanted.discard(family)
        home = manifests.folder_of(task.own_targets())
        if home is None:
            continue
        try:
            times = sorted(manifests.durations(home, family))
        except Exception:  # (a record only: a listing that fails leaves the run to measure)
            continue
        if times:
            found[family] = times[(len(times) - 1) // 2]
    return found


class Batcher:
    """Which of a run's tasks (``keys`` of ``graph``, dependencies first) go to the cluster
    when, and in which batches, for ``slots`` worker threads and batches of about ``target``
    seconds; ``known``: typical durations by family (:func:`history`).

    ``staged``, for a scheduler that runs a graph to its end before it takes more (Dask's
    local one): a release that sends probes sends only them and the tasks they need, so
    the tasks held back for them never wait on unrelated work, only on the probes; and a
    group with less than ``target`` seconds of work in all is not batched (there a batch
    is worth it for the worker processes it can keep busy, and the local scheduler runs
    quick tasks in the calling thread anyway).

    :meth:`release` gives the groups that can be sent now, dependencies first (a group of one
    is a key of its own); :meth:`learned` takes how long tasks took and gives what that
    releases. Every task is released once, after the tasks it needs.
    """

    def __init__(
        self,
        graph: TaskGraph,
        keys: Sequence[str],
        slots: int,
        target: float,
        known: Mapping[str, float] | None = None,
        staged: bool = False,
    ) -> None:
        self.graph = graph
        self.staged = staged
        self.order = {k: i for i, k in enumerate(keys)}
        self.level = levels(graph, keys)
        self.slots = max(1, slots)
        self.target = target
        self.known = dict(known or {})
        self.group_of: dict[str, tuple[int, str, tuple[tuple[str, float], ...]]] = {}
        sizes: dict[tuple[int, str, tuple[tuple[str, float], ...]], int] = {}
        for k in keys:
            task = graph.tasks[k]
            g = (self.level[k], task.task_family, tuple(sorted((task.resources or {}).items())))
            self.group_of[k] = g
            sizes[g] = sizes.get(g, 0) + 1
        self.large = {g for g, n in sizes.items() if n >= SMALL}
        self.pending = list(keys)
        self.sent: set[str] = set()
        self.probes: dict[str, dict[str, float | None]] = {}  # family -> probe -> seconds

    def families(self) -> set[str]:
        """The families with a group large enough to batch."""
        return {family for _, family, _ in self.large}

    def release(self) -> list[list[str]]:
        """The tasks that can be sent now, in groups, dependencies first: every pending task
        whose upstream tasks are sent and whose family's durations are known (or that is one
        of its family's probes, or is in a group too small to batch)."""
        out: list[str] = []
        still: list[str] = []
        probes: list[str] = []
        n_probes = PER_SLOT * self.slots
        for k in self.pending:
            if not all(d in self.sent for d in self.graph.deps[k] if d in self.order):
                still.append(k)
                continue
            g = self.group_of[k]
            family = g[1]
            if g in self.large and family not in self.known:
                probing = self.probes.setdefault(family, {})
                if len(probing) >= n_probes:
                    still.append(k)
                    continue
                probing[k] = None
                probes.append(k)
            out.append(k)
            self.sent.add(k)
        if self.staged and probes:  # this stage: the probes and what they need, no more
            needed = self._upstream(probes, set(out))
            back = [k for k in out if k not in needed]
            self.sent.difference_update(back)
            still = sorted(still + back, key=self.order.__getitem__)
            out = [k for k in out if k in needed]
        self.pending = still
        return self._grouped(out)

    def _upstream(self, keys: list[str], among: set[str]) -> set[str]:
        """``keys`` and the tasks of ``among`` they need, directly or not."""
        found, stack = set(keys), list(keys)
        while stack:
            for d in self.graph.deps[stack.pop()]:
                if d in among and d not in found:
                    found.add(d)
                    stack.append(d)
        return found

    def learned(self, seconds: Mapping[str, float | None]) -> list[list[str]]:
        """Take how long tasks took (None: it did not say, a key Dask lost); what that
        releases (:meth:`release`) once every probe of a family is back."""
        news = False
        for family, probing in self.probes.items():
            if family in self.known:
                continue
            for k in probing.keys() & seconds.keys():
                probing[k] = seconds[k] if seconds[k] is not None else self.target
            times = sorted(t for t in probing.values() if t is not None)
            if len(times) == len(probing):
                self.known[family] = times[(len(times) - 1) // 2]
                news = True
        return self.release() if news and self.pending else []

    def _grouped(self, keys: list[str]) -> list[list[str]]:
        groups: dict[tuple[int, str, tuple[tuple[str, float], ...]], list[str]] = {}
        for k in keys:
            groups.setdefault(self.group_of[k], []).append(k)
        out: list[list[str]] = []
        for g, members in groups.items():
            n, count = len(members), self._count(g[1], len(members))
            cuts = [n * i // count for i in range(count + 1)]  # sizes differ by 1 at most
            out.extend(members[a:b] for a, b in itertools.pairwise(cuts) if b > a)
        out.sort(key=lambda group: (self.level[group[0]], self.order[group[0]]))
        return out

    def _count(self, family: str, n: int) -> int:
        """How many batches ``n`` tasks of ``family`` make: about ``target`` seconds of work
        each, at least :data:`PER_SLOT` per worker thread and a whole number per thread (so
        the threads finish together); ``n`` (a key each) for slow or unknown tasks."""
        took = self.known.get(family)
        if took is None or took >= self.target / 2 or n < 2:
            return n
        if self.staged and n * took < self.target:  # less than a batch of work in all:
            return n  # the local scheduler runs such tasks here, one key each
        count = max(PER_SLOT * self.slots, math.ceil(n * took / self.target))
        return min(n, math.ceil(count / self.slots) * self.slots)
