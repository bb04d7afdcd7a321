"""Reads of recordings: which activity owns one, its chunks, its pages.

`recording_chunks` rows are keyed by the span that owns the recording (a root activity);
nested activities find theirs through their ancestors. These return stored values as they
are (chunk data still compressed): decoding and rendering are `recording/replay.py`'s and
the viewer's.

Each read is a template run through an `Engine`: the DuckDB file, or ClickHouse, where the
chunks are the exporter's `otel_logs` rows (`{recording_chunks}`, store/log_chunks.py) and
their bytes arrive base64 (`chunk_bytes` decodes them).
"""

from __future__ import annotations

import base64
import binascii

from getgather_otel.store.engine import Engine, Rows

__all__ = [
    "MAX_ANCESTORS",
    "activities_by_prefix",
    "activity_recording_state",
    "activity_title",
    "chunk_bytes",
    "latest_recorded_activity",
    "owner_chunks",
    "owner_pages",
    "recording_chunk_data",
    "recording_owner",
]

# A nested activity's recording is its nearest recorded ancestor's; traces are never this deep.
MAX_ANCESTORS = 64


def chunk_bytes(engine: Engine, data: object) -> bytes:
    """A chunk's stored bytes as a read returned them (ClickHouse's `otel_logs.Body` is base64 text).

    A Body that is not base64 is returned as its text: it holds no zstd either, and decoding the
    chunk (`chunk_codec`) says so for that one chunk instead of failing the whole read here.
    """
    if engine.dialect == "clickhouse":
        try:
            return base64.b64decode(str(data), validate=True)
        except binascii.Error:
            return str(data).encode()
    return bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else str(data).encode()


def activities_by_prefix(engine: Engine, prefix: str) -> list[tuple[str, str]]:
    """(activity id, trace id) of up to two activities whose id starts with `prefix` (lower-cased)."""
    rows = engine.rows(
        "SELECT DISTINCT activity_id, trace_id FROM {activities} "
        "WHERE substring(activity_id, 1, length({prefix:String})) = {prefix:String} ORDER BY activity_id LIMIT 2",
        {"prefix": prefix.lower()},
    ).rows
    return [(str(activity_id), str(trace_id)) for activity_id, trace_id in rows]


def recording_owner(engine: Engine, span_id: str, trace_id: str) -> str | None:
    """The span that owns the recording an activity is part of: itself, or its nearest recorded ancestor."""
    current = span_id
    for _ in range(MAX_ANCESTORS):
        has = engine.rows(
            "SELECT count(*) FROM {recording_chunks} AS c "
            "WHERE c.span_id = {span:String} AND c.trace_id = {trace:String}",
            {"span": current, "trace": trace_id},
        ).first()
        if has and has[0]:
            return current
        parent = engine.rows(
            'SELECT "ParentSpanId" FROM otel_traces WHERE "SpanId" = {span:String} AND "TraceId" = {trace:String} '
            "LIMIT 1",
            {"span": current, "trace": trace_id},
        ).first()
        if not parent or not parent[0]:
            return None
        current = str(parent[0])
    return None


def owner_chunks(engine: Engine, owner: str, trace_id: str) -> list[tuple[str, int, str, bytes, str]]:
    """(page id, sequence, url, compressed data, compression) of every chunk `owner` recorded, page by page in order."""
    rows = engine.rows(
        "SELECT page_id, sequence, url, data, compression FROM {recording_chunks} AS c "
        "WHERE c.span_id = {span:String} AND c.trace_id = {trace:String} ORDER BY page_id, sequence",
        {"span": owner, "trace": trace_id},
    ).rows
    return [
        (str(page_id), int(sequence), str(url or ""), chunk_bytes(engine, data), str(compression))
        for page_id, sequence, url, data, compression in rows
    ]


def recording_chunk_data(engine: Engine, recording_id: str, page_id: str | None) -> list[tuple[str, int, bytes, str]]:
    """(page id, sequence, compressed data, compression) of a recording's chunks (one page's, or all), in order."""
    where, params = "recording_id = {recording:String}", {"recording": recording_id}
    if page_id is not None:
        where, params = where + " AND page_id = {page:String}", {**params, "page": page_id}
    rows = engine.rows(
        f"SELECT page_id, sequence, data, compression FROM {{recording_chunks}} AS c WHERE {where} "
        "ORDER BY page_id, sequence",
        params,
    ).rows
    return [
        (str(page), int(sequence), chunk_bytes(engine, data), str(compression))
        for page, sequence, data, compression in rows
    ]


def owner_pages(engine: Engine, owner: str, trace_id: str) -> Rows:
    """The pages `owner` recorded, per recording: url, chunks, events, times, bytes."""
    return engine.rows(
        """
SELECT c.recording_id AS recording_id, c.page_id AS page_id, argMax(c.url, c.sequence) AS url, count(*) AS chunks,
       sum(c.event_count) AS events, min(c.first_event_time) AS first_event_time,
       max(c.last_event_time) AS last_event_time, sum(c.raw_bytes) AS raw_bytes, sum(c.stored_bytes) AS stored_bytes
FROM {recording_chunks} AS c WHERE c.span_id = {span:String} AND c.trace_id = {trace:String}
GROUP BY c.recording_id, c.page_id ORDER BY first_event_time, page_id
""",
        {"span": owner, "trace": trace_id},
    )


def latest_recorded_activity(engine: Engine) -> str | None:
    """The id of the most recent activity that has a browser recording, if any."""
    row = engine.rows(
        "SELECT activity_id FROM {activities} WHERE has_recording ORDER BY start_time DESC, activity_id LIMIT 1"
    ).first()
    return str(row[0]) if row else None


def activity_title(engine: Engine, activity_id: str) -> tuple[str, str | None] | None:
    """(name, brand id) of an activity, for a replay's title."""
    row = engine.rows(
        "SELECT name, brand_id FROM {activities} WHERE activity_id = {activity:String} LIMIT 1",
        {"activity": activity_id},
    ).first()
    return (str(row[0]), row[1]) if row else None


def activity_recording_state(engine: Engine, activity_id: str) -> tuple[str, str | None] | None:
    """(trace id, why its recording was pruned or None) of an activity; None when there is no such activity."""
    row = engine.rows(
        "SELECT trace_id, recording_pruned FROM {activities} WHERE activity_id = {activity:String} LIMIT 1",
        {"activity": activity_id},
    ).first()
    return (str(row[0]), row[1]) if row else None
