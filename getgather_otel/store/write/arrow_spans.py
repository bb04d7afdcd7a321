"""Turn finished SDK spans into one Arrow table laid out like `otel_traces`.

Columns are built as flat Python lists plus offsets and converted once per batch
(`MapArray.from_arrays`, `ListArray.from_arrays`), because per-row Python objects and
DuckDB's row-by-row `executemany` are two orders of magnitude slower (see BENCHMARKS.md).
Attribute values become strings exactly as the ClickHouse exporter writes them (pdata
`Value.AsString()`, see `pdata_strings.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from getgather_otel.capture import attributes as attr
from getgather_otel.store.tables import OTEL_TRACES, STRING_MAP, TIMESTAMP_US
from getgather_otel.store.write.pdata_strings import attribute_value_to_string
from getgather_otel.store.write.utf8 import string_array, utf8_safe

__all__ = [
    "KIND_NAMES",
    "OTEL_TRACES_SCHEMA",
    "STATUS_NAMES",
    "ResourceColumns",
    "TraceRows",
    "plain_attributes",
    "resource_columns",
    "spans_to_arrow",
]

KIND_NAMES = {
    SpanKind.INTERNAL: "Internal",
    SpanKind.SERVER: "Server",
    SpanKind.CLIENT: "Client",
    SpanKind.PRODUCER: "Producer",
    SpanKind.CONSUMER: "Consumer",
}
STATUS_NAMES = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}

OTEL_TRACES_SCHEMA = OTEL_TRACES.arrow_schema


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
        try:
            keys = pa.array(self.keys, pa.string())
        except UnicodeEncodeError:
            self._make_keys_utf8()
            keys = pa.array(self.keys, pa.string())
        return pa.MapArray.from_arrays(pa.array(self.offsets, pa.int32()), keys, string_array(self.values))

    def _make_keys_utf8(self) -> None:
        """Keys through `utf8_safe`, each row keeping the first of keys that became the same
        (`a\udcff` and `a\udcfe` both read `a?`): DuckDB refuses a whole batch whose map has
        a key twice, and the writer would retry that batch with every span behind it forever."""
        keys: list[str] = []
        values: list[str] = []
        offsets = [0]
        for start, end in zip(self.offsets, self.offsets[1:], strict=False):
            seen: set[str] = set()
            for key, value in zip(self.keys[start:end], self.values[start:end], strict=True):
                key = utf8_safe(key)
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
                    values.append(value)
            offsets.append(len(keys))
        self.keys, self.values, self.offsets = keys, values, offsets


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
        if flat is not None:
            values = flat
        elif self.item_type == pa.string():
            values = string_array(self.items)
        else:
            values = pa.array(self.items, self.item_type)
        return pa.ListArray.from_arrays(pa.array(self.offsets, pa.int32()), values)


def _trace_state(state: Any) -> str:
    return state.to_header() if state else ""


ResourceColumns = tuple[str, list[str], list[str]]


def resource_columns(attributes: Mapping[str, Any]) -> ResourceColumns:
    """ServiceName and the ResourceAttributes keys and values of one resource (computed once per resource)."""
    return (
        attribute_value_to_string(attributes.get(attr.SERVICE_NAME)),
        list(attributes.keys()),
        [attribute_value_to_string(v) for v in attributes.values()],
    )


class TraceRows:
    """The `otel_traces` columns under construction, one span at a time.

    Two producers fill it: `spans_to_arrow` from SDK spans (in process) and the
    collector's OTLP decoder straight from protobuf, so both write identical rows. A
    span's events and links are added first; `add_span` then closes its row.
    """

    def __init__(self) -> None:
        self.timestamps: list[int] = []
        self.trace_ids: list[str] = []
        self.span_ids: list[str] = []
        self.parent_ids: list[str] = []
        self.trace_states: list[str] = []
        self.names: list[str] = []
        self.kinds: list[str] = []
        self.services: list[str] = []
        self.scope_names: list[str] = []
        self.scope_versions: list[str] = []
        self.durations: list[int] = []
        self.status_codes: list[str] = []
        self.status_messages: list[str] = []
        self.resource_attrs = _MapColumn()
        self.span_attrs = _MapColumn()
        self.event_ts = _ListColumn(TIMESTAMP_US)
        self.event_names = _ListColumn(pa.string())
        self.event_attrs = _MapColumn()
        self.event_attr_rows = _ListColumn(STRING_MAP)
        self.link_trace = _ListColumn(pa.string())
        self.link_span = _ListColumn(pa.string())
        self.link_state = _ListColumn(pa.string())
        self.link_attrs = _MapColumn()
        self.link_attr_rows = _ListColumn(STRING_MAP)

    def add_event(self, time_ns: int, name: str, attributes: Mapping[str, Any]) -> None:
        self.event_ts.items.append(time_ns // 1000)
        self.event_names.items.append(name)
        self.event_attrs.append(attributes)

    def add_link(self, trace_id: str, span_id: str, trace_state: str, attributes: Mapping[str, Any]) -> None:
        self.link_trace.items.append(trace_id)
        self.link_span.items.append(span_id)
        self.link_state.items.append(trace_state)
        self.link_attrs.append(attributes)

    def add_span(
        self,
        start_ns: int,
        end_ns: int,
        ids: tuple[str, str, str],
        trace_state: str,
        name: str,
        kind: str,
        resource: ResourceColumns,
        scope: tuple[str, str],
        attributes: Mapping[str, Any],
        status: tuple[str, str],
    ) -> None:
        """Close the row of one span.

        `ids` are (trace, span, parent or ""), `scope` is (name, version), `status` (code, message).
        """
        self.timestamps.append(start_ns // 1000)
        self.trace_ids.append(ids[0])
        self.span_ids.append(ids[1])
        self.parent_ids.append(ids[2])
        self.trace_states.append(trace_state)
        self.names.append(name)
        self.kinds.append(kind)
        self.services.append(resource[0])
        self.resource_attrs.append_strings(resource[1], resource[2])
        self.scope_names.append(scope[0])
        self.scope_versions.append(scope[1])
        self.span_attrs.append(attributes)
        self.durations.append(max(end_ns - start_ns, 0))
        self.status_codes.append(status[0])
        self.status_messages.append(status[1])
        for column in (self.event_ts, self.event_names, self.link_trace, self.link_span, self.link_state):
            column.close_row()
        self.event_attr_rows.offsets.append(len(self.event_attrs.offsets) - 1)
        self.link_attr_rows.offsets.append(len(self.link_attrs.offsets) - 1)

    def __len__(self) -> int:
        return len(self.timestamps)

    def to_table(self) -> pa.Table:
        columns = [
            pa.array(self.timestamps, TIMESTAMP_US),
            string_array(self.trace_ids),
            string_array(self.span_ids),
            string_array(self.parent_ids),
            string_array(self.trace_states),
            string_array(self.names),
            string_array(self.kinds),
            string_array(self.services),
            self.resource_attrs.to_arrow(),
            string_array(self.scope_names),
            string_array(self.scope_versions),
            self.span_attrs.to_arrow(),
            pa.array(self.durations, pa.uint64()),
            string_array(self.status_codes),
            string_array(self.status_messages),
            self.event_ts.to_arrow(),
            self.event_names.to_arrow(),
            self.event_attr_rows.to_arrow(self.event_attrs.to_arrow()),
            self.link_trace.to_arrow(),
            self.link_span.to_arrow(),
            self.link_state.to_arrow(),
            self.link_attr_rows.to_arrow(self.link_attrs.to_arrow()),
        ]
        return pa.Table.from_arrays(columns, schema=OTEL_TRACES_SCHEMA)


def spans_to_arrow(spans: Sequence[ReadableSpan]) -> pa.Table:
    """Build the `otel_traces` rows for `spans` as one Arrow table (column order = table order)."""
    rows = TraceRows()
    resource_cache: dict[int, ResourceColumns] = {}
    for span in spans:
        ctx = span.context
        start = span.start_time or 0
        parent = span.parent
        resource = span.resource
        columns = resource_cache.get(id(resource))
        if columns is None:
            columns = resource_cache[id(resource)] = resource_columns(resource.attributes)
        scope = span.instrumentation_scope
        status = span.status
        for event in span.events:
            rows.add_event(event.timestamp, event.name, plain_attributes(event, event.attributes))
        for link in span.links:
            rows.add_link(
                format(link.context.trace_id, "032x"),
                format(link.context.span_id, "016x"),
                _trace_state(link.context.trace_state),
                link.attributes or {},
            )
        rows.add_span(
            start,
            span.end_time or start,
            (
                format(ctx.trace_id, "032x"),
                format(ctx.span_id, "016x"),
                format(parent.span_id, "016x") if parent is not None else "",
            ),
            _trace_state(ctx.trace_state),
            span.name,
            KIND_NAMES.get(span.kind, "Unspecified"),
            columns,
            (scope.name, scope.version or "") if scope else ("", ""),
            plain_attributes(span, span.attributes),
            (STATUS_NAMES[status.status_code], status.description or ""),
        )
    return rows.to_table()
