"""OTLP log records in, `recording_chunks` rows out: browser recordings sent by instrumented servers.

Only records named `getgather.recording.chunk` (see `getgather_otel.export.chunk_log_records`)
are kept. Any other log record, a chunk with a bad id or missing attribute, one with a value
its column cannot hold (`raw_bytes=-1`, a sequence past int32), or one whose body the readers
could not decompress (a compression they do not know, a body that is not zstd) is counted as
rejected for OTLP's partial success with the first reason, and the rest is stored: one bad
record never costs the request's good ones (OTLP exporters do not retry a 500 or gRPC
UNKNOWN, so failing the request would drop them all).
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
import zstandard
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from collectors.otlp_decode import DecodedRows, attributes_of, hex_id
from getgather_otel.collection import (
    CHUNK_COMPRESSION,
    RECORDING_CHUNKS,
    NotAChunkError,
    decompress_json,
    log_parts_to_row,
)

__all__ = ["MAX_CHUNK_RAW_BYTES", "MAX_REQUEST_RAW_BYTES", "to_chunk_rows"]

# Readers decompress a chunk whole, into memory, in one call (`chunk_codec.decompress_json`).
# The recorder cuts chunks at `max_chunk_bytes` (4 MiB by default); one snapshot can be more
# (10.5 MB for 20,000 rows, BENCHMARKS.md). A frame declaring more is a bomb, not a recording.
MAX_CHUNK_RAW_BYTES: Final = 64 * 1024 * 1024
# What checking one request's chunks may decompress in all. A full 16 MiB body of rrweb JSON
# at zstd's usual ~20x is ~320 MiB; the cap keeps a body of tiny frames that each declare
# the per-chunk maximum from costing the event loop minutes.
MAX_REQUEST_RAW_BYTES: Final = 1024 * 1024 * 1024
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


class _DecodeBudget:
    """What checking one request's chunks may still decompress (`MAX_REQUEST_RAW_BYTES`)."""

    def __init__(self) -> None:
        self.left = MAX_REQUEST_RAW_BYTES

    def spend(self, declared: int) -> None:
        """Take a frame's declared size, before it is decompressed; NotAChunkError past either cap."""
        if declared > min(MAX_CHUNK_RAW_BYTES, self.left):
            raise NotAChunkError(
                f"a recording chunk's body declares {declared} bytes decompressed; the collector checks at most "
                f"{MAX_CHUNK_RAW_BYTES} per chunk and {MAX_REQUEST_RAW_BYTES} per request"
            )
        self.left -= declared


def to_chunk_rows(request: ExportLogsServiceRequest) -> DecodedRows:
    rows: list[dict[str, Any]] = []
    rejected = _Rejected()
    budget = _DecodeBudget()
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                try:
                    row = _chunk_row(record)
                    _check_decodes(row["data"], row["compression"], budget)
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


def _check_decodes(data: bytes, compression: str, budget: _DecodeBudget) -> None:
    """NotAChunkError unless `data` decompresses as every reader will decompress it.

    `replay`, `scan`, the `rrweb_recordings` view and the viewer all decompress stored
    chunks, whole, with `decompress_json`: one that does not decode, once stored, breaks them
    on the whole file later. So the check is that same call, after the frame's declared size
    has been checked against the caps (nothing large is allocated for a zstd bomb). Readers
    need the declared size too: zstd's one-shot decompression refuses a frame without it.
    """
    if compression != CHUNK_COMPRESSION:
        raise NotAChunkError(f"a recording chunk's compression must be {CHUNK_COMPRESSION!r}, not {compression!r}")
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError:
        raise NotAChunkError("a recording chunk's body is not a zstd frame") from None
    if declared < 0:
        raise NotAChunkError("a recording chunk's zstd frame must declare its decompressed size")
    budget.spend(declared)
    try:
        decompress_json(data, compression)
    except (ValueError, zstandard.ZstdError) as error:
        raise NotAChunkError(f"a recording chunk's body does not decompress: {error}") from None


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
