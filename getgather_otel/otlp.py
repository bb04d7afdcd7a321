"""OTLP span export, configured the standard way.

`otlp=None` follows the OpenTelemetry environment variables: export is on when
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set, with the
protocol from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL
(http/protobuf by default, grpc supported). Everything else (headers, timeouts,
compression, certificates) is read by the exporters themselves from the same variables.
"""

from __future__ import annotations

import os

from opentelemetry.sdk.trace.export import SpanExporter

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROTOCOL_VARS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def otlp_protocol() -> str:
    for name in _PROTOCOL_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return "http/protobuf"


def otlp_span_exporter(otlp: bool | str | None) -> SpanExporter | None:
    """An OTLP span exporter for `configure(otlp=...)`, or None when OTLP is off."""
    if otlp is False:
        return None
    if otlp is None and not any(os.environ.get(name) for name in _ENDPOINT_VARS):
        return None
    endpoint = otlp if isinstance(otlp, str) else None
    protocol = otlp_protocol()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(endpoint=endpoint)
    if protocol in ("http/protobuf", "http/json"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return HttpExporter(endpoint=endpoint)
    raise ValueError(f"unsupported OTLP protocol {protocol!r}: use http/protobuf or grpc")
