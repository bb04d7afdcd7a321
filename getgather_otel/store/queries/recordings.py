"""Reads of recordings: which activity owns one, its chunks, its pages.

`recording_chunks` rows are keyed by the span that owns the recording (a root activity);
nested activities find theirs through their ancestors. These return stored values as they
are (chunk data still compressed): decoding and rendering are `recording/replay.py`'s and
the viewer's.
"""

from __future__ import annotations

from typing import Any

import duckdb

__all__ = [
    "MAX_ANCESTORS",
    "activities_by_prefix",
    "activity_recording_state",
    "activity_title",
    "latest_recorded_activity",
    "owner_chunks",
    "owner_pages",
    "recording_chunk_data",
    "recording_owner",
]

# A nested activity's recording is its nearest recorded ancestor's; traces are never this deep.
MAX_ANCESTORS = 64


def activities_by_prefix(conn: duckdb.DuckDBPyConnection, prefix: str) -> list[tuple[str, str]]:
    """(activity id, trace id) of up to two activities whose id starts with `prefix` (lower-cased)."""
    rows = conn.execute(
        "SELECT DISTINCT activity_id, trace_id FROM activities WHERE activity_id LIKE ? || '%' LIMIT 2",
        [prefix.lower()],
    ).fetchall()
    return [(str(activity_id), str(trace_id)) for activity_id, trace_id in rows]


def recording_owner(conn: duckdb.DuckDBPyConnection, span_id: str, trace_id: str) -> str | None:
    """The span that owns the recording an activity is part of: itself, or its nearest recorded ancestor."""
    current = span_id
    for _ in range(MAX_ANCESTORS):
        has = conn.execute(
            "SELECT count(*) FROM recording_chunks WHERE span_id = ? AND trace_id = ?", [current, trace_id]
        ).fetchone()
        if has and has[0]:
            return current
        parent = conn.execute(
            'SELECT "ParentSpanId" FROM otel_traces WHERE "SpanId" = ? AND "TraceId" = ? LIMIT 1', [current, trace_id]
        ).fetchone()
        if not parent or not parent[0]:
            return None
        current = str(parent[0])
    return None


def owner_chunks(conn: duckdb.DuckDBPyConnection, owner: str, trace_id: str) -> list[tuple[str, str, bytes, str]]:
    """(page id, url, compressed data, compression) of every chunk `owner` recorded, page by page in order."""
    rows = conn.execute(
        "SELECT page_id, url, data, compression FROM recording_chunks WHERE span_id = ? AND trace_id = ? "
        "ORDER BY page_id, sequence",
        [owner, trace_id],
    ).fetchall()
    return [(str(page_id), str(url or ""), bytes(data), str(compression)) for page_id, url, data, compression in rows]


def recording_chunk_data(
    conn: duckdb.DuckDBPyConnection, recording_id: str, page_id: str | None
) -> list[tuple[bytes, str]]:
    """(compressed data, compression) of a recording's chunks (one page's, or all), page by page in order."""
    where, params = "recording_id = ?", [recording_id]
    if page_id is not None:
        where, params = where + " AND page_id = ?", [*params, page_id]
    rows = conn.execute(
        f"SELECT data, compression FROM recording_chunks WHERE {where} ORDER BY page_id, sequence", params
    ).fetchall()
    return [(bytes(data), str(compression)) for data, compression in rows]


def owner_pages(conn: duckdb.DuckDBPyConnection, owner: str, trace_id: str) -> duckdb.DuckDBPyConnection:
    """A cursor over the pages `owner` recorded, per recording: url, chunks, events, times, bytes."""
    return conn.execute(
        """
SELECT recording_id, page_id, arg_max(url, sequence) AS url, count(*) AS chunks, sum(event_count) AS events,
       min(first_event_time) AS first_event_time, max(last_event_time) AS last_event_time,
       sum(raw_bytes) AS raw_bytes, sum(stored_bytes) AS stored_bytes
FROM recording_chunks WHERE span_id = ? AND trace_id = ?
GROUP BY recording_id, page_id ORDER BY min(first_event_time), page_id
""",
        [owner, trace_id],
    )


def latest_recorded_activity(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The id of the most recent activity that has a browser recording, if any."""
    row = conn.execute(
        "SELECT activity_id FROM activities WHERE has_recording ORDER BY start_time DESC LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else None


def activity_title(conn: duckdb.DuckDBPyConnection, activity_id: str) -> tuple[str, str | None] | None:
    """(name, brand id) of an activity, for a replay's title."""
    row: Any = conn.execute("SELECT name, brand_id FROM activities WHERE activity_id = ?", [activity_id]).fetchone()
    return (str(row[0]), row[1]) if row else None


def activity_recording_state(conn: duckdb.DuckDBPyConnection, activity_id: str) -> tuple[str, str | None] | None:
    """(trace id, why its recording was pruned or None) of an activity; None when there is no such activity."""
    row = conn.execute(
        "SELECT trace_id, recording_pruned FROM activities WHERE activity_id = ? LIMIT 1", [activity_id]
    ).fetchone()
    return (str(row[0]), row[1]) if row else None
