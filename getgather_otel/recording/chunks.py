"""Recording chunks: a cut piece of one page's rrweb stream, and where cut chunks go.

A chunk is a run of rrweb events of one page within one recording. Streams are cut at
every full snapshot (so a chunk that starts with one can be replayed from), every
`chunk_interval_s` and at `max_chunk_bytes`. How a chunk is stored: `chunk_codec.py` (the
bytes), `export/chunk_rows.py` (its `recording_chunks` row), `export/duckdb_store.py` and
`export/otlp_recordings.py` (the sinks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from getgather_otel.recording import rrweb_events

__all__ = ["Chunk", "ChunkConsumer"]


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


class ChunkConsumer(Protocol):
    """Where cut chunks go; `submit` runs on the browser's event loop, so it only queues."""

    def submit(self, chunk: Chunk) -> None: ...
