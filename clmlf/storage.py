"""Failed writes (a full disk, a read-only file system, no permission) as one line naming the path, what the system
said and what to do, whichever library did the writing (Python, safetensors, torch's stream writer)."""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HINTS = {
    errno.ENOSPC: "free space there, or write elsewhere (another --out, or CLMLF_CACHE_DIR for the feature cache)",
    errno.EDQUOT: "free space within your quota, or write elsewhere (another --out, or CLMLF_CACHE_DIR)",
    errno.EROFS: "that file system is read-only: pass a writable --out (or CLMLF_CACHE_DIR for the feature cache)",
    errno.EACCES: "no permission to write there: fix the folder's permissions, or pass another --out",
    errno.EPERM: "no permission to write there: fix the folder's permissions, or pass another --out",
}
LOW_SPACE = 64 * 2**20
"""Free bytes below which a write that failed without an errno is taken for a full disk."""


class StorageError(OSError):
    """A write that failed for lack of space or permission; ``str()`` is the one-line message."""

    def __str__(self) -> str:
        return describe(self)


def describe(error: OSError) -> str:
    """``"cannot write PATH: No space left on device (ENOSPC); what to do"`` for the errnos of :data:`HINTS`, else
    ``str(error)``."""
    if error.errno not in HINTS:
        return OSError.__str__(error)
    where = f" {error.filename}" if error.filename else ""
    return f"cannot write{where}: {os.strerror(error.errno)} ({errno.errorcode[error.errno]}); {HINTS[error.errno]}"


def errno_of(error: BaseException, path: Path) -> int | None:
    """The errno behind a failed write of ``path``: an OSError's own, the ``os error N`` in safetensors' message, or
    (torch's writer says only ``basic_ios::clear`` or ``file write failed``) what the folder's state implies."""
    if isinstance(error, OSError) and error.errno is not None:
        return error.errno
    found = re.search(r"(?:os error|code:)\s*(\d+)", str(error))
    if found:
        return int(found.group(1))
    folder = next((parent for parent in (path, *path.parents) if parent.exists()), None)
    if folder is None:
        return None
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        return errno.EROFS
    if shutil.disk_usage(folder).free < LOW_SPACE:
        return errno.ENOSPC
    if not os.access(folder, os.W_OK):
        return errno.EACCES
    return None


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Raise a failed write inside the block as a :class:`StorageError` naming ``path`` (other errors pass as they are)."""
    from safetensors import SafetensorError

    try:
        yield
    except (OSError, RuntimeError, SafetensorError) as error:
        code = errno_of(error, Path(path))
        if code not in HINTS or isinstance(error, StorageError):
            raise
        raise StorageError(code, os.strerror(code), getattr(error, "filename", None) or str(path)) from error
