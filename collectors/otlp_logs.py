"""OTLP log records in, `recording_chunks` rows out: browser recordings sent by instrumented servers.

Only records named `getgather.recording.chunk` (see `getgather_otel.export.chunk_log_records`)
are kept. Any other log record, a chunk with a bad id or missing attribute, or one with a
value its column cannot hold (`raw_bytes=-1`, a sequence past int32) is counted as rejected
for OTLP's partial success with the first reason, and the rest is stored: one bad record
never costs the request's good ones (OTLP exporters do not retry a 500 or gRPC UNKNOWN, so
failing the request would drop them all).
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from collectors.otlp_decode import DecodedRows, attributes_of, hex_id
from getgather_otel.collection import RECORDING_CHUNKS, NotAChunkError, log_parts_to_row

__all__ = ["to_chunk_rows"]

_SCHEMA: Final = RECORDING_CHUNKS.arrow_schema
# What pyarrow raises for a value its column's type cannot hold: OverflowError (a negative
# uint64), ArrowInvalid (a ValueError: past int32), UnicodeEncodeError (a ValueError: a lone
# surrogate from OTLP/JSON), ArrowTypeError (a TypeError).
_UNCONVERTIBLE: Final = (pa.ArrowException, OverflowError, ValueError, TypeError)


class _Rejected:
    """The partial-success tally: how many records were rejected, and the first reason."""

    def __init__(self) -> None:
        self.count = 0
        self.problem = ""

    def add(self, reason: str) -> None:
        self.count += 1
        self.problem = self.problem or reason


def to_chunk_rows(request: ExportLogsServiceRequest) -> DecodedRows:
    rows: list[dict[str, Any]] = []
    rejected = _Rejected()
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                try:
                    row = _chunk_row(record)
                except NotAChunkError as error:
                    rejected.add(str(error))
                    continue
                rows.append(row)
    return DecodedRows(_to_table(rows, rejected), rejected.count, rejected.problem)


def _chunk_row(record: LogRecord) -> dict[str, Any]:
    """The `recording_chunks` row of one log record, or NotAChunkError saying why it is not one."""
    trace_id, span_id = hex_id(record.trace_id, 16), hex_id(record.span_id, 8)
    if trace_id is None or span_id is None:
        raise NotAChunkError("a recording chunk needs its activity's trace_id and span_id")
    body = record.body.bytes_value if record.body.WhichOneof("value") == "bytes_value" else None
    return log_parts_to_row(trace_id, span_id, record.event_name, body, attributes_of(record.attributes))


def _to_table(rows: list[dict[str, Any]], rejected: _Rejected) -> pa.Table:
    """The rows as one Arrow table, leaving out (and counting) any with a value its column cannot hold.

    The whole batch converts at once in the usual case; only when that fails is each row
    tried alone, to find the ones to reject.
    """
    try:
        return pa.Table.from_pylist(rows, schema=_SCHEMA)
    except _UNCONVERTIBLE:
        pass
    kept = []
    for row in rows:
        try:
            kept.append(pa.Table.from_pylist([row], schema=_SCHEMA))
        except _UNCONVERTIBLE as error:
            rejected.add(f"a recording chunk has a value its column cannot hold: {error}")
    return pa.concat_tables(kept) if kept else _SCHEMA.empty_table()
