"""Recording chunks as OTLP log records: the one mapping both ends use.

A chunk travels as one log record correlated with its activity span (the record's trace
and span ids), named by `event_name` `getgather.recording.chunk`, with the zstd-compressed
rrweb JSON as its bytes body and the row's other columns as attributes. The sender
builds records from rows of `recording_chunks` (`chunks_to_arrow` compresses once, as for
DuckDB); `getgather-otel collect` turns records back into the same rows, so a chunk lands
in the collector's `recording_chunks` byte for byte. The names live in `store/log_chunks.py`,
which also reads such records back from ClickHouse's `otel_logs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from getgather_otel.capture import attributes as attr
from getgather_otel.store.log_chunks import (
    COMPRESSION,
    EVENT_COUNT,
    EVENT_NAME,
    FIRST_EVENT_NS,
    FULL_SNAPSHOT,
    LAST_EVENT_NS,
    RAW_BYTES,
    SEQUENCE,
    URL,
)

__all__ = [
    "NotAChunkError",
    "log_parts_to_row",
    "row_to_log_parts",
]

# Attribute -> (row column, type) for everything but ids, times and the body.
_COLUMNS: Final = {
    attr.RECORDING_ID: ("recording_id", str),
    attr.RECORDING_PAGE_ID: ("page_id", str),
    SEQUENCE: ("sequence", int),
    COMPRESSION: ("compression", str),
    EVENT_COUNT: ("event_count", int),
    RAW_BYTES: ("raw_bytes", int),
    FULL_SNAPSHOT: ("starts_with_full_snapshot", bool),
    URL: ("url", str),
}


class NotAChunkError(ValueError):
    """A log record that is not a well-formed recording chunk."""


def _ns(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1_000_000) * 1000


def row_to_log_parts(row: Mapping[str, Any]) -> tuple[int, bytes, dict[str, Any]]:
    """(timestamp ns, body, attributes) of the log record carrying one `recording_chunks` row."""
    attributes: dict[str, Any] = {key: row[column] for key, (column, _) in _COLUMNS.items()}
    attributes[FIRST_EVENT_NS] = _ns(row["first_event_time"])
    attributes[LAST_EVENT_NS] = _ns(row["last_event_time"])
    return attributes[FIRST_EVENT_NS], bytes(row["data"]), attributes


def log_parts_to_row(
    trace_id: str, span_id: str, event_name: str, body: Any, attributes: Mapping[str, Any]
) -> dict[str, Any]:
    """The `recording_chunks` row a received log record carries, or NotAChunkError saying why not."""
    if event_name != EVENT_NAME:
        raise NotAChunkError(f"only {EVENT_NAME!r} log records (browser recordings) are stored, not {event_name!r}")
    if not isinstance(body, bytes) or not body:
        raise NotAChunkError("a recording chunk's body must be non-empty bytes")
    row: dict[str, Any] = {"trace_id": trace_id, "span_id": span_id}
    for key, (column, kind) in _COLUMNS.items():
        value = attributes.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise NotAChunkError(f"a recording chunk needs the {kind.__name__} attribute {key!r}")
        row[column] = value
    for key, column in ((FIRST_EVENT_NS, "first_event_time"), (LAST_EVENT_NS, "last_event_time")):
        value = attributes.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise NotAChunkError(f"a recording chunk needs the int attribute {key!r}")
        row[column] = value // 1000  # microseconds, as the TIMESTAMP column and its Arrow type hold them
    row["stored_bytes"] = len(body)
    row["data"] = body
    return row
