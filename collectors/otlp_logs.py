"""OTLP log records in, `recording_chunks` rows out: browser recordings sent by instrumented servers.

Only records named `getgather.recording.chunk` (see `getgather_otel.export.chunk_log_records`)
are kept; any other log record, or a chunk with a bad id or missing attribute, is counted
as rejected for OTLP's partial success with the first reason, and the rest is stored.
"""

from __future__ import annotations

import pyarrow as pa
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from collectors.otlp_decode import DecodedRows, attributes_of, hex_id
from getgather_otel.collection import RECORDING_CHUNKS, NotAChunkError, log_parts_to_row

__all__ = ["to_chunk_rows"]


def to_chunk_rows(request: ExportLogsServiceRequest) -> DecodedRows:
    rows = []
    rejected = 0
    problem = ""
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                trace_id, span_id = hex_id(record.trace_id, 16), hex_id(record.span_id, 8)
                try:
                    if trace_id is None or span_id is None:
                        raise NotAChunkError("a recording chunk needs its activity's trace_id and span_id")
                    body = record.body.bytes_value if record.body.WhichOneof("value") == "bytes_value" else None
                    rows.append(
                        log_parts_to_row(
                            trace_id,
                            span_id,
                            record.event_name,
                            body,
                            attributes_of(record.attributes),
                        )
                    )
                except NotAChunkError as error:
                    rejected += 1
                    problem = problem or str(error)
    return DecodedRows(pa.Table.from_pylist(rows, schema=RECORDING_CHUNKS.arrow_schema), rejected, problem)
