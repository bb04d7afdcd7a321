"""The tool's own secrets: values never stored for the trace they were registered in (issue 15).

A tool call's secret-named arguments (the keys `redaction.Redactor` hides in captured
arguments) and the values code registers (`activity(..., secrets=[...])`,
`Activity.add_secret(value)`) are kept here, in memory only, by trace id. Whatever is stored
for that trace passes `scrub_text` first: span names, attributes, events and status
messages (`export/pipeline.py`, before any exporter sees the span), recording chunks and
their URLs (`export/chunk_rows.py`, before compression). Each value is replaced in its plain,
URL-encoded (as Python, JavaScript and browsers' forms encode), HTML-escaped and JSON-escaped
forms. A chunk's events are scrubbed string by string (`scrub_value`), never as JSON text: a
short numeric secret (a PIN) would otherwise
be cut out of the middle of an event's timestamp. A value protects what is written after it
is registered: a recording chunk cut earlier (at a navigation's full snapshot, or past the
chunk interval) and already written keeps what it held, so register a value before the page
can show it (`secrets=[...]` when the activity starts). Chunks are also written after their
activity ends (a grace period), so a trace's values are kept for `KEEP_S` after they were
last registered, for at most `MAX_TRACES` traces.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from getgather_otel.capture.redaction import REDACTED

__all__ = [
    "KEEP_S",
    "MAX_TRACES",
    "MIN_SECRET_CHARS",
    "forms",
    "has_secrets",
    "register",
    "scrub_text",
    "scrub_value",
]

# Shorter values would redact ordinary text everywhere ("1", "yes").
MIN_SECRET_CHARS = 4
KEEP_S = 900.0
MAX_TRACES = 4096
MAX_SECRETS_PER_TRACE = 256

_lock = threading.Lock()
# trace id -> (last registration, every stored form of every value, longest first)
_traces: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()


def forms(value: str) -> set[str]:
    """Every form `value` may be stored in: plain, URL-encoded, HTML-escaped, and each JSON-escaped.

    URL-encoded the ways pages and browsers do it, not only Python's way: a site's script puts
    a value into a URL with `encodeURIComponent` (which keeps `!*'()`) or `encodeURI`, and a GET
    form is sent in the browser's form encoding (`*` kept, `~` encoded); a stored URL keeps
    whichever form the browser had (a path segment is not re-encoded when nothing in it is redacted).
    """
    base = {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        quote(value, safe="!*'()"),  # encodeURIComponent
        quote(value, safe=";,/?:@&=+$#!*'()"),  # encodeURI
        quote_plus(value, safe="*").replace("~", "%7E"),  # application/x-www-form-urlencoded
        html.escape(value),
        html.escape(value, quote=False),
    }
    out = set(base)
    for form in base:
        out.add(json.dumps(form)[1:-1])
        out.add(json.dumps(form, ensure_ascii=False)[1:-1])
    return {form for form in out if len(form) >= MIN_SECRET_CHARS}


def register(trace_id: str, values: Iterable[object]) -> None:
    """Keep `values` (strings, or numbers as their text) out of everything stored for `trace_id`."""
    new: set[str] = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        text = str(value)
        if len(text) >= MIN_SECRET_CHARS:
            new |= forms(text)
    if not new:
        return
    now = time.monotonic()
    with _lock:
        _expire(now)
        _, known = _traces.pop(trace_id, (now, ()))
        merged = sorted(set(known) | new, key=len, reverse=True)[: MAX_SECRETS_PER_TRACE * 16]
        _traces[trace_id] = (now, tuple(merged))
        while len(_traces) > MAX_TRACES:
            _traces.popitem(last=False)


def _expire(now: float) -> None:
    while _traces:
        trace_id, (when, _) = next(iter(_traces.items()))
        if now - when <= KEEP_S:
            return
        del _traces[trace_id]


def _forms_of(trace_id: str) -> tuple[str, ...]:
    if not _traces:
        return ()
    with _lock:
        entry = _traces.get(trace_id)
    return entry[1] if entry else ()


def has_secrets(trace_id: str) -> bool:
    return bool(_forms_of(trace_id))


def scrub_text(trace_id: str, text: str) -> tuple[str, int]:
    """`text` with the trace's secrets replaced by `[REDACTED]`, and how many were replaced."""
    count = 0
    for form in _forms_of(trace_id):
        if form in text:
            count += text.count(form)
            text = text.replace(form, REDACTED)
    return text, count


def scrub_value(trace_id: str, value: Any) -> tuple[Any, int]:
    """A copy of a decoded JSON value (dicts, lists, strings) with the trace's secrets replaced
    in every string; the value itself when nothing was; and how many were replaced."""
    variants = _forms_of(trace_id)
    if not variants:
        return value, 0
    count = 0

    def walk(item: Any) -> Any:
        nonlocal count
        if isinstance(item, str):
            for form in variants:
                if form in item:
                    count += item.count(form)
                    item = item.replace(form, REDACTED)
            return item
        if isinstance(item, dict):
            return {key: walk(child) for key, child in item.items()}
        if isinstance(item, list):
            return [walk(child) for child in item]
        return item

    scrubbed = walk(value)
    return (scrubbed, count) if count else (value, 0)
