"""Read-only access to a DuckDB file that a writer may be using at the same moment.

DuckDB refuses every other process while one holds a file read-write. getgather-otel's
writer holds it only for a batch plus a short linger (see `writer.py`), so readers retry
for a while before giving up with a message that names the process holding the lock.
Reads run with external access disabled: `sql` answers questions about this file and
cannot write files, attach others or load extensions.

A reader changes nothing but an older getgather-otel file (upgraded once, with a brief write
open). A DuckDB file without our schema table is someone else's: refused, not given our
tables (nor a `<db>.lock`). A file damaged past its header (truncated: DuckDB opens it and
fails at the first read of a missing block) is reported as `CorruptDatabaseError`, from the
open or from any read inside the block, and left as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from getgather_otel.store.connect import connect_waiting_for_lock
from getgather_otel.store.errors import DatabaseMissingError, ForeignDatabaseError, classify, is_file_damage
from getgather_otel.store.schema import CURRENT_VERSION, SCHEMA_VERSION_TABLE, SchemaTooNewError, stored_version

__all__ = ["DEFAULT_WAIT_S", "check_ours", "open_for_reading", "require_file"]

DEFAULT_WAIT_S = 10.0
_READ_CONFIG = {"enable_external_access": False}


def _upgrade_if_old(path: Path, wait_s: float) -> None:
    """Readers cannot migrate; an old file is upgraded once with a brief write open."""
    from getgather_otel.store.write.writer import DuckDBWriter

    writer = DuckDBWriter(path, lock_wait_s=wait_s)
    writer.open_and_migrate()
    writer.close()


def require_file(path: Path) -> None:
    """A DatabaseMissingError unless `path` is a file: before anything is opened or made beside it."""
    if not path.exists():
        raise DatabaseMissingError(
            f"no getgather-otel database at {path}. Run an instrumented server or "
            "`getgather-otel demo` first, or point to the file with --db / GETGATHER_OTEL_DUCKDB."
        )
    if path.is_dir():
        raise DatabaseMissingError(f"{path} is a directory, not a DuckDB file")
    if not path.is_file():  # a FIFO would hold the open until something writes to it
        raise DatabaseMissingError(f"{path} is not a regular file, not a DuckDB file")


def _checked_version(conn: duckdb.DuckDBPyConnection, path: Path) -> int:
    """The schema version of getgather-otel's file `path`; a StoreError for a damaged file, one
    without our tables (someone else's) or one newer than this package."""
    try:
        version = stored_version(conn)
    except duckdb.Error as error:
        raise classify(path, error, reading=True) from error
    if version == 0:
        raise ForeignDatabaseError(
            f"{path} is a DuckDB file without getgather-otel's tables (no {SCHEMA_VERSION_TABLE}); "
            "it was left as it is. Point --db / GETGATHER_OTEL_DUCKDB at the file an instrumented "
            "server or `getgather-otel collect` writes."
        )
    if version > CURRENT_VERSION:
        raise SchemaTooNewError(
            f"{path} has schema version {version}; this getgather-otel reads up to "
            f"{CURRENT_VERSION}. Upgrade getgather-otel."
        )
    return version


def check_ours(path: Path, wait_s: float = DEFAULT_WAIT_S) -> None:
    """Refuse, as a reader would and before anything writes, a file that is missing, damaged,
    someone else's or newer: for commands that change an existing file (`prune`), whose
    writable connection would otherwise give a foreign file our tables. An older file passes
    (the writer's migration upgrades it); the read-only connection is closed at once."""
    require_file(path)
    conn = connect_waiting_for_lock(path, wait_s, read_only=True, config=_READ_CONFIG)
    try:
        _checked_version(conn, path)
    finally:
        conn.close()


@contextmanager
def open_for_reading(path: Path, wait_s: float = DEFAULT_WAIT_S) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to `path`, closed on exit; raises a clear `StoreError`."""
    require_file(path)
    conn = connect_waiting_for_lock(path, wait_s, read_only=True, config=_READ_CONFIG)
    try:
        version = _checked_version(conn, path)
        if version < CURRENT_VERSION:
            conn.close()
            _upgrade_if_old(path, wait_s)
            conn = connect_waiting_for_lock(path, wait_s, read_only=True, config=_READ_CONFIG)
        try:
            yield conn
        except duckdb.Error as error:
            if is_file_damage(error):
                raise classify(path, error, reading=True) from error
            raise
    finally:
        conn.close()
