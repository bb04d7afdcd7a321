"""What the collector does with decoded OTLP, shared by its OTLP/HTTP and OTLP/gRPC sides.

Spans, recording chunks and metric points go to the file's `DuckDBStore` as rows decoded
straight from protobuf (the same store and buffers as in process). Each method takes a
parsed Export*ServiceRequest and returns the response to send, or raises
`WriterBehindError` when taking it would grow a buffer past the receiver's limit (HTTP
answers 429, gRPC UNAVAILABLE; OTLP exporters retry both), or `TooLargeError` when the
request alone is past the limit, which no wait can fix (HTTP 413, gRPC INVALID_ARGUMENT;
neither is retried).
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from collectors.otlp_logs import to_chunk_rows
from collectors.otlp_metrics import to_metric_rows
from collectors.otlp_traces import to_trace_rows
from getgather_otel.collection import DuckDBStore

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ReceiverSettings", "Stores", "TooLargeError", "WriterBehindError"]

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ReceiverSettings:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    token: str | None = None
    # Spans waiting for the writer beyond which requests get 429 instead of growing memory.
    max_pending_spans: int = 50_000
    # Likewise for recording chunks (Arrow bytes) and metric points.
    max_pending_recording_bytes: int = 256 * 1024 * 1024
    max_pending_metric_points: int = 200_000
    # OTLP/gRPC beside HTTP: None for no gRPC, 0 for any free port (tests).
    grpc_host: str = "127.0.0.1"
    grpc_port: int | None = None


class WriterBehindError(Exception):
    """The writer is behind: answer 429 with Retry-After."""


class TooLargeError(Exception):
    """The request alone holds more than a buffer's limit: it would never fit, however long the sender waits.

    A 429 (or UNAVAILABLE) would have the sender retry it until its retry budget ends, the
    data lost all the same and the collector busy decoding it each time. OTLP/HTTP retries
    only 429, 502, 503 and 504, so a 413 is final; OTLP/gRPC retries RESOURCE_EXHAUSTED only
    when the server says it can recover (RetryInfo), but the Python SDK's exporter retries it
    regardless, so the answer is INVALID_ARGUMENT, which OTLP lists as not retryable. Taking such a
    request when nothing is pending instead would make the limit "the limit or one request",
    and on a busy collector it would wait for an idle moment that may never come. The
    message names the limit: the sender's batch size (the SDK's default is 512 spans) or the
    collector's limit is the thing to change.
    """


def _admit(pending: int, size: int, limit: int, what: str) -> None:
    """Raise unless `size` more items fit beside `pending` under `limit`: TooLargeError when they never
    can, WriterBehindError when they can once the writer catches up."""
    if size > limit:
        message = f"the request holds {size} {what}, more than the {limit} the collector buffers: send smaller batches"
        raise TooLargeError(message)
    if pending + size > limit:
        raise WriterBehindError


def _answer(response: Message, rejected_field: str, rejected: int, problem: str) -> Message:
    """An Export*ServiceResponse, with OTLP's partial success when anything was rejected or is worth saying."""
    if rejected or problem:
        setattr(response.partial_success, rejected_field, rejected)
        response.partial_success.error_message = problem
    return response


class Stores:
    """The receiver's side of a `DuckDBStore`: back-pressure and OTLP answers."""

    def __init__(self, store: DuckDBStore, settings: ReceiverSettings) -> None:
        self.store = store
        self.settings = settings

    def traces(self, request: ExportTraceServiceRequest) -> Message:
        decoded = to_trace_rows(request)
        _admit(self.store.stats.spans.pending, decoded.table.num_rows, self.settings.max_pending_spans, "spans")
        self.store.submit_spans(decoded.table)
        return _answer(ExportTraceServiceResponse(), "rejected_spans", decoded.rejected, decoded.first_problem)

    def logs(self, request: ExportLogsServiceRequest) -> Message:
        decoded = to_chunk_rows(request)
        pending, limit = self.store.stats.recordings.pending, self.settings.max_pending_recording_bytes
        _admit(pending, decoded.table.nbytes, limit, "bytes of recording chunks")
        self.store.submit_chunk_rows(decoded.table)
        return _answer(ExportLogsServiceResponse(), "rejected_log_records", decoded.rejected, decoded.first_problem)

    def metrics_points(self, request: ExportMetricsServiceRequest) -> Message:
        decoded = to_metric_rows(request)
        for table, rows in decoded.tables.items():  # all checked before any is taken
            pending, limit = self.store.metric_stats(table).pending, self.settings.max_pending_metric_points
            _admit(pending, rows.num_rows, limit, f"{table} points")
        for table, rows in decoded.tables.items():
            self.store.submit_metric_points(table, rows)
        return _answer(ExportMetricsServiceResponse(), "rejected_data_points", decoded.rejected, decoded.first_problem)
