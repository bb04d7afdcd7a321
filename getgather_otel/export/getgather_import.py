"""`getgather-otel import-getgather PATH`: getgather's SQLite activity history into a getgather-otel file.

getgather kept `activities (id, brand_id, name, start_time, end_time, execution_time_ms,
created_at)` and `rrweb_recordings (id, activity_id UNIQUE, events_json, event_count,
start_timestamp, end_timestamp, created_at)` in SQLite (`getgather/database/schema.sql`).
Each activity becomes an activity span (its own trace, `activity NAME`, kind `tool`, brand,
name, start and duration, getgather's id and `created_at` as attributes) built by the same
column builder as live spans (`TraceRows`); each recording becomes chunks of one page,
cut before each full snapshot and compressed by the same codec as live recordings
(`chunks_to_arrow`), linked to its activity's span. So an imported activity shows up in
`activities`, `stats`, the viewer and `replay` like one recorded here.

Ids are derived from the row itself (sha256 of getgather's id, brand, name, start time and
`created_at`), so importing the same file again adds nothing, and two getgather databases
whose ids overlap do not collide. A row that cannot be read (a wrong type, a time that is
not a time, events that are not rrweb events, a recording of a missing activity) is
skipped and counted with the reason; every row is imported whole or not at all. Everything
is added in one transaction under `<db>.lock`, like the Parquet import (`parquet.py`),
skipping spans and chunks the file already has. SQLite is read with Python's `sqlite3`
(read-only); DuckDB's sqlite extension cannot be downloaded here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from getgather_otel.capture import attributes as attr
from getgather_otel.export.chunk_rows import chunks_to_arrow
from getgather_otel.recording import rrweb_events
from getgather_otel.recording.chunk_codec import encode
from getgather_otel.recording.chunks import Chunk
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.scrub import scrub_urls
from getgather_otel.recording.urls import UrlRedactor
from getgather_otel.store.errors import StoreError
from getgather_otel.store.maintenance.compaction import exclusive_connection
from getgather_otel.store.progress import Progress, quiet
from getgather_otel.store.tables import OTEL_TRACES, RECORDING_CHUNKS
from getgather_otel.store.write.arrow_spans import TraceRows, resource_columns
from getgather_otel.version import __version__

__all__ = ["MAX_ELAPSED_MS", "GetgatherImportError", "ImportResult", "MalformedRowError", "import_getgather"]

SOURCE = "getgather"
SERVICE_NAME = "getgather"
SCOPE = ("getgather_otel.import_getgather", __version__)
PAGE_ID = "getgather"
BATCH_RECORDINGS = 200
MAX_REASONS = 20
_EPOCH = datetime(1970, 1, 1)
MAX_ELAPSED_MS = 366 * 24 * 3600 * 1000
_ACTIVITY_COLUMNS = ("id", "brand_id", "name", "start_time", "end_time", "execution_time_ms", "created_at")
_RECORDING_COLUMNS = ("id", "activity_id", "events_json", "created_at")


class GetgatherImportError(StoreError):
    """The source is not a getgather database, or the import failed as a whole (nothing was added)."""


class MalformedRowError(ValueError):
    """One source row cannot be imported; the message says which value and why."""


@dataclass
class ImportResult:
    """What an import did: rows found, added, already there, and skipped (with reasons)."""

    activities_read: int = 0
    activities_added: int = 0
    recordings_read: int = 0
    recordings_added: int = 0
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    skipped_by_table: Counter[str] = field(default_factory=Counter)

    def skip(self, table: str, row_id: object, reason: str) -> None:
        self.skipped += 1
        self.skipped_by_table[table] += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(f"{table} id {row_id!r}: {reason}")

    def summary(self) -> str:
        text = (
            f"{self.activities_added} of {self.activities_read} activities and "
            f"{self.recordings_added} of {self.recordings_read} recordings added "
            f"({self.activities_read - self.activities_added - self.skipped_by_table['activities']} activities and "
            f"{self.recordings_read - self.recordings_added - self.skipped_by_table['rrweb_recordings']} recordings "
            "were already there)"
        )
        if self.skipped:
            text += f"; {self.skipped} malformed row(s) skipped"
        return text


@dataclass(frozen=True)
class _Activity:
    """A getgather activity row, checked, with the ids it gets here."""

    source_id: int
    brand_id: str
    name: str
    start: datetime
    end: datetime | None
    created_at: datetime
    trace_id: str
    span_id: str
    recording: dict[str, Any] = field(default_factory=dict)


def _timestamp(value: object, column: str) -> datetime:
    """A getgather TIMESTAMP (ISO text from `datetime.isoformat()` or SQLite's CURRENT_TIMESTAMP) as naive UTC."""
    if not isinstance(value, str):
        raise MalformedRowError(f"{column} is {type(value).__name__}, not a timestamp text")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MalformedRowError(f"{column} {value[:40]!r} is not a timestamp") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _ns(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _ids(row: dict[str, Any]) -> tuple[str, str]:
    """(trace id, span id) from the row's identity: the same row always gets the same ids."""
    key = "\0".join(str(row[column]) for column in ("id", "brand_id", "name", "start_time", "created_at"))
    digest = hashlib.sha256(f"{SOURCE}-activity\0{key}".encode()).hexdigest()
    return digest[:32], digest[32:48]


def _activity(row: dict[str, Any]) -> _Activity:
    source_id = row["id"]
    if not isinstance(source_id, int) or isinstance(source_id, bool):
        raise MalformedRowError(f"id {source_id!r} is not an integer")
    for column in ("brand_id", "name"):
        if not isinstance(row[column], str):
            raise MalformedRowError(f"{column} is {type(row[column]).__name__}, not text")
    if not row["name"]:
        raise MalformedRowError("name is empty")
    start = _timestamp(row["start_time"], "start_time")
    end = None if row["end_time"] is None else _timestamp(row["end_time"], "end_time")
    if end is None and row["execution_time_ms"] is not None:
        elapsed = row["execution_time_ms"]
        # At most a year: longer (or infinite, or NaN) is no duration of a tool call, and leaves
        # datetime's range.
        if not isinstance(elapsed, (int, float)) or isinstance(elapsed, bool) or not 0 <= elapsed <= MAX_ELAPSED_MS:
            raise MalformedRowError(f"execution_time_ms {elapsed!r} is not a duration")
        try:
            end = start + timedelta(milliseconds=elapsed)
        except OverflowError:
            raise MalformedRowError(f"execution_time_ms {elapsed!r} runs past the year 9999") from None
    if end is not None and end < start:
        raise MalformedRowError(f"end_time {row['end_time']!r} is before start_time {row['start_time']!r}")
    created_at = _timestamp(row["created_at"], "created_at")
    trace_id, span_id = _ids(row)
    return _Activity(source_id, row["brand_id"], row["name"], start, end, created_at, trace_id, span_id)


def _events(text: object) -> list[dict[str, Any]]:
    """getgather's `events_json`, checked to be a non-empty array of rrweb events."""
    if not isinstance(text, (str, bytes)):
        raise MalformedRowError(f"events_json is {type(text).__name__}, not JSON text")
    try:
        events = json.loads(text)
    except ValueError as error:
        raise MalformedRowError(f"events_json is not JSON ({error})") from None
    if not isinstance(events, list) or not events:
        raise MalformedRowError("events_json is not a non-empty JSON array")
    for index, event in enumerate(events):
        if not isinstance(event, dict) or event.get("type") not in rrweb_events.ALL_TYPES:
            raise MalformedRowError(f"event {index} is not an rrweb event (no known 'type')")
        stamp = event.get("timestamp")
        if not isinstance(stamp, (int, float)) or isinstance(stamp, bool) or not 0 <= stamp < 1e14:
            raise MalformedRowError(f"event {index} has no epoch-millisecond 'timestamp'")
    return events


def _pieces(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Events cut before each full snapshot (with the Meta event rrweb sends just before it), as live streams are."""
    start = 0
    for index, event in enumerate(events):
        if event["type"] != rrweb_events.FULL_SNAPSHOT:
            continue
        cut = index - 1 if index and events[index - 1]["type"] == rrweb_events.META else index
        if cut > start:
            yield events[start:cut]
            start = cut
    yield events[start:]


# Imported recordings get the URL redaction of recordings made here (default options).
_URLS = UrlRedactor(RecordingOptions().url_secret_words, redact_fragments=RecordingOptions().redact_url_fragments)


def _recording_chunks(owner: _Activity, row: dict[str, Any]) -> list[Chunk]:
    events = _events(row["events_json"])
    # getgather stored URLs as the page had them: Meta hrefs and URLs inside pages (issue 15).
    scrub_urls(_URLS, events)
    created_at = row["created_at"]
    key = f"{SOURCE}-recording\0{owner.trace_id}\0{row['id']}\0{created_at}"
    recording_id = hashlib.sha256(key.encode()).hexdigest()[:32]
    url = next((str(e.get("data", {}).get("href", "")) for e in events if e["type"] == rrweb_events.META), "")
    chunks = [
        Chunk(
            trace_id=owner.trace_id,
            span_id=owner.span_id,
            recording_id=recording_id,
            page_id=PAGE_ID,
            sequence=sequence,
            events=piece,
            approx_bytes=len(encode(piece)),
            url=url,
        )
        for sequence, piece in enumerate(_pieces(events))
    ]
    owner.recording.update(
        {
            attr.RECORDING_ID: recording_id,
            attr.RECORDING_PAGES: 1,
            attr.RECORDING_EVENTS: len(events),
            attr.RECORDING_BYTES: sum(chunk.approx_bytes for chunk in chunks),
        }
    )
    return chunks


def _spans(activities: list[_Activity]) -> pa.Table:
    rows = TraceRows()
    resource = resource_columns({attr.SERVICE_NAME: SERVICE_NAME})
    for act in activities:
        attributes: dict[str, Any] = {
            attr.ACTIVITY_NAME: act.name,
            attr.ACTIVITY_KIND: attr.KIND_TOOL,
            attr.BRAND_ID: act.brand_id,
            attr.IMPORT_SOURCE: SOURCE,
            attr.IMPORT_ID: act.source_id,
            attr.IMPORT_CREATED_AT: act.created_at.isoformat(sep=" "),
            **act.recording,
        }
        status = ("Unset", "")
        if act.end is None:
            attributes[attr.ERROR_TYPE] = "unfinished"
            status = ("Error", "getgather recorded no end_time for this activity")
        start = _ns(act.start)
        rows.add_span(
            start,
            _ns(act.end) if act.end is not None else start,
            (act.trace_id, act.span_id, ""),
            "",
            f"activity {act.name}",
            "Internal",
            resource,
            SCOPE,
            attributes,
            status,
        )
    return rows.to_table()


def _rows(source: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
    for values in cursor:
        yield dict(zip(columns, values, strict=True))


def _open_source(path: Path) -> tuple[sqlite3.Connection, bool]:
    """getgather's database, read-only; and whether it has `rrweb_recordings`."""
    if not path.is_file():
        raise GetgatherImportError(f"no getgather database at {path}")
    try:
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        tables = {
            name: {column for (_, column, *_rest) in source.execute(f"PRAGMA table_info({name})")}
            for (name,) in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        }
    except sqlite3.DatabaseError as error:
        raise GetgatherImportError(f"{path} is not a SQLite database: {error}") from None
    missing = set(_ACTIVITY_COLUMNS) - tables.get("activities", set())
    if missing:
        source.close()
        raise GetgatherImportError(
            f"{path} has no getgather `activities` table (missing: {', '.join(sorted(missing))}); "
            "give the SQLite file getgather wrote"
        )
    return source, set(_RECORDING_COLUMNS) <= tables.get("rrweb_recordings", set())


def _insert_new(conn: duckdb.DuckDBPyConnection, table: str, rows: pa.Table, key: tuple[str, ...]) -> list[str]:
    """Insert the rows of `rows` that `table` does not have yet (by `key`); returns the first key of each added row."""
    if rows.num_rows == 0:
        return []
    matches = " AND ".join(f'd."{column}" = s."{column}"' for column in key)
    conn.register("_getgather_import", rows)
    try:
        added = conn.execute(
            f"INSERT INTO {table} SELECT s.* FROM _getgather_import AS s "
            f'WHERE NOT EXISTS (SELECT 1 FROM {table} AS d WHERE {matches}) RETURNING "{key[0]}"'
        ).fetchall()
    finally:
        conn.unregister("_getgather_import")
    return [str(value) for (value,) in added]


def import_getgather(db: Path, source_path: Path, *, wait_s: float = 30.0, progress: Progress = quiet) -> ImportResult:
    """Add getgather's activities and recordings from the SQLite file `source_path` to `db` (created if missing)."""
    source, has_recordings = _open_source(source_path)
    result = ImportResult()
    activities: dict[int, _Activity] = {}
    try:
        for row in _rows(source, "activities", _ACTIVITY_COLUMNS):
            result.activities_read += 1
            try:
                checked = _activity(row)
            except MalformedRowError as error:
                result.skip("activities", row["id"], str(error))
                continue
            activities[checked.source_id] = checked
        progress(f"read {result.activities_read} activities from {source_path}")
        db.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_connection(db, wait_s) as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                if has_recordings:
                    _import_recordings(conn, source, activities, result, progress)
                spans = _insert_new(conn, OTEL_TRACES.name, _spans(list(activities.values())), ("SpanId", "TraceId"))
                result.activities_added = len(spans)
                conn.execute("COMMIT")
            except BaseException as error:
                conn.execute("ROLLBACK")
                if isinstance(error, StoreError) or not isinstance(error, Exception):
                    raise
                raise GetgatherImportError(
                    f"cannot import {source_path} into {db} (nothing was added): {error}"
                ) from error
    except sqlite3.DatabaseError as error:
        raise GetgatherImportError(f"cannot read {source_path} (nothing was added): {error}") from None
    finally:
        source.close()
    return result


def _import_recordings(
    conn: duckdb.DuckDBPyConnection,
    source: sqlite3.Connection,
    activities: dict[int, _Activity],
    result: ImportResult,
    progress: Progress,
) -> None:
    batch: list[Chunk] = []
    added: set[str] = set()

    def flush() -> None:
        key = ("recording_id", "page_id", "sequence")
        added.update(_insert_new(conn, RECORDING_CHUNKS.name, chunks_to_arrow(batch), key))
        batch.clear()

    pending = 0
    for row in _rows(source, "rrweb_recordings", _RECORDING_COLUMNS):
        result.recordings_read += 1
        owner = activities.get(row["activity_id"]) if isinstance(row["activity_id"], int) else None
        if owner is None:
            result.skip(
                "rrweb_recordings", row["id"], f"activity_id {row['activity_id']!r} is not an imported activity"
            )
            continue
        try:
            batch.extend(_recording_chunks(owner, row))
        except MalformedRowError as error:
            result.skip("rrweb_recordings", row["id"], str(error))
            continue
        pending += 1
        if pending >= BATCH_RECORDINGS:
            flush()
            pending = 0
            progress(f"  {result.recordings_read} recordings read")
    flush()
    result.recordings_added = len(added)
