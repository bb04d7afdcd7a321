"""The OTLP/gRPC side of `getgather-otel collect` (default 127.0.0.1:4317), on the same stores.

gRPC hands us parsed Export*ServiceRequests, so the three services only call the
`Stores` methods the HTTP routes use. Status codes follow OTLP/gRPC: UNAUTHENTICATED
without the bearer token (when one is set, in the `authorization` metadata), UNAVAILABLE
while the writer is behind (the SDK exporters retry it with backoff), INVALID_ARGUMENT for
a request holding more items than the writer buffers (it could never fit: see
`TooLargeError`), and partial success in the response for rejected items. It runs on the HTTP server's event loop
(`grpc.aio`), started and stopped by the app's lifespan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from collectors.stores import Stores, TooLargeError, WriterBehindError
from getgather_otel.collection import bearer_allows

__all__ = ["start_grpc"]

# Largest request accepted, as for HTTP bodies (gRPC's own default is 4 MiB).
_MESSAGE_OPTIONS = "grpc.max_receive_message_length"


class _Service:
    """One OTLP service (traces, logs or metrics): its one `Export` RPC, as grpc's generated code calls it."""

    def __init__(self, store: Callable[[Any], Message], token: str | None) -> None:
        self._store = store
        self._token = token

    async def Export(self, request: Message, context: grpc.aio.ServicerContext) -> Message:  # noqa: N802 - RPC name
        given = dict(context.invocation_metadata() or ()).get("authorization", "")
        if not bearer_allows(str(given), self._token):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            return self._store(request)
        except WriterBehindError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the collector's writer is behind; retry later")
            raise  # abort() raises; this line only tells type checkers so
        except TooLargeError as error:
            # Not RESOURCE_EXHAUSTED: OTLP says retry that only with RetryInfo, the Python SDK retries it always.
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            raise


async def start_grpc(
    stores: Stores, host: str, port: int, token: str | None, max_message_bytes: int
) -> tuple[grpc.aio.Server, int]:
    """Serve OTLP/gRPC on host:port (0: any free port); returns the server and its port."""
    server = grpc.aio.server(options=[(_MESSAGE_OPTIONS, max_message_bytes)])
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Service(stores.traces, token), server)  # type: ignore[no-untyped-call]
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Service(stores.logs, token), server)  # type: ignore[no-untyped-call]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Service(stores.metrics_points, token), server)  # type: ignore[no-untyped-call]
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {host}:{port}")
    await server.start()
    return server, bound
