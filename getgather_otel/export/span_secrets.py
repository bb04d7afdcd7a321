"""Finished spans without secrets, before any exporter sees them (issue 15).

`_PipelineRouter.on_end` (and the DuckDB exporter, for zero-code pipelines) passes every
span through `without_secrets`:

- URLs in span and event attributes (`url.full`, `http.url`, `url.query`,
  `mcp.resource.uri`, any `*.url`), whoever set them, go through the one URL redactor
  (`recording/urls.py`, default key words), as the recorder's own events already do.
- URLs inside free text, `exception.message` and `exception.stacktrace` (span or event
  attributes) and the status message, go through the same redactor: Playwright's errors quote
  the URL they failed on (`net::ERR_CONNECTION_REFUSED at http://...?token=...`), and the
  SDK's `record_exception` and status copy that text. They also lose secret shapes (JWTs, key shapes, card numbers:
  `UrlRedactor.redact_text`, as a dialog's message does): a selector the error quotes
  (`a[href='/reset?token=<JWT>']`), a page's thrown `Authorization: Bearer <JWT>`; a stack
  trace's file paths and line numbers are no such shape.
- Card numbers (Luhn-checked), JWTs and key/bearer-token shapes in any other string value
  (span name, attribute and event attribute values, status message), as in recorded page
  text (`PATTERNS`, the page's default `mask_text_patterns`): an exception message quoting
  what a tool was given (`ValueError("declined 4111 1111 1111 1111")`) keeps none of it (a
  newcomer's break). Counted as `text_<kind>`. Not in our own ids (`scan.IDENTIFIER_KEYS`),
  nor long high-entropy runs, which trace and span ids in messages look like.
- A span of a trace with registered secrets (`capture/secrets.py`: the tool's own) is
  scrubbed of them: name, attribute keys and values, event names, event attribute keys and
  values, link attribute keys and values, and status message.
- Links' attributes are attributes like the span's (URLs, shapes, registered secrets): they
  are stored (`Links.Attributes`) as plainly (a newcomer's break: they were passed on as
  given). The instrumentation scope's name and version lose secret shapes too (a tracer
  named or versioned after a value is stored in `ScopeName`/`ScopeVersion` of every span).
- Resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, `service.name`) are the operator's own
  configuration, shared by every signal: they are stored as given, never scrubbed; `scan`
  reads them, so a value put there by mistake is found.

A span that changes is copied, with what was redacted counted in
`getgather.privacy.redactions.<kind>` (`secret` for the tool's own, added to counts already
there); every other span is passed on as it is, after a look at its attribute keys.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, Status

from getgather_otel.capture import attributes as attr
from getgather_otel.capture import secrets
from getgather_otel.capture.redaction import REDACTED
from getgather_otel.capture.secret_values import KIND_CARD, KIND_JWT, KIND_TOKEN, PATTERNS, ascii_digits, card_in
from getgather_otel.export.scan import IDENTIFIER_KEYS
from getgather_otel.recording.options import DEFAULT_URL_SECRET_WORDS
from getgather_otel.recording.urls import UrlRedactor

__all__ = ["KIND_SECRET", "TEXT_KEYS", "URL_KEYS", "without_secrets"]

KIND_SECRET = attr.REDACTION_SECRET
URL_KEYS = frozenset({"url.full", "http.url", "url.original", "mcp.resource.uri", "http.target"})
_QUERY_KEY = "url.query"
# Free text that may quote URLs (OpenTelemetry's exception attributes).
TEXT_KEYS = frozenset({"exception.message", "exception.stacktrace"})
_URLS = UrlRedactor(DEFAULT_URL_SECRET_WORDS)


# The page's default text patterns, one expression with a group per kind.
_SHAPES = re.compile("|".join(f"(?P<{kind}>{PATTERNS[kind]})" for kind in (KIND_JWT, KIND_CARD, KIND_TOKEN)))
_TEXT_PREFIX = attr.REDACTION_TEXT_PREFIX


def _mask_shapes(text: str, counts: Counter[str]) -> str:
    """`text` with its card numbers (Luhn-valid), JWTs and key shapes replaced by `[REDACTED]`."""
    out: list[str] = []
    last = 0
    for match in _SHAPES.finditer(ascii_digits(text)):
        kind = match.lastgroup or KIND_TOKEN
        start, end = match.span()
        if kind == KIND_CARD:
            card = card_in(match.group())
            if card is None:
                continue
            start, end = start + card[0], start + card[1]
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
        counts[_TEXT_PREFIX + kind] += 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _has_shape(value: Any) -> bool:
    if isinstance(value, str):
        return _SHAPES.search(ascii_digits(value)) is not None
    if isinstance(value, (list, tuple)):
        return any(_has_shape(v) for v in value)
    return False


def _has_shapes(attributes: Mapping[str, Any] | None) -> bool:
    return bool(attributes) and any(
        key not in IDENTIFIER_KEYS and not _is_url_key(key) and _has_shape(value)
        for key, value in attributes.items()  # type: ignore[union-attr]
    )


def _is_url_key(key: str) -> bool:
    return key in URL_KEYS or key == _QUERY_KEY or key.endswith(".url")


class _Scrub:
    """Scrubs the values of one span, counting what it replaced by kind."""

    def __init__(self, trace_id: str, own_secrets: bool) -> None:
        self.trace_id = trace_id
        self.own_secrets = own_secrets
        self.counts: Counter[str] = Counter()

    def value(self, value: Any, *, url: bool = False) -> Any:
        """`value` without the trace's secrets; a `url` also without their typed prefixes, as the
        recording's copy of the same URL (a Meta href, the chunk row's url) is scrubbed."""
        if not self.own_secrets:
            return value
        if isinstance(value, str):
            scrub = secrets.scrub_value if url else secrets.scrub_text
            text, found = scrub(self.trace_id, value)
            self.counts[KIND_SECRET] += found
            return text
        if isinstance(value, (list, tuple)):
            return tuple(self.value(v) for v in value)
        return value

    def key(self, key: str) -> str:
        """`key` without the trace's secrets: code names attributes and events after values too
        (`span.set_attribute(f"user.{login}", ...)`, `add_event(f"typed {pw}")`: a newcomer's
        break), and a key is stored as plainly as a value."""
        scrubbed = self.value(key)
        return scrubbed if isinstance(scrubbed, str) else key

    def attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        out = {}
        for key, value in (attributes or {}).items():
            key = self.key(key)
            is_url = _is_url_key(key)
            value = self.value(value, url=is_url)
            if isinstance(value, str) and is_url:
                if key == _QUERY_KEY:
                    value = _URLS.redact("?" + value, self.counts)[1:]
                else:
                    value = _URLS.redact(value, self.counts)
            elif key not in IDENTIFIER_KEYS:
                value = self.text(value) if isinstance(value, str) and key in TEXT_KEYS else self.shapes(value)
            out[key] = value
        return out

    def shapes(self, value: Any) -> Any:
        """`value` (a string or a sequence of them) without card numbers, JWTs and key shapes."""
        if isinstance(value, str):
            return _mask_shapes(value, self.counts)
        if isinstance(value, (list, tuple)):
            return tuple(self.shapes(v) for v in value)
        return value

    def status(self, description: str) -> str:
        # The error's text: Playwright's quotes the selector it waited for, a page's thrown
        # error its text (`Authorization: Bearer <JWT>`): secret shapes go, as from a dialog's.
        return self.text(self.value(description))

    def text(self, value: str) -> str:
        """An error's text (a status message, `exception.message`, a stack trace): URLs inside
        redacted, then card numbers and key shapes masked (`text_<kind>`), then what only an
        error quotes (`Authorization: Bearer <JWT>`)."""
        return _URLS.redact_text(_mask_shapes(_URLS.redact_urls_in(value, self.counts), self.counts), self.counts)


def _has_url(attributes: Mapping[str, Any] | None) -> bool:
    return bool(attributes) and any(_is_url_key(key) or key in TEXT_KEYS for key in attributes)  # type: ignore[union-attr]


def _scope_has_shape(scope: InstrumentationScope | None) -> bool:
    return scope is not None and (_has_shape(scope.name) or _has_shape(scope.version or ""))


def _scope(scope: InstrumentationScope | None, scrub: _Scrub) -> InstrumentationScope | None:
    """`scope` with secret shapes and registered secrets out of its name and version."""
    if scope is None:
        return None
    name = scrub.shapes(scrub.value(scope.name))
    version = scrub.shapes(scrub.value(scope.version)) if scope.version else scope.version
    if name == scope.name and version == scope.version:
        return scope
    return InstrumentationScope(name, version, scope.schema_url, scope.attributes)


def without_secrets(span: ReadableSpan) -> ReadableSpan:
    context = span.context
    if context is None:
        return span
    trace_id = format(context.trace_id, "032x")
    own = secrets.has_secrets(trace_id)
    description = span.status.description
    if (
        not own
        and not (description and ("://" in description or _URLS.redact_text(description) != description))
        and not _has_url(span.attributes)
        and not any(_has_url(e.attributes) for e in span.events)
        and not _has_shape(span.name)
        and not (description and _has_shape(description))
        and not _has_shapes(span.attributes)
        and not any(_has_shapes(e.attributes) for e in span.events)
        and not any(_has_url(link.attributes) or _has_shapes(link.attributes) for link in span.links)
        and not _scope_has_shape(span.instrumentation_scope)
    ):
        return span
    scrub = _Scrub(trace_id, own)
    name = scrub.shapes(scrub.value(span.name))
    events = [
        Event(scrub.key(event.name), scrub.attributes(event.attributes), event.timestamp) for event in span.events
    ]
    status = Status(span.status.status_code, scrub.status(description) if description else description)
    attributes = scrub.attributes(span.attributes)
    links = [Link(link.context, scrub.attributes(link.attributes)) for link in span.links]
    scope = _scope(span.instrumentation_scope, scrub)
    if not +scrub.counts:
        return span
    for kind, count in scrub.counts.items():
        key = attr.PRIVACY_REDACTIONS_PREFIX + kind
        before = attributes.get(key)
        attributes[key] = count + (before if isinstance(before, int) else 0)
    return ReadableSpan(
        name=name,
        context=context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=scope,
    )
