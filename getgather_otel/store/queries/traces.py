"""Reads of whole traces: every span of one, with its events and links."""

from __future__ import annotations

from typing import Any

import duckdb

__all__ = ["span_events_of_trace", "trace_spans"]

_SPANS = """
SELECT "SpanId" AS span_id, "ParentSpanId" AS parent_span_id, "SpanName" AS name, "SpanKind" AS kind,
       "ServiceName" AS service_name, "ScopeName" AS scope_name, "Timestamp" AS start, "Duration" AS duration_ns,
       "StatusCode" AS status_code, "StatusMessage" AS status_message, "SpanAttributes" AS attributes,
       "ResourceAttributes" AS resource_attributes, "Events.Timestamp" AS event_times, "Events.Name" AS event_names,
       "Events.Attributes" AS event_attributes, "Links.TraceId" AS link_trace_ids, "Links.SpanId" AS link_span_ids
FROM otel_traces WHERE "TraceId" = ? ORDER BY "Timestamp", "SpanId"
"""


def trace_spans(conn: duckdb.DuckDBPyConnection, trace_id: str) -> list[dict[str, Any]]:
    """Every stored span of a trace in start order, as dicts keyed by the column aliases above (values as stored)."""
    cursor = conn.execute(_SPANS, [trace_id])
    columns = [d[0] for d in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def span_events_of_trace(conn: duckdb.DuckDBPyConnection, span_id: str) -> list[tuple[Any, ...]]:
    """(span id, parent span id, span name, event times, event names, event attributes) of every span in
    the trace `span_id` belongs to; empty when no such span is stored."""
    trace = conn.execute('SELECT "TraceId" FROM otel_traces WHERE "SpanId" = ? LIMIT 1', [span_id]).fetchone()
    if trace is None:
        return []
    return conn.execute(
        'SELECT "SpanId", "ParentSpanId", "SpanName", "Events.Timestamp", "Events.Name", "Events.Attributes" '
        'FROM otel_traces WHERE "TraceId" = ?',
        [trace[0]],
    ).fetchall()
