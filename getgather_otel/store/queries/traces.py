"""Reads of whole traces: every span of one, with its events and links."""

from __future__ import annotations

from typing import Any

from getgather_otel.store.engine import Engine
from getgather_otel.store.queries.activities import SPAN_KIND_SQL, STATUS_CODE_SQL

__all__ = ["span_events_of_trace", "trace_spans"]

# Kind and status as `Server`/`Error` also where an older ClickHouse exporter wrote `SPAN_KIND_SERVER`.
_SPANS = f"""
SELECT "SpanId" AS span_id, "ParentSpanId" AS parent_span_id, "SpanName" AS name, {SPAN_KIND_SQL} AS kind,
       "ServiceName" AS service_name, "ScopeName" AS scope_name, {{utc("Timestamp")}} AS start,
       "Duration" AS duration_ns,
       {STATUS_CODE_SQL} AS status_code, "StatusMessage" AS status_message, "SpanAttributes" AS attributes,
       "ResourceAttributes" AS resource_attributes, {{utc_list("Events.Timestamp")}} AS event_times,
       "Events.Name" AS event_names,
       "Events.Attributes" AS event_attributes, "Links.TraceId" AS link_trace_ids, "Links.SpanId" AS link_span_ids
FROM otel_traces AS t WHERE "TraceId" = {{trace:String}} ORDER BY "Timestamp", "SpanId"
"""


def trace_spans(engine: Engine, trace_id: str) -> list[dict[str, Any]]:
    """Every stored span of a trace in start order, as dicts keyed by the column aliases above (values as stored)."""
    return engine.rows(_SPANS, {"trace": trace_id}).records()


def span_events_of_trace(engine: Engine, span_id: str) -> list[tuple[Any, ...]]:
    """(span id, parent span id, span name, event times, event names, event attributes) of every span in
    the trace `span_id` belongs to; empty when no such span is stored."""
    trace = engine.rows(
        'SELECT "TraceId" FROM otel_traces WHERE "SpanId" = {span:String} LIMIT 1', {"span": span_id}
    ).first()
    if trace is None:
        return []
    return engine.rows(
        'SELECT "SpanId", "ParentSpanId", "SpanName", {utc_list("Events.Timestamp")}, "Events.Name", '
        '"Events.Attributes" FROM otel_traces WHERE "TraceId" = {trace:String}',
        {"trace": trace[0]},
    ).rows
