"""OTLP/HTTP trace requests in, OpenTelemetry SDK spans out, every malformed input turned into a clear error.

Bodies come as protobuf (`application/x-protobuf`) or JSON (`application/json`, where
OTLP writes trace and span ids as hex, not protobuf JSON's base64), optionally gzip
compressed. Spans become SDK `ReadableSpan`s so they go through the exact path the
in-process exporter uses (`spans_to_arrow`, the DuckDB writer). A span with an invalid
trace or span id is rejected on its own and counted for OTLP's partial success; the
rest of the request is kept.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_KINDS = {
    trace_pb2.Span.SPAN_KIND_INTERNAL: SpanKind.INTERNAL,
    trace_pb2.Span.SPAN_KIND_SERVER: SpanKind.SERVER,
    trace_pb2.Span.SPAN_KIND_CLIENT: SpanKind.CLIENT,
    trace_pb2.Span.SPAN_KIND_PRODUCER: SpanKind.PRODUCER,
    trace_pb2.Span.SPAN_KIND_CONSUMER: SpanKind.CONSUMER,
}
_STATUS = {
    trace_pb2.Status.STATUS_CODE_UNSET: StatusCode.UNSET,
    trace_pb2.Status.STATUS_CODE_OK: StatusCode.OK,
    trace_pb2.Status.STATUS_CODE_ERROR: StatusCode.ERROR,
}
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
RequestT = TypeVar("RequestT", bound=Message)


class RequestError(ValueError):
    """A request the receiver cannot use; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class DecodedTraces:
    spans: list[ReadableSpan]
    rejected: int
    first_problem: str


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, or a 415 for anything OTLP/HTTP does not use."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in (PROTOBUF, JSON):
        raise RequestError(415, f"Content-Type must be {PROTOBUF} or {JSON}, not {content_type or 'missing'!r}")
    return media


def decompress(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """The request body without its Content-Encoding, refusing to inflate past `max_bytes` (gzip bombs)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding != "gzip":
        raise RequestError(415, f"Content-Encoding {encoding!r} is not supported (use gzip or none)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as error:
        raise RequestError(400, f"the gzip body is corrupt: {error}") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise RequestError(413, f"the body inflates to more than {max_bytes} bytes")
    if not inflater.eof:
        raise RequestError(400, "the gzip body is truncated")
    return data


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON parser wants base64 for bytes fields."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                try:
                    out[key] = base64.b64encode(bytes.fromhex(value)).decode() if value else ""
                except ValueError:
                    raise RequestError(400, f"{key} {value[:40]!r} is not hex") from None
            else:
                out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def parse_request(body: bytes, media: str, request: RequestT) -> RequestT:
    """Fill `request` (an empty Export*ServiceRequest) from a protobuf or OTLP/JSON body, or a 400."""
    kind = type(request).__name__
    if media == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, ValueError) as error:
            raise RequestError(400, f"the body is not an OTLP {kind}: {error}") from None
        return request
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RequestError(400, f"the body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise RequestError(400, f"the JSON body must be an object (an OTLP {kind})")
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as error:
        raise RequestError(400, f"the JSON body is not an OTLP {kind}: {error}") from None
    return request


def attribute_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "array_value":
        items = [attribute_value(v) for v in value.array_value.values]
        # SDK attribute sequences are homogeneous primitives; anything else travels as JSON text.
        if items and all(isinstance(i, type(items[0])) and isinstance(i, str | bool | int | float) for i in items):
            return tuple(items)
        return json.dumps(items, default=str)
    if kind == "kvlist_value":
        return json.dumps({kv.key: attribute_value(kv.value) for kv in value.kvlist_value.values}, default=str)
    return ""


def attributes_of(pairs: Any) -> dict[str, Any]:
    return {kv.key: attribute_value(kv.value) for kv in pairs if isinstance(kv, KeyValue)}


def valid_id(raw: bytes, size: int) -> int | None:
    if len(raw) != size:
        return None
    value = int.from_bytes(raw, "big")
    return value or None


def _trace_state(text: str) -> TraceState:
    try:
        return TraceState.from_header([text]) if text else TraceState()
    except ValueError:
        return TraceState()


def to_spans(request: ExportTraceServiceRequest) -> DecodedTraces:
    """SDK spans for every valid span in `request`; invalid ones are counted as rejected."""
    spans: list[ReadableSpan] = []
    rejected = 0
    problem = ""
    for resource_spans in request.resource_spans:
        resource = Resource(attributes_of(resource_spans.resource.attributes), resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(
                scope_spans.scope.name, scope_spans.scope.version or None, scope_spans.schema_url or None
            )
            for span in scope_spans.spans:
                trace_id, span_id = valid_id(span.trace_id, 16), valid_id(span.span_id, 8)
                if trace_id is None or span_id is None:
                    rejected += 1
                    problem = problem or "a span has an invalid trace_id or span_id (16 and 8 non-zero bytes)"
                    continue
                parent_id = valid_id(span.parent_span_id, 8)
                flags = TraceFlags(span.flags & 0xFF)
                state = _trace_state(span.trace_state)
                links = [
                    Link(
                        SpanContext(tid, sid, True, TraceFlags(link.flags & 0xFF), _trace_state(link.trace_state)),
                        attributes_of(link.attributes),
                    )
                    for link in span.links
                    if (tid := valid_id(link.trace_id, 16)) is not None
                    and (sid := valid_id(link.span_id, 8)) is not None
                ]
                status = Status(_STATUS.get(span.status.code, StatusCode.UNSET), span.status.message or None)
                spans.append(
                    ReadableSpan(
                        name=span.name,
                        context=SpanContext(trace_id, span_id, True, flags, state),
                        parent=SpanContext(trace_id, parent_id, True, flags) if parent_id else None,
                        resource=resource,
                        attributes=attributes_of(span.attributes),
                        events=[
                            Event(event.name, attributes_of(event.attributes), event.time_unix_nano)
                            for event in span.events
                        ],
                        links=links,
                        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
                        status=status,
                        start_time=span.start_time_unix_nano,
                        end_time=max(span.end_time_unix_nano, span.start_time_unix_nano),
                        instrumentation_scope=scope,
                    )
                )
    return DecodedTraces(spans, rejected, problem)
