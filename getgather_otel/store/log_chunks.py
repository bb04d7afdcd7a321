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
    "DUCKDB_OTEL_LOGS_VIEW",
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


def _text(column: str) -> str:
    return f"CAST(c.{column} AS VARCHAR)"


def _nanos(column: str) -> str:
    return f"CAST(epoch_us(c.{column}) * 1000 AS VARCHAR)"


# DuckDB: `otel_logs` as the exporter lays it out (exporter_logs.go, tests/clickhouse/otel_logs.sql),
# row for row what it writes for the chunks' log records: Timestamp the first event's time,
# the sampled flag our sender sets, Body base64 (pdata AsString of bytes), every attribute as
# text, resource, service and scope those of the activity span the chunk belongs to (the
# sender's, which is the same provider's). Only recordings are log records here.
DUCKDB_OTEL_LOGS_VIEW: Final = f"""
CREATE OR REPLACE VIEW otel_logs AS
SELECT c.first_event_time AS "Timestamp",
       date_trunc('second', c.first_event_time) AS "TimestampTime",
       c.trace_id AS "TraceId",
       c.span_id AS "SpanId",
       CAST(1 AS UTINYINT) AS "TraceFlags",
       '' AS "SeverityText",
       CAST(0 AS UTINYINT) AS "SeverityNumber",
       coalesce(t."ServiceName", '') AS "ServiceName",
       to_base64(c.data) AS "Body",
       '' AS "ResourceSchemaUrl",
       coalesce(t."ResourceAttributes", MAP {{}}) AS "ResourceAttributes",
       '' AS "ScopeSchemaUrl",
       '{attr.SCOPE_NAME}' AS "ScopeName",
       coalesce(t."ScopeVersion", '') AS "ScopeVersion",
       CAST(MAP {{}} AS MAP(VARCHAR, VARCHAR)) AS "ScopeAttributes",
       MAP {{
           '{attr.RECORDING_ID}': c.recording_id,
           '{attr.RECORDING_PAGE_ID}': c.page_id,
           '{SEQUENCE}': {_text("sequence")},
           '{COMPRESSION}': c.compression,
           '{EVENT_COUNT}': {_text("event_count")},
           '{RAW_BYTES}': {_text("raw_bytes")},
           '{FULL_SNAPSHOT}': CASE WHEN c.starts_with_full_snapshot THEN 'true' ELSE 'false' END,
           '{URL}': c.url,
           '{FIRST_EVENT_NS}': {_nanos("first_event_time")},
           '{LAST_EVENT_NS}': {_nanos("last_event_time")}
       }} AS "LogAttributes",
       '{EVENT_NAME}' AS "EventName"
FROM recording_chunks AS c
LEFT JOIN otel_traces AS t ON t."SpanId" = c.span_id AND t."TraceId" = c.trace_id
"""
