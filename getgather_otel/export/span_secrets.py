"""Finished spans without the tool's own secrets, before any exporter sees them (issue 15).

`_PipelineRouter.on_end` passes every span through `without_secrets`: a span of a trace with
registered secrets (`capture/secrets.py`) is copied with its name, attributes, event
attributes and status message scrubbed; every other span is passed on as it is, at the
cost of one dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Status

from getgather_otel.capture import secrets

__all__ = ["without_secrets"]


def _value(trace_id: str, value: Any) -> Any:
    if isinstance(value, str):
        return secrets.scrub_text(trace_id, value)[0]
    if isinstance(value, (list, tuple)):
        return tuple(_value(trace_id, v) for v in value)
    return value


def _attributes(trace_id: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: _value(trace_id, value) for key, value in (attributes or {}).items()}


def without_secrets(span: ReadableSpan) -> ReadableSpan:
    context = span.context
    if context is None:
        return span
    trace_id = format(context.trace_id, "032x")
    if not secrets.has_secrets(trace_id):
        return span
    status = span.status
    description = status.description
    return ReadableSpan(
        name=_value(trace_id, span.name),
        context=context,
        parent=span.parent,
        resource=span.resource,
        attributes=_attributes(trace_id, span.attributes),
        events=[Event(event.name, _attributes(trace_id, event.attributes), event.timestamp) for event in span.events],
        links=span.links,
        kind=span.kind,
        status=Status(status.status_code, _value(trace_id, description) if description else description),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
