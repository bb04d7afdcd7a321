"""Read-only access to a DuckDB file that a writer may be using at the same moment.

DuckDB refuses every other process while one holds a file read-write. getgather-otel's
writer holds it only for a batch plus a short linger (see `writer.py`), so readers retry
for a while before giving up with a message that names the process holding the lock.
Reads run with external access disabled: `sql` answers questions about this file and
cannot write files, attach others or load extensions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from getgather_otel.store.connect import connect_waiting_for_lock
from getgather_otel.store.errors import DatabaseMissingError
from getgather_otel.store.schema import CURRENT_VERSION, SchemaTooNewError, stored_version

__all__ = ["DEFAULT_WAIT_S", "open_for_reading"]

DEFAULT_WAIT_S = 10.0
_READ_CONFIG = {"enable_external_access": False}


def _upgrade_if_old(path: Path, wait_s: float) -> None:
    """Readers cannot migrate; an old file is upgraded once with a brief write open."""
    from getgather_otel.store.write.writer import DuckDBWriter

    writer = DuckDBWriter(path, lock_wait_s=wait_s)
    writer.open_and_migrate()
    writer.close()


@contextmanager
def open_for_reading(path: Path, wait_s: float = DEFAULT_WAIT_S) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to `path`, closed on exit; raises a clear `StoreError`."""
    if not path.exists():
        raise DatabaseMissingError(
            f"no getgather-otel database at {path}. Run an instrumented server or "
            "`getgather-otel demo` first, or point to the file with --db / GETGATHER_OTEL_DUCKDB."
        )
    if path.is_dir():
        raise DatabaseMissingError(f"{path} is a directory, not a DuckDB file")
    conn = connect_waiting_for_lock(path, wait_s, read_only=True, config=_READ_CONFIG)
    try:
        version = stored_version(conn)
        if version > CURRENT_VERSION:
            raise SchemaTooNewError(
                f"{path} has schema version {version}; this getgather-otel reads up to "
                f"{CURRENT_VERSION}. Upgrade getgather-otel."
            )
        if version < CURRENT_VERSION:
            conn.close()
            _upgrade_if_old(path, wait_s)
            conn = connect_waiting_for_lock(path, wait_s, read_only=True, config=_READ_CONFIG)
        yield conn
    finally:
        conn.close()
