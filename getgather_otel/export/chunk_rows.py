"""A chunk as its `recording_chunks` row: the Arrow encoder shared by the DuckDB and OTLP sinks.

The events are compressed once here (`chunk_codec`), on the sink's thread; the OTLP sink
turns the same rows into log records (`chunk_log_records.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import zstandard

from getgather_otel.capture import secrets
from getgather_otel.recording.chunk_codec import COMPRESSION, ZSTD_LEVEL, decode, encode
from getgather_otel.recording.chunks import Chunk
from getgather_otel.store.tables import RECORDING_CHUNKS
from getgather_otel.store.write.utf8 import utf8_safe

__all__ = ["chunks_to_arrow", "rescrubbed"]


def _utc(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


_SCHEMA = RECORDING_CHUNKS.arrow_schema


def chunks_to_arrow(chunks: list[Chunk]) -> pa.Table:
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    columns: dict[str, list[Any]] = {field.name: [] for field in _SCHEMA}
    for chunk in chunks:
        events, url = chunk.events, chunk.url
        if secrets.has_secrets(chunk.trace_id):  # the tool's own secrets (issue 15), string by string
            # Split values first: a value's first piece alone (>= 4 characters) is also a typed
            # prefix, which scrub_value would redact on its own, leaving the rest unmatched.
            events = secrets.scrub_value(chunk.trace_id, secrets.scrub_split(chunk.trace_id, events)[0])[0]
            url = _scrubbed_url(chunk.trace_id, url)
        raw = encode(events)
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
        columns["url"].append(utf8_safe(url))
        columns["data"].append(data)
    return pa.table(columns, schema=_SCHEMA)


def _scrubbed_url(trace_id: str, url: str) -> str:
    """The chunk row's `url` scrubbed as its events are, typed prefixes included (`scrub_value`).

    A search-as-you-type page puts each keystroke's prefix of a value in its URL
    (`history.replaceState`), and a long URL is cut at `MAX_URL_CHARS`, maybe inside a value:
    the Meta href inside the events lost the prefix, the row's url column kept it (a newcomer's
    break, seen on a flush while the activity ran). One rule for every stored string of a chunk.
    """
    return str(secrets.scrub_value(trace_id, url)[0])


def rescrubbed(rows: pa.Table, trace_id: str, version: int) -> pa.Table:
    """Rows compressed when their trace's secrets were at `version`, scrubbed again if they changed since.

    A value registered after a chunk was compressed (`Activity.add_secret` late in the
    activity, `export/held.py`): each row is decompressed, scrubbed string by string like a
    new chunk, and compressed again; unchanged rows keep their bytes.
    """
    if secrets.version(trace_id) == version or not secrets.has_secrets(trace_id):
        return rows
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    columns = rows.to_pydict()
    for index, (data, compression) in enumerate(zip(columns["data"], columns["compression"], strict=True)):
        events, split = secrets.scrub_split(trace_id, decode(data, compression))  # first: as above
        events, found = secrets.scrub_value(trace_id, events)
        if found or split:
            raw = encode(events)
            columns["data"][index] = compressor.compress(raw)
            columns["raw_bytes"][index] = len(raw)
            columns["stored_bytes"][index] = len(columns["data"][index])
            columns["compression"][index] = COMPRESSION
        columns["url"][index] = _scrubbed_url(trace_id, columns["url"][index])
    return pa.table(columns, schema=_SCHEMA)
