"""What the collector does with decoded OTLP, shared by its OTLP/HTTP and OTLP/gRPC sides.

Spans, recording chunks and metric points go to the file's `DuckDBStore` as rows decoded
straight from protobuf (the same store and buffers as in process). Each method takes a
parsed Export*ServiceRequest and returns the response to send, or raises
`WriterBehindError` when taking it would grow a buffer past the receiver's limit (HTTP
answers 429, gRPC UNAVAILABLE; OTLP exporters retry both).
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

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ReceiverSettings", "Stores", "WriterBehindError"]

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
        if self.store.stats.spans.pending + decoded.table.num_rows > self.settings.max_pending_spans:
            raise WriterBehindError
        self.store.submit_spans(decoded.table)
        return _answer(ExportTraceServiceResponse(), "rejected_spans", decoded.rejected, decoded.first_problem)

    def logs(self, request: ExportLogsServiceRequest) -> Message:
        decoded = to_chunk_rows(request)
        if self.store.stats.recordings.pending + decoded.table.nbytes > self.settings.max_pending_recording_bytes:
            raise WriterBehindError
        self.store.submit_chunk_rows(decoded.table)
        return _answer(ExportLogsServiceResponse(), "rejected_log_records", decoded.rejected, decoded.first_problem)

    def metrics_points(self, request: ExportMetricsServiceRequest) -> Message:
        decoded = to_metric_rows(request)
        for table, rows in decoded.tables.items():
            if self.store.metric_stats(table).pending + rows.num_rows > self.settings.max_pending_metric_points:
                raise WriterBehindError
        for table, rows in decoded.tables.items():
            self.store.submit_metric_points(table, rows)
        return _answer(ExportMetricsServiceResponse(), "rejected_data_points", decoded.rejected, decoded.first_problem)
