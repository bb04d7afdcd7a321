"""Recordings (as OTLP log records) and metrics over real OTLP/HTTP into `getgather-otel collect`.

An instrumented process writes its own DuckDB file and exports to a collector on
loopback at once, so the collector's rows can be compared with the local ones byte for
byte. Recordings go only to a receiver that is ours unless told otherwise.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from patchright.async_api import Browser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import getgather_otel
from collectors.otlp_logs import MAX_CHUNK_RAW_BYTES
from getgather_otel import activity
from getgather_otel.recording.chunk_codec import decode
from getgather_otel.store.log_chunks import EVENT_NAME
from getgather_otel.web.serving import serve_asgi
from tests.conftest import PROTOBUF, Collector, Sites, export, post, rows, tuples

CHUNK_COLUMNS = "trace_id, span_id, recording_id, page_id, sequence, first_event_time, last_event_time, " + (
    "event_count, raw_bytes, stored_bytes, compression, starts_with_full_snapshot, url, data"
)


async def _browse(browser: Browser, sites: Sites) -> str:
    async with activity(name="shop_read_orders", brand_id="shop") as act:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{sites.main}/login.html")
        await page.fill("#password", "hunter2-over-otlp")
        await context.close()
    return act.activity_id


async def test_recordings_and_metrics_arrive_byte_for_byte(
    collector: Collector, browser: Browser, sites: Sites, tmp_path: Path
) -> None:
    local = tmp_path / "local.duckdb"
    telemetry = getgather_otel.configure(service_name="signals", duckdb_path=local, otlp=collector.url)
    try:
        activity_id = await _browse(browser, sites)
        assert await asyncio.to_thread(telemetry.flush, 30)
        sent = telemetry.stats().otlp_recordings
        assert sent is not None and sent.written > 0 and sent.dropped == 0
    finally:
        await asyncio.to_thread(telemetry.shutdown)
    collector.settle()
    order = f"SELECT {CHUNK_COLUMNS} FROM recording_chunks ORDER BY page_id, sequence"
    local_chunks, collected_chunks = tuples(local, order), tuples(collector.db, order)
    assert local_chunks and collected_chunks == local_chunks
    assert all(b"hunter2" not in bytes(row[-1]) for row in collected_chunks)
    spans = 'SELECT * FROM otel_traces ORDER BY "SpanId"'
    assert tuples(collector.db, spans) == tuples(local, spans)
    [collected] = rows(collector.db, "SELECT has_recording FROM activities WHERE activity_id = ?", [activity_id])
    assert collected["has_recording"] is True
    [histogram] = rows(
        collector.db,
        """SELECT "Count" AS n, "Attributes" AS a, "ServiceName" AS service, "MetricUnit" AS unit,
                  list_sum("BucketCounts") AS in_buckets
           FROM otel_metrics_histogram WHERE "MetricName" = 'getgather.activity.duration'
           ORDER BY "TimeUnix" DESC LIMIT 1""",
    )  # cumulative temporality: each export (flush, then shutdown) repeats the running totals
    assert histogram["n"] == 1 == histogram["in_buckets"]
    [service] = rows(collector.db, 'SELECT DISTINCT "ServiceName" AS name FROM otel_traces')
    # Metrics carry the span provider's resource (in a full test run, an earlier test's provider).
    assert histogram["a"]["getgather.brand.id"] == "shop" and histogram["service"] == service["name"] != ""
    assert histogram["unit"] == "s"


@pytest.fixture
async def foreign_receiver() -> AsyncIterator[tuple[str, list[str]]]:
    """An OTLP/HTTP endpoint that is not ours: accepts everything, remembers the paths posted to."""
    posted: list[str] = []

    async def accept(request: Request) -> Response:
        await request.body()
        posted.append(request.url.path)
        return Response(b"", media_type="application/x-protobuf")

    app = Starlette(routes=[Route("/v1/{signal}", accept, methods=["POST"])])
    async with serve_asgi(app) as origin:
        yield origin, posted


@pytest.mark.parametrize("otlp_recordings", [None, True])
async def test_recordings_go_only_where_wanted(
    foreign_receiver: tuple[str, list[str]], browser: Browser, sites: Sites, otlp_recordings: bool | None
) -> None:
    url, posted = foreign_receiver
    telemetry = getgather_otel.configure(duckdb_path=False, otlp=url, otlp_recordings=otlp_recordings)
    try:
        await _browse(browser, sites)
        assert await asyncio.to_thread(telemetry.flush, 30)
    finally:
        await asyncio.to_thread(telemetry.shutdown)
    assert "/v1/traces" in posted and "/v1/metrics" in posted
    assert ("/v1/logs" in posted) is (otlp_recordings is True), "auto mode keeps rrweb bytes off foreign backends"


def _chunk_record(request: ExportLogsServiceRequest, **overrides: Any) -> None:
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    record.span_id = bytes.fromhex("b7ad6b7169203331")
    record.event_name = overrides.get("event_name", EVENT_NAME)
    record.time_unix_nano = 1_700_000_000_000_000_000
    record.body.bytes_value = overrides.get("body", zstandard.ZstdCompressor().compress(b'[{"type":4}]'))
    values: dict[str, Any] = {
        "getgather.recording.id": "rec-1",
        "getgather.recording.page_id": "c1p1",
        "getgather.recording.sequence": 0,
        "getgather.recording.compression": "zstd",
        "getgather.recording.event_count": 3,
        "getgather.recording.raw_bytes": 300,
        "getgather.recording.starts_with_full_snapshot": True,
        "url.full": "http://127.0.0.1/x",
        "getgather.recording.first_event_time_unix_nano": 1_700_000_000_000_000_000,
        "getgather.recording.last_event_time_unix_nano": 1_700_000_001_000_000_000,
    }
    values.update(overrides.get("attributes", {}))
    for key, value in values.items():
        if value is None:
            continue
        attribute = record.attributes.add()
        attribute.key = key
        any_value = AnyValue()
        if isinstance(value, bool):
            any_value.bool_value = value
        elif isinstance(value, int):
            any_value.int_value = value
        else:
            any_value.string_value = value
        attribute.value.CopyFrom(any_value)


async def test_logs_keep_chunks_and_reject_other_records(collector: Collector) -> None:
    request = ExportLogsServiceRequest()
    _chunk_record(request)
    _chunk_record(request, event_name="app.log")
    _chunk_record(request, attributes={"getgather.recording.sequence": None})
    reply = await post(collector.url + "/v1/logs", request.SerializeToString(), PROTOBUF)
    assert reply.status_code == 200
    assert "app.log" in reply.text
    collector.settle()
    assert tuples(collector.db, "SELECT recording_id, sequence, url FROM recording_chunks") == [
        ("rec-1", 0, "http://127.0.0.1/x")
    ]


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_a_chunk_with_an_out_of_range_value_is_rejected_alone(collector: Collector, transport: str) -> None:
    """A value its column cannot hold is one record's problem: a 500 (gRPC UNKNOWN) would make
    the sender drop the whole batch, good chunks included (OTLP retries neither)."""
    request = ExportLogsServiceRequest()
    _chunk_record(request)
    _chunk_record(request, attributes={"getgather.recording.raw_bytes": -1, "getgather.recording.id": "rec-2"})
    _chunk_record(request, attributes={"getgather.recording.sequence": 2**40, "getgather.recording.id": "rec-3"})
    _chunk_record(request, attributes={"getgather.recording.sequence": 1})
    answer = await export(collector, request, transport)
    assert answer.accepted, (answer.status, answer.body, answer.detail)
    partial = ExportLogsServiceResponse.FromString(answer.body).partial_success
    assert partial.rejected_log_records == 2
    assert "cannot hold" in partial.error_message, partial.error_message
    collector.settle()
    stored = tuples(collector.db, "SELECT recording_id, sequence FROM recording_chunks ORDER BY sequence")
    assert stored == [("rec-1", 0), ("rec-1", 1)]


async def test_a_chunk_the_readers_could_not_decompress_is_not_stored(collector: Collector) -> None:
    """`replay`, `scan`, the `rrweb_recordings` view and the viewer decompress every stored
    chunk: one that does not decode is refused at the door, with why, and the rest kept."""
    zstd = zstandard.ZstdCompressor()
    bad = {  # recording id: (body, compression, why)
        "rec-garbage": (b"definitely not zstd", "zstd", "not a zstd frame"),
        "rec-corrupt": (b"\x28\xb5\x2f\xfd not really zstd", "zstd", "does not decompress"),  # zstd's magic only
        "rec-truncated": (zstd.compress(b'[{"type":4}]' * 50)[:-4], "zstd", "does not decompress"),
        "rec-gzip": (gzip.compress(b'[{"type":4}]'), "gzip", "compression must be 'zstd'"),
        "rec-bomb": (zstd.compress(b" " * (MAX_CHUNK_RAW_BYTES + 1)), "zstd", "at most"),  # ~2 KB, 64 MiB + 1 raw
        "rec-no-size": (zstandard.ZstdCompressor(write_content_size=False).compress(b"[]"), "zstd", "declare"),
    }

    def chunks(*recording_ids: str) -> ExportLogsServiceRequest:
        request = ExportLogsServiceRequest()
        for recording_id in recording_ids:
            body, compression, _ = bad.get(recording_id, (zstd.compress(b'[{"type":4}]'), "zstd", ""))
            attributes = {"getgather.recording.id": recording_id, "getgather.recording.compression": compression}
            _chunk_record(request, body=body, attributes=attributes)
        return request

    answer = await export(collector, chunks("rec-1", *bad), "http")
    assert answer.accepted, answer.body
    assert ExportLogsServiceResponse.FromString(answer.body).partial_success.rejected_log_records == len(bad)
    for recording_id, (_, _, why) in bad.items():
        answer = await export(collector, chunks(recording_id), "http")
        partial = ExportLogsServiceResponse.FromString(answer.body).partial_success
        assert (partial.rejected_log_records, why in partial.error_message) == (1, True), partial.error_message
    collector.settle()
    stored = tuples(collector.db, "SELECT recording_id, data, compression FROM recording_chunks")
    assert [(recording_id, decode(bytes(data), compression)) for recording_id, data, compression in stored] == [
        ("rec-1", [{"type": 4}])
    ]


async def test_metrics_keep_what_they_can_and_count_the_rest(collector: Collector) -> None:
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    gauge = scope.metrics.add()
    gauge.name = "browser.pages.open"
    point = gauge.gauge.data_points.add()
    point.as_int = 3
    point.time_unix_nano = 1_700_000_000_000_000_000
    point.attributes.add(key="headless").value.bool_value = True
    exponential = scope.metrics.add()
    exponential.name = "latency.exp"
    exponential.exponential_histogram.data_points.add().count = 4
    exponential.exponential_histogram.data_points.add().count = 5
    scope.metrics.add().name = "no.data"
    reply = await post(collector.url + "/v1/metrics", request.SerializeToString(), PROTOBUF)
    assert reply.status_code == 200 and "no.data" in reply.text
    collector.settle()
    counts = tuples(collector.db, 'SELECT list("Count" ORDER BY "Count") FROM otel_metrics_exponential_histogram')
    assert counts == [([4, 5],)], "exponential histograms are stored, not rejected"
    stored = tuples(collector.db, 'SELECT "MetricName", "Value", "Attributes" FROM otel_metrics_gauge')
    assert stored == [("browser.pages.open", 3.0, {"headless": "true"})], "values stringified as span attributes are"


async def test_a_flush_mid_activity_sends_what_open_pages_hold(
    collector: Collector, browser: Browser, sites: Sites
) -> None:
    telemetry = getgather_otel.configure(duckdb_path=False, otlp=collector.url)
    try:
        async with activity(name="shop_long_call", brand_id="shop"):
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(f"{sites.main}/login.html")
            await page.wait_for_timeout(500)  # past the recorder's 100 ms batch
            assert await asyncio.to_thread(telemetry.flush, 30)
            collector.settle()
            sent = tuples(collector.db, "SELECT data, compression FROM recording_chunks")
            text = json.dumps([decode(bytes(data), compression) for data, compression in sent])
            assert "Sign in" in text, "the open page's chunk was cut and sent (OTLP is the only sink)"
            await context.close()
    finally:
        await asyncio.to_thread(telemetry.shutdown)
