"""`getgather-otel collect`: an OTLP/HTTP receiver that writes into DuckDB through the same writer.

Many MCP server processes export over OTLP to one collector, which owns the DuckDB file
(DuckDB allows one writing process). Answers follow OTLP/HTTP: 200 with an
`Export*ServiceResponse` (partial success counts rejected spans), 400 for bodies that are
not OTLP, 401 without the bearer token when one is set, 413 past the size limit, 415 for
other content types or encodings, and 429 with Retry-After while the writer is behind,
instead of buffering without bound (OTLP exporters retry 429). Accepted spans are in the
writer's buffer; on shutdown (SIGTERM included) everything accepted is written.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collectors.otlp_decode import JSON, RequestError, decompress, media_type, parse_request, to_spans
from getgather_otel._log import logger
from getgather_otel.store.exporter import DuckDBSpanExporter

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class ReceiverSettings:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    token: str | None = None
    # Spans waiting for the writer beyond which requests get 429 instead of growing memory.
    max_pending_spans: int = 50_000


def _encode(message: Message, media: str) -> tuple[bytes, str]:
    if media == JSON:
        return json_format.MessageToJson(message, indent=None).encode(), JSON
    return message.SerializeToString(), "application/x-protobuf"


def _error(status: int, message: str, media: str, headers: dict[str, str] | None = None) -> Response:
    body, content_type = _encode(RpcStatus(code=status, message=message), media)
    return Response(body, status_code=status, media_type=content_type, headers=headers)


def build_app(exporter: DuckDBSpanExporter, settings: ReceiverSettings) -> Starlette:
    """The receiver as an ASGI app writing through `exporter` (shut down with the app)."""

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise RequestError(413, f"the body is larger than {settings.max_body_bytes} bytes")
        body = bytearray()
        async for part in request.stream():
            body.extend(part)
            if len(body) > settings.max_body_bytes:
                raise RequestError(413, f"the body is larger than {settings.max_body_bytes} bytes")
        return bytes(body)

    def authorized(request: Request) -> bool:
        if settings.token is None:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {settings.token}".encode())

    async def traces(request: Request) -> Response:
        media = JSON if "json" in request.headers.get("content-type", "") else "application/x-protobuf"
        try:
            if not authorized(request):
                return _error(401, "missing or wrong bearer token", media, {"WWW-Authenticate": "Bearer"})
            media = media_type(request.headers.get("content-type"))
            raw = await read_body(request)
            body = decompress(raw, request.headers.get("content-encoding"), settings.max_body_bytes)
            decoded = to_spans(parse_request(body, media))
        except RequestError as error:
            return _error(error.status, str(error), media)
        if exporter.stats.pending + len(decoded.spans) > settings.max_pending_spans:
            return _error(
                429,
                "the collector's writer is behind; retry later",
                media,
                {"Retry-After": str(RETRY_AFTER_S)},
            )
        if decoded.spans:
            exporter.export(decoded.spans)
        response = ExportTraceServiceResponse()
        if decoded.rejected:
            response.partial_success.rejected_spans = decoded.rejected
            response.partial_success.error_message = decoded.first_problem
        body_out, content_type = _encode(response, media)
        return Response(body_out, media_type=content_type)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            exporter.force_flush()
            exporter.shutdown()
            stats = exporter.stats
            logger.info("collector stopped: %d spans written, %d dropped", stats.written, stats.dropped)

    return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])], lifespan=lifespan)
