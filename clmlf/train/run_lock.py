"""One process (one torchrun job) at a time in a run directory: ``run.lock``, an ``flock`` held for the whole run.

The lock file holds JSON naming its holder (pid, host, start time, command) for the refusal message. The kernel
releases an ``flock`` when its holder dies, however it dies, so a run killed with SIGKILL never blocks the next one:
a lock file left behind is taken over (one log line). A file system without ``flock`` falls back to the recorded pid
(taken over when it names a process gone from this host).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "run.lock"
logger = logging.getLogger("clmlf")


class RunInUseError(FileExistsError):
    """Another process holds the run directory."""


def holder_record() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}


def read_holder(handle: int) -> dict:
    """The holder a lock file records ({} when it is empty or unreadable: a holder killed while writing it)."""
    try:
        record = json.loads(os.pread(handle, 4096, 0).decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def pid_gone(record: dict) -> bool:
    """Whether ``record`` names a process of this host that no longer runs."""
    if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
        return False
    try:
        os.kill(record["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False


def in_use(root: Path, record: dict) -> RunInUseError:
    who = f"pid {record.get('pid', '?')} on {record.get('host', '?')}, started {record.get('started', '?')}"
    command = f" ({record['command']})" if record.get("command") else ""
    gone = " (it has exited; processes it started still hold the lock: retry in a few seconds)" if pid_gone(record) else ""
    return RunInUseError(f"{root} is in use by {who}{command}{gone}: wait for that run to finish (or stop it), or pass "
                         "another --out")


def _try_flock(handle: int) -> bool:
    """True once this process holds the flock; False when another does; raises OSError where flock is unsupported."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


def _open_locked(path: Path) -> int:
    """A descriptor of ``path`` holding its lock (retried when a finishing holder removed the file meanwhile)."""
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                locked = _try_flock(handle)
            except OSError:  # no flock here (some network file systems): trust the recorded pid
                record = read_holder(handle)
                locked = not record or pid_gone(record)
            if not locked:
                raise in_use(path.parent, read_holder(handle))
            if os.fstat(handle).st_ino == os.stat(path).st_ino:
                return handle
        except FileNotFoundError:
            pass  # removed between open and stat by the holder that just finished: try again
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)


@contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold ``root/run.lock`` for the block (under torchrun, rank 0 alone holds it).
    Raises :class:`RunInUseError` at once when another process holds it; the file is removed on exit."""
    path = root / LOCK_FILE
    handle = _open_locked(path)
    try:
        stale = read_holder(handle)
        if stale:
            logger.info("%s: taking over the lock of a run that ended without releasing it (pid %s on %s, started %s)",
                        root, stale.get("pid"), stale.get("host"), stale.get("started"))
        record = json.dumps(holder_record()).encode()
        os.ftruncate(handle, 0)
        os.pwrite(handle, record, 0)
        yield
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.close(handle)


def ensure_free(root: Path) -> None:
    """Raise :class:`RunInUseError` now if another process holds ``root``'s lock (a command checks this before its
    slow checks; the run itself then takes the lock with :func:`run_lock`)."""
    if (root / LOCK_FILE).exists():
        with run_lock(root):
            pass
