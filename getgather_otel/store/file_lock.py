"""`<db>.lock`: the advisory lock (flock) every getgather-otel writer holds while it has a file open.

Compaction holds it exclusively from before its copy until after the swap, so no batch
written in between is lost (`maintenance/compaction.py` says why); prune and import take it
too. A writer that finds it taken treats the file as locked and keeps its batches.
"""

from __future__ import annotations

import fcntl
import random
import threading
import time
from pathlib import Path
from typing import IO

from getgather_otel.store.errors import CompactionLockHeldError, DatabaseUnwritableError

__all__ = ["acquire_lock", "lock_path", "release"]


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def acquire_lock(db: Path, wait_s: float, stop: threading.Event | None = None) -> IO[bytes]:
    """Hold `<db>.lock` exclusively (polling up to `wait_s`, or until `stop` is set; then
    CompactionLockHeldError); `release` it."""
    try:
        handle = open(lock_path(db), "ab")  # noqa: SIM115 - held across calls by the writer
    except OSError as error:
        raise DatabaseUnwritableError(f"cannot create {lock_path(db)}: {error.strerror or error}") from error
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                handle.close()
                raise CompactionLockHeldError(db, lock_path(db)) from None
            time.sleep(random.uniform(0.01, 0.03))


def release(handle: IO[bytes]) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
