"""What a recording stored, read back from `recording_chunks`: its full snapshots and their timing.

Everything here is measured from outside the recorder, on what reached DuckDB, so it reads
today's main-world recorder and an isolated-world one alike. rrweb stamps each event when
it emits it: the Meta event just before it serialises the document and the FullSnapshot
just after, so FullSnapshot minus Meta is the time the page spent building the snapshot;
the next event (the adopted stylesheets, emitted right after) comes once the snapshot's
emit callback has returned, which is where a recorder serialises or posts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import zstandard

from getgather_otel.capture import attributes as attr
from getgather_otel.recording import rrweb_events
from getgather_otel.recording.chunk_codec import ZSTD_LEVEL, decode, encode
from getgather_otel.recording.snapshot_parts import assembled, snapshot_parts, walk

ELEMENT_NODE = 2  # rrweb-snapshot's NodeType.Element


@dataclass(frozen=True)
class StoredSnapshot:
    """One full snapshot found in a recording; times are epoch ms on the page's clock."""

    span_id: str
    href: str
    meta_ms: float
    snapshot_ms: float
    next_event_ms: float | None
    json_bytes: int
    nodes: int
    table_rows: int

    @property
    def build_ms(self) -> float:
        return self.snapshot_ms - self.meta_ms

    @property
    def after_emit_ms(self) -> float | None:
        return None if self.next_event_ms is None else self.next_event_ms - self.snapshot_ms


@dataclass(frozen=True)
class StoredRecording:
    """A recording's totals: chunks, how many start with a full snapshot, bytes (raw JSON and stored)."""

    span_id: str
    chunks: int
    snapshot_chunks: int
    events: int
    raw_bytes: int
    stored_bytes: int
    dropped_events: int


def orders_rows(node: dict[str, Any]) -> int:
    """Rows of the `#orders` table's body in a serialised rrweb node tree (0 when it is not there)."""
    for element in walk(node):
        if element.get("type") == ELEMENT_NODE and element.get("attributes", {}).get("id") == "orders":
            bodies = [c for c in element.get("childNodes", ()) if c.get("tagName") == "tbody"]
            return sum(1 for body in bodies for row in body.get("childNodes", ()) if row.get("tagName") == "tr")
    return 0


def _events(conn: duckdb.DuckDBPyConnection, span_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each recording's events in stored order (page, then chunk sequence)."""
    rows = conn.execute(
        "SELECT span_id, data, compression FROM recording_chunks WHERE list_contains(?, span_id) "
        "ORDER BY span_id, page_id, sequence",
        [list(span_ids)],
    ).fetchall()
    events: dict[str, list[dict[str, Any]]] = {span_id: [] for span_id in span_ids}
    for span_id, data, compression in rows:
        events[span_id].extend(decode(data, compression))
    return events


def stored_snapshots(db: Path, span_ids: Sequence[str]) -> list[StoredSnapshot]:
    """Every full snapshot stored for the recordings of `span_ids`, in order."""
    with duckdb.connect(str(db), read_only=True) as conn:
        by_span = _events(conn, span_ids)
    found: list[StoredSnapshot] = []
    for span_id, events in by_span.items():
        for i, event in enumerate(events):
            if event["type"] != rrweb_events.FULL_SNAPSHOT:
                continue
            meta = events[i - 1] if i > 0 and events[i - 1]["type"] == rrweb_events.META else None
            taken = snapshot_parts(events, i)
            json_bytes = len(encode(taken))
            node = assembled(taken)
            later = events[i + len(taken)] if i + len(taken) < len(events) else None
            found.append(
                StoredSnapshot(
                    span_id=span_id,
                    href=meta["data"].get("href", "") if meta else "",
                    meta_ms=meta["timestamp"] if meta else event["timestamp"],
                    snapshot_ms=event["timestamp"],
                    next_event_ms=later["timestamp"] if later else None,
                    json_bytes=json_bytes,
                    nodes=sum(1 for _ in walk(node)),
                    table_rows=orders_rows(node),
                )
            )
    return found


def stored_recordings(db: Path, span_ids: Sequence[str]) -> list[StoredRecording]:
    """Totals per recording of `span_ids` (every span listed, recorded or not), with the span's
    dropped-events count (what the recorder says it could not keep)."""
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = conn.execute(
            f"""
            SELECT s.span_id, count(c.span_id), count_if(c.starts_with_full_snapshot), coalesce(sum(c.event_count), 0),
                   coalesce(sum(c.raw_bytes), 0), coalesce(sum(c.stored_bytes), 0),
                   coalesce(any_value(t."SpanAttributes"['{attr.RECORDING_DROPPED_EVENTS}']), '0')
            FROM unnest(?) AS s(span_id)
            LEFT JOIN recording_chunks AS c ON c.span_id = s.span_id
            LEFT JOIN otel_traces AS t ON t."SpanId" = s.span_id
            GROUP BY s.span_id
            """,
            [list(span_ids)],
        ).fetchall()
    return [StoredRecording(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in rows]


def incremental_bytes(db: Path, span_id: str) -> tuple[int, int, float]:
    """What a page costs while it only changes: (raw JSON bytes, bytes compressed as the store
    compresses a chunk, seconds covered) of the incremental events of `span_id`'s recording.

    Chunks are cut at full snapshots and when a stream's first batch is 10 s old, so a short
    recording is one chunk that mixes snapshot and changes: the changes are measured here.
    """
    with duckdb.connect(str(db), read_only=True) as conn:
        events = _events(conn, [span_id])[span_id]
    parts = {
        id(part)
        for i, event in enumerate(events)
        if event["type"] == rrweb_events.FULL_SNAPSHOT
        for part in snapshot_parts(events, i)
    }
    # A big snapshot's parts are Mutation events too, but they are the snapshot, not changes.
    changes = [e for e in events if e["type"] == rrweb_events.INCREMENTAL_SNAPSHOT and id(e) not in parts]
    if not changes:
        return 0, 0, 0.0
    raw = encode(changes)
    stored = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)
    return len(raw), len(stored), (changes[-1]["timestamp"] - changes[0]["timestamp"]) / 1000
