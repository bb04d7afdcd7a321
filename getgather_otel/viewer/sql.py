"""`POST /api/sql`: one read-only query, bounded in time, rows and bytes.

Only a single statement that DuckDB's own parser calls a SELECT (which covers `WITH`,
`FROM t`, `DESCRIBE`, `SHOW`, `SUMMARIZE`) is run; anything that writes, attaches, copies,
sets or loads is refused before it runs. The connection underneath cannot touch other
files either way (external access is off for readers and the writer). A timer interrupts
the query at the time limit, and at most `limit` rows are fetched, so a careless query
cannot hold the file (and, in `collect`, the writer) for long. Rows are fetched one at a time
and measured as the JSON they become: past `max_bytes` (16 MiB unless the body says, up to
64 MiB) the answer is a 413 and no more is fetched, and the time limit covers turning them
into JSON too (DuckDB itself still materialises the result before the first row).

On ClickHouse (`ui --clickhouse`) the query runs as a subquery (so only a SELECT parses),
in readonly=1 and with ClickHouse's own `max_execution_time`; a query ClickHouse's parser
shows reaching outside its tables (`file()`, `url()`, `s3()`, `remote()`, ...) is refused
(403) before it runs (`store/clickhouse.py`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import duckdb

from getgather_otel.recording.chunk_codec import damage_in
from getgather_otel.recording.rrweb_recordings import rrweb_recordings_view
from getgather_otel.store.clickhouse import ClickHouseQueryError, ClickHouseRefusedError
from getgather_otel.store.engine import DuckDBEngine, Engine
from getgather_otel.store.errors import first_line
from getgather_otel.viewer.data import jsonable

__all__ = [
    "DEFAULT_BYTE_LIMIT",
    "DEFAULT_ROW_LIMIT",
    "DEFAULT_TIME_LIMIT_S",
    "MAX_BYTE_LIMIT",
    "MAX_ROW_LIMIT",
    "MAX_TIME_LIMIT_S",
    "InvalidQueryError",
    "QueryTimeoutError",
    "RefusedQueryError",
    "ResultTooLargeError",
    "check_read_only",
    "one_statement",
    "run_read_only",
    "run_user_query",
]

DEFAULT_ROW_LIMIT = 1000
MAX_ROW_LIMIT = 10_000
DEFAULT_TIME_LIMIT_S = 10.0
MAX_TIME_LIMIT_S = 60.0
# The rows' JSON may be at most this large (the body field `max_bytes` up to MAX_BYTE_LIMIT):
# `SELECT repeat('x', 100000000) FROM range(8)` was an 800 MB answer and a 3.2 GB process.
DEFAULT_BYTE_LIMIT = 16 * 1024 * 1024
MAX_BYTE_LIMIT = 64 * 1024 * 1024


class RefusedQueryError(ValueError):
    """The query is not a single read-only SELECT (HTTP 403)."""


class InvalidQueryError(ValueError):
    """The query does not parse or fails (HTTP 422), with DuckDB's first line."""


class QueryTimeoutError(TimeoutError):
    """The query ran past its time limit and was interrupted (HTTP 408)."""


class ResultTooLargeError(ValueError):
    """The rows' JSON would pass the byte limit (HTTP 413); the message gives the limit."""


def _size(size: int) -> str:
    """`16 MiB` for whole mebibytes, else `4096 bytes`."""
    mib, rest = divmod(size, 1024 * 1024)
    return f"{mib} MiB" if mib and not rest else f"{size} bytes"


class _Budget:
    """The limits of one query's answer, checked row by row while rows are fetched and turned
    into JSON: so the time limit covers producing the answer, not only DuckDB's part, and no
    more than `max_bytes` of rows (plus the one that passed it) is ever held."""

    def __init__(self, time_limit_s: float, max_bytes: int, timed_out: threading.Event | None = None) -> None:
        self.time_limit_s = time_limit_s
        self.deadline = time.monotonic() + time_limit_s
        self.max_bytes = max_bytes
        self.used = 0
        self.timed_out = timed_out or threading.Event()

    def check_time(self) -> None:
        if self.timed_out.is_set() or time.monotonic() > self.deadline:
            raise QueryTimeoutError(f"the query ran longer than {self.time_limit_s:g} s and was stopped")

    def row(self, values: Sequence[Any], count: int) -> list[Any]:
        """`values` as JSON-ready cells, counted against the limits (`count` rows kept before it)."""
        self.check_time()
        # Text and blobs first, before any JSON is made of them: a 100 MB value is refused unencoded.
        self._spend(sum(len(v) for v in values if isinstance(v, (str, bytes))), count)
        cells = [jsonable(value) for value in values]
        self._spend(len(json.dumps(cells, ensure_ascii=False, default=str).encode()), count, estimate=False)
        return cells

    def _spend(self, size: int, count: int, *, estimate: bool = True) -> None:
        if self.used + size > self.max_bytes:
            raise ResultTooLargeError(
                f"the result is larger than its limit, {_size(self.max_bytes)} of JSON, after {count} row(s): "
                f"select fewer or narrower columns or rows, or send a larger max_bytes (up to {_size(MAX_BYTE_LIMIT)})"
            )
        if not estimate:
            self.used += size


def one_statement(conn: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The one statement `sql` holds, by DuckDB's parse of it (DuckDB would run several, one after
    the other, and answer with the last); also `getgather-otel sql`'s check."""
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as error:
        raise InvalidQueryError(f"the query does not parse: {first_line(str(error))}") from None
    if len(statements) != 1:
        raise RefusedQueryError(f"send exactly one statement, not {len(statements)}")
    return statements[0]


def check_read_only(conn: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but exactly one SELECT, by DuckDB's parse of it."""
    kind = one_statement(conn, sql).type
    if kind != duckdb.StatementType.SELECT:
        name = getattr(kind, "name", str(kind))
        raise RefusedQueryError(f"the SQL API is read-only: a {name} statement is refused (send one SELECT)")


def run_user_query(
    engine: Engine, sql: str, limit: int, time_limit_s: float, max_bytes: int = DEFAULT_BYTE_LIMIT
) -> dict[str, Any]:
    """`POST /api/sql` on whichever engine the viewer reads: DuckDB's checks, or ClickHouse's.

    On ClickHouse the rows arrive whole from the client and are measured after; on DuckDB
    while they are fetched (`_Budget`)."""
    if isinstance(engine, DuckDBEngine):
        return run_read_only(engine.conn, sql, limit, time_limit_s, max_bytes)
    read_only = getattr(engine, "read_only", None)
    if read_only is None:
        raise RefusedQueryError(f"{engine.label} takes no SQL queries")
    started = time.monotonic()
    try:
        found, truncated = read_only(sql, limit, time_limit_s)
    except ClickHouseRefusedError as error:
        raise RefusedQueryError(f"refused: {error}") from None
    except ClickHouseQueryError as error:
        if "TIMEOUT_EXCEEDED" in str(error) or "Timeout exceeded" in str(error):
            raise QueryTimeoutError(f"the query ran longer than {time_limit_s:g} s and was stopped") from None
        raise InvalidQueryError(f"the query failed: {error}") from None
    budget = _Budget(max(0.0, time_limit_s - (time.monotonic() - started)), max_bytes)
    return {
        "columns": found.columns,
        "rows": [budget.row(row, count) for count, row in enumerate(found.rows)],
        "truncated": truncated,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }


def run_read_only(
    conn: duckdb.DuckDBPyConnection, sql: str, limit: int, time_limit_s: float, max_bytes: int = DEFAULT_BYTE_LIMIT
) -> dict[str, Any]:
    """Run one checked SELECT; returns columns, up to `limit` rows, whether more existed, and the time taken."""
    check_read_only(conn, sql)
    with rrweb_recordings_view(conn):  # getgather's table, for this query (`collect` reads on the writer's cursor)
        return _run_checked(conn, sql, limit, time_limit_s, max_bytes)


def _run_checked(
    conn: duckdb.DuckDBPyConnection, sql: str, limit: int, time_limit_s: float, max_bytes: int
) -> dict[str, Any]:
    """The query's rows as JSON-ready lists, fetched one at a time (each measured by `_Budget`)
    under one timer that interrupts DuckDB and ends the conversion alike."""
    started = time.monotonic()
    budget = _Budget(time_limit_s, max_bytes)

    def interrupt() -> None:
        budget.timed_out.set()
        conn.interrupt()

    timer = threading.Timer(time_limit_s, interrupt)
    timer.daemon = True
    timer.start()
    rows: list[list[Any]] = []
    truncated = False
    try:
        cursor = conn.execute(sql)
        while (row := cursor.fetchone()) is not None:
            if len(rows) == limit:
                truncated = True
                break
            rows.append(budget.row(row, len(rows)))
    except duckdb.Error as error:
        if budget.timed_out.is_set():
            raise QueryTimeoutError(f"the query ran longer than {time_limit_s:g} s and was stopped") from None
        damage = damage_in(str(error))
        raise InvalidQueryError(f"the query failed: {damage or first_line(str(error))}") from None
    finally:
        timer.cancel()
    budget.check_time()
    return {
        "columns": [d[0] for d in cursor.description or []],
        "rows": rows,
        "truncated": truncated,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
