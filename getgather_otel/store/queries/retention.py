"""The statements retention runs: what is old, and removing it (`maintenance/retention.py` decides)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from getgather_otel.store.engine import Engine
from getgather_otel.store.queries.activities import IS_ERROR_SQL, window_sql

__all__ = [
    "CLICKHOUSE_EXPIRED_RECORDINGS",
    "clickhouse_expired_recordings",
    "count_spans_before",
    "delete_recordings",
    "delete_spans_before",
    "recordings_oldest_first",
]


def count_spans_before(conn: duckdb.DuckDBPyConnection, cutoff: datetime) -> int:
    row = conn.execute('SELECT count(*) FROM otel_traces WHERE "Timestamp" < ?', [cutoff]).fetchone()
    return int(row[0]) if row else 0


def recordings_oldest_first(conn: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """(recording id, trace id, span id, stored bytes, last event time, whether its activity failed) per
    recording, the one that ended first first."""
    return conn.execute(
        f"""
        SELECT c.recording_id, any_value(c.trace_id), any_value(c.span_id), sum(c.stored_bytes),
               max(c.last_event_time) AS ended, bool_or({IS_ERROR_SQL}) AS failed
        FROM recording_chunks AS c
        LEFT JOIN otel_traces AS t ON t."SpanId" = c.span_id AND t."TraceId" = c.trace_id
        GROUP BY c.recording_id
        ORDER BY ended, c.recording_id
        """
    ).fetchall()


def delete_recordings(conn: duckdb.DuckDBPyConnection, notes: pa.Table) -> None:
    """Delete the chunks of the recordings in `notes` (`recording_prunes` rows) and keep the notes.

    One columnar insert, never row by row (executemany runs ~500 rows/s).
    """
    conn.register("_doomed", notes)
    try:
        conn.execute("INSERT INTO recording_prunes SELECT * FROM _doomed")
        conn.execute("DELETE FROM recording_chunks WHERE recording_id IN (SELECT recording_id FROM _doomed)")
    finally:
        conn.unregister("_doomed")


def delete_spans_before(conn: duckdb.DuckDBPyConnection, cutoff: datetime) -> None:
    """Delete spans older than `cutoff`, and the prune notes of activities no longer stored."""
    conn.execute('DELETE FROM otel_traces WHERE "Timestamp" < ?', [cutoff])
    # A note about a recording is kept as long as its activity is.
    conn.execute(
        "DELETE FROM recording_prunes AS p WHERE NOT EXISTS "
        '(SELECT 1 FROM otel_traces AS t WHERE t."SpanId" = p.span_id AND t."TraceId" = p.trace_id)'
    )


# ClickHouse (`prune --clickhouse`): recording rows of `otel_logs` recorded before the cutoff whose
# activity (its span in otel_traces) is not kept: kept while it started after `{keep_all}`'s cutoff,
# or, failed (either status spelling), after `{keep_failed}`'s. Filled in by the function below.
CLICKHOUSE_EXPIRED_RECORDINGS = f"""
LogAttributes['getgather.recording.id'] != '' AND {{recorded_before}}
AND (TraceId, SpanId) NOT IN (
    SELECT t."TraceId", t."SpanId" FROM otel_traces AS t WHERE ({IS_ERROR_SQL} AND {{keep_failed}}) OR {{keep_all}}
)
"""


def clickhouse_expired_recordings(engine: Engine, cutoff: datetime, error_cutoff: datetime) -> tuple[str, int, int]:
    """(the WHERE of a DELETE on otel_logs, rows, stored bytes) of recordings past retention on ClickHouse.

    A recording is kept while its activity started after `cutoff`, or after `error_cutoff` if it failed.
    """
    where = (
        CLICKHOUSE_EXPIRED_RECORDINGS.replace("{recorded_before}", window_sql(None, cutoff).replace("t.", "", 1))
        .replace("{keep_failed}", window_sql(error_cutoff, None))
        .replace("{keep_all}", window_sql(cutoff, None))
    )
    found = engine.rows(
        f"SELECT count(), sum(toUInt64(length(tryBase64Decode(Body)))) FROM otel_logs WHERE {where}"
    ).first()
    rows, size = (int(found[0] or 0), int(found[1] or 0)) if found else (0, 0)
    return where, rows, size
