"""Attribution and segments: which recording each page's events belong to.

- A browser context has one owner at a time, the root activity that uses it (`claim`).
  Which page sent events is known from the CDP session they came through, never from the
  payload, so a page can only add to its own stream, and contexts never share streams.
- A new owner gets its own segment: every open page is asked for a checkpoint (a
  `getgather.segment` marker, then a fresh full snapshot, see `js/world.js`), and a page's
  events move to the new owner's stream exactly at that marker, or at the first event of a
  document that began after the claim, so each recording replays on its own. A late payload
  of an older document stays with the previous owner.
- Shared context rule: while its owner activity runs, a context is not taken over; another
  root activity using it meanwhile gets a `browser.context.shared` span event naming the
  owner's recording. After the owner ends, late events still go to its recording for
  `grace_s` (`release` then), and the next activity to use the context becomes the owner.
- Each page stream has a byte budget (`max_bytes_per_page`): events over it are dropped and
  counted on the recording, so a flooding page costs only its own events.

Nothing here talks to the browser: `recorder.py` does, and calls in here.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, deque
from typing import Any

from getgather_otel.capture import attributes as attr
from getgather_otel.capture import secrets
from getgather_otel.capture.activity import Activity
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.payloads import Payload, segment_marker
from getgather_otel.recording.recordings import PageStream, Recording, recording_for

__all__ = ["SEEN_IDS", "Ownership", "PageRoute"]

# Payload ids remembered per page (a payload taken by `drain()` may also arrive by call).
SEEN_IDS = 4096


class PageRoute:
    """Where one page's events go: its stream, the segment switch it is due, its document."""

    def __init__(self, page_id: str) -> None:
        self.page_id = page_id
        self.url = ""
        self.stream: PageStream | None = None
        # (segment, recording, claim time in ms): the switch the page's next events make.
        self.pending: tuple[int, Recording, float] | None = None
        self.doc = ""
        self.seen: set[str] = set()
        self.seen_order: deque[str] = deque()

    def first_time(self, payload_id: str | None) -> bool:
        """False for a payload id routed before; remembers the last SEEN_IDS ids."""
        if payload_id is None:
            return True
        if payload_id in self.seen:
            return False
        self.seen.add(payload_id)
        self.seen_order.append(payload_id)
        if len(self.seen_order) > SEEN_IDS:
            self.seen.discard(self.seen_order.popleft())
        return True


class Ownership:
    """The owner of one browser context and the routing of its pages' events into recordings."""

    def __init__(self, options: RecordingOptions) -> None:
        self.options = options
        self.owner: Recording | None = None
        # Events that arrived while no activity owned the context (not stored).
        self.unowned_events = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._segments = itertools.count(1)
        self._shared_noted: set[str] = set()

    def claim(self, activity: Activity, routes: list[PageRoute]) -> tuple[int, Recording] | None:
        """Make `activity`'s root the owner unless a live activity owns the context.

        Returns (segment, recording) when the owner changed: the caller asks each page in
        `routes` (now due that switch) for a checkpoint with that segment number.
        """
        root = activity.root
        owner = self.owner
        if owner is not None and owner.activity is root:
            return None
        if owner is not None and not owner.ended:
            if root.activity_id not in self._shared_noted:
                self._shared_noted.add(root.activity_id)
                root.add_event(attr.EVENT_CONTEXT_SHARED, {attr.RECORDING_ID: owner.recording_id})
            return None
        recording = recording_for(root)
        self.owner = recording
        self._shared_noted.clear()
        segment = next(self._segments)
        claimed_ms = time.time() * 1000
        for route in routes:
            route.pending = (segment, recording, claimed_ms)
        return segment, recording

    def release(self, recording: Recording, routes: list[PageRoute]) -> None:
        """End of the grace period: the recording gets no more events from this context."""
        if self.owner is recording:
            self.owner = None
        for route in routes:
            if route.stream is not None and route.stream.recording is recording:
                route.stream.cut()
                route.stream = None
        recording.cut_all()

    def open_page(self, route: PageRoute) -> None:
        """A new page of the context: it records into the current owner's recording at once."""
        if self.owner is not None:
            route.stream = self._new_stream(self.owner, route)

    def _new_stream(self, recording: Recording, route: PageRoute) -> PageStream:
        return recording.new_stream(
            route.page_id,
            route.url,
            interval_s=self.options.chunk_interval_s,
            max_chunk_bytes=self.options.max_chunk_bytes,
            loop=self.loop,
        )

    def route(self, route: PageRoute, payload: Payload) -> None:
        """A validated payload of the page's top document, split at its segment switch if due."""
        events = payload.events
        new_doc = payload.doc != route.doc
        route.doc = payload.doc
        batch: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            pending = route.pending
            if pending is not None:
                marker = segment_marker(event)
                # A document that began after the claim never saw the checkpoint: it starts the
                # new segment by itself. One from before (sent late) still belongs to the
                # previous owner.
                began_after_claim = new_doc and index == 0 and event.get("timestamp", 0) >= pending[2]
                if marker == pending[0] or began_after_claim:
                    self._deliver(route, batch, payload)
                    batch = []
                    if route.stream is not None:
                        route.stream.cut()
                    route.stream = self._new_stream(pending[1], route)
                    route.pending = None
                    if marker is not None:
                        continue
            batch.append(event)
        self._deliver(route, batch, payload)
        if payload.dropped_in_page:
            self.count_dropped(route, payload.dropped_in_page)
        if payload.redactions and route.stream is not None:
            route.stream.recording.count_redactions(payload.redactions)
        if payload.typed:
            self.register_typed(route, payload.typed)

    def _deliver(self, route: PageRoute, events: list[dict[str, Any]], payload: Payload) -> None:
        if not events:
            return
        stream = route.stream
        if stream is None:
            self.unowned_events += len(events)
            return
        approx_bytes = payload.size * len(events) // max(len(payload.events), 1)
        if stream.bytes + approx_bytes > self.options.max_bytes_per_page:
            stream.recording.count_dropped(len(events))
            return
        stream.add(events, approx_bytes)

    def count_dropped(self, route: PageRoute, events: int) -> None:
        if route.stream is not None:
            route.stream.recording.count_dropped(events)

    def register_typed(self, route: PageRoute, values: tuple[str, ...]) -> None:
        """Values typed into a password input of the page (or a child frame): the activity's own
        secrets from now on, so wherever the page copies them (a URL, its text) they are scrubbed."""
        if route.stream is not None:
            secrets.register(route.stream.recording.trace_id, values, from_page=True)

    def count_redactions(self, route: PageRoute, redactions: Counter[str]) -> None:
        """What a page's child frame masked: counted on the recording its events go to."""
        if route.stream is not None:
            route.stream.recording.count_redactions(redactions)
