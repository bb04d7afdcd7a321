"""The stored form of a chunk's events: one JSON array, compressed whole with zstd.

Per-event packing compresses far worse than one array (BENCHMARKS.md); compression runs on a
sink's writer thread, never on the browser's event loop.
"""

from __future__ import annotations

import json
from typing import Any

import zstandard

__all__ = ["COMPRESSION", "ZSTD_LEVEL", "decode", "decompress_json", "encode"]

COMPRESSION = "zstd"
ZSTD_LEVEL = 3


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
