"""Months of a busy server's data, generated in seconds instead of lived through.

Spans are made inside DuckDB (SQL over `range()`) with the same attribute keys as real
activities; every `recording_every`-th activity gets a recording of random (so
incompressible, like real zstd chunks) bytes. Used by the retention tests and benches.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from getgather_otel.store.schema import migrate

_SPANS = """
INSERT INTO otel_traces
SELECT
    ?::TIMESTAMP + to_milliseconds(i::BIGINT * ?) AS "Timestamp",
    md5(i::VARCHAR) AS "TraceId",
    substr(md5((i * 7)::VARCHAR), 1, 16) AS "SpanId",
    substr(md5((i * 11)::VARCHAR), 1, 16) AS "ParentSpanId",
    '' AS "TraceState",
    'activity ' || brand || '_get_orders' AS "SpanName",
    'Internal' AS "SpanKind",
    'getgather' AS "ServiceName",
    MAP {'service.name': 'getgather', 'host.name': 'bench'} AS "ResourceAttributes",
    'getgather_otel' AS "ScopeName",
    '0.1.0' AS "ScopeVersion",
    MAP {'getgather.activity.name': brand || '_get_orders', 'getgather.activity.kind': 'tool',
         'getgather.brand.id': brand, 'gen_ai.tool.name': brand || '_get_orders',
         'gen_ai.operation.name': 'execute_tool', 'mcp.method.name': 'tools/call',
         'error.type': CASE WHEN i % 17 = 0 THEN 'TimeoutError' ELSE '' END,
         'getgather.client.name': (['claude-code', 'cursor', ''])[1 + i % 3],
         'getgather.client.version': (['2.0.1', '1.7.0', ''])[1 + i % 3]} AS "SpanAttributes",
    (5000000 + (hash(i) % 900000000))::UBIGINT AS "Duration",
    CASE WHEN i % 17 = 0 THEN 'Error' ELSE 'Unset' END AS "StatusCode",
    '' AS "StatusMessage",
    [] AS "Events.Timestamp", [] AS "Events.Name", [] AS "Events.Attributes",
    [] AS "Links.TraceId", [] AS "Links.SpanId", [] AS "Links.TraceState", [] AS "Links.Attributes"
FROM (SELECT i, (['netflix','amazon','goodreads','audible','wayfair','doordash'])[1 + i % 6] AS brand
      FROM range(?) t(i))
"""


def span_id(i: int) -> str:
    """The SpanId `insert_activity_spans` gives activity `i` (same md5 expression as the SQL)."""
    return hashlib.md5(str(i * 7).encode()).hexdigest()[:16]


def insert_activity_spans(conn: duckdb.DuckDBPyConnection, count: int, *, start: datetime, step_s: float) -> None:
    """`count` activity spans, one every `step_s` seconds from `start`; every 17th one failed."""
    conn.execute(_SPANS, [start, int(step_s * 1000), count])


def activity_file(path: Path, count: int, *, start: datetime, step_s: float) -> None:
    """A new getgather-otel file at `path` holding `count` synthetic activity spans."""
    conn = duckdb.connect(str(path))
    try:
        migrate(conn)
        insert_activity_spans(conn, count, start=start, step_s=step_s)
    finally:
        conn.close()


def insert_recordings(
    conn: duckdb.DuckDBPyConnection,
    count: int,
    *,
    start: datetime,
    step_s: float,
    every: int,
    chunk_bytes: int,
) -> int:
    """One single-chunk recording of `chunk_bytes` random bytes for every `every`-th of `count` activities."""
    indices = list(range(0, count, every))
    rows = conn.execute(
        "SELECT i, md5(i::VARCHAR), ?::TIMESTAMP + to_milliseconds(i::BIGINT * ?) FROM unnest(?) t(i)",
        [start, int(step_s * 1000), indices],
    ).fetchall()
    table = pa.table(
        {
            "trace_id": [r[1] for r in rows],
            "span_id": [span_id(r[0]) for r in rows],
            "recording_id": [f"rec-{r[0]}" for r in rows],
            "page_id": ["c1p1"] * len(rows),
            "sequence": pa.array([0] * len(rows), pa.int32()),
            "first_event_time": [r[2] for r in rows],
            "last_event_time": [r[2] for r in rows],
            "event_count": pa.array([100] * len(rows), pa.int32()),
            "raw_bytes": pa.array([chunk_bytes * 10] * len(rows), pa.uint64()),
            "stored_bytes": pa.array([chunk_bytes] * len(rows), pa.uint64()),
            "compression": ["zstd"] * len(rows),
            "starts_with_full_snapshot": [True] * len(rows),
            "url": ["https://shop.example/orders"] * len(rows),
            "data": [os.urandom(chunk_bytes) for _ in rows],
        }
    )
    conn.register("_synthetic_chunks", table)
    conn.execute("INSERT INTO recording_chunks SELECT * FROM _synthetic_chunks")
    conn.unregister("_synthetic_chunks")
    return len(rows)
