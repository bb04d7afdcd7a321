"""The one module that writes to a getgather-otel DuckDB file.

DuckDB allows a single read-write process per file, and while a process has the file
open no other process can even read it. An MCP server runs for hours, and its operator
wants `getgather-otel sql` to work meanwhile; so the writer opens the file for a batch,
keeps it for a short linger (consecutive batches reuse the connection) and closes it.
Under sustained load it also closes after `max_hold_s` and stays away for `yield_s`, so
a reader retrying every few milliseconds always gets its turn. Opening costs ~13 ms here.

Every write is a whole Arrow table inserted with one `INSERT ... SELECT` (columnar),
never row by row. Both the in-process exporter and the collector call this module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import duckdb
import pyarrow as pa

from getgather_otel.store.connect import connect_waiting_for_lock
from getgather_otel.store.errors import DatabaseUnwritableError, classify
from getgather_otel.store.file_lock import acquire_lock, release
from getgather_otel.store.schema import migrate

__all__ = ["DuckDBWriter"]

_WRITE_CONFIG = {"enable_external_access": False}


class DuckDBWriter:
    """Appends Arrow tables to tables of one DuckDB file, holding the file only briefly."""

    def __init__(
        self,
        path: Path,
        *,
        linger_s: float = 0.25,
        max_hold_s: float = 2.0,
        yield_s: float = 0.1,
        lock_wait_s: float = 1.0,
    ) -> None:
        self.path = path
        self.lock_wait_s = lock_wait_s
        self.linger_s = linger_s
        self.max_hold_s = max_hold_s
        self.yield_s = yield_s
        self._lock = threading.Lock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._opened_at = 0.0
        self._closed_at = 0.0
        self._last_used = 0.0
        self._closer: threading.Timer | None = None
        self._migrated = False
        self._hold: IO[bytes] | None = None
        self._stop_waiting = threading.Event()

    def write(self, table_name: str, table: pa.Table, before_insert: Callable[[], bool] | None = None) -> bool:
        """Insert every row of `table` into `table_name` in one statement; True when inserted.

        `before_insert` is asked once the file is open (which can take up to `lock_wait_s`),
        right before the INSERT; False skips it (the caller no longer wants those rows).
        Raises a `StoreError` subclass (locked, corrupt, unwritable, ...) on failure;
        the caller decides whether to keep the rows and retry.
        """
        if table.num_rows == 0:
            return True
        with self._lock:
            conn = self._connection()
            if before_insert is not None and not before_insert():
                self._schedule_close()
                return False
            try:
                conn.register("_getgather_batch", table)
                try:
                    conn.execute(f"INSERT INTO {table_name} SELECT * FROM _getgather_batch")
                finally:
                    conn.unregister("_getgather_batch")
            except Exception as error:
                self._close_locked()
                raise classify(self.path, error) from error
            self._last_used = time.monotonic()
            if self._last_used - self._opened_at >= self.max_hold_s:
                self._close_locked()
            else:
                self._schedule_close()
        return True

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the writer's own connection, for reads in the process that writes.

        DuckDB lets one process open a file with one configuration, so `collect`'s viewer
        cannot open a second, read-only connection beside its writer; it reads here, between
        batches. Writes wait meanwhile (callers bound their queries' time). Raises a `StoreError`.
        """
        with self._lock:
            cursor = self._connection().cursor()
            try:
                yield cursor
            finally:
                cursor.close()
                self._last_used = time.monotonic()
                self._schedule_close()

    def open_and_migrate(self) -> None:
        """Open the file now, creating or upgrading its schema; raises a `StoreError`."""
        with self._lock:
            self._connection()
            self._schedule_close()

    def stop_waiting(self) -> None:
        """From now on an open that finds the file held fails at once instead of waiting
        `lock_wait_s`: a stopping process that gave up on the file must not leave a thread inside
        DuckDB when the interpreter tears down (a newcomer's break: SIGABRT, exit 134, at exit
        beside a notebook holding the file)."""
        self._stop_waiting.set()

    def close(self, timeout_s: float = -1) -> bool:
        """Release the file now (idempotent); False when a write still busy with it did not end
        within `timeout_s` (seconds; -1 waits): that write releases it when it ends (a stopping
        process gives up on an attempt waiting `lock_wait_s` for another process's lock)."""
        if not self._lock.acquire(timeout=timeout_s):
            return False
        try:
            self._close_locked()
        finally:
            self._lock.release()
        return True

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._conn is not None:
            return self._conn
        wait = self._closed_at + self.yield_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseUnwritableError(
                f"cannot create the directory for {self.path}: {error.strerror or error}"
            ) from error
        if self.path.is_dir():
            raise DatabaseUnwritableError(
                f"{self.path} is a directory; give a file path with --db / GETGATHER_OTEL_DUCKDB"
            )
        if self.path.exists() and not self.path.is_file():
            # A FIFO, a socket, a device: opening it would block or fail in ways DuckDB does not say
            # (a newcomer's break: a named pipe held the process 10.5 s at exit, silently).
            raise DatabaseUnwritableError(
                f"{self.path} is not a regular file; give a file path with --db / GETGATHER_OTEL_DUCKDB"
            )
        # Polls briefly while a reader holds the file (or a compaction holds `<db>.lock`);
        # runs on the exporter's thread, never a tool call's.
        hold = acquire_lock(self.path, self.lock_wait_s, self._stop_waiting)
        try:
            # No file access beyond this file: the writer inserts registered Arrow tables only,
            # and `collect`'s viewer runs users' SELECTs on this connection (`reading`).
            conn = connect_waiting_for_lock(self.path, self.lock_wait_s, config=_WRITE_CONFIG, stop=self._stop_waiting)
        except BaseException:
            release(hold)
            raise
        try:
            if not self._migrated:
                migrate(conn)
                self._migrated = True
        except Exception as error:
            conn.close()
            release(hold)
            raise classify(self.path, error) from error
        self._conn = conn
        self._hold = hold
        self._opened_at = time.monotonic()
        return conn

    def _schedule_close(self) -> None:
        if self._closer is not None:
            return
        self._closer = threading.Timer(self.linger_s, self._close_if_idle)
        self._closer.daemon = True
        self._closer.start()

    def _close_if_idle(self) -> None:
        with self._lock:
            self._closer = None
            if self._conn is None:
                return
            idle = time.monotonic() - self._last_used
            if idle >= self.linger_s:
                self._close_locked()
            else:
                self._closer = threading.Timer(self.linger_s - idle, self._close_if_idle)
                self._closer.daemon = True
                self._closer.start()

    def _close_locked(self) -> None:
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
                self._closed_at = time.monotonic()
                if self._hold is not None:
                    release(self._hold)
                    self._hold = None
