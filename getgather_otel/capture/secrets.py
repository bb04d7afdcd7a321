"""The tool's own secrets: values never stored for the trace they were registered in (issue 15).

A tool call's secret-named arguments (the keys `redaction.Redactor` hides in captured
arguments) and the values code registers (`activity(..., secrets=[...])`,
`Activity.add_secret(value)`) are kept here, in memory only, by trace id. Whatever is stored
for that trace passes `scrub_text` first: span names, attributes, events and status
messages (`export/pipeline.py`, before any exporter sees the span), recording chunks and
their URLs (`export/chunk_rows.py`, before compression; `scrub_value`, typed prefixes too, as
for span URL attributes). Each value is replaced in its plain, upper- and lower-cased,
URL-encoded (as Python, JavaScript and browsers' forms encode), HTML-escaped, JSON-escaped
and base64-encoded (inside any base64 text: `base64_forms`) forms, URL-encoded twice
and hex-encoded (values of 6 bytes or more), and percent-encoded
in any letter case and any mix (`p%c3%a4ss`, `p%C3%a4ss+w`:
`url_encoded`, one expression per trace, tried on strings holding `%` or `+`). A chunk's
events are scrubbed string by string (`scrub_value`), never as JSON text: a short numeric
secret (a PIN) would otherwise be cut out of the middle of an event's timestamp. A value
registered late still protects its whole activity: nothing of a running root activity is
stored before it ends (`export/held.py`: its recording chunks and the spans of its trace wait,
bounded), and what was compressed before the value came is scrubbed again (`version`).
Chunks are also written after their activity ends (a grace period), so a trace's values are
kept while an activity of the trace runs (`hold`/`release`, by `capture/activity.py`) and for
`KEEP_S` after that or after they were last registered, whichever is later; of traces without a
running activity, the `MAX_TRACES` most recent are kept (a newcomer's break: 4,096 other traces,
or 15 minutes, ended the protection of a sign-in still waiting for its second factor).

Values code registers are never dropped. Values a page hands over (what was typed into its
password inputs, `segments.Ownership.register_typed`; in the main-world fallback a hostile page
can send any) are kept up to `MAX_PAGE_SECRETS_PER_TRACE` a trace; past that they are refused
(logged once a trace), so a page cannot crowd out what the tool registered. Registering costs
the new value's forms; the expressions over all of a trace's values are built when it is next
scrubbed (300 `add_secret` calls took 7.2 s when each rebuilt everything).
"""

from __future__ import annotations

import base64
import copy
import html
import itertools
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus

from getgather_otel._log import logger
from getgather_otel.capture.redaction import REDACTED
from getgather_otel.capture.secret_values import inline_text_runs, serialized_trees
from getgather_otel.store.write.utf8 import utf8_safe

__all__ = [
    "KEEP_S",
    "MAX_PAGE_SECRETS_PER_TRACE",
    "MAX_PREFIX_CHARS",
    "MAX_TRACES",
    "MIN_BASE64_BYTES",
    "MIN_SECRET_CHARS",
    "base64_forms",
    "forms",
    "has_secrets",
    "hold",
    "prefixes",
    "register",
    "release",
    "scrub_split",
    "scrub_text",
    "scrub_value",
    "url_encoded",
    "version",
]

# Shorter values would redact ordinary text everywhere ("1", "yes").
MIN_SECRET_CHARS = 4
# A page that mirrors an input as it is typed shows every prefix of the value: in recorded page
# text, a prefix of at least MIN_SECRET_CHARS standing as a word of its own is redacted too
# (`prefixes`), the longest one there; prefixes are followed this far into a value.
MAX_PREFIX_CHARS = 128
KEEP_S = 900.0
MAX_TRACES = 4096
MAX_PAGE_SECRETS_PER_TRACE = 256

_lock = threading.Lock()


class _Known:
    """A trace's secrets, whose values never change once made (new values make a new one): when
    last registered or held, the values, how many of them came from pages, and their stored forms. What is
    derived from all of them (`derived`) is built at the first scrub that needs it."""

    __slots__ = ("_derived", "forms", "page_values", "values", "version", "when")

    def __init__(self, when: float, values: frozenset[str], forms: frozenset[str], page_values: int) -> None:
        self.when = when
        self.values = values
        self.forms = forms
        self.page_values = page_values
        self.version = next(_versions)
        self._derived: _Derived | None = None

    def derived(self) -> _Derived:
        """The forms longest first, the expression for the percent-encoded forms in any case
        (None when no value has any), the one for typed prefixes (None when no value is longer
        than MIN_SECRET_CHARS), and what a prefix starts with (a string holding none of them is
        not searched for one). Built once; two threads that both build it get equal ones."""
        derived = self._derived
        if derived is None:
            derived = _Derived(
                tuple(sorted(self.forms, key=len, reverse=True)),
                url_encoded(self.values),
                prefixes(self.values),
                tuple({value[:MIN_SECRET_CHARS] for value in self.values if len(value) > MIN_SECRET_CHARS}),
            )
            self._derived = derived
        return derived


class _Derived(NamedTuple):
    forms: tuple[str, ...]
    encoded: re.Pattern[str] | None
    prefixes: re.Pattern[str] | None
    heads: tuple[str, ...]


# Every change of a trace's values gets a new number (`version`), never reused.
_versions = itertools.count(1)


_traces: OrderedDict[str, _Known] = OrderedDict()
# Characters no URL encoder escapes: a value made of these alone has no percent-encoded form.
_UNRESERVED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _hex_any_case(byte: int) -> str:
    return "%" + "".join(f"[{c}{c.lower()}]" if c.isalpha() else c for c in f"{byte:02X}")


def url_encoded(values: Iterable[str]) -> re.Pattern[str] | None:
    """One expression matching `values` percent-encoded however a page, a server or a browser did it.

    `forms` lists the encodings Python, `encodeURIComponent`, `encodeURI` and form submission
    produce, all with upper-case hex. Other code writes `%c3%a4` for `ä`, escapes a different set
    of characters, or mixes `+` and `%20` for a space: here each character that some encoder
    escapes may appear as itself or as its UTF-8 bytes' escapes in either case (a space also as
    `+`). Letters, digits and `-_.` stay literal: case matters in the value itself. None when no
    value has such a character (its only form is the plain one).
    """
    pieces = []
    for value in sorted(set(values), key=len, reverse=True):
        if _UNRESERVED.issuperset(value) or not _encodable(value):
            continue
        parts = []
        for char in value:
            if char in _UNRESERVED:
                parts.append(re.escape(char))
                continue
            choices = [re.escape(char), "".join(_hex_any_case(b) for b in char.encode("utf-8"))]
            if char == " ":
                choices.append(r"\+")
            parts.append("(?:" + "|".join(choices) + ")")
        pieces.append("".join(parts))
    return re.compile("|".join(pieces)) if pieces else None


# Values at least this many UTF-8 bytes long are also looked for base64-encoded (`base64_forms`):
# a shorter one's pieces are few enough characters to turn up by chance inside a data: image.
MIN_BASE64_BYTES = 6


def base64_forms(value: str) -> set[str]:
    """The characters that encode `value` inside any base64 text, in both alphabets.

    A page or a tool puts a secret into base64 with other bytes around it (`btoa("ada:" + pw)`
    for Basic auth, a JSON blob in a cookie-like token), so the value's own encoding rarely
    stands as it is: where it starts in the encoded bytes (offset 0, 1 or 2 modulo 3) changes
    every character. For each offset, the run of characters that depends on the value's bytes
    alone is a form: found whatever came before or after (a newcomer's break asked for it).
    """
    if not _encodable(value):
        return set()  # its `?` spelling is registered beside it (`register`)
    raw = value.encode("utf-8")
    if len(raw) < MIN_BASE64_BYTES:
        return set()
    out = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = -(-8 * offset // 6)  # the first character holding only the value's bits
        end = 8 * (offset + len(raw)) // 6  # past the last one
        piece = encoded[start:end]
        out.add(piece)
        out.add(piece.replace("+", "-").replace("/", "_"))
    return out


def forms(value: str) -> set[str]:
    """Every form `value` may be stored in: plain, upper- and lower-cased (a page that shows it
    with `toUpperCase()`), URL-encoded, HTML-escaped, each JSON-escaped, and base64-encoded.

    URL-encoded the ways pages and browsers do it, not only Python's way: a site's script puts
    a value into a URL with `encodeURIComponent` (which keeps `!*'()`) or `encodeURI`, and a GET
    form is sent in the browser's form encoding (`*` kept, `~` encoded); a stored URL keeps
    whichever form the browser had (a path segment is not re-encoded when nothing in it is redacted).
    """
    encodable = _encodable(value)  # else only the spellings that need no UTF-8 (`register` adds the `?` one)
    base = {value, html.escape(value), html.escape(value, quote=False)}
    if encodable:
        base |= {
            quote(value, safe=""),
            quote(value),
            quote_plus(value),
            quote(value, safe="!*'()"),  # encodeURIComponent
            quote(value, safe=";,/?:@&=+$#!*'()"),  # encodeURI
            quote_plus(value, safe="*").replace("~", "%7E"),  # application/x-www-form-urlencoded
        }
    base |= {cased for case in (value.upper(), value.lower()) for cased in (case, html.escape(case))}
    out = set(base)
    for form in base:
        out.add(json.dumps(form)[1:-1])
        out.add(json.dumps(form, ensure_ascii=False)[1:-1])
    out |= base64_forms(value)
    if encodable:
        # Encoded twice (a URL put inside another URL's query, `?next=/login%3Fp%3D...`) and as hex
        # (a page's or a server's own encoding): a newcomer's break found both stored in clear.
        once = quote(value, safe="")
        out |= {quote(once, safe=""), quote_plus(quote_plus(value))}
        raw = value.encode("utf-8")
        if len(raw) >= MIN_BASE64_BYTES:
            out |= {raw.hex(), raw.hex().upper()}
    return {form for form in out if len(form) >= MIN_SECRET_CHARS}


def _encodable(value: str) -> bool:
    """Whether UTF-8 can encode `value` (a string with an unpaired surrogate cannot)."""
    return utf8_safe(value) is value


def prefixes(values: Iterable[str]) -> re.Pattern[str] | None:
    """One expression matching the longest prefix (at least MIN_SECRET_CHARS) of any of `values`
    that stands as a word: not inside a longer word, not followed by a word character.

    What a page that copies an input into its text as it is typed shows, one keystroke at a
    time (`p`, `pa`, `pas`, ...): the whole value is a form, each prefix is not. A word of its
    own only, and only the longest prefix there (an atomic group: `https://other` is not
    `https:/` of a value `https://x`), so ordinary text loses at most whole words that begin a
    value. Prefixes shorter than MIN_SECRET_CHARS stay, as values that short are not registered.
    """
    pieces = []
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) <= MIN_SECRET_CHARS:
            continue
        capped = value[:MAX_PREFIX_CHARS]
        nested = ""
        for char in reversed(capped[MIN_SECRET_CHARS:]):
            nested = "(?:" + re.escape(char) + nested + ")?"
        piece = "(?>" + re.escape(capped[:MIN_SECRET_CHARS]) + nested + r")(?!\w)"
        if len(value) > MAX_PREFIX_CHARS:  # typed past the cap: the capped prefix, whatever follows
            piece = re.escape(capped) + "|" + piece
        pieces.append(piece)
    return re.compile(r"(?<!\w)(?:" + "|".join(pieces) + ")") if pieces else None


def register(trace_id: str, values: Iterable[object], *, from_page: bool = False) -> None:
    """Keep `values` (strings, UTF-8 bytes, or numbers as their text) out of everything stored for `trace_id`.

    `from_page`: handed over by a page (typed into its password inputs), kept up to
    MAX_PAGE_SECRETS_PER_TRACE for the trace; values code registers are always kept.
    """
    new: set[str] = set()
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        text = str(value)
        if len(text) >= MIN_SECRET_CHARS:
            new.add(text)
            # Not valid Unicode (an unpaired surrogate, from bytes that are not UTF-8): what is
            # stored has each such character as `?` (`store/write/utf8.py`), so that too is a form.
            new.add(utf8_safe(text))
    if not new:
        return
    now = time.monotonic()
    with _lock:
        _expire(now)
        known = _traces.pop(trace_id, None)
        if known is not None:
            new -= known.values
        page_values = known.page_values if known is not None else 0
        if from_page:
            room = MAX_PAGE_SECRETS_PER_TRACE - page_values
            if len(new) <= room:
                page_values += len(new)
            else:
                if room >= 0:  # the trace's first refusal
                    logger.warning(
                        "pages of trace %s handed over more than %d typed secrets: the rest are not registered",
                        trace_id,
                        MAX_PAGE_SECRETS_PER_TRACE,
                    )
                new = set(sorted(new, key=len, reverse=True)[: max(room, 0)])
                page_values = MAX_PAGE_SECRETS_PER_TRACE + 1  # full, and said so
        if known is not None and not new:
            known.when = now
            known.page_values = page_values
            _traces[trace_id] = known
        else:
            values_now = (known.values if known is not None else frozenset()) | new
            forms_now = (known.forms if known is not None else frozenset()).union(*(forms(v) for v in new))
            _traces[trace_id] = _Known(now, values_now, forms_now, page_values)
        _evict()


def hold(trace_id: str) -> None:
    """An activity of `trace_id` started: its values are kept, whatever their age, until `release`."""
    with _lock:
        _running[trace_id] = _running.get(trace_id, 0) + 1


def release(trace_id: str) -> None:
    """An activity of `trace_id` ended: when it was the last one running, its values are kept
    KEEP_S from now (chunks written in the grace period after an activity are scrubbed too)."""
    with _lock:
        left = _running.get(trace_id, 0) - 1
        if left > 0:
            _running[trace_id] = left
            return
        _running.pop(trace_id, None)
        known = _traces.get(trace_id)
        if known is not None:
            known.when = time.monotonic()
            _traces.move_to_end(trace_id)


# Activities running, by trace id: their traces' values are neither expired nor evicted.
_running: dict[str, int] = {}


def _expire(now: float) -> None:
    """Drop the traces whose values were last registered or held more than KEEP_S ago, oldest
    first; a trace with an activity running goes to the back, its clock restarted."""
    for _ in range(len(_traces)):
        trace_id, known = next(iter(_traces.items()))
        if trace_id in _running:
            known.when = now
            _traces.move_to_end(trace_id)
        elif now - known.when > KEEP_S:
            _traces.popitem(last=False)
        else:
            return


def _evict() -> None:
    """Over MAX_TRACES, drop the oldest traces without an activity running."""
    while len(_traces) > MAX_TRACES:
        idle = next((trace_id for trace_id in _traces if trace_id not in _running), None)
        if idle is None:
            return
        del _traces[idle]


def _known(trace_id: str) -> _Known | None:
    if not _traces:
        return None
    with _lock:
        return _traces.get(trace_id)


def has_secrets(trace_id: str) -> bool:
    return _known(trace_id) is not None


def version(trace_id: str) -> int:
    """A number that changes whenever the trace's values do (0: none): what was scrubbed at one
    version need not be scrubbed again while it stays (`export/held.py`)."""
    known = _known(trace_id)
    return known.version if known else 0


def _scrub(known: _Known, text: str) -> tuple[str, int]:
    count = 0
    derived = known.derived()
    for form in derived.forms:
        if form in text:
            count += text.count(form)
            text = text.replace(form, REDACTED)
    if derived.encoded is not None and ("%" in text or "+" in text):
        text, found = derived.encoded.subn(REDACTED, text)
        count += found
    return text, count


def scrub_text(trace_id: str, text: str) -> tuple[str, int]:
    """`text` with the trace's secrets replaced by `[REDACTED]`, and how many were replaced."""
    known = _known(trace_id)
    return _scrub(known, text) if known else (text, 0)


def scrub_value(trace_id: str, value: Any) -> tuple[Any, int]:
    """A copy of a decoded JSON value (a recording chunk's events) with the trace's secrets
    replaced in every string, and their typed prefixes (`prefixes`); the value itself when
    nothing was; and how many were replaced."""
    known = _known(trace_id)
    if known is None:
        return value, 0
    count = 0
    variants, encoded, typed, heads = known.derived()

    def walk(item: Any) -> Any:
        nonlocal count
        if isinstance(item, str):
            # Typed prefixes first: a password's value is registered as it stands at each of the
            # page's batches (`Zq8!t`, then `Zq8!typedPw`), and replacing a half-typed value
            # before would leave the rest of a longer prefix standing (`[REDACTED]y`).
            for head in heads:  # only where one could start
                if head in item:
                    item, found = typed.subn(REDACTED, item)  # type: ignore[union-attr]
                    count += found
                    break
            for form in variants:
                if form in item:
                    count += item.count(form)
                    item = item.replace(form, REDACTED)
            if encoded is not None and ("%" in item or "+" in item):
                item, found = encoded.subn(REDACTED, item)
                count += found
            return item
        if isinstance(item, dict):
            return {key: walk(child) for key, child in item.items()}
        if isinstance(item, list):
            return [walk(child) for child in item]
        return item

    scrubbed = walk(value)
    return (scrubbed, count) if count else (value, 0)


def _split_matches(values: Iterable[str], run: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Where a value sits across two or more of `run`'s texts (any letter case), in the joined text."""
    texts = [node["textContent"] for node in run]
    joined = "".join(texts)
    folded = joined.lower()
    if len(folded) != len(joined):
        folded = joined
    ends = list(itertools.accumulate(len(text) for text in texts))
    found: list[tuple[int, int]] = []
    for value in sorted(values, key=len, reverse=True):
        needle = value.lower() if folded is not joined else value
        start = folded.find(needle)
        while start >= 0:
            end = start + len(needle)
            first = next(i for i, e in enumerate(ends) if e > start)
            if ends[first] < end and not any(s < end and start < e for s, e in found):
                found.append((start, end))
            start = folded.find(needle, start + 1)
    return found


def scrub_split(trace_id: str, events: Any) -> tuple[Any, int]:
    """`events` (a chunk's) with the trace's registered values that sit split over texts meeting
    through inline elements (`<span>Tz9</span><span>QmWv4Lp</span>`, a one-time code one digit
    per box) redacted: the part of the value in each text it touches becomes `[REDACTED]`, as the
    page masks a split card (`js/privacy.js`). Full snapshots and added subtrees, as serialised
    (`secret_values.serialized_trees`, `inline_text_runs`); a copy when something was redacted, and how many values."""
    known = _known(trace_id)
    if known is None or not isinstance(events, list):
        return events, 0
    if not any(
        _split_matches(known.values, run)
        for root in serialized_trees(events)
        for run in inline_text_runs(root)
        if len(run) > 1
    ):
        return events, 0
    events = copy.deepcopy(events)
    count = 0
    for root in serialized_trees(events):
        for run in inline_text_runs(root):
            if len(run) < 2:
                continue
            matches = _split_matches(known.values, run)
            count += len(matches)
            at = 0
            for node in run:
                text = node["textContent"]
                start_of, end_of = at, at + len(text)
                at = end_of
                cuts = sorted(
                    (max(s, start_of) - start_of, min(e, end_of) - start_of)
                    for s, e in matches
                    if s < end_of and start_of < e
                )
                for cut_start, cut_end in reversed(cuts):
                    text = text[:cut_start] + REDACTED + text[cut_end:]
                node["textContent"] = text
    return events, count
