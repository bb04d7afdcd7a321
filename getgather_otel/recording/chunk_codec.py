"""The stored form of a chunk's events: one JSON array, compressed whole with zstd.

Per-event packing compresses far worse than one array (BENCHMARKS.md); compression runs on a
sink's writer thread, never on the browser's event loop.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import zstandard

__all__ = [
    "COMPRESSION",
    "ZSTD_LEVEL",
    "DamagedChunkError",
    "damage_in",
    "decode",
    "decompress_json",
    "encode",
    "loads",
]

COMPRESSION = "zstd"
ZSTD_LEVEL = 3


def encode(events: list[dict[str, Any]]) -> bytes:
    """The raw rrweb JSON of a chunk: a JSON array of events, compact, UTF-8.

    orjson writes it ~6x faster than the standard library's `json` (a 20,000-row snapshot,
    10.5 MB: 37.5 ms against 216 ms, `bench/rrweb_json.py`, BENCHMARKS.md section 8), and the writer thread holds the
    GIL that the browser's event loop needs meanwhile. JavaScript text may hold unpaired UTF-16
    surrogates, which UTF-8 cannot encode (orjson refuses them, as it refuses integers past 64
    bits): such events are written by `json` with each of those code points as `?`, never lost.
    """
    try:
        return orjson.dumps(events)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")


def loads(text: str | bytes) -> Any:
    """rrweb JSON (a recorder payload, a chunk) as Python objects; raises ValueError (or
    RecursionError) on what is not JSON.

    orjson parses a 5,000-row snapshot's 2.6 MB 1.6x faster than `json` (50 against 79 ms,
    `bench/rrweb_json.py`, BENCHMARKS.md section 8), on the event loop the tool's own browser
    calls wait on. Text orjson refuses and JSON allows (unpaired surrogate escapes,
    which `JSON.stringify` writes for broken page text) is parsed by `json`, as before.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class DamagedChunkError(ValueError):
    """A stored chunk that cannot be decoded: its data is not zstd, or not the JSON array of
    events it was made from (stored by an older collector, cut short, a disk fault). The message
    says why; each reader says which chunk and goes on without it where the rest is of use."""


def decompress_json(data: bytes, compression: str) -> bytes:
    """A stored chunk's events as the JSON array text they were compressed from (served as is).

    Raises DamagedChunkError when it is not: the one check every reader relies on, so that a
    damaged chunk is one sentence, never a zstandard traceback (or, in the viewer's stream, a
    body broken off mid-array: the text is checked to be an array before it is served).
    """
    if compression != COMPRESSION:
        raise DamagedChunkError(f"its compression {compression!r} is unknown (only {COMPRESSION!r} is written)")
    try:
        text = bytes(zstandard.ZstdDecompressor().decompress(data))
    except zstandard.ZstdError as error:
        raise DamagedChunkError(f"its data is not zstd-compressed ({error})") from None
    stripped = text.strip()
    if not (stripped.startswith(b"[") and stripped.endswith(b"]")):
        raise DamagedChunkError("its data does not decompress to a JSON array of events")
    return text


def decode(data: bytes, compression: str) -> list[dict[str, Any]]:
    """The events of a stored chunk; DamagedChunkError when its data is not a JSON array of events."""
    text = decompress_json(data, compression)
    try:
        events = loads(text)
    except (ValueError, RecursionError):
        raise DamagedChunkError("its data is not valid JSON once decompressed") from None
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise DamagedChunkError("its data is not a JSON array of events once decompressed")
    return events


def damage_in(message: str) -> str | None:
    """The DamagedChunkError sentence inside a database error's `message`, or None.

    DuckDB reports an exception raised in a Python function (`rrweb_recordings`) as
    "Invalid Input Error: Python exception occurred while executing the UDF: DamagedChunkError:
    ..."; readers show the sentence alone.
    """
    marker = f"{DamagedChunkError.__name__}: "
    at = message.find(marker)
    return message[at + len(marker) :].strip() or None if at >= 0 else None
