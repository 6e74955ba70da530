"""Where a target's URL points: a plain local path or an fsspec URL, its filesystem opened
with fsspec (``url_to_fs``), and the install hint when a backend is missing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..context import base_dir
from ..errors import StorageError, mask, masked

__all__ = ["filesystem", "is_local", "modified_time", "protocol", "redact", "resolve"]


def protocol(url: str) -> str | None:
    """The fsspec protocol ``url`` names; ``None`` for a plain local path.

    The one place daskflow tells a URL from a path. A plain path is never parsed further:
    the code that sees ``None`` works on it with ``os`` directly, without fsspec.

    >>> protocol("s3://bucket/x.pkl"), protocol("data/Task/x.pkl"), protocol("file:///tmp/x")
    ('s3', None, 'file')
    """
    if "://" not in url:
        return None
    return url.split("://", 1)[0]


def is_local(url: str) -> bool:
    """Whether ``url`` is on this machine's disk: a plain path, or a ``file://`` or
    ``local://`` URL (there a file is made atomic by renaming it, elsewhere by one upload).

    >>> is_local("data/x.pkl"), is_local("local:///tmp/x.pkl"), is_local("memory://x.pkl")
    (True, True, False)
    """
    return protocol(url) in (None, "file", "local")


def redact(url: str) -> str:
    """``url`` without a password or token written into it, for messages.

    >>> redact("s3://key:secret@bucket/prefix")
    's3://***@bucket/prefix'
    >>> redact("data/Task/x.pkl")
    'data/Task/x.pkl'
    """
    return mask(url)


def modified_time(info: Mapping[str, Any]) -> float:
    """When the file an fsspec ``info``/listing entry describes was last written (epoch
    seconds; 0 when the filesystem does not say): ``mtime`` locally, ``LastModified`` on S3.

    >>> modified_time({"mtime": 12.5}), modified_time({})
    (12.5, 0.0)
    """
    stamp = info.get("mtime") or info.get("LastModified") or info.get("last_modified") or 0
    return float(stamp.timestamp() if hasattr(stamp, "timestamp") else stamp)


def resolve(url: str) -> str:
    """``url``, with a relative local path joined to :data:`daskflow.context.base_dir`
    when one is set."""
    if protocol(url) is not None or os.path.isabs(url):
        return url
    base = base_dir.get()
    return os.path.join(base, url) if base else url


_EXTRAS = {"s3fs": "daskflow[s3]"}
"""The packages of fsspec backends that a daskflow extra installs."""


def _install_hint(name: str | None) -> str:
    """The pip command that installs the fsspec backend of protocol ``name``, from fsspec's
    registry (``known_implementations``); empty when the backend is part of fsspec or the
    protocol is unknown (fsspec's own message then says what is missing)."""
    from fsspec.registry import known_implementations

    package = known_implementations.get(name or "", {}).get("class", "fsspec").split(".")[0]
    if package == "fsspec":
        return ""
    extra = _EXTRAS.get(package)
    return f"pip install '{extra}' (or {package})" if extra else f"pip install {package}"


NO_LISTINGS_CACHE: Mapping[str, Any] = {"use_listings_cache": False}
"""Options of every filesystem daskflow opens: fsspec keeps no listing of a folder.

A filesystem keeps the listings it made (s3fs, gcsfs, adlfs: ``dircache``) and answers later
``info``, ``exists`` and ``open`` calls from them, for as long as it lives, and fsspec keeps
filesystem instances alive to reuse them. A listing is true only when it is made: meanwhile
a forked worker, a cluster worker or another run may have written into the folder, and a
load or a check answered from the old listing says the new file is not there. So no listing
outlives the call that made it, and no ``invalidate_cache`` is needed anywhere (a fresh
listing per folder and call is what daskflow asks for anyway). With the option in the
instance's token, daskflow's instances are not shared with the user's own (cached) ones.
"""


def filesystem(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` opened with ``storage_options`` (and
    :data:`NO_LISTINGS_CACHE`), and the path on it: how every layer opens storage."""
    if not storage_options and protocol(url) is None:  # a plain local path: no URL to parse
        return _local_fs(), os.path.abspath(resolve(url))
    from fsspec.core import url_to_fs

    try:
        fs, path = url_to_fs(resolve(url), **{**storage_options, **NO_LISTINGS_CACHE})
        return fs, str(path)
    except (ImportError, ValueError) as e:
        hint = _install_hint(protocol(url)) if isinstance(e, ImportError) else ""
        extra = f" ({hint})" if hint else ""
        raise StorageError(f"cannot open storage for {redact(url)}: {e}{extra}", url) from masked(e)


_local: Any = None


def _local_fs() -> Any:
    """fsspec's local filesystem (one instance: it holds no state of its own)."""
    global _local
    if _local is None:
        from fsspec.implementations.local import LocalFileSystem

        _local = LocalFileSystem()
    return _local
