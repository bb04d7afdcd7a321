"""Giving disk space back: rewrite a DuckDB file without its deleted rows, and the lock that makes it safe.

DuckDB reuses the blocks of deleted rows but never shrinks the file (measured: deleting
90% of a table and CHECKPOINT/VACUUM leave the size unchanged), so reclaiming space
means copying the live data into a new file and putting it in place of the old one.

The swap must not lose a batch that a writer sends between "copy done" and "file
replaced". Every getgather-otel writer therefore holds an advisory lock on a sidecar
file (`<db>.lock`, flock) for as long as it has the database open, and compaction holds
the same lock exclusively from before the copy until after the rename. Writers that
find it taken treat the file as locked: they keep their batches and retry, so nothing
is lost; readers are unaffected (a reader holding the old file keeps reading it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from getgather_otel.store.connect import connect_waiting_for_lock
from getgather_otel.store.errors import classify, is_file_damage
from getgather_otel.store.file_lock import acquire_lock, release
from getgather_otel.store.queries.files import copy_database
from getgather_otel.store.reader import check_ours, require_file
from getgather_otel.store.schema import migrate

__all__ = ["CompactionResult", "compact", "exclusive_connection"]


@contextmanager
def exclusive_connection(db: Path, wait_s: float, *, existing: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A migrated read-write connection to `db`, opened and closed while holding `<db>.lock`.

    What prune, import and compaction write through: no getgather-otel writer is mid-batch
    meanwhile, and none can start one until the block ends. `wait_s` covers both waits, for
    `<db>.lock` and then for DuckDB's own lock, not each of them. With `existing`, `db` must
    already be getgather-otel's file, checked as readers check it (`check_ours`) once the lock
    is held (no writer of ours has it open then) and before the migration writes; a read of a
    damaged block inside the block is the file's `CorruptDatabaseError`, as for readers.
    """
    deadline = time.monotonic() + wait_s
    if existing:
        require_file(db)  # before the lock: acquiring it creates `<db>.lock` beside the file
    handle = acquire_lock(db, wait_s)
    try:
        if existing:
            check_ours(db, max(0.0, deadline - time.monotonic()))
        conn = connect_waiting_for_lock(db, max(0.0, deadline - time.monotonic()))
        try:
            migrate(conn)
            yield conn
        except duckdb.Error as error:
            if is_file_damage(error):  # as readers say it: nothing was written to the file
                raise classify(db, error, reading=True) from error
            raise
        finally:
            conn.close()
    finally:
        release(handle)


@dataclass(frozen=True)
class CompactionResult:
    bytes_before: int
    bytes_after: int
    seconds: float


def _size(db: Path) -> int:
    wal = db.with_name(db.name + ".wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def compact(db: Path, wait_s: float = 30.0) -> CompactionResult:
    """Rewrite `db` with only its live rows and swap it in; returns the sizes before and after."""
    started = time.monotonic()
    scratch = db.with_name(db.name + ".compacting")
    with exclusive_connection(db, wait_s) as conn:
        before = _size(db)
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            leftover.unlink(missing_ok=True)
        try:
            copy_database(conn, scratch)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        # Renamed while the old file is still open and locked: no writer can slip in between.
        os.replace(scratch, db)
    return CompactionResult(before, _size(db), time.monotonic() - started)
