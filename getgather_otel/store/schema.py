"""DuckDB schema and forward migrations.

`otel_traces` mirrors the table the OpenTelemetry Collector's ClickHouse exporter creates
(same column names and value conventions), so the stock SQL runs on both engines. Every
change to the schema is a new numbered migration; opening an older file upgrades it,
opening a file written by a newer release is refused rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from getgather_otel.capture import attributes as attr
from getgather_otel.store.queries import activities as queries
from getgather_otel.store.tables import METRIC_TABLES, OTEL_TRACES, RECORDING_CHUNKS, RECORDING_PRUNES

__all__ = [
    "CURRENT_VERSION",
    "MIGRATIONS",
    "SCHEMA_VERSION_TABLE",
    "Migration",
    "SchemaTooNewError",
    "migrate",
    "stored_version",
]

SCHEMA_VERSION_TABLE = "getgather_otel_schema"


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer getgather-otel; upgrading the package is the fix."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


# ClickHouse keeps this as a materialized table fed by a materialized view; a plain view
# answers the same question ("when did trace X run?") here.
_TRACE_ID_TS = """
CREATE OR REPLACE VIEW otel_traces_trace_id_ts AS
SELECT "TraceId",
       min("Timestamp") AS "Start",
       max("Timestamp" + to_microseconds(CAST("Duration" // 1000 AS BIGINT))) AS "End"
FROM otel_traces
GROUP BY "TraceId"
"""


# getgather's own column names (its `activities` table), after ours so positions do not move.
_GETGATHER_COLUMNS = f""",
    t."SpanId" AS id,
    {queries.CREATED_AT_SQL} AS created_at"""


# The calling MCP client (issue 16), after getgather's columns so positions do not move.
_CLIENT_COLUMNS = f""",
    {queries.CLIENT_NAME_SQL} AS client_name,
    {queries.CLIENT_VERSION_SQL} AS client_version"""
# Issue 18: why a failed activity failed, after every earlier column.
_FAILURE_COLUMNS = f""",
    {queries.FAILURE_CLASS_SQL} AS failure_class"""


def _activities_view(
    has_recording_sql: str,
    recording_pruned_sql: str = "NULL",
    getgather: bool = False,
    client: bool = False,
    failure: bool = False,
) -> str:
    """The `activities` view: one row per activity span, in getgather's own vocabulary."""
    later = (
        (_GETGATHER_COLUMNS if getgather else "")
        + (_CLIENT_COLUMNS if client else "")
        + (_FAILURE_COLUMNS if failure else "")
    )
    return f"""
CREATE OR REPLACE VIEW activities AS
SELECT
    t."SpanId" AS activity_id,
    t."TraceId" AS trace_id,
    t."ParentSpanId" AS parent_span_id,
    {queries.BRAND_SQL} AS brand_id,
    {queries.NAME_SQL} AS name,
    {queries.KIND_SQL} AS kind,
    t."Timestamp" AS start_time,
    t."Timestamp" + to_microseconds(CAST(t."Duration" // 1000 AS BIGINT)) AS end_time,
    t."Duration" / 1e6 AS execution_time_ms,
    {queries.STATUS_SQL} AS status,
    {queries.ERROR_SQL} AS error,
    t."SpanAttributes"['{attr.ERROR_TYPE}'] AS error_type,
    t."SpanAttributes"['{attr.GEN_AI_TOOL_NAME}'] AS tool_name,
    t."SpanAttributes"['{attr.MCP_SESSION_ID}'] AS session_id,
    t."ServiceName" AS service_name,
    t."SpanAttributes" AS attributes,
    {has_recording_sql} AS has_recording,
    {recording_pruned_sql} AS recording_pruned{later}
FROM otel_traces AS t
WHERE {queries.IS_ACTIVITY_SQL}
"""


_RECORDINGS_VIEW = """
CREATE OR REPLACE VIEW recordings AS
SELECT recording_id,
       any_value(trace_id) AS trace_id,
       any_value(span_id) AS activity_id,
       count(DISTINCT page_id) AS pages,
       count(*) AS chunks,
       sum(event_count) AS events,
       min(first_event_time) AS start_time,
       max(last_event_time) AS end_time,
       sum(raw_bytes) AS raw_bytes,
       sum(stored_bytes) AS stored_bytes
FROM recording_chunks
GROUP BY recording_id
"""

_RECORDING_PRUNED_SQL = (
    '(SELECT any_value(p.reason) FROM recording_prunes AS p WHERE p.span_id = t."SpanId" AND p.trace_id = t."TraceId")'
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "otel_traces (ClickHouse exporter layout), trace id view, activities view",
        (OTEL_TRACES.create_statement(), _TRACE_ID_TS, _activities_view("false")),
    ),
    Migration(
        2,
        "recording_chunks table, recordings view, activities.has_recording from chunks",
        (
            RECORDING_CHUNKS.create_statement(),
            _RECORDINGS_VIEW,
            _activities_view(queries.HAS_RECORDING_SQL),
        ),
    ),
    Migration(
        3,
        "recording_prunes table; activities.recording_pruned says why a recording was removed",
        (RECORDING_PRUNES.create_statement(), _activities_view(queries.HAS_RECORDING_SQL, _RECORDING_PRUNED_SQL)),
    ),
    Migration(
        4,
        "otel_metrics_histogram, otel_metrics_sum, otel_metrics_gauge (ClickHouse exporter layout)",
        tuple(table.create_statement() for table in METRIC_TABLES.values()),
    ),
    Migration(
        5,
        "activities view: getgather's column names id and created_at too",
        (_activities_view(queries.HAS_RECORDING_SQL, _RECORDING_PRUNED_SQL, getgather=True),),
    ),
    Migration(
        6,
        "activities view: the calling MCP client's client_name and client_version",
        (_activities_view(queries.HAS_RECORDING_SQL, _RECORDING_PRUNED_SQL, getgather=True, client=True),),
    ),
    # 7 is being added beside this one (the numbers may be renumbered at merge).
    Migration(
        8,
        "activities view: failure_class (getgather.failure.class; 'unknown' for a failed span without one)",
        (
            _activities_view(
                queries.HAS_RECORDING_SQL, _RECORDING_PRUNED_SQL, getgather=True, client=True, failure=True
            ),
        ),
    ),
)

CURRENT_VERSION = MIGRATIONS[-1].version


def stored_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the file; 0 for a file this package never touched."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
        [SCHEMA_VERSION_TABLE],
    ).fetchone()
    if not exists or exists[0] == 0:
        return 0
    row = conn.execute(f"SELECT max(version) FROM {SCHEMA_VERSION_TABLE}").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: duckdb.DuckDBPyConnection, target: int = CURRENT_VERSION) -> int:
    """Bring the schema up to `target`, one transaction per migration; returns the new version."""
    found = stored_version(conn)
    if found > CURRENT_VERSION:
        raise SchemaTooNewError(
            f"this database has schema version {found}, but this getgather-otel only knows "
            f"versions up to {CURRENT_VERSION}; upgrade getgather-otel to read or write it"
        )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {SCHEMA_VERSION_TABLE} "
        "(version INTEGER NOT NULL, description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    for migration in MIGRATIONS:
        if found < migration.version <= target:
            conn.execute("BEGIN TRANSACTION")
            try:
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    f"INSERT INTO {SCHEMA_VERSION_TABLE} VALUES (?, ?, now()::TIMESTAMP)",
                    [migration.version, migration.description],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            found = migration.version
    return found
