"""Finished spans without the tool's own secrets, before any exporter sees them (issue 15).

`_PipelineRouter.on_end` passes every span through `without_secrets`: a span of a trace with
registered secrets (`capture/secrets.py`) that holds one is copied with its name,
attributes, event attributes and status message scrubbed and the count in
`getgather.privacy.redactions.secret`; every other span is passed on as it is, at the
cost of one dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Status

from getgather_otel.capture import attributes as attr
from getgather_otel.capture import secrets

KIND_SECRET = "secret"

__all__ = ["KIND_SECRET", "without_secrets"]


class _Scrub:
    """Scrubs the values of one span, counting what it replaced."""

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.count = 0

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            text, found = secrets.scrub_text(self.trace_id, value)
            self.count += found
            return text
        if isinstance(value, (list, tuple)):
            return tuple(self.value(v) for v in value)
        return value

    def attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        return {key: self.value(value) for key, value in (attributes or {}).items()}


def without_secrets(span: ReadableSpan) -> ReadableSpan:
    context = span.context
    if context is None:
        return span
    trace_id = format(context.trace_id, "032x")
    if not secrets.has_secrets(trace_id):
        return span
    scrub = _Scrub(trace_id)
    description = span.status.description
    name = scrub.value(span.name)
    events = [Event(event.name, scrub.attributes(event.attributes), event.timestamp) for event in span.events]
    status = Status(span.status.status_code, scrub.value(description) if description else description)
    attributes = scrub.attributes(span.attributes)
    if not scrub.count:
        return span
    attributes[attr.PRIVACY_REDACTIONS_PREFIX + KIND_SECRET] = scrub.count
    return ReadableSpan(
        name=name,
        context=context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
