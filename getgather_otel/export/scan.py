"""`getgather-otel scan`: look for secrets in everything a database stores (issue 15).

The check an operator runs on a file: every string-bearing column of every table (`DESCRIBE`:
VARCHAR and lists and maps of it), so a span's name, status, scope, resource, span, event and
link attributes (keys as well as values), the metric tables' and the prunes' rows, and every
recording chunk (its metadata and its decompressed events; the `otel_logs` view shows only
what `recording_chunks` and `otel_traces` hold) is searched for the given values, in every form they could be stored
in (plain, upper- and lower-cased, URL-encoded in any letter case, HTML- and JSON-escaped,
inside base64 text: `capture/secrets.forms` and `url_encoded`), and for named
patterns (`capture/secret_values.PATTERNS`: `card` is Luhn-checked, `jwt`, `token`, `email`,
`phone`). Patterns are matched in string values only, so an event's 13-digit timestamp is
never taken for a card, nor in the identifiers this package writes itself (recording, page
and session ids, `IDENTIFIER_KEYS`, and the activity ids in a recording's own markers): a
uuid's digit run is a Luhn-valid card in about one recording of 200. `--secret` values are
looked for there too. A card split over texts that meet through inline elements
(`<span>4111</span> <span>1111</span> ...`) is found by joining the texts of snapshots and
added subtrees as the page's masking does (`_joined_runs`), and so is a `--secret` value split the
same way (`<span>Tz9</span><span>QmWv4Lp</span>`, a code one digit per box). Each hit says
where it is, never the value itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from getgather_otel.capture import attributes as attr
from getgather_otel.capture.secret_values import (
    KIND_CARD,
    PATTERNS,
    ascii_digits,
    card_in,
    inline_text_runs,
    serialized_trees,
)
from getgather_otel.capture.secrets import forms, url_encoded
from getgather_otel.recording.chunk_codec import DamagedChunkError, decompress_json, loads

__all__ = ["IDENTIFIER_KEYS", "Hit", "scan"]

_BATCH = 256

# Attribute keys (and chunk columns) holding ids we generate: a value there shaped like one of
# our ids (`_ID_SHAPE`: hex span, trace and recording ids, uuids, page ids) is matched against
# `--secret` values, never against patterns. `service.instance.id` is a uuid when the SDK makes it,
# `mcp.session.id` the MCP SDK's hex uuid.
IDENTIFIER_KEYS = frozenset(
    {attr.RECORDING_ID, attr.RECORDING_PAGE_ID, attr.MCP_SESSION_ID, "service.instance.id", "recording_id"}
)
_ID_SHAPE = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|c[0-9]+p[0-9]+")
# Our own rrweb custom events (`recordings.custom_event`, `js/world.js`): their payload's ids are ours.
_OWN_TAGS = frozenset({attr.TAG_ACTIVITY_START, attr.TAG_ACTIVITY_END, attr.TAG_SEGMENT})
_OWN_PAYLOAD_IDS = frozenset({"activity_id", "segment"})


@dataclass(frozen=True)
class Hit:
    """One place a secret or a pattern was found: `where` (table and row), `field`, `what`."""

    where: str
    field: str
    what: str

    def __str__(self) -> str:
        return f"{self.where} {self.field}: {self.what}"


class _Matcher:
    def __init__(self, secrets: Sequence[str], patterns: Sequence[str]) -> None:
        unknown = [name for name in patterns if name not in PATTERNS]
        if unknown:
            raise ValueError(f"unknown --pattern {', '.join(unknown)}; known: {', '.join(sorted(PATTERNS))}")
        self.secrets = [
            (f"--secret #{i + 1}", sorted(forms(s) | {s}, key=len, reverse=True), url_encoded([s]))
            for i, s in enumerate(secrets)
        ]
        self.patterns = [(name, re.compile(PATTERNS[name])) for name in patterns]

    def in_text(self, text: str) -> list[str]:
        """The secrets in `text`: any stored form, percent-encoded in any case (`%c3%a4`) or mix."""
        encoded = "%" in text or "+" in text
        return [
            label
            for label, variants, any_case in self.secrets
            if any(v and v in text for v in variants) or (encoded and any_case is not None and any_case.search(text))
        ]

    def in_string(self, text: str, *, identifier: bool = False) -> list[str]:
        """The secrets in `text`, and the patterns too unless it is one of our identifiers."""
        found = self.in_text(text)
        if identifier and _ID_SHAPE.fullmatch(text):
            return found
        digits = ascii_digits(text)
        return found + [name for name, pattern in self.patterns if _matches(name, pattern, digits)]

    def split_card(self, events: Any) -> bool:
        """Whether a card number sits split over texts of a snapshot or an added subtree of
        `events` that meet through inline elements (False unless `card` is a pattern looked for)."""
        card = dict(self.patterns).get(KIND_CARD)
        return card is not None and any(_matches(KIND_CARD, card, ascii_digits(run)) for run in _joined_runs(events))


def _matches(name: str, pattern: re.Pattern[str], digits: str) -> bool:
    """Whether `pattern` (named `name`) matches `digits` (text with ASCII digits); a card only Luhn-valid."""
    return any(name != KIND_CARD or card_in(match.group()) is not None for match in pattern.finditer(digits))


def _strings(value: Any, path: str) -> Iterator[tuple[str, str, bool]]:
    """Every string in a decoded JSON value (keys too), with a short path to it and whether it
    is one of our own ids (`activity_id` and `segment` in the payload of our markers)."""
    own_payloads: set[int] = set()
    stack: list[tuple[Any, str, bool]] = [(value, path, False)]
    while stack:
        item, where, identifier = stack.pop()
        if isinstance(item, str):
            yield where, item, identifier
        elif isinstance(item, dict):
            data = item.get("data")
            if isinstance(data, dict) and data.get("tag") in _OWN_TAGS and isinstance(data.get("payload"), dict):
                own_payloads.add(id(data["payload"]))
            ids = _OWN_PAYLOAD_IDS if id(item) in own_payloads else frozenset()
            for key, child in item.items():
                yield where, str(key), False
                stack.append((child, f"{where}.{key}", key in ids))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", False) for i, child in enumerate(item))


def _value_hits(matcher: _Matcher, where: str, field: str, value: Any, *, identifier: bool = False) -> Iterator[Hit]:
    if value is None:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            # Keys too: code names attributes after values (`f"user.{login}"`), so a key holds a
            # secret as plainly as a value does (a newcomer's break: scan missed them).
            for what in matcher.in_text(str(key)):
                yield Hit(where, f"{field} key", what)
            yield from _value_hits(matcher, where, f"{field}[{key!r}]", child, identifier=key in IDENTIFIER_KEYS)
        return
    if isinstance(value, (list, tuple)):
        for i, child in enumerate(value):
            yield from _value_hits(matcher, where, f"{field}[{i}]", child, identifier=identifier)
        return
    for what in matcher.in_string(str(value), identifier=identifier):
        yield Hit(where, field, what)


# Columns holding ids we write (hex trace and span ids, recording and page ids): matched against
# `--secret` values, and against patterns only when not shaped like our ids (`_ID_SHAPE`).
_ID_COLUMNS = frozenset(
    {"TraceId", "SpanId", "ParentSpanId", "Links.TraceId", "Links.SpanId", "Exemplars.TraceId", "Exemplars.SpanId"}
    | {"trace_id", "span_id", "recording_id", "page_id"}
)
# The chunks' table is read by `_chunks` (its data decompressed); views (`activities`,
# `recordings`, `otel_logs`) only show what these tables hold.
_CHUNKS = "recording_chunks"


def _string_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Every column of `table` that can hold text: VARCHAR, and lists, maps and structs of it."""
    return [name for name, kind, *_ in conn.execute(f'DESCRIBE "{table}"').fetchall() if "VARCHAR" in kind]


def _tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The base tables of the file, `otel_traces` first (every table is scanned, whatever writes it)."""
    names = [
        name
        for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema = current_schema() ORDER BY table_name"
        ).fetchall()
    ]
    return sorted(names, key=lambda name: name != "otel_traces")


def _table(conn: duckdb.DuckDBPyConnection, table: str, matcher: _Matcher) -> Iterator[Hit]:
    """Every string-bearing column of every row of `table` (a span's links, scope and resource
    too: a newcomer's break, `Links.Attributes` and `ScopeVersion` were never read)."""
    columns = _string_columns(conn, table)
    if not columns:
        return
    quoted = ", ".join(f'"{column}"' for column in columns)
    cursor = conn.execute(f'SELECT rowid, {quoted} FROM "{table}"')
    while rows := cursor.fetchmany(_BATCH):
        for rowid, *values in rows:
            by_name = dict(zip(columns, values, strict=True))
            if "TraceId" in by_name and "SpanId" in by_name:
                where = f"{table} trace={by_name['TraceId']} span={by_name['SpanId']}"
            else:
                where = f"{table} row={rowid}"
            for column, value in by_name.items():
                yield from _value_hits(matcher, where, column, value, identifier=column in _ID_COLUMNS)


def _chunks(conn: duckdb.DuckDBPyConnection, matcher: _Matcher, damaged: list[str]) -> Iterator[Hit]:
    cursor = conn.execute(
        "SELECT trace_id, span_id, recording_id, page_id, sequence, url, compression, data FROM recording_chunks "
        "ORDER BY span_id, page_id, sequence"
    )
    while rows := cursor.fetchmany(_BATCH):
        for trace_id, span_id, recording_id, page_id, sequence, url, compression, data in rows:
            where = f"recording_chunks span={span_id} page={page_id} sequence={sequence}"
            yield from _value_hits(matcher, where, "url", url)
            yield from _value_hits(matcher, where, "compression", compression)
            for column, value in (("trace_id", trace_id), ("span_id", span_id), ("recording_id", recording_id)):
                yield from _value_hits(matcher, where, column, value, identifier=True)
            yield from _value_hits(matcher, where, "page_id", page_id, identifier=True)
            try:
                text = decompress_json(bytes(data), compression).decode("utf-8", errors="replace")
                decoded = loads(text) if matcher.patterns or matcher.secrets else None
            except (DamagedChunkError, ValueError, RecursionError) as error:
                damaged.append(f"{where}: {error}")  # its row was read above; its events cannot be
                continue
            # The raw JSON first (escaped forms of the values), then each string (patterns).
            seen: set[str] = set()
            for what in matcher.in_text(text):
                seen.add(what)
                yield Hit(where, "events", what)
            if matcher.secrets:
                # A value split over texts that meet through inline elements (`<span>Tz9</span>
                # <span>QmWv4Lp</span>`, a code one digit per box): in the joined text.
                for run in _joined_runs(decoded):
                    for what in matcher.in_text(run):
                        if what not in seen:
                            seen.add(what)
                            yield Hit(where, "events (a text split over inline elements)", what)
            if matcher.patterns:
                for path, string, identifier in _strings(decoded, "events"):
                    for what in matcher.in_string(string, identifier=identifier):
                        if what not in seen:
                            seen.add(what)
                            yield Hit(where, path, what)
                if KIND_CARD not in seen and matcher.split_card(decoded):
                    yield Hit(where, "events (a text split over inline elements)", KIND_CARD)


def _joined_runs(events: Any) -> Iterator[str]:
    """The texts of every snapshot and added subtree of a chunk's events, joined where they meet
    through inline elements only (`secret_values.INLINE_TAGS`), as the page joins them to mask a
    split card (`js/privacy.js`)."""
    for root in serialized_trees(events):
        for run in inline_text_runs(root):
            yield "".join(node["textContent"] for node in run)


def scan(
    conn: duckdb.DuckDBPyConnection,
    secrets: Sequence[str],
    patterns: Sequence[str],
    damaged: list[str] | None = None,
) -> list[Hit]:
    """Every place in the file holding one of `secrets` (any stored form) or matching `patterns`.

    A recording chunk whose events cannot be decoded (`DamagedChunkError`) is skipped and the
    scan goes on; where it is and why is appended to `damaged`, so the caller can say the file
    was not read to its end (the CLI exits 2). Without `damaged`, the first such chunk raises.
    """
    matcher = _Matcher(secrets, patterns)
    tables = _tables(conn)
    hits = [hit for table in tables if table != _CHUNKS for hit in _table(conn, table, matcher)]
    skipped: list[str] = [] if damaged is None else damaged
    found = [*hits, *(_chunks(conn, matcher, skipped) if _CHUNKS in tables else ())]
    if damaged is None and skipped:
        raise DamagedChunkError(skipped[0])
    return found
