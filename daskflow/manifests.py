"""Provenance: the manifest a commit writes beside a task's outputs, and what it is named.

Every commit of a task writes, after its outputs, one small JSON file in a ``.manifests``
folder beside the folder of its first stored output (``data/.manifests/Task/`` for outputs in
``data/Task/``)::

    .manifests/{folder}/.{task_id}.{code}.{inputs}.{commit}.manifest

- ``code``: the task's code fingerprint (:mod:`daskflow.fingerprint`) when it ran;
- ``inputs``: a digest of what it read: the commit of each upstream task, the content stamp
  (ETag, or size and modification time) of each external file;
- ``commit``: this commit's own id, which downstream tasks record as their input.

The name carries all that decides whether the outputs are still current, so the status pass
decides it from one listing of each manifest folder, reading no file (:func:`index`); under
``"exists"`` it lists none of them. The
content (:class:`Manifest`) says the rest (parameters, the functions the fingerprint covered,
inputs by name, run id, times, host, Dask key, library versions) and is read only to explain
why a task is pending. The manifest is written last: under ``"code"`` and ``"code+data"``
invalidation it is what marks the commit complete. Manifests travel with the outputs, so a
root copied elsewhere keeps its history.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import settings
from .errors import SettingsError
from .fingerprint import Fingerprint, digest, fingerprint
from .targets import MemoryTarget, Target, is_local, protocol
from .targets.bulk import content_stamp, listings
from .targets.names import fitted
from .targets.urls import filesystem
from .tasks.core import above

__all__ = [
    "MODES",
    "Manifest",
    "Provenance",
    "Stamp",
    "Verdict",
    "durations",
    "earlier",
    "index",
    "inputs_key",
    "judge",
    "manifest_name",
    "mode_of",
    "read",
    "write",
]

MODES = settings.INVALIDATION_MODES
SUFFIX = ".manifest"
HOST = socket.gethostname()  # (asked once: a manifest per task adds up on 100,000 tasks)


@dataclass(frozen=True)
class Stamp:
    """What a manifest's name says: the code, inputs and commit ids."""

    code: str
    inputs: str
    commit: str
    name: str


def check_mode(mode: Any, where: str) -> str:
    if mode not in MODES:
        raise SettingsError(f"{where} must be one of {MODES}, got {mode!r}")
    return str(mode)


def head(task_id: str) -> str:
    """What the names of a task's manifests start with (before ``.{code}...``)."""
    return fitted(f".{task_id}", "." + "0" * 50 + SUFFIX)[: -(51 + len(SUFFIX))]


def manifest_name(task_id: str, code: str, inputs: str, commit: str) -> str:
    return f"{head(task_id)}.{code}.{inputs}.{commit}{SUFFIX}"


def index(names: Iterable[str]) -> dict[str, list[Stamp]]:
    """The manifests among a folder's file ``names``, by the head of their name."""
    found: dict[str, list[Stamp]] = {}
    for name in names:
        if not (name.startswith(".") and name.endswith(SUFFIX)):
            continue
        parts = name[: -len(SUFFIX)].rsplit(".", 3)
        if len(parts) == 4:
            found.setdefault(parts[0], []).append(Stamp(parts[1], parts[2], parts[3], name))
    return found


def stamps_for(task_id: str, found: Mapping[str, list[Stamp]]) -> list[Stamp]:
    return found.get(head(task_id), [])


def inputs_key(upstream: Mapping[str, str | None], files: Mapping[str, str]) -> str:
    """The digest of a task's inputs: upstream task ids with their commits, and files with
    their content stamps (16 hex digits)."""
    text = json.dumps({"tasks": dict(upstream), "files": dict(files)}, sort_keys=True)
    return digest(text)


FOLDER = ".manifests"


def _beside(folder: str) -> str:
    """The manifest folder for outputs in ``folder``: ``{parent}/.manifests/{name}``, outside
    the output folder, so its listing (d6tflow code lists it; the status pass under
    ``"exists"`` does) holds only outputs."""
    parent, sep, name = folder.rstrip("/").rpartition("/")
    if not sep:
        return f"{FOLDER}/{name}"
    return f"{parent}/{FOLDER}/{name}"


def outputs_folder(folder: str) -> str:
    """The output folder whose manifests are in ``folder`` (undoes :func:`_beside`).

    >>> outputs_folder("bucket/data/.manifests/Task"), outputs_folder(".manifests/T")
    ('bucket/data/Task', 'T')
    """
    parent, sep, name = folder.rpartition(f"{FOLDER}/")
    if not sep:
        return folder
    return f"{parent}{name}"


def where(target: Target) -> tuple[Any, str]:
    """The filesystem and folder of the manifests of the task whose first stored output is
    ``target`` (see :func:`_beside`)."""
    fs, folder = target.folder_path()
    return fs, _beside(folder)


def url_of(target: Target) -> str:
    """The URL of ``target``'s manifest folder (for listing it)."""
    return _beside(target.folder)


def folder_of(targets: list[Target]) -> Target | None:
    """The stored output beside which a task's manifest lives (its first)."""
    stored = [t for t in targets if not isinstance(t, MemoryTarget)]
    return stored[0] if stored else None


@dataclass
class Manifest:
    """A manifest's content."""

    task_family: str
    task_id: str
    params: dict[str, str]
    code: str
    covered: dict[str, list[str]]
    version: str | None
    inputs: str
    upstream: dict[str, str | None]
    files: dict[str, str]
    commit: str
    run_id: str | None
    started: float
    finished: float
    host: str
    pid: int
    dask_key: str | None
    libraries: dict[str, str]
    dynamic: dict[str, list[str]] = field(default_factory=dict)
    """The tasks ``run()`` yielded (its dynamic dependencies): ``{task_id: [its files]}``,
    in the form :func:`owned_entries` gives, relative to the root (see :func:`relative`)."""

    @property
    def seconds(self) -> float:
        return self.finished - self.started


def write(
    target: Target,
    task: Any,
    code: Any,
    upstream: Mapping[str, str | None],
    files: Mapping[str, str],
    started: float,
    run_id: str | None = None,
    dask_key: str | None = None,
    libraries: Mapping[str, str] | None = None,
    clean: bool = True,
    commit: str | None = None,
    place: Any = None,
    dynamic: Mapping[str, list[str]] | None = None,
    earlier: Iterable[str] | None = None,
) -> Stamp:
    """Write the manifest of ``task``'s commit beside ``target``; the stamp of the new one.
    With ``clean`` (the outputs existed before: a rerun), remove its earlier manifests (one
    listing); a task whose outputs were missing has none, unless somebody deleted them by
    hand, and then the status pass sees two and counts the task as pending. ``place(path,
    bytes)``, if given, may put the file there itself (the task's lease, renamed: see
    :meth:`daskflow.leases.Lease.publish`) and says whether it did. ``dynamic``: the files of
    the tasks ``run()`` yielded, by task id (:attr:`Manifest.dynamic`). ``earlier``: the names
    of its earlier manifests, as the run's plan found them (a run lists each folder once, not
    once per task); should one be gone, another run committed since, and the folder is listed
    to remove that run's too."""
    commit = commit or os.urandom(8).hex()  # (uuid4() costs 5x as much)
    inputs = inputs_key(upstream, files)
    manifest = Manifest(
        task_family=task.task_family,
        task_id=task.task_id,
        params={k: str(v) for k, v in task.param_kwargs.items()},
        code=code.key,
        covered={k: list(v) for k, v in code.covered.items()},
        version=code.version,
        inputs=inputs,
        upstream=dict(upstream),
        files=dict(files),
        commit=commit,
        run_id=run_id,
        started=started,
        finished=time.time(),
        host=HOST,
        pid=os.getpid(),
        dask_key=dask_key,
        libraries=dict(libraries or {}),
        dynamic={
            k: [relative(u, target.folder) for u in urls] for k, urls in (dynamic or {}).items()
        },
    )
    name = manifest_name(task.task_id, code.key, inputs, commit)
    fs, folder = where(target)
    raw = _encoded(manifest)
    planned = list(earlier or ())  # (none known: list them; the outputs may be d6tflow's)
    old = [] if not clean else planned or _listed(fs, folder, head(task.task_id) + ".")
    if is_local(target.url):  # plain file calls: a create is most of the cost here
        if place is None or not place(f"{folder}/{name}", raw):
            _create_local(folder, name, raw)
    else:
        fs.pipe_file(f"{folder}/{name}", raw)
    for other in old:
        if other != name:
            try:
                fs.rm_file(f"{folder}/{other}")
            except FileNotFoundError:  # another run committed since this one planned
                old += [n for n in _listed(fs, folder, head(task.task_id) + ".") if n not in old]
    return Stamp(code.key, inputs, commit, name)


_SHARED_FIELDS = ("code", "covered", "version", "libraries", "host")
_shared_json: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], bytes] = {}


def _encoded(manifest: Manifest) -> bytes:
    """The manifest as compact JSON. What every task of a class shares (the code it covered,
    the library versions) is encoded once per process and code, not once per task: on a fan
    of tiny tasks that was a fifth of writing the manifest."""
    fields = vars(manifest)
    key = (manifest.code, manifest.version, tuple(manifest.libraries.items()))
    shared = _shared_json.get(key)
    if shared is None:
        if len(_shared_json) > 256:
            _shared_json.clear()
        part = {k: fields[k] for k in _SHARED_FIELDS}
        shared = _shared_json[key] = json.dumps(part, separators=(",", ":")).encode()[1:-1]
    rest = {k: v for k, v in fields.items() if k not in _SHARED_FIELDS}
    return b"{" + shared + b"," + json.dumps(rest, separators=(",", ":")).encode()[1:]


def relative(url: str, folder: str) -> str:
    """``url`` as a manifest beside outputs in ``folder`` records it: ``./rest`` when it lies
    under ``folder``'s parent (the root, usually; so a root copied elsewhere keeps it), else
    as it is.

    >>> relative("s3://b/data/Dyn/x.pkl", "s3://b/data/Task"), relative("/o/x", "/d/T")
    ('./Dyn/x.pkl', '/o/x')
    """
    parent = folder.rstrip("/").rpartition("/")[0]
    if parent and url.startswith(parent + "/"):
        return "./" + url[len(parent) + 1 :]
    return url


def resolved(entry: str, folder: str) -> str:
    """The URL (or path) a recorded ``entry`` names, for a manifest beside ``folder`` (a URL,
    or a path of the same filesystem: the result is the same kind).

    >>> resolved("./Dyn/x.pkl", "bucket/data/Task"), resolved("/o/x", "/d/T")
    ('bucket/data/Dyn/x.pkl', '/o/x')
    """
    if entry.startswith("./"):
        return folder.rstrip("/").rpartition("/")[0] + "/" + entry[2:]
    return entry


def _create_local(folder: str, name: str, raw: bytes) -> None:
    """Write ``raw`` to ``folder/name``, making the folder when the write finds it missing
    (asked of the disk each time: a folder deleted since, by this process or another, is
    made again)."""
    try:
        f = open(f"{folder}/{name}", "wb")  # noqa: SIM115
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        f = open(f"{folder}/{name}", "wb")  # noqa: SIM115
    with f:
        f.write(raw)


def _listed(fs: Any, folder: str, start: str) -> list[str]:
    """The names of the manifests in ``folder`` that start with ``start`` (one listing);
    ``start`` is most often a task's :func:`head` and a dot."""
    try:
        names = [str(n).rstrip("/").rsplit("/", 1)[-1] for n in fs.ls(folder, detail=False)]
    except FileNotFoundError:
        return []
    return [n for n in names if n.startswith(start) and n.endswith(SUFFIX)]


def read(target: Target, stamp: Stamp) -> Manifest | None:
    """The content of the manifest ``stamp`` names beside ``target``."""
    fs, folder = where(target)
    try:
        return Manifest(**json.loads(fs.cat_file(f"{folder}/{stamp.name}")))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def remove(target: Target, task_id: str) -> None:
    """Remove every manifest of ``task_id`` beside ``target``."""
    fs, folder = where(target)
    for name in _listed(fs, folder, head(task_id) + "."):
        fs.rm_file(f"{folder}/{name}")
    if is_local(target.url):  # the folder goes with the last of them
        with contextlib.suppress(OSError):
            os.rmdir(folder)


# -- deciding what is current -------------------------------------------------------------


def mode_of(task: Any) -> str:
    """The invalidation mode of ``task``: its class's ``invalidation``, else the setting."""
    own = getattr(task, "invalidation", None)
    if own is not None:
        return check_mode(own, f"{type(task).__name__}.invalidation")
    return check_mode(settings.current("invalidation"), "settings.invalidation")


def declared_reads(task: Any) -> list[str]:
    """The files ``task`` declares it reads (``reads``: a list of paths or URLs, or a
    method that returns one)."""
    reads = getattr(task, "reads", None)
    if callable(reads):
        reads = reads()
    return [os.fspath(r) for r in reads or []]


def file_stamp(url: str, storage_options: Mapping[str, Any] | None = None) -> str:
    """A file's content stamp (:func:`daskflow.targets.bulk.content_stamp`); ``"missing"``."""
    fs, path = filesystem(url, storage_options or {})
    try:
        return content_stamp(fs, path, protocol(url))
    except FileNotFoundError:
        return "missing"


def file_stamps(task: Any) -> dict[str, str]:
    options = getattr(task, "storage_options", None) or settings.current("storage_options")
    return {url: file_stamp(url, options) for url in declared_reads(task)}


@dataclass
class Verdict:
    """Whether a task's outputs are current under its mode, and why not (``reason``)."""

    current: bool
    reason: str = ""
    stamp: Stamp | None = None
    commit: str | None = None  # what a downstream task records as this input


@dataclass
class Provenance:
    """What a node needs to write its manifest: the code, the commits of its complete
    upstream tasks (by task id; those that run in the same run report their own)."""

    code: Fingerprint
    upstream: dict[str, str | None]
    clean: bool = True
    dask_key: str | None = None
    stale: bool = False
    """Its outputs exist but their manifest is not current (its code or an input changed,
    under ``"code"`` or ``"code+data"``), and it is not forced: a run that finds a current
    manifest once it holds the task's lease (another run remade it meanwhile) skips it."""
    earlier: tuple[str, ...] | None = None
    """The names of its manifests when the run was planned, which its commit replaces (None:
    not known, so the commit lists its folder to find them)."""


def earlier(tasks: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The names of the manifests of each of ``tasks`` (by key), from one listing of each of
    their manifest folders."""
    homes: dict[str, Target] = {}
    for key, task in tasks.items():
        home = folder_of(task.own_targets())
        if home is not None and not task.aggregates:
            homes[key] = home
    folders = [(url_of(t), t.storage_options) for t in homes.values()]
    found: dict[str, tuple[str, ...]] = {}
    indexes: dict[int, dict[str, list[Stamp]]] = {}
    for key, names in zip(homes, listings(folders), strict=True):
        index_ = indexes.get(id(names))
        if index_ is None:
            index_ = indexes[id(names)] = index(names)
        found[key] = tuple(s.name for s in stamps_for(tasks[key].task_id, index_))
    return found


def made_current(
    target: Target, task: Any, prov: Provenance, ran: Mapping[str, str | None]
) -> str | None:
    """The commit of a manifest beside ``target`` that says ``task``'s outputs are current for
    the code and inputs ``prov`` and ``ran`` (the commits of upstream tasks of this run)
    name, if there is one: made by another run since this one planned (one listing)."""
    inputs = inputs_key({**prov.upstream, **ran}, file_stamps(task))
    for s in _stamps_beside(target, task.task_id):
        if s.code == prov.code.key and s.inputs == inputs:
            return s.commit
    return None


def last_commit(target: Target, task_id: str) -> str | None:
    """The commit of the one manifest of ``task_id`` beside ``target`` (None: none, or
    several), for a task another run made: the tasks downstream record it as their input."""
    found = _stamps_beside(target, task_id)
    return found[0].commit if len(found) == 1 else None


def _stamps_beside(target: Target, task_id: str) -> list[Stamp]:
    """What the names of ``task_id``'s manifests beside ``target`` say (one listing)."""
    fs, folder = where(target)
    return stamps_for(task_id, index(_listed(fs, folder, head(task_id) + ".")))


def durations(target: Target, family: str, most: int = 3) -> list[float]:
    """How long the last runs of tasks of ``family`` took, in seconds, from at most ``most``
    of the manifests beside ``target`` (one listing; a file read each)."""
    fs, folder = where(target)
    found: list[float] = []
    for name in _listed(fs, folder, f".{family}_"):
        if len(found) >= most:
            break
        try:
            m = json.loads(fs.cat_file(f"{folder}/{name}"))
            if m.get("task_family") == family:
                found.append(max(0.0, float(m["finished"]) - float(m["started"])))
        except (FileNotFoundError, ValueError, TypeError, KeyError):
            continue
    return found


def judge(
    order: Mapping[str, Any],
    deps: Mapping[str, tuple[str, ...]],
    exist: Mapping[str, bool],
    names: Mapping[str, set[str] | None],
) -> dict[str, Verdict]:
    """For every task (in topological order): are its outputs current under its mode?
    ``names``: the file names of the folder its manifest is in (None: it has no stored
    output). Reads no file: the manifests' names say it all."""
    verdicts: dict[str, Verdict] = {}
    indexes: dict[int, dict[str, list[Stamp]]] = {}
    codes: dict[type, Fingerprint] = {}
    for key, task in order.items():
        listing = names.get(key)
        found: list[Stamp] = []
        if listing is not None:
            idx = indexes.get(id(listing))
            if idx is None:
                idx = indexes[id(listing)] = index(listing)
            found = stamps_for(task.task_id, idx)
        stamp = found[0] if len(found) == 1 else None
        ups = {order[d].task_id: verdicts[d].commit for d in deps[key]}
        if getattr(task, "external", False):
            outputs = [t.url for t in task.output_targets() if not isinstance(t, MemoryTarget)]
            stamps = {u: file_stamp(u, getattr(task, "storage_options", None)) for u in outputs}
            verdicts[key] = Verdict(True, commit=inputs_key({}, stamps))
            continue
        if listing is None:  # no stored output (an aggregator, in-memory outputs)
            verdicts[key] = Verdict(True, commit=inputs_key(ups, {}))
            continue
        mode = mode_of(task)
        commit = stamp.commit if stamp is not None else None
        if mode == "exists":
            verdicts[key] = Verdict(True, stamp=stamp, commit=commit)
        elif not exist.get(key, False):
            verdicts[key] = Verdict(False, "output missing", stamp, commit)
        elif not found:
            verdicts[key] = Verdict(False, "no manifest", None, None)
        elif stamp is None:
            verdicts[key] = Verdict(False, "several manifests", None, None)
        elif stamp.code != fingerprint(type(task), codes).key:
            verdicts[key] = Verdict(False, "code changed", stamp, commit)
        elif mode == "code+data" and stamp.inputs != inputs_key(ups, file_stamps(task)):
            verdicts[key] = Verdict(False, "input changed", stamp, commit)
        else:
            verdicts[key] = Verdict(True, stamp=stamp, commit=commit)
    return verdicts


def _forget(task: Any) -> None:
    """Remove every manifest of ``task`` (what ``Task.reset()`` asks)."""
    home = folder_of(task.own_targets())
    if home is not None:
        remove(home, task.task_id)


above.forget = _forget
