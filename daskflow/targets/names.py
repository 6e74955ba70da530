"""The names of temporaries and small side files beside outputs: within the file-name limit,
and telling whose they are (the lease tag of their writer, or its pid in the system's
temporary folder)."""

from __future__ import annotations

import hashlib
import os

from ..context import write_tag

__all__ = ["NAME_MAX", "fitted", "system_temp_prefix", "temporary_name", "temporary_prefix"]


NAME_MAX = 255
"""The longest file name, in bytes, of the common local filesystems (ext4, xfs, APFS, NTFS)."""


def fitted(name: str, suffix: str = "", reserve: int = 0) -> str:
    """``name + suffix``, with ``name`` shortened and a digest of it added when together
    they would pass :data:`NAME_MAX` bytes (less ``reserve`` for what a caller adds), so a
    name that is legal on its own stays legal with a suffix.

    >>> fitted("x.pkl", ".lease")
    'x.pkl.lease'
    >>> long = fitted("a" * 300, ".tmp")
    >>> len(long.encode()), long.endswith(".tmp"), long == fitted("a" * 300, ".tmp")
    (255, True, True)
    """
    room = NAME_MAX - reserve - len(suffix.encode())
    if len(name.encode()) <= room:
        return name + suffix
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    short = name.encode()[: room - 11].decode(errors="ignore")
    return f"{short}~{digest}{suffix}"


TAG_LENGTH = 15
"""The length of the tag in a temporary's name (:func:`temporary_name`)."""


def temporary_name(name: str) -> str:
    """The hidden name of a temporary written beside output ``name``:
    ``.{name}.{tag}.tmp``, within the file-name limit. While the task holds a lease, the tag
    starts with the lease's (:data:`daskflow.context.write_tag`), so the run that takes over
    the lease of a killed holder can tell its leftovers (:func:`temporary_prefix`)."""
    lease = write_tag.get()
    unique = os.urandom(16).hex()  # (uuid4() costs 5x as much)
    tag = f"{lease}-{unique}" if lease else unique
    return fitted(f".{name}", f".{tag[:TAG_LENGTH]}.tmp")


def temporary_prefix(name: str, lease: str = "") -> str:
    """What the names of output ``name``'s temporaries start with: those written under the
    lease tagged ``lease``, or every one."""
    return fitted(f".{name}", "." + "x" * TAG_LENGTH + ".tmp")[: -TAG_LENGTH - 4] + lease


def system_temp_prefix() -> str:
    """The prefix of this process's files in the system's temporary folder (staged uploads,
    downloads): ``daskflow-{pid}-``, so a later run can tell those of a killed process."""
    return f"daskflow-{os.getpid()}-"
