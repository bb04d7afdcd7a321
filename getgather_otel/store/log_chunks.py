"""A recording chunk as an OTLP log record, and where such records land in ClickHouse's `otel_logs`.

The sender (`export/chunk_log_records.py`) names each chunk's record `getgather.recording.chunk`
and puts the `recording_chunks` columns in these attributes; `collect` turns the records back
into rows. Through an OTel Collector with the ClickHouse exporter the same records land in
`otel_logs`: `Body` is the base64 of the zstd bytes (pdata `AsString` of a bytes value) and
every attribute is text (`AsString`: `42`, `true`). `CLICKHOUSE_RECORDING_CHUNKS` reads them
back as `recording_chunks` rows (the chunk bytes still base64 in `data`: decode after the
query). Records are found by their recording id attribute, so rows written by exporters
older than the `EventName` column are found too.
"""

from __future__ import annotations

from typing import Final

from getgather_otel.capture import attributes as attr

__all__ = [
    "CLICKHOUSE_RECORDING_CHUNKS",
    "COMPRESSION",
    "EVENT_COUNT",
    "EVENT_NAME",
    "FIRST_EVENT_NS",
    "FULL_SNAPSHOT",
    "LAST_EVENT_NS",
    "RAW_BYTES",
    "SEQUENCE",
    "URL",
]

EVENT_NAME: Final = "getgather.recording.chunk"

SEQUENCE: Final = "getgather.recording.sequence"
COMPRESSION: Final = "getgather.recording.compression"
EVENT_COUNT: Final = "getgather.recording.event_count"
RAW_BYTES: Final = "getgather.recording.raw_bytes"
FIRST_EVENT_NS: Final = "getgather.recording.first_event_time_unix_nano"
LAST_EVENT_NS: Final = "getgather.recording.last_event_time_unix_nano"
FULL_SNAPSHOT: Final = "getgather.recording.starts_with_full_snapshot"
URL: Final = "url.full"


def _attribute(key: str) -> str:
    return f"l.LogAttributes['{key}']"


def _micros(key: str) -> str:
    # DuckDB's TIMESTAMP keeps microseconds: cut the nanoseconds the same way.
    return f"fromUnixTimestamp64Micro(intDiv(toInt64OrZero({_attribute(key)}), 1000), 'UTC')"


# `recording_chunks`, column for column, from the exporter's `otel_logs` (ClickHouse SQL).
CLICKHOUSE_RECORDING_CHUNKS: Final = f"""(
    SELECT l.TraceId AS trace_id, l.SpanId AS span_id,
           {_attribute(attr.RECORDING_ID)} AS recording_id,
           {_attribute(attr.RECORDING_PAGE_ID)} AS page_id,
           toInt32OrZero({_attribute(SEQUENCE)}) AS sequence,
           {_micros(FIRST_EVENT_NS)} AS first_event_time,
           {_micros(LAST_EVENT_NS)} AS last_event_time,
           toInt32OrZero({_attribute(EVENT_COUNT)}) AS event_count,
           toUInt64OrZero({_attribute(RAW_BYTES)}) AS raw_bytes,
           toUInt64(length(tryBase64Decode(l.Body))) AS stored_bytes,
           {_attribute(COMPRESSION)} AS compression,
           {_attribute(FULL_SNAPSHOT)} = 'true' AS starts_with_full_snapshot,
           {_attribute(URL)} AS url,
           l.Body AS data
    FROM otel_logs AS l
    WHERE {_attribute(attr.RECORDING_ID)} != ''
)"""
