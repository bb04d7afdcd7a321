"""Recording chunks: what is stored for a piece of one page's rrweb stream, and the sink that stores them.

A chunk is a run of rrweb events of one page within one recording. Streams are cut at
every full snapshot (so a chunk that starts with one can be replayed from), every
`chunk_interval_s` and at `max_chunk_bytes`. The events are serialised as one JSON array
and compressed whole with zstd (per-event packing compresses far worse), on the sink's
writer thread, never on the browser's event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
import zstandard

from getgather_otel.recording import rrweb_events
from getgather_otel.store.write.buffered import BufferedTableWriter, WriteStats
from getgather_otel.store.write.writer import DuckDBWriter

CHUNKS_TABLE = "recording_chunks"
COMPRESSION = "zstd"
ZSTD_LEVEL = 3

CHUNK_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("recording_id", pa.string()),
        ("page_id", pa.string()),
        ("sequence", pa.int32()),
        ("first_event_time", pa.timestamp("us")),
        ("last_event_time", pa.timestamp("us")),
        ("event_count", pa.int32()),
        ("raw_bytes", pa.uint64()),
        ("stored_bytes", pa.uint64()),
        ("compression", pa.string()),
        ("starts_with_full_snapshot", pa.bool_()),
        ("url", pa.string()),
        ("data", pa.binary()),
    ]
)


@dataclass(frozen=True)
class Chunk:
    """A cut piece of one page stream, not yet serialised."""

    trace_id: str
    span_id: str
    recording_id: str
    page_id: str
    sequence: int
    events: list[dict[str, Any]]
    approx_bytes: int
    url: str

    @property
    def starts_with_full_snapshot(self) -> bool:
        # rrweb emits Meta immediately before each FullSnapshot.
        types = [event["type"] for event in self.events[:2]]
        snapshot = (rrweb_events.META, rrweb_events.FULL_SNAPSHOT)
        return rrweb_events.FULL_SNAPSHOT in types and all(t in snapshot for t in types)


def _utc(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def encode(events: list[dict[str, Any]]) -> bytes:
    """The raw rrweb JSON of a chunk: a JSON array of events, UTF-8."""
    return json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode()


def decompress_json(data: bytes, compression: str) -> bytes:
    """A stored chunk's events as the JSON array text they were compressed from (served as is)."""
    if compression != COMPRESSION:
        raise ValueError(f"unknown chunk compression {compression!r}")
    return bytes(zstandard.ZstdDecompressor().decompress(data))


def decode(data: bytes, compression: str) -> list[dict[str, Any]]:
    """The events of a stored chunk."""
    events: list[dict[str, Any]] = json.loads(decompress_json(data, compression))
    return events


def chunks_to_arrow(chunks: list[Chunk]) -> pa.Table:
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    columns: dict[str, list[Any]] = {field.name: [] for field in CHUNK_SCHEMA}
    for chunk in chunks:
        raw = encode(chunk.events)
        data = compressor.compress(raw)
        times = [event["timestamp"] for event in chunk.events]
        columns["trace_id"].append(chunk.trace_id)
        columns["span_id"].append(chunk.span_id)
        columns["recording_id"].append(chunk.recording_id)
        columns["page_id"].append(chunk.page_id)
        columns["sequence"].append(chunk.sequence)
        columns["first_event_time"].append(_utc(min(times)))
        columns["last_event_time"].append(_utc(max(times)))
        columns["event_count"].append(len(chunk.events))
        columns["raw_bytes"].append(len(raw))
        columns["stored_bytes"].append(len(data))
        columns["compression"].append(COMPRESSION)
        columns["starts_with_full_snapshot"].append(chunk.starts_with_full_snapshot)
        columns["url"].append(chunk.url)
        columns["data"].append(data)
    return pa.table(columns, schema=CHUNK_SCHEMA)


class ChunkConsumer(Protocol):
    """Where cut chunks go; `submit` runs on the browser's event loop, so it only queues."""

    def submit(self, chunk: Chunk) -> None: ...


class ChunkSink:
    """Stores chunks in `recording_chunks` through the process's shared DuckDB writer."""

    def __init__(self, writer: DuckDBWriter, *, max_pending_bytes: int = 256 * 1024 * 1024) -> None:
        self._buffer: BufferedTableWriter[Chunk] = BufferedTableWriter(
            writer,
            CHUNKS_TABLE,
            to_table=chunks_to_arrow,
            size_of=lambda chunk: chunk.approx_bytes,
            max_pending=max_pending_bytes,
            unit="bytes of recordings",
        )

    def submit(self, chunk: Chunk) -> None:
        if chunk.events:
            self._buffer.submit(chunk)

    def flush(self, timeout_s: float) -> bool:
        return self._buffer.force_flush(timeout_s)

    def shutdown(self, timeout_s: float) -> None:
        self._buffer.shutdown(timeout_s)

    @property
    def stats(self) -> WriteStats:
        return self._buffer.stats
