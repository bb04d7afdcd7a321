"""Turn finished SDK spans into one Arrow table laid out like `otel_traces`.

Columns are built as flat Python lists plus offsets and converted once per batch
(`MapArray.from_arrays`, `ListArray.from_arrays`), because per-row Python objects and
DuckDB's row-by-row `executemany` are two orders of magnitude slower (see BENCHMARKS.md).
Attribute values become strings the way the ClickHouse exporter writes them: booleans as
`true`/`false`, numbers in decimal, sequences as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from getgather_otel import attributes as attr

_KIND_NAMES = {
    SpanKind.INTERNAL: "Internal",
    SpanKind.SERVER: "Server",
    SpanKind.CLIENT: "Client",
    SpanKind.PRODUCER: "Producer",
    SpanKind.CONSUMER: "Consumer",
}
_STATUS_NAMES = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}

STRING_MAP = pa.map_(pa.string(), pa.string())
TIMESTAMP_US = pa.timestamp("us")

OTEL_TRACES_SCHEMA = pa.schema(
    [
        ("Timestamp", TIMESTAMP_US),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("ParentSpanId", pa.string()),
        ("TraceState", pa.string()),
        ("SpanName", pa.string()),
        ("SpanKind", pa.string()),
        ("ServiceName", pa.string()),
        ("ResourceAttributes", STRING_MAP),
        ("ScopeName", pa.string()),
        ("ScopeVersion", pa.string()),
        ("SpanAttributes", STRING_MAP),
        ("Duration", pa.uint64()),
        ("StatusCode", pa.string()),
        ("StatusMessage", pa.string()),
        ("Events.Timestamp", pa.list_(TIMESTAMP_US)),
        ("Events.Name", pa.list_(pa.string())),
        ("Events.Attributes", pa.list_(STRING_MAP)),
        ("Links.TraceId", pa.list_(pa.string())),
        ("Links.SpanId", pa.list_(pa.string())),
        ("Links.TraceState", pa.list_(pa.string())),
        ("Links.Attributes", pa.list_(STRING_MAP)),
    ]
)


def attribute_value_to_string(value: Any) -> str:
    """Stringify an OTel attribute value as the ClickHouse exporter does."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Sequence):
        return json.dumps(list(value), separators=(",", ":"), default=str)
    return str(value)


def plain_attributes(holder: Any, public: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The attributes as a plain dict when the SDK lets us reach it, else the public mapping.

    `ReadableSpan.attributes` wraps the SDK's `BoundedAttributes` in a `MappingProxyType`,
    and iterating that through the `Mapping` protocol costs more than the rest of the
    conversion together. `BoundedAttributes` keeps a plain dict in `_dict`; reading it is
    read-only and falls back to the public mapping if a future SDK changes the layout.
    """
    bounded = getattr(holder, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if type(inner) is dict:
        return inner
    return public or {}


class _MapColumn:
    """Accumulates one MAP(VARCHAR, VARCHAR) column as flat keys/values plus offsets."""

    __slots__ = ("keys", "offsets", "values")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.values: list[str] = []
        self.offsets: list[int] = [0]

    def append(self, mapping: Mapping[str, Any]) -> None:
        if mapping:
            self.keys.extend(mapping.keys())
            self.values.extend([v if type(v) is str else attribute_value_to_string(v) for v in mapping.values()])
        self.offsets.append(len(self.keys))

    def append_strings(self, keys: list[str], values: list[str]) -> None:
        """Append a row whose keys and values are already strings (cached resources)."""
        self.keys.extend(keys)
        self.values.extend(values)
        self.offsets.append(len(self.keys))

    def to_arrow(self) -> pa.MapArray:
        return pa.MapArray.from_arrays(
            pa.array(self.offsets, pa.int32()),
            pa.array(self.keys, pa.string()),
            pa.array(self.values, pa.string()),
        )


class _ListColumn:
    """Accumulates one LIST column: flat items plus per-row offsets."""

    __slots__ = ("item_type", "items", "offsets")

    def __init__(self, item_type: pa.DataType) -> None:
        self.items: list[Any] = []
        self.offsets: list[int] = [0]
        self.item_type = item_type

    def close_row(self) -> None:
        self.offsets.append(len(self.items))

    def to_arrow(self, flat: pa.Array | None = None) -> pa.ListArray:
        values = flat if flat is not None else pa.array(self.items, self.item_type)
        return pa.ListArray.from_arrays(pa.array(self.offsets, pa.int32()), values)


def _trace_state(state: Any) -> str:
    return state.to_header() if state else ""


def spans_to_arrow(spans: Sequence[ReadableSpan]) -> pa.Table:
    """Build the `otel_traces` rows for `spans` as one Arrow table (column order = table order)."""
    timestamps: list[int] = []
    trace_ids: list[str] = []
    span_ids: list[str] = []
    parent_ids: list[str] = []
    trace_states: list[str] = []
    names: list[str] = []
    kinds: list[str] = []
    services: list[str] = []
    scope_names: list[str] = []
    scope_versions: list[str] = []
    durations: list[int] = []
    status_codes: list[str] = []
    status_messages: list[str] = []
    resource_attrs = _MapColumn()
    span_attrs = _MapColumn()
    event_ts = _ListColumn(TIMESTAMP_US)
    event_names = _ListColumn(pa.string())
    event_attrs = _MapColumn()
    event_attr_rows = _ListColumn(STRING_MAP)
    link_trace = _ListColumn(pa.string())
    link_span = _ListColumn(pa.string())
    link_state = _ListColumn(pa.string())
    link_attrs = _MapColumn()
    link_attr_rows = _ListColumn(STRING_MAP)
    resource_cache: dict[int, tuple[str, list[str], list[str]]] = {}

    for span in spans:
        ctx = span.context
        start = span.start_time or 0
        end = span.end_time or start
        timestamps.append(start // 1000)
        trace_ids.append(format(ctx.trace_id, "032x"))
        span_ids.append(format(ctx.span_id, "016x"))
        parent = span.parent
        parent_ids.append(format(parent.span_id, "016x") if parent is not None else "")
        trace_states.append(_trace_state(ctx.trace_state))
        names.append(span.name)
        kinds.append(_KIND_NAMES.get(span.kind, "Unspecified"))
        resource = span.resource
        cached = resource_cache.get(id(resource))
        if cached is None:
            res_attrs = resource.attributes
            cached = (
                str(res_attrs.get(attr.SERVICE_NAME, "")),
                list(res_attrs.keys()),
                [attribute_value_to_string(v) for v in res_attrs.values()],
            )
            resource_cache[id(resource)] = cached
        services.append(cached[0])
        resource_attrs.append_strings(cached[1], cached[2])
        scope = span.instrumentation_scope
        scope_names.append(scope.name if scope else "")
        scope_versions.append((scope.version or "") if scope else "")
        span_attrs.append(plain_attributes(span, span.attributes))
        durations.append(max(end - start, 0))
        status = span.status
        status_codes.append(_STATUS_NAMES[status.status_code])
        status_messages.append(status.description or "")
        for event in span.events:
            event_ts.items.append(event.timestamp // 1000)
            event_names.items.append(event.name)
            event_attrs.append(plain_attributes(event, event.attributes))
        event_ts.close_row()
        event_names.close_row()
        event_attr_rows.offsets.append(len(event_attrs.offsets) - 1)
        for link in span.links:
            link_trace.items.append(format(link.context.trace_id, "032x"))
            link_span.items.append(format(link.context.span_id, "016x"))
            link_state.items.append(_trace_state(link.context.trace_state))
            link_attrs.append(link.attributes or {})
        link_trace.close_row()
        link_span.close_row()
        link_state.close_row()
        link_attr_rows.offsets.append(len(link_attrs.offsets) - 1)

    columns = [
        pa.array(timestamps, TIMESTAMP_US),
        pa.array(trace_ids, pa.string()),
        pa.array(span_ids, pa.string()),
        pa.array(parent_ids, pa.string()),
        pa.array(trace_states, pa.string()),
        pa.array(names, pa.string()),
        pa.array(kinds, pa.string()),
        pa.array(services, pa.string()),
        resource_attrs.to_arrow(),
        pa.array(scope_names, pa.string()),
        pa.array(scope_versions, pa.string()),
        span_attrs.to_arrow(),
        pa.array(durations, pa.uint64()),
        pa.array(status_codes, pa.string()),
        pa.array(status_messages, pa.string()),
        event_ts.to_arrow(),
        event_names.to_arrow(),
        event_attr_rows.to_arrow(event_attrs.to_arrow()),
        link_trace.to_arrow(),
        link_span.to_arrow(),
        link_state.to_arrow(),
        link_attr_rows.to_arrow(link_attrs.to_arrow()),
    ]
    return pa.Table.from_arrays(columns, schema=OTEL_TRACES_SCHEMA)
