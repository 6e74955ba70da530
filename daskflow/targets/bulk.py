"""Completeness in bulk: :func:`exists_many` answers for many targets with one fresh
listing per folder, and says when an object store's bucket is missing; :func:`listings` gives
folders' names; :func:`content_stamp` says what one file is now."""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import StorageError, masked
from .core import Target
from .urls import filesystem, is_local, protocol, redact, resolve

__all__ = ["content_stamp", "exists_many", "listings"]


def _list_names(folder: str, storage_options: Mapping[str, Any]) -> set[str]:
    """The names of the files in ``folder``, freshly listed (empty if it does not exist)."""
    if protocol(folder) is None:
        try:
            with os.scandir(resolve(folder)) as it:
                return {e.name for e in it if e.is_file()}
        except (FileNotFoundError, NotADirectoryError):
            return set()
    fs, path = filesystem(folder, storage_options)
    try:
        entries = fs.ls(path, detail=True)  # (no listing is cached: urls.NO_LISTINGS_CACHE)
    except FileNotFoundError:
        _check_bucket(fs, folder)
        return set()
    except Exception as e:
        raise StorageError(
            f"cannot list {redact(folder)}: {type(e).__name__}: {e}", folder
        ) from masked(e)
    return {
        str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "file"
    }


OBJECT_STORES = ("s3", "s3a", "gs", "gcs", "abfs", "az", "adl")


def _check_bucket(fs: Any, url: str) -> None:
    """A folder that is not there is normal (nothing written yet), unless it is in an object
    store whose bucket does not exist: then say so before any task tries to write there."""
    name = protocol(url)
    if name not in OBJECT_STORES:
        return
    bucket = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    try:
        found = fs.exists(bucket)
    except Exception as e:
        raise StorageError(
            f"cannot check bucket {name}://{bucket}: {type(e).__name__}: {e}", url
        ) from masked(e)
    if not found:
        raise StorageError(
            f"bucket {name}://{bucket} does not exist (outputs go to {redact(url)}); "
            "create it, or point settings.dirpath / set_dir() at an existing one",
            url,
        )


def exists_many(targets: Iterable[Target]) -> list[bool]:
    """Whether each target exists, with one fresh listing per folder (a local folder with only
    a few of them: a stat each).

    In-memory targets are looked up in :data:`data`, and a target class with its own
    ``exists()`` is asked. Folders on remote storage are listed in parallel.
    """
    targets = list(targets)
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = defaultdict(list)
    answers = [False] * len(targets)
    for i, t in enumerate(targets):
        if type(t).exists is not Target.exists:  # in memory, or a user's own exists()
            answers[i] = t.exists()
        else:
            opts = tuple(sorted((k, repr(v)) for k, v in t.storage_options.items()))
            groups[(t.probe[0], opts)].append(i)
    folders = list(groups)

    def listing(key: tuple[str, tuple[tuple[str, str], ...]]) -> set[str]:
        first = targets[groups[key][0]]
        return _list_names(key[0], first.storage_options)

    remote = [k for k in folders if not is_local(k[0])]
    if len(remote) > 1:
        with ThreadPoolExecutor(min(16, len(remote))) as pool:
            names = dict(zip(remote, pool.map(listing, remote), strict=True))
    else:
        names = {k: listing(k) for k in remote}
    for key in folders:
        if key not in names and len(groups[key]) <= FEW:  # a stat each beats a listing
            for i in groups[key]:
                answers[i] = targets[i].exists()
            continue
        found = names[key] if key in names else listing(key)
        for i in groups[key]:
            answers[i] = targets[i].probe[1] in found
    return answers


FEW = 8
"""Up to this many outputs of one local folder are checked one by one: a folder may hold
thousands of files (one task of a family asks for its own, while the others are there)."""


def listings(folders: Iterable[tuple[str, Mapping[str, Any]]]) -> list[set[str]]:
    """For each ``(folder URL, storage options)``, the names of the files in it: one fresh
    listing per folder (remote ones in parallel), the same set where a folder repeats."""
    items = list(folders)
    keys = [(url, tuple(sorted(map(repr, opts.items())))) for url, opts in items]
    first = {k: opts for k, (_, opts) in zip(keys, items, strict=True)}
    remote = [k for k in first if not is_local(k[0])]
    names: dict[Any, set[str]] = {}
    if len(remote) > 1:
        with ThreadPoolExecutor(min(16, len(remote))) as pool:
            got = pool.map(lambda k: _list_names(k[0], first[k]), remote)
            names.update(zip(remote, got, strict=True))
    for k in first:
        if k not in names:
            names[k] = _list_names(k[0], first[k])
    return [names[k] for k in keys]


def content_stamp(fs: Any, path: str, scheme: str | None) -> str:
    """What the file at ``path`` (of protocol ``scheme``) is now, to tell when it is written
    again: its ETag (S3: one HEAD), else its size and modification time. Raises
    ``FileNotFoundError`` when it is missing, or a folder."""
    if scheme in (None, "file", "local"):
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise FileNotFoundError(path)
        return f"{st.st_size}:{st.st_mtime_ns}"
    if scheme in ("s3", "s3a"):  # info() would also list the prefix of a missing key
        bucket, key, _ = fs.split_path(path)
        return str(fs.call_s3("head_object", Bucket=bucket, Key=key)["ETag"]).strip('"')
    info = fs.info(path)
    if info.get("type") == "directory":
        raise FileNotFoundError(path)
    etag = info.get("ETag") or info.get("etag")
    if etag:
        return str(etag).strip('"')
    modified = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    return f"{info.get('size')}:{modified}"
