"""`getgather-otel collect`: an OTLP/HTTP receiver that writes into DuckDB through the same writer.

Many MCP server processes export over OTLP to one collector, which owns the DuckDB file
(DuckDB allows one writing process). `/v1/traces` spans go into its `DuckDBStore` as in
process; `/v1/logs` recording chunks land in `recording_chunks` and `/v1/metrics`
points in the `otel_metrics_*` tables, through the same file writer. Answers follow
OTLP/HTTP: 200 with an `Export*ServiceResponse` (partial success counts rejected items),
400 for bodies that are not OTLP, 401 without the bearer token when one is set, 413 past
the size limit or for a request holding more items than the writer buffers (which could
never fit; OTLP exporters do not retry 413), 415 for other content types or encodings, and
429 with Retry-After while the writer is behind, instead of buffering without bound (OTLP
exporters retry 429).
Accepted items are in the writer's buffers; on shutdown (SIGTERM included) everything
accepted is written. `GET /getgather-otel` tells senders this receiver wants recordings.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors.grpc_receiver import start_grpc
from collectors.otlp_decode import JSON, RequestError, decompress, media_type, parse_request
from collectors.stores import ReceiverSettings, Stores, TooLargeError, WriterBehindError
from getgather_otel.collection import (
    RECEIVER_INFO_PATH,
    RECEIVER_NAME,
    REQUEST_GRACE_S,
    DuckDBStore,
    ReplayOrigin,
    ViewerSettings,
    WriterReads,
    __version__,
    bearer_allows,
    replay_server,
    viewer_routes,
)

__all__ = ["RETRY_AFTER_S", "build_app", "logger"]

RETRY_AFTER_S = 1
logger = logging.getLogger("getgather_otel.collect")


def _encode(message: Message, media: str) -> tuple[bytes, str]:
    if media == JSON:
        return json_format.MessageToJson(message, indent=None).encode(), JSON
    return message.SerializeToString(), "application/x-protobuf"


def _error(status: int, message: str, media: str, headers: dict[str, str] | None = None) -> Response:
    body, content_type = _encode(RpcStatus(code=status, message=message), media)
    return Response(body, status_code=status, media_type=content_type, headers=headers)


def build_app(store: DuckDBStore, settings: ReceiverSettings, viewer: ViewerSettings | None = None) -> Starlette:
    """The receiver as an ASGI app writing into `store` (shut down with the app).

    With `viewer`, the same app also serves the web viewer and its API, reading through the
    writer's own connection (this process owns the file), and starts the replay origin.
    """
    stores = Stores(store, settings)
    reads = WriterReads(store)
    replay = ReplayOrigin()

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

    def endpoint(new_request: Callable[[], Message], store: Callable[[Message], Message]) -> Callable[..., object]:
        async def handle(request: Request) -> Response:
            media = JSON if "json" in request.headers.get("content-type", "") else "application/x-protobuf"
            try:
                if not bearer_allows(request.headers.get("authorization", ""), settings.token):
                    return _error(401, "missing or wrong bearer token", media, {"WWW-Authenticate": "Bearer"})
                media = media_type(request.headers.get("content-type"))
                raw = await read_body(request)
                body = decompress(raw, request.headers.get("content-encoding"), settings.max_body_bytes)
                answer = store(parse_request(body, media, new_request()))
            except RequestError as error:
                return _error(error.status, str(error), media)
            except WriterBehindError:
                retry = {"Retry-After": str(RETRY_AFTER_S)}
                return _error(429, "the collector's writer is behind; retry later", media, retry)
            except TooLargeError as error:  # not retryable (OTLP/HTTP retries only 429, 502, 503, 504)
                return _error(413, str(error), media)
            body_out, content_type = _encode(answer, media)
            return Response(body_out, media_type=content_type)

        return handle

    async def info(_request: Request) -> Response:
        return JSONResponse({"receiver": RECEIVER_NAME, "version": __version__, "recordings": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        grpc_server = None
        if settings.grpc_port is not None:
            grpc_server, app.state.grpc_port = await start_grpc(
                stores, settings.grpc_host, settings.grpc_port, settings.token, settings.max_body_bytes
            )
        try:
            async with AsyncExitStack() as stack:
                if viewer is not None:
                    await stack.enter_async_context(replay_server(reads, viewer, replay))
                yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=REQUEST_GRACE_S)
            store.flush()
            store.shutdown()
            stats = store.stats.spans
            logger.info("collector stopped: %d spans written, %d dropped", stats.written, stats.dropped)

    routes = [
        Route("/v1/traces", endpoint(ExportTraceServiceRequest, stores.traces), methods=["POST"]),
        Route("/v1/logs", endpoint(ExportLogsServiceRequest, stores.logs), methods=["POST"]),
        Route("/v1/metrics", endpoint(ExportMetricsServiceRequest, stores.metrics_points), methods=["POST"]),
        Route(RECEIVER_INFO_PATH, info, methods=["GET"]),
        *(viewer_routes(reads, viewer, replay) if viewer is not None else []),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.stores = stores
    app.state.replay = replay
    return app
