"""Validation of what a recorded document sends through the recording binding.

The binding lives in the recorder's isolated world, out of the page's reach, but what the
world sends is built from the page's content, and in the main-world fallback any script on
the page can call the binding with anything. So a payload is accepted only as `js/world.js`
builds it (`{"v":1,"doc":..., "dropped":n, "masked":{kind: n}, "typed":[...], "events":[...]}` from a top document,
`"messages":[...]` of rrweb's cross-origin-iframe messages from a child frame), within size
bounds, with well-formed rrweb events; anything else is rejected whole and counted. Nothing
in a payload says which recording or activity the events belong to: that comes from which
page and frame called, on the Python side.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from getgather_otel.capture import attributes as attr
from getgather_otel.recording import rrweb_events
from getgather_otel.recording.chunk_codec import loads
from getgather_otel.recording.options import PAGE_MASK_KINDS
from getgather_otel.recording.scrub import scrub_urls
from getgather_otel.recording.urls import UrlRedactor

__all__ = [
    "MAX_CLOCK_SKEW_MS",
    "MAX_DOC_ID_CHARS",
    "MAX_EVENTS_PER_PAYLOAD",
    "MAX_PAYLOAD_ID_CHARS",
    "Payload",
    "PayloadRejectedError",
    "parse",
    "segment_marker",
]

MAX_DOC_ID_CHARS = 64
MAX_PAYLOAD_ID_CHARS = 96
MAX_EVENTS_PER_PAYLOAD = 10_000
# Page clocks may differ a little from ours, never by a day.
MAX_CLOCK_SKEW_MS = 24 * 3600 * 1000


class PayloadRejectedError(ValueError):
    """A binding call that is not a well-formed recorder payload."""


@dataclass(frozen=True)
class Payload:
    doc: str
    # Unique per binding call; a payload sent again after a hand-over or drain repeats it.
    id: str | None
    events: list[dict[str, Any]]
    dropped_in_page: int
    size: int
    # A child frame's payload: rrweb's messages for the parent (`events` are theirs, in order).
    messages: list[dict[str, Any]] | None = None
    # What was redacted, by kind, for the activity's privacy audit: the URLs in the events
    # (`urls.py`) and `masked`.
    redactions: Counter[str] = field(default_factory=Counter)
    # What the document's world masked since its previous payload, by kind (`js/privacy.js`).
    # A child frame's payload counts only these: its URLs are counted when its events reach
    # the parent's payload.
    masked: Counter[str] = field(default_factory=Counter)
    # Values typed into the document's password inputs (`js/privacy.js`): registered as the
    # activity's own secrets, never stored.
    typed: tuple[str, ...] = ()


def parse(raw: object, *, max_payload_bytes: int, max_event_bytes: int, urls: UrlRedactor) -> Payload:
    """Check and normalise one binding call; raises `PayloadRejectedError` with the reason."""
    if not isinstance(raw, str):
        raise PayloadRejectedError(f"payload is {type(raw).__name__}, not a string")
    if len(raw) > max_payload_bytes:
        raise PayloadRejectedError(f"payload of {len(raw)} chars exceeds {max_payload_bytes}")
    try:
        body = loads(raw)
    except (ValueError, RecursionError) as error:
        raise PayloadRejectedError(f"payload is not JSON: {error}") from None
    if not isinstance(body, dict) or body.get("v") != 1:
        raise PayloadRejectedError("payload is not a version 1 recorder payload")
    doc, events, dropped = body.get("doc"), body.get("events"), body.get("dropped", 0)
    messages = body.get("messages")
    if not isinstance(doc, str) or not 0 < len(doc) <= MAX_DOC_ID_CHARS:
        raise PayloadRejectedError("payload has no valid document id")
    if messages is not None:
        events = _message_events(messages)
    if not isinstance(events, list) or len(events) > MAX_EVENTS_PER_PAYLOAD:
        raise PayloadRejectedError("payload events are not a list of bounded length")
    payload_id = body.get("id")
    if payload_id is not None and (not isinstance(payload_id, str) or not 0 < len(payload_id) <= MAX_PAYLOAD_ID_CHARS):
        raise PayloadRejectedError("payload id is not a short string")
    if not isinstance(dropped, int) or isinstance(dropped, bool) or dropped < 0:
        raise PayloadRejectedError("payload dropped count is not a non-negative integer")
    masked = _masked(body.get("masked"))
    typed = _typed(body.get("typed"))
    now_ms = time.time() * 1000
    for event in events:
        _check_event(event, now_ms)
    # A single event larger than the bound can only be measured by serialising it; the
    # payload size bounds the work, and only payloads big enough to hold one are checked.
    # Measured as the page measures it (JSON.stringify: compact, non-ASCII kept), so a part
    # the page sized to fit is not refused here.
    if len(raw) > max_event_bytes:
        for event in events:
            if len(json.dumps(event, separators=(",", ":"), ensure_ascii=False)) > max_event_bytes:
                raise PayloadRejectedError(f"an event exceeds {max_event_bytes} bytes")
    redactions = scrub_urls(urls, events)
    if masked:
        redactions.update(masked)
    return Payload(
        doc=doc,
        id=payload_id,
        events=events,
        dropped_in_page=dropped,
        size=len(raw),
        messages=messages,
        redactions=redactions,
        masked=masked,
        typed=typed,
    )


MAX_TYPED_VALUES = 16
MAX_TYPED_CHARS = 256


def _typed(typed: object) -> tuple[str, ...]:
    """A payload's `typed` values: absent, or a few short strings. A page calling the binding in
    the main-world fallback can send any; at worst it redacts more of its own activity."""
    if typed is None:
        return ()
    if not isinstance(typed, list) or len(typed) > MAX_TYPED_VALUES:
        raise PayloadRejectedError("payload typed values are not a short list")
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_TYPED_CHARS for v in typed):
        raise PayloadRejectedError("payload typed values are not short strings")
    return tuple(typed)


def _masked(masked: object) -> Counter[str]:
    """A payload's `masked` counts: absent, or known kinds with non-negative integer counts."""
    if masked is None:
        return Counter()
    if not isinstance(masked, dict) or len(masked) > len(PAGE_MASK_KINDS):
        raise PayloadRejectedError("payload masked counts are not an object of kinds")
    for kind, n in masked.items():
        if kind not in PAGE_MASK_KINDS:
            raise PayloadRejectedError(f"payload masked counts name an unknown kind {str(kind)[:40]!r}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise PayloadRejectedError("payload masked counts are not non-negative integers")
    return Counter(masked)


def _message_events(messages: object) -> list[Any]:
    """The rrweb events inside a child frame's messages (`{type: "rrweb", event, origin, isCheckout}`)."""
    if not isinstance(messages, list) or len(messages) > MAX_EVENTS_PER_PAYLOAD:
        raise PayloadRejectedError("payload messages are not a list of bounded length")
    for message in messages:
        well_formed = isinstance(message, dict) and message.get("type") == "rrweb"
        if not well_formed or not isinstance(message.get("origin"), str):
            raise PayloadRejectedError("a child frame message is not an rrweb message")
    return [message.get("event") for message in messages]


def _check_event(event: object, now_ms: float) -> None:
    if not isinstance(event, dict):
        raise PayloadRejectedError("an event is not an object")
    kind, timestamp, data = event.get("type"), event.get("timestamp"), event.get("data")
    if not isinstance(kind, int) or isinstance(kind, bool) or kind not in rrweb_events.ALL_TYPES:
        raise PayloadRejectedError(f"unknown event type {kind!r}")
    if (
        not isinstance(timestamp, (int, float))
        or isinstance(timestamp, bool)
        or not math.isfinite(timestamp)
        or abs(timestamp - now_ms) > MAX_CLOCK_SKEW_MS
    ):
        raise PayloadRejectedError("an event has no plausible timestamp")
    if not isinstance(data, dict):
        raise PayloadRejectedError("an event has no data object")
    if kind == rrweb_events.META and not isinstance(data.get("href", ""), str):
        raise PayloadRejectedError("a Meta event's href is not a string")
    if kind == rrweb_events.CUSTOM and not isinstance(data.get("tag"), str):
        raise PayloadRejectedError("a custom event has no tag")


def segment_marker(event: dict[str, Any]) -> int | None:
    """The segment number of a `getgather.segment` marker event, else None."""
    if event["type"] != rrweb_events.CUSTOM or event["data"].get("tag") != attr.TAG_SEGMENT:
        return None
    payload = event["data"].get("payload")
    segment = payload.get("segment") if isinstance(payload, dict) else None
    return segment if isinstance(segment, int) and not isinstance(segment, bool) else None
