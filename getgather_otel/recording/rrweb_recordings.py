"""getgather's `rrweb_recordings` table, answered from `recording_chunks`.

getgather kept one row per recorded activity with all of its rrweb events as one JSON text
(`id, activity_id, events_json, event_count, start_timestamp, end_timestamp, created_at`,
timestamps in epoch milliseconds). getgather-otel stores a recording as zstd chunks per page,
and DuckDB has no function that decompresses zstd blobs (nor can an extension be downloaded
here), so a view stored in the file could not build `events_json`. `rrweb_recordings` is
therefore a TEMP view over a Python scalar function, added to a connection by
`add_rrweb_recordings`: `getgather-otel sql`, the viewer's `POST /api/sql` and
`getgather_otel.open_database()` add it; a connection opened elsewhere gets it by calling
`getgather_otel.add_rrweb_recordings(conn)`.

One row per recorded activity: `activity_id` is the activity's id (`activities.id`), and
`events_json` holds the events of every page in time order, each with the `page_id` it came
from. The function runs only for the rows a query keeps (a filter on `activity_id` is pushed
below it), so `WHERE activity_id = ?` decompresses one recording.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any

import duckdb
from duckdb.sqltypes import BLOB, INTEGER, VARCHAR

from getgather_otel.recording.chunk_codec import DamagedChunkError, decode, encode
from getgather_otel.store.paths import resolve_db_path
from getgather_otel.store.reader import DEFAULT_WAIT_S, open_for_reading

__all__ = ["FUNCTION", "VIEW", "add_rrweb_recordings", "events_json", "open_database", "rrweb_recordings_view"]

VIEW = "rrweb_recordings"
FUNCTION = "getgather_rrweb_events_json"
PAGE_KEY = "page_id"

_VIEW_SQL = f"""
CREATE OR REPLACE TEMP VIEW {VIEW} AS
SELECT r.id, r.activity_id, {FUNCTION}(r.activity_id, r.data, r.compressions, r.pages, r.sequences) AS events_json,
       r.event_count, r.start_timestamp, r.end_timestamp, r.created_at, r.trace_id
FROM (
    SELECT min(c.recording_id) AS id,
           c.span_id AS activity_id,
           c.trace_id,
           list(c.data ORDER BY c.page_id, c.sequence) AS data,
           list(c.compression ORDER BY c.page_id, c.sequence) AS compressions,
           list(c.page_id ORDER BY c.page_id, c.sequence) AS pages,
           list(c.sequence ORDER BY c.page_id, c.sequence) AS sequences,
           CAST(sum(c.event_count) AS BIGINT) AS event_count,
           epoch_ms(min(c.first_event_time)) AS start_timestamp,
           epoch_ms(max(c.last_event_time)) AS end_timestamp,
           min(c.first_event_time) AS created_at
    FROM recording_chunks AS c
    GROUP BY c.span_id, c.trace_id
) AS r
"""


def events_json(
    activity_id: str, data: list[bytes], compressions: list[str], pages: list[str], sequences: list[int]
) -> str:
    """One recording's chunks (in page, sequence order) as one JSON array in time order, events tagged by page.

    A damaged chunk fails the query with one sentence naming it (DamagedChunkError): a value
    silently missing events would read as the whole recording. Queries that leave `events_json`
    out, or filter that recording away, never decode it.
    """
    events: list[dict[str, Any]] = []
    for blob, compression, page, sequence in zip(data, compressions, pages, sequences, strict=True):
        try:
            decoded = decode(bytes(blob), compression)
        except DamagedChunkError as error:
            raise DamagedChunkError(
                f"rrweb_recordings cannot build the events_json of activity {activity_id}: "
                f"chunk {sequence} of page {page} is damaged: {error}"
            ) from None
        for event in decoded:
            event[PAGE_KEY] = page
            events.append(event)
    events.sort(key=lambda event: event.get("timestamp", 0))  # stable: a page's own order holds on ties
    return encode(events).decode()


def _register(conn: duckdb.DuckDBPyConnection) -> str:
    """Add the function (under a name of its own) and the temp view on it; returns the function's name.

    Functions live in the database instance, which every connection and cursor to one file
    in a process shares, but call back into the Python connection that registered them:
    calling one after that connection closed crashes the process (measured, DuckDB 2.0).
    A name per registration keeps each temp view (per connection) on its own function.
    """
    name = f"{FUNCTION}_{uuid.uuid4().hex[:12]}"
    conn.complete()  # create_function refuses while a result is pending
    conn.create_function(
        name,
        events_json,
        [
            VARCHAR,
            duckdb.list_type(BLOB),
            duckdb.list_type(VARCHAR),
            duckdb.list_type(VARCHAR),
            duckdb.list_type(INTEGER),
        ],
        VARCHAR,
        side_effects=False,
    )
    conn.execute(_VIEW_SQL.replace(FUNCTION, name))
    return name


def add_rrweb_recordings(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Give `conn` the `rrweb_recordings` view, for as long as `conn` is open (call it before your queries).

    Args:
        conn: a DuckDB connection to a getgather-otel file (read-only is enough).

    Returns `conn`. The view decompresses chunks in Python, so it exists only on connections
    given it here (or opened by `open_database`, `getgather-otel sql`, the viewer's SQL API).
    """
    _register(conn)
    return conn


@contextmanager
def rrweb_recordings_view(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """`rrweb_recordings` on `conn` for the length of the block, removed after (for connections that outlive it)."""
    name = _register(conn)
    try:
        yield conn
    finally:
        conn.execute(f"DROP VIEW IF EXISTS temp.{VIEW}")
        conn.complete()
        conn.remove_function(name)


@contextmanager
def open_database(
    path: str | PathLike[str] | None = None, wait_s: float = DEFAULT_WAIT_S
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the getgather-otel file (found as `configure()` finds it), with `rrweb_recordings`.

    Args:
        path: the file; None for $GETGATHER_OTEL_DUCKDB or `./getgather-otel.duckdb`.
        wait_s: seconds to wait while a writer holds the file, like the CLI.

    Raises a `StoreError` subclass (missing, locked past `wait_s`, corrupt, newer schema)
    whose message says what to do. The connection closes when the block ends.
    """
    with open_for_reading(resolve_db_path(path), wait_s) as conn, rrweb_recordings_view(conn):
        yield conn
