"""OTLP spans in, `otel_traces` rows (one Arrow table) out, without building SDK span objects.

The collector used to turn each protobuf span into an SDK `ReadableSpan` and then into
Arrow, which cost ~47 us per realistic span and capped ingest at ~25k spans/s (see
BENCHMARKS.md). Here the protobuf fields go straight into the same `TraceRows` builder
the in-process exporter fills, so both write identical rows; the values are normalised
exactly as the SDK path would (trace state re-serialised, end never before start, an
unspecified kind stored as Internal). A span with an invalid trace or span id is
rejected on its own and counted for OTLP's partial success; the rest is kept.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.trace import SpanKind, StatusCode, TraceState

from collectors.otlp_decode import DecodedRows, attribute_value, attributes_of, hex_id
from getgather_otel.collection import (
    KIND_NAMES,
    STATUS_NAMES,
    TraceRows,
    attribute_value_to_string,
    resource_columns,
)

__all__ = ["to_trace_rows"]

_KINDS = {
    trace_pb2.Span.SPAN_KIND_SERVER: KIND_NAMES[SpanKind.SERVER],
    trace_pb2.Span.SPAN_KIND_CLIENT: KIND_NAMES[SpanKind.CLIENT],
    trace_pb2.Span.SPAN_KIND_PRODUCER: KIND_NAMES[SpanKind.PRODUCER],
    trace_pb2.Span.SPAN_KIND_CONSUMER: KIND_NAMES[SpanKind.CONSUMER],
}
# Unspecified and unknown kinds become Internal, as the SDK's default kind.
_INTERNAL = KIND_NAMES[SpanKind.INTERNAL]
_STATUS = {
    trace_pb2.Status.STATUS_CODE_OK: STATUS_NAMES[StatusCode.OK],
    trace_pb2.Status.STATUS_CODE_ERROR: STATUS_NAMES[StatusCode.ERROR],
}
_UNSET = STATUS_NAMES[StatusCode.UNSET]
_INVALID_ID = "a span has an invalid trace_id or span_id (16 and 8 non-zero bytes)"


def _trace_state(text: str) -> str:
    """The W3C tracestate as the SDK re-serialises it; malformed ones are dropped, as the SDK does."""
    if not text:
        return ""
    try:
        return TraceState.from_header([text]).to_header()
    except ValueError:
        return ""


def _string_attributes(pairs: Any) -> dict[str, str]:
    """Attribute values as the stored strings; the common string case skips the generic conversion."""
    out: dict[str, str] = {}
    for pair in pairs:
        value = pair.value
        text = value.string_value  # "" unless it is a non-empty string: only then is the oneof asked
        if text or value.WhichOneof("value") == "string_value":
            out[pair.key] = text
        else:
            out[pair.key] = attribute_value_to_string(attribute_value(value))
    return out


def to_trace_rows(request: ExportTraceServiceRequest) -> DecodedRows:
    """The `otel_traces` rows of every valid span in `request`; invalid ones are counted as rejected."""
    rows = TraceRows()
    rejected = 0
    for resource_spans in request.resource_spans:
        resource = resource_columns(attributes_of(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            scope = (scope_spans.scope.name, scope_spans.scope.version)
            for span in scope_spans.spans:
                trace_id, span_id = hex_id(span.trace_id, 16), hex_id(span.span_id, 8)
                if trace_id is None or span_id is None:
                    rejected += 1
                    continue
                for event in span.events:
                    rows.add_event(event.time_unix_nano, event.name, _string_attributes(event.attributes))
                for link in span.links:
                    link_trace, link_span = hex_id(link.trace_id, 16), hex_id(link.span_id, 8)
                    if link_trace is not None and link_span is not None:
                        rows.add_link(
                            link_trace, link_span, _trace_state(link.trace_state), _string_attributes(link.attributes)
                        )
                start = span.start_time_unix_nano
                status = span.status
                rows.add_span(
                    start,
                    max(span.end_time_unix_nano, start),
                    (trace_id, span_id, hex_id(span.parent_span_id, 8) or ""),
                    _trace_state(span.trace_state),
                    span.name,
                    _KINDS.get(span.kind, _INTERNAL),
                    resource,
                    scope,
                    _string_attributes(span.attributes),
                    (_STATUS.get(status.code, _UNSET), status.message),
                )
    return DecodedRows(rows.to_table(), rejected, _INVALID_ID if rejected else "")
