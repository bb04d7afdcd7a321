"""Recordings: one per activity that uses a browser, one page stream per tab it touched.

The owner of a recording is always a root activity (a tool call, or a top-level
`activity()` block): a nested activity such as "login" inside a tool call is part of its
tool's recording, marked inside each stream by custom rrweb events at its start and end,
rather than splitting the stream. This module knows nothing about browsers: recorders
(`recorder.py`) append validated events to `PageStream`s and the activity hooks here
finish a recording just before its activity's span ends.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from opentelemetry.util.types import AttributeValue

from getgather_otel.capture import activity as activities
from getgather_otel.capture import attributes as attr
from getgather_otel.capture.activity import Activity
from getgather_otel.recording import rrweb_events
from getgather_otel.recording.chunks import Chunk, ChunkConsumer

__all__ = [
    "PageStream",
    "Recording",
    "add_sink",
    "custom_event",
    "install_activity_hooks",
    "recording_for",
    "remove_sink",
]

_sinks: tuple[ChunkConsumer, ...] = ()
_unsinkable_chunks = 0


def add_sink(sink: ChunkConsumer) -> None:
    """Send cut chunks to `sink` too (DuckDB, OTLP logs); with no sink at all they are counted and dropped."""
    global _sinks
    _sinks = (*_sinks, sink)


def remove_sink(sink: ChunkConsumer) -> None:
    global _sinks
    _sinks = tuple(s for s in _sinks if s is not sink)


def _submit(chunk: Chunk) -> None:
    global _unsinkable_chunks
    sinks = _sinks
    if not sinks:
        _unsinkable_chunks += 1
        return
    for sink in sinks:
        sink.submit(chunk)


def custom_event(tag: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An rrweb custom event (type 5) stamped now, on the same clock as the page's `Date.now()`."""
    return {"type": rrweb_events.CUSTOM, "timestamp": int(time.time() * 1000), "data": {"tag": tag, "payload": payload}}


class PageStream:
    """One page's events within one recording, cut into chunks as they accumulate.

    Appended to on the browser's event loop; cut from there and from `flush_all()` on
    any thread, hence the lock.
    """

    def __init__(
        self,
        recording: Recording,
        page_id: str,
        url: str,
        *,
        interval_s: float,
        max_chunk_bytes: int,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.recording = recording
        self.page_id = page_id
        self.url = url
        self.bytes = 0
        self._interval_s = interval_s
        self._max_chunk_bytes = max_chunk_bytes
        self._loop = loop
        self._events: list[dict[str, Any]] = []
        self._chunk_bytes = 0
        self._sequence = 0
        self._generation = 0
        self._lock = threading.Lock()

    def add(self, events: list[dict[str, Any]], approx_bytes: int) -> None:
        """Append validated events; cuts before each full snapshot and at the size bound."""
        per_event = approx_bytes // max(len(events), 1)
        with self._lock:
            was_empty = not self._events
            for event in events:
                if event["type"] == rrweb_events.FULL_SNAPSHOT:
                    self._cut_before_snapshot_locked()
                self._events.append(event)
                self._chunk_bytes += per_event
            self.bytes += approx_bytes
            self.recording.count(len(events), approx_bytes)
            if self._chunk_bytes >= self._max_chunk_bytes:
                self._cut_locked()
            elif was_empty and self._events:
                self._schedule_interval_cut()

    def add_marker(self, event: dict[str, Any]) -> None:
        """Append a custom event made here (span boundaries); not counted as page traffic."""
        with self._lock:
            self._events.append(event)

    def cut(self) -> None:
        with self._lock:
            self._cut_locked()

    def _cut_before_snapshot_locked(self) -> None:
        # Only our own markers so far (a stream's start): they belong with the snapshot.
        if all(event["type"] == rrweb_events.CUSTOM for event in self._events):
            return
        # rrweb emits Meta right before FullSnapshot: the Meta starts the new chunk with it.
        if self._events[-1]["type"] == rrweb_events.META:
            meta = self._events.pop()
            self._cut_locked()
            self._events.append(meta)
        else:
            self._cut_locked()

    def _cut_locked(self) -> None:
        self._generation += 1
        if not self._events:
            return
        events, self._events = self._events, []
        chunk_bytes, self._chunk_bytes = self._chunk_bytes, 0
        recording = self.recording
        _submit(
            Chunk(
                trace_id=recording.trace_id,
                span_id=recording.span_id,
                recording_id=recording.recording_id,
                page_id=self.page_id,
                sequence=self._sequence,
                events=events,
                approx_bytes=max(chunk_bytes, 1),
                url=self.url,
            )
        )
        self._sequence += 1

    def _schedule_interval_cut(self) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        generation = self._generation

        def cut_if_unchanged() -> None:
            with self._lock:
                if self._generation == generation:
                    self._cut_locked()

        self._loop.call_later(self._interval_s, cut_if_unchanged)


class Recording:
    """The recording of one root activity: its id, its page streams and its counters."""

    def __init__(self, activity: Activity) -> None:
        self.activity = activity
        self.recording_id = uuid.uuid4().hex
        self.trace_id = activity.trace_id
        self.span_id = activity.activity_id
        self.streams: list[PageStream] = []
        self.ended = False
        self.events = 0
        self.bytes = 0
        self.dropped_events = 0
        self.redactions: Counter[str] = Counter()
        self._finish_callbacks: list[Callable[[Recording], None]] = []
        self._lock = threading.Lock()

    def new_stream(
        self, page_id: str, url: str, *, interval_s: float, max_chunk_bytes: int, loop: asyncio.AbstractEventLoop | None
    ) -> PageStream:
        stream = PageStream(self, page_id, url, interval_s=interval_s, max_chunk_bytes=max_chunk_bytes, loop=loop)
        stream.add_marker(
            custom_event(attr.TAG_ACTIVITY_START, {"activity_id": self.span_id, "name": self.activity.name})
        )
        with self._lock:
            self.streams.append(stream)
        return stream

    def count(self, events: int, approx_bytes: int) -> None:
        with self._lock:
            self.events += events
            self.bytes += approx_bytes

    def count_dropped(self, events: int) -> None:
        with self._lock:
            self.dropped_events += events

    def count_redactions(self, redactions: Counter[str]) -> None:
        """What the privacy defaults redacted in this recording's pages, by kind (the audit)."""
        with self._lock:
            self.redactions.update(redactions)

    def mark(self, tag: str, payload: dict[str, Any]) -> None:
        """Write a span-boundary custom event into every stream of this recording."""
        for stream in list(self.streams):
            stream.add_marker(custom_event(tag, payload))

    def on_finish(self, callback: Callable[[Recording], None]) -> None:
        self._finish_callbacks.append(callback)

    def finish(self) -> None:
        """Put the recording's ids and counts on the activity span (still open) and tell its recorders.

        The audit (`getgather.privacy.redactions.*`) holds what was masked until now: the
        checkpoint a page takes as its activity ends is stored with the activity, but its counts
        arrive after this, so masks only that checkpoint holds (CSSOM rules a page's script
        inserted, which the isolated world sees only in a fresh snapshot) are not counted.
        """
        self.ended = True
        self.mark(attr.TAG_ACTIVITY_END, {"activity_id": self.span_id, "name": self.activity.name})
        with self._lock:
            summary: dict[str, AttributeValue] = {
                attr.RECORDING_ID: self.recording_id,
                attr.RECORDING_PAGES: len({stream.page_id for stream in self.streams}),
                attr.RECORDING_EVENTS: self.events,
                attr.RECORDING_BYTES: self.bytes,
                attr.RECORDING_DROPPED_EVENTS: self.dropped_events,
            }
            audit = {attr.PRIVACY_REDACTIONS_PREFIX + kind: n for kind, n in sorted(self.redactions.items())}
        self.activity.set_attributes({**summary, **audit})
        self.activity.add_event(attr.EVENT_RECORDING_STOP, summary)
        for callback in self._finish_callbacks:
            callback(self)

    def cut_all(self) -> None:
        for stream in list(self.streams):
            stream.cut()


_by_root: dict[Activity, Recording] = {}
_registry_lock = threading.Lock()


def recording_for(root: Activity) -> Recording:
    """The recording of root activity `root`, started (with its span event) on first use."""
    with _registry_lock:
        recording = _by_root.get(root)
        if recording is None:
            recording = _by_root[root] = Recording(root)
            root.add_event(attr.EVENT_RECORDING_START, {attr.RECORDING_ID: recording.recording_id})
        return recording


def _on_activity_start(started: Activity) -> None:
    if _by_root and started.parent is not None:
        recording = _by_root.get(started.root)
        if recording is not None:
            recording.mark(attr.TAG_ACTIVITY_START, {"activity_id": started.activity_id, "name": started.name})


def _on_activity_end(ending: Activity) -> None:
    if not _by_root:
        return
    if ending.parent is None:
        with _registry_lock:
            recording = _by_root.pop(ending, None)
        if recording is not None:
            recording.finish()
        return
    recording = _by_root.get(ending.root)
    if recording is not None:
        recording.mark(attr.TAG_ACTIVITY_END, {"activity_id": ending.activity_id, "name": ending.name})


def install_activity_hooks() -> None:
    activities.add_lifecycle_hooks(_on_activity_start, _on_activity_end)
