"""The statements retention runs: what is old, and removing it (`maintenance/retention.py` decides)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from getgather_otel.capture import attributes as attr
from getgather_otel.store.engine import Engine
from getgather_otel.store.queries.activities import IS_ERROR_SQL

__all__ = [
    "CLICKHOUSE_DELETE_RECORDINGS",
    "RECORDINGS_OLDEST_FIRST",
    "clickhouse_delete_recordings",
    "count_spans_before",
    "delete_recordings",
    "delete_spans_before",
    "recordings_oldest_first",
]


def count_spans_before(conn: duckdb.DuckDBPyConnection, cutoff: datetime) -> int:
    row = conn.execute('SELECT count(*) FROM otel_traces WHERE "Timestamp" < ?', [cutoff]).fetchone()
    return int(row[0]) if row else 0


# One row per recording, the one that ended first first, on either engine: `{recording_chunks}` is
# the DuckDB table or, on ClickHouse, the exporter's otel_logs rows. A recording failed when a span
# it was recorded under failed (either status spelling); the failed spans are a small set, so they
# are looked up with IN rather than joined (a join would hash every span on ClickHouse). min() of the
# ids rather than any value: a recording has one owner, and both engines then name the same one.
RECORDINGS_OLDEST_FIRST = f"""
SELECT c.recording_id AS recording_id, min(c.trace_id) AS trace_id, min(c.span_id) AS span_id,
       sum(c.stored_bytes) AS stored_bytes, max(c.last_event_time) AS ended,
       max(CASE WHEN (c.trace_id, c.span_id) IN (
           SELECT t."TraceId", t."SpanId" FROM otel_traces AS t WHERE {IS_ERROR_SQL}
       ) THEN 1 ELSE 0 END) AS failed
FROM {{recording_chunks}} AS c
GROUP BY c.recording_id
ORDER BY ended, c.recording_id
"""


def recordings_oldest_first(engine: Engine) -> list[tuple[str, str, str, int, datetime, bool]]:
    """(recording id, trace id, span id, stored bytes, last event time, whether its activity failed) per
    recording, the one that ended first first."""
    return [
        (str(recording), str(trace), str(span), int(stored), ended, bool(failed))
        for recording, trace, span, stored, ended, failed in engine.rows(RECORDINGS_OLDEST_FIRST).rows
    ]


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


# ClickHouse keeps recordings as otel_logs rows: a lightweight DELETE of the named recordings' rows.
CLICKHOUSE_DELETE_RECORDINGS = (
    f"DELETE FROM otel_logs WHERE LogAttributes['{attr.RECORDING_ID}'] IN {{recordings:Array(String)}}"
)
# Recording ids per DELETE: the ids travel as one bound parameter (~35 bytes each), which
# clickhouse-connect moves from the URL to a form body past 4 KB; a batch stays well under
# ClickHouse's query size limits.
_DELETE_BATCH = 1000


def clickhouse_delete_recordings(engine: Engine, recording_ids: Sequence[str]) -> None:
    """Delete the otel_logs rows of these recordings on ClickHouse (the user needs DELETE on otel_logs)."""
    for start in range(0, len(recording_ids), _DELETE_BATCH):
        engine.command(CLICKHOUSE_DELETE_RECORDINGS, {"recordings": list(recording_ids[start : start + _DELETE_BATCH])})
