"""Attribute values are stored exactly as the OTel Collector's ClickHouse exporter stores them.

The exporter writes pdata `Value.AsString()` (opentelemetry-collector `pdata/pcommon/value.go`:
`float64AsString` for doubles, base64 for bytes, `json.Encoder` with HTML escaping off for
arrays and maps). The expected strings below are that function's output, written out by hand
from its rules; each value goes through the in-process path (SDK span -> `spans_to_arrow`)
and the collector path (the SDK's own OTLP encoding -> `to_trace_rows`), as span, event,
link and resource attributes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind

from collectors.otlp_traces import to_trace_rows
from getgather_otel import activity
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.store.write.arrow_spans import spans_to_arrow
from getgather_otel.store.write.pdata_strings import attribute_value_to_string, float_as_string
from tests.conftest import rows

# (SDK attribute value, the exporter's string)
SDK_VALUES: dict[str, tuple[Any, str]] = {
    "str": ("plain", "plain"),
    "unicode": ("é ☃ <>&", "é ☃ <>&"),
    "true": (True, "true"),
    "false": (False, "false"),
    "int": (-7, "-7"),
    "int64": (2**63 - 1, "9223372036854775807"),
    "one": (1.0, "1"),
    "small": (1e-05, "0.00001"),
    "smaller": (1.5e-07, "1.5e-7"),
    "tiny": (1e-300, "1e-300"),
    "big": (1e16, "10000000000000000"),
    "bigger": (1e21, "1e+21"),
    "fraction": (0.1, "0.1"),
    "negative zero": (-0.0, "-0"),
    "nan": (float("nan"), "NaN"),
    "inf": (float("inf"), "Infinity"),
    "-inf": (float("-inf"), "-Infinity"),
    "bytes": (b"\x00\xff\x10", "AP8Q"),
    "floats": ((1.0, 2.5), "[1,2.5]"),
    "tiny floats": ((1.5e-07, 1e21), "[1.5e-7,1e+21]"),
    "strs": (("é", "<a>&", 'q"\\'), '["é","<a>&","q\\"\\\\"]'),
    "controls": (("a\nb\tc\x1b\u2028",), '["a\\nb\\tc\\u001b\\u2028"]'),
    "bools": ((True, False), "[true,false]"),
    "ints": ((1, -2), "[1,-2]"),
    "nan in array": ((1.0, float("nan")), ""),  # Go's encoder refuses NaN: AsString gives ''
    "empty": ((), "[]"),
}


def _sdk_spans() -> list[Any]:
    memory = InMemorySpanExporter()
    attributes = {key: value for key, (value, _) in SDK_VALUES.items()}
    provider = TracerProvider(resource=Resource.create({"service.name": "svc", **attributes}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("scope")
    with tracer.start_as_current_span("parent") as parent:
        parent.add_event("event", attributes)
    with tracer.start_as_current_span("child", links=[Link(parent.get_span_context(), attributes)]) as child:
        child.set_attributes(attributes)
    return list(memory.get_finished_spans())


@pytest.mark.parametrize("path", ["in process", "collector"])
def test_every_sdk_value_type_is_the_exporters_string_on_both_paths(path: str) -> None:
    spans = _sdk_spans()
    table = spans_to_arrow(spans) if path == "in process" else to_trace_rows(encode_spans(spans)).table
    parent, child = table.to_pylist()
    expected = {key: text for key, (_, text) in SDK_VALUES.items()}
    assert dict(child["SpanAttributes"]) == expected
    assert dict(parent["Events.Attributes"][0]) == expected
    assert dict(child["Links.Attributes"][0]) == expected
    resource = dict(child["ResourceAttributes"])
    assert {key: resource[key] for key in expected} == expected


def test_both_paths_write_identical_rows() -> None:
    spans = _sdk_spans()
    assert to_trace_rows(encode_spans(spans)).table.equals(spans_to_arrow(spans))


def _any(**kind: Any) -> AnyValue:
    return AnyValue(**kind)


def test_otlp_values_the_sdk_never_sends_are_the_exporters_strings() -> None:
    """Maps (keys sorted, as Go's encoder writes a map), mixed arrays, bytes and empty values inside them."""
    nested = KeyValueList(
        values=[
            KeyValue(key="z", value=_any(double_value=1.0)),
            KeyValue(key="a", value=_any(bytes_value=b"\x01")),
            KeyValue(key="m", value=_any(kvlist_value=KeyValueList(values=[KeyValue(key="x", value=AnyValue())]))),
        ]
    )
    mixed = ArrayValue(
        values=[_any(int_value=1), _any(string_value="é"), _any(double_value=1e-7), AnyValue(), _any(bool_value=True)]
    )
    pairs = {
        "map": (_any(kvlist_value=nested), '{"a":"AQ==","m":{"x":null},"z":1}'),
        "mixed": (_any(array_value=mixed), '[1,"é",1e-7,null,true]'),
        "empty": (AnyValue(), ""),
        "bytes in array": (_any(array_value=ArrayValue(values=[_any(bytes_value=b"\xfe")])), '["/g=="]'),
        "inf in map": (_any(kvlist_value=KeyValueList(values=[KeyValue(key="x", value=_any(double_value=1e999))])), ""),
    }
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    scope.spans.append(
        trace_pb2.Span(
            trace_id=b"\x01" * 16,
            span_id=b"\x02" * 8,
            name="otlp",
            attributes=[KeyValue(key=key, value=value) for key, (value, _) in pairs.items()],
        )
    )
    [row] = to_trace_rows(request).table.to_pylist()
    assert dict(row["SpanAttributes"]) == {key: text for key, (_, text) in pairs.items()}


def test_span_kinds_are_the_exporters_names() -> None:
    kinds = {
        trace_pb2.Span.SPAN_KIND_UNSPECIFIED: "Unspecified",
        trace_pb2.Span.SPAN_KIND_INTERNAL: "Internal",
        trace_pb2.Span.SPAN_KIND_SERVER: "Server",
        trace_pb2.Span.SPAN_KIND_CLIENT: "Client",
        trace_pb2.Span.SPAN_KIND_PRODUCER: "Producer",
        trace_pb2.Span.SPAN_KIND_CONSUMER: "Consumer",
        9: "",  # a kind from a newer OTLP: pdata's String() gives ''
    }
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for index, kind in enumerate(kinds):
        scope.spans.append(
            trace_pb2.Span(trace_id=b"\x01" * 16, span_id=bytes([index + 1]) * 8, name="k", kind=kind)  # type: ignore[arg-type]
        )
    rows = to_trace_rows(request).table.to_pylist()
    assert [row["SpanKind"] for row in rows] == list(kinds.values())
    # In process the SDK has no unspecified kind; its five kinds are the same names.
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for sdk_kind in SpanKind:
        provider.get_tracer("t").start_span("k", kind=sdk_kind).end()
    sdk_rows = spans_to_arrow(memory.get_finished_spans()).to_pylist()
    assert [row["SpanKind"] for row in sdk_rows] == ["Internal", "Server", "Client", "Producer", "Consumer"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (123.456, "123.456"),
        (1e20, "100000000000000000000"),
        (123456789012345678.0, "123456789012345680"),
        (1e-6, "0.000001"),
        (9.99e-7, "9.99e-7"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (-2.5e-10, "-2.5e-10"),
    ],
)
def test_float_formatting_follows_es6(value: float, text: str) -> None:
    assert float_as_string(value) == text
    assert attribute_value_to_string(value) == text


def test_a_string_that_is_not_unicode_loses_one_character_not_the_batch(
    telemetry: Telemetry, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A newcomer's break: an unpaired surrogate (a file name that is not UTF-8, through
    # `os.fsdecode`) in one span lost every span exported beside it, and the stats said nothing.
    bad = os.fsdecode(b"report-\xff.pdf")
    with activity(name="before"):
        pass
    with pytest.raises(FileNotFoundError), activity(name=f"open {bad}", file=bad) as act:
        act.add_event(f"looked for {bad}", {bad: bad})
        raise FileNotFoundError(f"cannot open {bad}")
    with activity(name="after"):
        pass
    assert telemetry.flush()
    found = rows(
        db_path,
        """SELECT "SpanName" AS name, "StatusMessage" AS message, "SpanAttributes"['file'] AS file,
                  "Events.Name" AS events, "Events.Attributes" AS event_attrs
           FROM otel_traces ORDER BY "Timestamp" """,
    )
    assert [r["name"] for r in found] == ["activity before", "activity open report-?.pdf", "activity after"]
    stored = found[1]
    assert stored["message"] == "cannot open report-?.pdf" and stored["file"] == "report-?.pdf"
    assert "looked for report-?.pdf" in stored["events"]
    assert {"report-?.pdf": "report-?.pdf"} in [dict(a) for a in stored["event_attrs"]]
    assert any("not valid Unicode" in r.getMessage() for r in caplog.records)


def test_keys_that_become_the_same_once_made_unicode_keep_the_first_and_every_span_is_written(
    telemetry: Telemetry, db_path: Path
) -> None:
    # A newcomer's break: `file.a\udcff` and `file.a\udcfe` (or a real `file.a?`) both read
    # `file.a?`, DuckDB refused the batch for a map with one key twice, and the writer retried it
    # forever with every later span behind it.
    first, second = "file." + os.fsdecode(b"a\xff"), "file." + os.fsdecode(b"a\xfe")
    with activity(name="colliding") as act:
        act.set_attributes({first: "one", second: "two", "file.a?": "three"})
        act.add_event("looked", {first: "one", second: "two"})
    for n in range(5):
        with activity(name=f"after {n}"):
            pass
    assert telemetry.flush(10)
    found = rows(
        db_path,
        """SELECT "SpanName" AS name, "SpanAttributes"['file.a?'] AS a, "Events.Attributes" AS events
           FROM otel_traces ORDER BY "Timestamp" """,
    )
    assert [r["name"] for r in found] == ["activity colliding"] + [f"activity after {n}" for n in range(5)]
    assert found[0]["a"] == "one" and dict(found[0]["events"][0]) == {"file.a?": "one"}
