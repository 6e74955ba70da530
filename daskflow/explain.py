"""Why a task is pending, and adopting outputs that are right as they are.

:func:`explain` says, for each pending task of a graph, why: its output is missing, it is
forced, an upstream task is pending, its code changed (naming each function that changed and
its file), an input changed (naming it), or its outputs have no manifest (made by d6tflow, or
by daskflow before it recorded provenance); with how long its last run took. It reads the
manifests of the tasks it reports, and only those.

:func:`accept` records the current code and inputs as current for tasks whose outputs are
right (after a refactor, a renamed variable): it writes their manifests without running them.

:func:`garbage` lists the files under a root that no task of a plan owns.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from . import manifests, settings
from .fingerprint import fingerprint, library_versions
from .graph import Plan, TaskGraph, plan
from .owned import owned
from .targets.urls import filesystem, modified_time
from .tasks import Task

__all__ = ["accept", "explain", "garbage", "reasons"]


def reasons(
    graph: TaskGraph, forced: Iterable[str] = (), seen: Plan | None = None
) -> dict[str, str]:
    """``{task_id: why it is pending}`` for every pending task of ``graph`` (``seen``: its
    status pass, if made already)."""
    seen = seen or plan(graph)
    complete, exist, verdicts = seen.complete, seen.exist, seen.verdicts
    redo = set(forced)
    why: dict[str, str] = {}
    for key, task in graph.tasks.items():
        if complete[key] and key not in redo:
            continue
        verdict = verdicts.get(key)
        old = _last_manifest(task, verdict)  # read once, for the reason and the duration
        if key in redo:
            text = "forced"
        elif not exist.get(key, False):
            text = "output missing"
        elif verdict is not None and not verdict.current:
            now = {d: seen.commits.get(d) for d in graph.deps[key]}
            text = _detail(task, verdict, old, now, graph.tasks)
        else:
            pending = [graph.tasks[d] for d in graph.deps[key] if not complete[d]]
            text = "upstream pending: " + ", ".join(repr(t) for t in pending)
        last = f" (its last run took {old.seconds:.1f} s)" if old is not None else ""
        why[key] = text + last
    return why


def _last_manifest(task: Task, verdict: manifests.Verdict | None) -> manifests.Manifest | None:
    """The content of the task's manifest, if the status pass found one."""
    if verdict is None or verdict.stamp is None:
        return None
    home = manifests.folder_of(task.own_targets())
    return manifests.read(home, verdict.stamp) if home is not None else None


def _detail(
    task: Task,
    verdict: manifests.Verdict,
    old: manifests.Manifest | None,
    upstream: Mapping[str, str | None] | None = None,
    tasks: Mapping[str, Task] | None = None,
) -> str:
    """Why the manifest ``old`` is not current; ``upstream``: the commit each upstream task's
    manifest names now (which its task's last run read otherwise is said by name)."""
    if verdict.reason == "no manifest":
        return (
            "no manifest: its outputs were made by d6tflow or an earlier daskflow, so whether "
            "they match the code is unknown (accept() adopts them)"
        )
    if verdict.reason == "several manifests":
        return "several manifests beside its outputs (outputs deleted by hand?); run it again"
    if verdict.reason == "code changed":
        if old is None:
            return "code changed"
        now = fingerprint(type(task))
        if old.version is not None or now.version is not None:
            return f"code changed: version {old.version!r} -> {now.version!r}"
        before = {k: tuple(v) for k, v in old.covered.items()}
        changed = [
            f"{name} ({now.covered[name][0] or 'a constant'})"
            for name in sorted(now.covered)
            if name in before and before[name][1] != now.covered[name][1]
        ]
        added = [n for n in sorted(now.covered) if n not in before]
        gone = [n for n in sorted(before) if n not in now.covered]
        parts = []
        if changed:
            parts.append("changed " + ", ".join(changed))
        if added:
            parts.append("now also uses " + ", ".join(added))
        if gone:
            parts.append("no longer uses " + ", ".join(gone))
        return "code changed: " + ("; ".join(parts) or "(the same functions, reordered)")
    if verdict.reason == "input changed":
        if old is None:
            return "input changed"
        files = manifests.file_stamps(task)
        names = [f"file {u}" for u, s in files.items() if old.files.get(u) != s]
        names += [f"file {u} (no longer read)" for u in old.files if u not in files]
        for dep, commit in (upstream or {}).items():
            if old.upstream.get(dep, "") != commit:
                shown = repr(tasks[dep]) if tasks and dep in tasks else dep
                was = old.upstream.get(dep)
                names.append(
                    f"{shown} was remade" if was else f"{shown} (not read by its last run)"
                )
        return "input changed: " + (", ".join(names) or "an upstream task's outputs were remade")
    return verdict.reason


def explain(graph: TaskGraph, forced: Iterable[str] = (), seen: Plan | None = None) -> str:
    """The text of :func:`reasons`: one line per pending task, dependencies first."""
    why = reasons(graph, forced, seen)
    if not why:
        return "Every task is complete.\n"
    lines = [f"{graph.tasks[k]!r}: {text}" for k, text in why.items()]
    return "Why each pending task would run:\n" + "\n".join(f"  {x}" for x in lines) + "\n"


def accept(graph: TaskGraph, keys: Iterable[str] | None = None) -> list[Task]:
    """Write manifests that take the current code and inputs as current for the tasks
    ``keys`` of ``graph`` (default: all) whose outputs exist and are not current; the tasks
    it accepted. Dependencies are accepted first, so what a task records as its inputs is
    what its upstream tasks' new manifests say; a task that had a manifest keeps its commit
    id (its outputs did not change), so what reads it stays current."""
    wanted = set(graph.tasks if keys is None else keys)
    seen = plan(graph)
    exist, verdicts = seen.exist, seen.verdicts
    commits: dict[str, str | None] = {k: v.commit for k, v in verdicts.items()}
    accepted = []
    now = time.time()
    for key, task in graph.tasks.items():
        home = manifests.folder_of(task.own_targets())
        verdict = verdicts.get(key)
        if key not in wanted or home is None or not exist.get(key, False):
            continue
        if verdict is not None and verdict.current and verdict.stamp is not None:
            continue
        upstream = {graph.tasks[d].task_id: commits.get(d) for d in graph.deps[key]}
        stamp = manifests.write(
            home,
            task,
            fingerprint(type(task)),
            upstream,
            manifests.file_stamps(task),
            now,
            run_id="accept",
            libraries=library_versions(),
            commit=verdict.stamp.commit if verdict is not None and verdict.stamp else None,
        )
        commits[key] = stamp.commit
        accepted.append(task)
    return accepted


def garbage(plan: Plan, root: str, storage_options: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The files under ``root`` that no task of ``plan`` owns (:mod:`daskflow.owned`), with
    their sizes: outputs of old parameter values and renamed tasks, temporaries that killed
    writers left, manifests of outputs that are gone. One listing of the root. A temporary
    written within three ``lease_ttl`` is left alone whoever it is: its writer may have just
    begun, its lease not yet seen by the listing."""
    fs, base = filesystem(root, storage_options)
    try:
        found = {str(p).rstrip("/"): info for p, info in fs.find(base, detail=True).items()}
    except FileNotFoundError:
        return []
    mine = owned(plan.files.values(), found, fs, storage_options)
    young = time.time() - 3 * float(settings.current("lease_ttl"))
    return [
        (path, int(info.get("size") or 0))
        for path, info in sorted(found.items())
        if path not in mine and not (_temporary(path) and modified_time(info) > young)
    ]


def _temporary(path: str) -> bool:
    """Whether ``path`` is a temporary of a write (``.{name}.{tag}.tmp``, or inside one)."""
    return any(p.startswith(".") and p.endswith(".tmp") for p in path.split("/"))
