"""The collector's writers, shared by its OTLP/HTTP and OTLP/gRPC sides.

Spans go through `DuckDBSpanExporter` (as in process, but as rows decoded straight from protobuf), recording chunks into
`recording_chunks` and metric points into the `otel_metrics_*` tables, all through the
exporter's one file writer. Each method takes a parsed Export*ServiceRequest and returns
the response to send, or raises `WriterBehindError` when taking it would grow a buffer
past its limit (HTTP answers 429, gRPC UNAVAILABLE; OTLP exporters retry both).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
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
from getgather_otel.export.duckdb_spans import DuckDBSpanExporter
from getgather_otel.recording.chunks import CHUNKS_TABLE
from getgather_otel.store.tables import METRIC_TABLES
from getgather_otel.store.write.buffered import BufferedTableWriter, concat_tables, newest_rows

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
    """The collector's writers: spans through the exporter, chunks and metric points beside them."""

    def __init__(self, exporter: DuckDBSpanExporter, settings: ReceiverSettings) -> None:
        self.exporter = exporter
        self.settings = settings
        self.chunks: BufferedTableWriter[pa.Table] = BufferedTableWriter(
            exporter.writer,
            CHUNKS_TABLE,
            to_table=concat_tables,
            size_of=lambda table: table.nbytes,
            max_pending=settings.max_pending_recording_bytes,
            unit="bytes of recordings",
        )
        self.metrics: dict[str, BufferedTableWriter[pa.Table]] = {
            table: BufferedTableWriter(
                exporter.writer,
                table,
                to_table=concat_tables,
                size_of=lambda t: t.num_rows,
                max_pending=settings.max_pending_metric_points,
                unit=f"{table} points",
                keep_newest=newest_rows,
            )
            for table in METRIC_TABLES
        }

    def traces(self, request: ExportTraceServiceRequest) -> Message:
        decoded = to_trace_rows(request)
        if self.exporter.stats.pending + decoded.table.num_rows > self.settings.max_pending_spans:
            raise WriterBehindError
        if decoded.table.num_rows:
            self.exporter.export_rows(decoded.table)
        return _answer(ExportTraceServiceResponse(), "rejected_spans", decoded.rejected, decoded.first_problem)

    def logs(self, request: ExportLogsServiceRequest) -> Message:
        decoded = to_chunk_rows(request)
        if self.chunks.stats.pending + decoded.table.nbytes > self.settings.max_pending_recording_bytes:
            raise WriterBehindError
        if decoded.table.num_rows:
            self.chunks.submit(decoded.table)
        return _answer(ExportLogsServiceResponse(), "rejected_log_records", decoded.rejected, decoded.first_problem)

    def metrics_points(self, request: ExportMetricsServiceRequest) -> Message:
        decoded = to_metric_rows(request)
        for table, rows in decoded.tables.items():
            if self.metrics[table].stats.pending + rows.num_rows > self.settings.max_pending_metric_points:
                raise WriterBehindError
        for table, rows in decoded.tables.items():
            self.metrics[table].submit(rows)
        return _answer(ExportMetricsServiceResponse(), "rejected_data_points", decoded.rejected, decoded.first_problem)

    def flush(self, timeout_s: float = 30.0) -> bool:
        done = self.exporter.force_flush(int(timeout_s * 1000))
        for writer in (self.chunks, *self.metrics.values()):
            done = writer.force_flush(timeout_s) and done
        return done

    def shutdown(self) -> None:
        for writer in (self.chunks, *self.metrics.values()):
            writer.shutdown(10.0)
        self.exporter.shutdown()
