"""`POST /api/sql`: one read-only query, bounded in time and rows.

Only a single statement that DuckDB's own parser calls a SELECT (which covers `WITH`,
`FROM t`, `DESCRIBE`, `SHOW`, `SUMMARIZE`) is run; anything that writes, attaches, copies,
sets or loads is refused before it runs. The connection underneath cannot touch other
files either way (external access is off for readers and the writer). A timer interrupts
the query at the time limit, and at most `limit` rows are fetched, so a careless query
cannot hold the file (and, in `collect`, the writer) for long.

On ClickHouse (`ui --clickhouse`) the query runs as a subquery (so only a SELECT parses),
in readonly=1 and with ClickHouse's own `max_execution_time`; a query ClickHouse's parser
shows reaching outside its tables (`file()`, `url()`, `s3()`, `remote()`, ...) is refused
(403) before it runs (`store/clickhouse.py`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import duckdb

from getgather_otel.recording.chunk_codec import damage_in
from getgather_otel.recording.rrweb_recordings import rrweb_recordings_view
from getgather_otel.store.clickhouse import ClickHouseQueryError, ClickHouseRefusedError
from getgather_otel.store.engine import DuckDBEngine, Engine
from getgather_otel.store.errors import first_line
from getgather_otel.viewer.data import jsonable

__all__ = [
    "DEFAULT_ROW_LIMIT",
    "DEFAULT_TIME_LIMIT_S",
    "MAX_ROW_LIMIT",
    "MAX_TIME_LIMIT_S",
    "InvalidQueryError",
    "QueryTimeoutError",
    "RefusedQueryError",
    "check_read_only",
    "one_statement",
    "run_read_only",
    "run_user_query",
]

DEFAULT_ROW_LIMIT = 1000
MAX_ROW_LIMIT = 10_000
DEFAULT_TIME_LIMIT_S = 10.0
MAX_TIME_LIMIT_S = 60.0


class RefusedQueryError(ValueError):
    """The query is not a single read-only SELECT (HTTP 403)."""


class InvalidQueryError(ValueError):
    """The query does not parse or fails (HTTP 422), with DuckDB's first line."""


class QueryTimeoutError(TimeoutError):
    """The query ran past its time limit and was interrupted (HTTP 408)."""


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


def run_user_query(engine: Engine, sql: str, limit: int, time_limit_s: float) -> dict[str, Any]:
    """`POST /api/sql` on whichever engine the viewer reads: DuckDB's checks, or ClickHouse's."""
    if isinstance(engine, DuckDBEngine):
        return run_read_only(engine.conn, sql, limit, time_limit_s)
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
    return {
        "columns": found.columns,
        "rows": [[jsonable(value) for value in row] for row in found.rows],
        "truncated": truncated,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }


def run_read_only(conn: duckdb.DuckDBPyConnection, sql: str, limit: int, time_limit_s: float) -> dict[str, Any]:
    """Run one checked SELECT; returns columns, up to `limit` rows, whether more existed, and the time taken."""
    check_read_only(conn, sql)
    with rrweb_recordings_view(conn):  # getgather's table, for this query (`collect` reads on the writer's cursor)
        return _run_checked(conn, sql, limit, time_limit_s)


def _run_checked(conn: duckdb.DuckDBPyConnection, sql: str, limit: int, time_limit_s: float) -> dict[str, Any]:
    started = time.monotonic()
    timed_out = threading.Event()

    def interrupt() -> None:
        timed_out.set()
        conn.interrupt()

    timer = threading.Timer(time_limit_s, interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor = conn.execute(sql)
        rows = cursor.fetchmany(limit + 1)
    except duckdb.Error as error:
        if timed_out.is_set():
            raise QueryTimeoutError(f"the query ran longer than {time_limit_s:g} s and was stopped") from None
        damage = damage_in(str(error))
        raise InvalidQueryError(f"the query failed: {damage or first_line(str(error))}") from None
    finally:
        timer.cancel()
    columns = [d[0] for d in cursor.description or []]
    return {
        "columns": columns,
        "rows": [[jsonable(value) for value in row] for row in rows[:limit]],
        "truncated": len(rows) > limit,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
