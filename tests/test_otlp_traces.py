"""The collector's protobuf -> `otel_traces` decoder writes exactly the rows the in-process exporter writes."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)
from opentelemetry.util.types import AttributeValue

from collectors.otlp_traces import to_trace_rows
from getgather_otel.store.write.arrow_spans import spans_to_arrow

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN = bytes.fromhex("eee19b7ec3c1b174")


def test_decoded_rows_equal_the_in_process_rows_for_everything_the_sdk_sends() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "getgather", "replicas": 3, "up": True}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("scope", "1.2")
    remote = SpanContext(
        int.from_bytes(TRACE, "big"),
        int.from_bytes(SPAN, "big"),
        True,
        TraceFlags(1),
        TraceState([("vendor", "a=1"), ("rojo", "00f067aa0ba902b7")]),
    )
    values: dict[str, AttributeValue] = {
        "s": "x",
        "b": False,
        "i": -7,
        "f": 1e-300,
        "nan": float("nan"),
        "strs": ("a", "b"),
        "ints": (1, 2),
    }
    with tracer.start_as_current_span("remote child", context=set_span_in_context(NonRecordingSpan(remote))) as span:
        span.set_attributes(values)
        span.add_event("e", values, timestamp=1_795_550_000_123_456_789)
        for kind in SpanKind:
            with tracer.start_as_current_span(f"kind {kind.name}", kind=kind, links=[Link(remote, values)]) as child:
                child.set_status(Status(StatusCode.ERROR, "why") if kind is SpanKind.CLIENT else Status(StatusCode.OK))
    with tracer.start_as_current_span("unicode ☃ \u2028", attributes={"": "empty key", "k": ""}):
        pass
    spans = memory.get_finished_spans()
    request = encode_spans(spans)
    # The SDK's encoder leaves out a link's tracestate (OTLP carries it); put it back so it is compared too.
    encoded = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    for sdk_span, pb_span in zip(spans, encoded, strict=True):
        for sdk_link, pb_link in zip(sdk_span.links, pb_span.links, strict=True):
            pb_link.trace_state = sdk_link.context.trace_state.to_header()
    decoded = to_trace_rows(request)
    assert (decoded.rejected, decoded.first_problem) == (0, "")
    assert decoded.table.equals(spans_to_arrow(spans))


def _value(**kind: object) -> AnyValue:
    return AnyValue(**kind)  # type: ignore[arg-type]


def _request(*spans: trace_pb2.Span) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    scope_spans.spans.extend(spans)
    return request


def test_values_the_sdk_never_sends_are_written_as_the_exporter_and_bad_spans_rejected_alone() -> None:
    pairs = [
        KeyValue(key="bytes", value=_value(bytes_value=b"\x00\xff")),
        KeyValue(
            key="mixed", value=_value(array_value=ArrayValue(values=[_value(int_value=1), _value(string_value="a")]))
        ),
        KeyValue(
            key="kv", value=_value(kvlist_value=KeyValueList(values=[KeyValue(key="a", value=_value(bool_value=True))]))
        ),
        KeyValue(key="unset", value=AnyValue()),
        KeyValue(key="dup", value=_value(string_value="first")),
        KeyValue(key="dup", value=_value(string_value="last")),
    ]
    odd = trace_pb2.Span(
        trace_id=TRACE,
        span_id=SPAN,
        parent_span_id=b"\x00" * 8,
        trace_state="not a valid=tracestate,,=",
        name="odd",
        kind=trace_pb2.Span.SPAN_KIND_UNSPECIFIED,
        start_time_unix_nano=2_000,
        end_time_unix_nano=1_000,
        attributes=pairs,
        links=[trace_pb2.Span.Link(trace_id=b"short", span_id=SPAN), trace_pb2.Span.Link(trace_id=TRACE, span_id=SPAN)],
        status=trace_pb2.Status(code=7),  # type: ignore[arg-type]  # a code from a newer OTLP
    )
    zero_trace = trace_pb2.Span(trace_id=b"\x00" * 16, span_id=SPAN, name="zero trace id")
    short_span = trace_pb2.Span(trace_id=TRACE, span_id=b"\x01", name="short span id")
    decoded = to_trace_rows(_request(zero_trace, odd, short_span))
    assert decoded.rejected == 2 and "invalid trace_id or span_id" in decoded.first_problem
    [row] = decoded.table.to_pylist()
    assert row["ParentSpanId"] == "" and row["TraceState"] == ""
    # As the ClickHouse exporter spells them: pdata's names, '' for a code outside the enum.
    assert (row["SpanKind"], row["StatusCode"], row["Duration"]) == ("Unspecified", "", 0)
    assert dict(row["SpanAttributes"]) == {
        "bytes": "AP8=",
        "mixed": '[1,"a"]',
        "kv": '{"a":true}',
        "unset": "",
        "dup": "last",
    }
    assert row["Links.TraceId"] == [TRACE.hex()] and row["Links.SpanId"] == [SPAN.hex()]
