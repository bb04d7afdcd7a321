"""Realistic finished spans for the benchmarks: 15 attributes and 2 events each."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from getgather_otel.capture import attributes as attr


class _Collect(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def make_spans(count: int) -> list[ReadableSpan]:
    """`count` activity-like spans, as an instrumented getgather server produces them."""
    collect = _Collect()
    provider = TracerProvider(resource=Resource.create({"service.name": "getgather", "host.name": "bench-host"}))
    provider.add_span_processor(collect)
    tracer = provider.get_tracer("getgather_otel", "0.1.0")
    brands = ["netflix", "amazon", "goodreads", "audible", "wayfair"]
    for i in range(count):
        brand = brands[i % len(brands)]
        with tracer.start_as_current_span(f"activity {brand}_get_orders", kind=SpanKind.INTERNAL) as span:
            span.set_attributes(
                {
                    attr.ACTIVITY_NAME: f"{brand}_get_orders",
                    attr.ACTIVITY_KIND: "tool",
                    attr.BRAND_ID: brand,
                    attr.GEN_AI_TOOL_NAME: f"{brand}_get_orders",
                    attr.GEN_AI_OPERATION_NAME: "execute_tool",
                    attr.MCP_METHOD_NAME: "tools/call",
                    attr.MCP_SESSION_ID: "7d0c4a3e-58a1-4b9e-9a57-1f4f3c5d2e10",
                    attr.JSONRPC_REQUEST_ID: str(i),
                    attr.TOOL_TAGS: f"brand:{brand}",
                    "fastmcp.server.name": "getgather",
                    "getgather.profile.id": "profile-42",
                    "getgather.page.count": 3,
                    "getgather.result.items": i % 40,
                    "getgather.cached": i % 3 == 0,
                    "http.response.status_code": 200,
                }
            )
            span.add_event("navigation", {"url": f"https://{brand}.example/orders?page=1"})
            span.add_event("extracted", {"items": i % 40})
            if i % 10 == 0:
                span.set_status(Status(StatusCode.ERROR, "timeout waiting for selector"))
    return collect.spans
