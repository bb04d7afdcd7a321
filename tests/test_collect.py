"""`getgather-otel collect`: real OTLP/HTTP over loopback into a real DuckDB file."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from collectors.receiver import build_app
from collectors.stores import ReceiverSettings
from getgather_otel.export.duckdb_spans import DuckDBSpanExporter
from getgather_otel.export.duckdb_store import DuckDBStore, StoreLimits
from getgather_otel.store.file_lock import acquire_lock, release
from getgather_otel.web.serving import free_ports, serve_asgi, wait_until_listening
from tests.conftest import PROTOBUF, Collector, Reply, export, post, tuples


def make_spans(provider: TracerProvider) -> None:
    """Spans with everything OTLP carries: attributes of every type, events, links, status, kinds."""
    tracer = provider.get_tracer("getgather_otel", "0.3.0")
    with tracer.start_as_current_span("activity netflix_get_history", kind=SpanKind.SERVER) as root:
        root.set_attributes(
            {
                "getgather.activity.name": "netflix_get_history",
                "getgather.brand.id": "netflix",
                "getgather.page.count": 3,
                "getgather.cached": True,
                "getgather.score": 0.25,
                "getgather.tool.tags": ("brand:netflix", "history"),
                "unicode": "naïve ☃ \u2028",
            }
        )
        root.add_event("browser.navigation", {"url.full": "https://netflix.example/history?page=2", "n": 2})
        with tracer.start_as_current_span(
            "login", links=[Link(root.get_span_context(), {"why": "same trace"})], kind=SpanKind.CLIENT
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "timed out waiting for #password"))
            child.record_exception(TimeoutError("timed out waiting for #password"))


def table(db: Path) -> list[tuple[object, ...]]:
    return tuples(db, 'SELECT * FROM otel_traces ORDER BY "SpanName"')


def _sdk_exporter(collector: Collector, transport: str) -> SpanExporter:
    if transport == "grpc":
        return GrpcSpanExporter(endpoint=collector.grpc_target, insecure=True)
    compression = Compression.Gzip if transport == "http+gzip" else Compression.NoCompression
    return OTLPSpanExporter(endpoint=collector.url + "/v1/traces", compression=compression)


@pytest.mark.parametrize("transport", ["http", "http+gzip", "grpc"])
async def test_sdk_otlp_round_trip_is_exact(collector: Collector, tmp_path: Path, transport: str) -> None:
    direct = DuckDBSpanExporter(tmp_path / "direct.duckdb")
    provider = TracerProvider(resource=Resource.create({"service.name": "getgather", "host.name": "mcp-1"}))
    provider.add_span_processor(SimpleSpanProcessor(direct))
    provider.add_span_processor(SimpleSpanProcessor(_sdk_exporter(collector, transport)))
    await asyncio.to_thread(make_spans, provider)
    await asyncio.to_thread(provider.shutdown)
    collector.settle()
    collected, expected = table(collector.db), table(tmp_path / "direct.duckdb")
    assert len(collected) == 2
    assert collected == expected, "spans, events, links, status and resource arrive exactly as exported in process"


async def test_json_encoding_and_partial_success(collector: Collector) -> None:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "activity amazon_get_orders",
        "kind": 2,
        "startTimeUnixNano": "1795550000000000000",
        "endTimeUnixNano": "1795550000250000000",
        "attributes": [{"key": "getgather.brand.id", "value": {"stringValue": "amazon"}}],
        "status": {"code": 2, "message": "boom"},
    }
    bad = dict(span, spanId="00", name="bad ids")
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "x"}, "spans": [span, bad]}]}]}
    reply = await post(collector.url + "/v1/traces", json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/json")
    assert json.loads(reply.text)["partialSuccess"]["rejectedSpans"] == "1"
    collector.settle()
    [row] = table(collector.db)
    assert row[1:3] == ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174")


async def test_bad_requests_get_clear_4xx_and_nothing_accepted_is_lost(collector: Collector) -> None:
    url = collector.url + "/v1/traces"
    if True:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url)))
        await asyncio.to_thread(make_spans, provider)  # accepted before the abuse starts
        cases = [
            (b"\x0a\xff\xff\xff\xff\x0f garbage", PROTOBUF, 400, "not an OTLP"),
            (b"{not json", {"Content-Type": "application/json"}, 400, "not JSON"),
            (b"[]", {"Content-Type": "application/json"}, 400, "must be an object"),
            (b"x", {"Content-Type": "text/plain"}, 415, "Content-Type"),
            (b"x", {**PROTOBUF, "Content-Encoding": "br"}, 415, "Content-Encoding"),
            (b"x" * (300 * 1024), PROTOBUF, 413, "larger than"),
            (gzip.compress(b"\0" * (5 * 1024 * 1024)), {**PROTOBUF, "Content-Encoding": "gzip"}, 413, "inflates"),
            (b"\x1f\x8b garbage", {**PROTOBUF, "Content-Encoding": "gzip"}, 400, "gzip"),
            (
                json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(),
                {"Content-Type": "application/json"},
                400,
                "not hex",
            ),
        ]
        for body, headers, status, words in cases:
            reply = await post(url, body, headers)
            assert reply.status_code == status, (headers, reply.text)
            assert words in reply.text, reply.text
        assert (await post(url, b"", {}, method="GET")).status_code == 405
        await asyncio.to_thread(make_spans, provider)  # still serving after all of it
        await asyncio.to_thread(provider.shutdown)
    collector.settle()
    assert len(table(collector.db)) == 4


async def test_bearer_token_and_backpressure(tmp_path: Path) -> None:
    db = tmp_path / "locked.duckdb"
    store = DuckDBStore(db, limits=StoreLimits(retry_interval_s=0.05))
    settings = ReceiverSettings(token="s3cret", max_pending_spans=3)
    store.open_and_migrate()
    store.writer.close()
    # A compaction (or another writer) holding the file: the collector's writer falls behind.
    holder = acquire_lock(db, 1.0)
    held = True
    try:
        async with serve_asgi(build_app(store, settings)) as origin:
            url = origin + "/v1/traces"
            provider = TracerProvider()
            replies: list[int] = []

            async def send(auth: str | None) -> Reply:
                body = await asyncio.to_thread(_request_body, provider)
                return await post(url, body, {**PROTOBUF, **({"Authorization": auth} if auth else {})})

            assert (await send(None)).status_code == 401
            assert (await send("Bearer wrong")).status_code == 401
            for _ in range(3):
                reply = await send("Bearer s3cret")
                replies.append(reply.status_code)
            assert replies[:1] == [200] and 429 in replies, replies
            limited = await send("Bearer s3cret")
            assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
            assert store.stats.spans.pending <= 3, "memory stays bounded: nothing beyond the limit was taken"
            release(holder)
            held = False
            store.flush(10)
            assert (await send("Bearer s3cret")).status_code == 200
        assert store.stats.spans.dropped == 0
    finally:
        if held:
            release(holder)
    store.shutdown()
    assert len(table(db)) >= 4


@pytest.fixture
async def small_collector(tmp_path: Path) -> AsyncIterator[Collector]:
    """A collector buffering at most 5 spans and 5 points a table (the defaults: 50,000 and 200,000)."""
    store = DuckDBStore(tmp_path / "small.duckdb")
    settings = ReceiverSettings(max_pending_spans=5, max_pending_metric_points=5, grpc_port=0)
    app = build_app(store, settings)
    async with serve_asgi(app) as origin:
        yield Collector(origin, store, tmp_path / "small.duckdb", app.state.stores, f"127.0.0.1:{app.state.grpc_port}")


def _spans(count: int) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(1, count + 1):
        scope.spans.add(trace_id=n.to_bytes(16, "big"), span_id=n.to_bytes(8, "big"), name=f"span {n}")
    return request


def _gauge_points(count: int) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    gauge = request.resource_metrics.add().scope_metrics.add().metrics.add(name="browser.pages.open")
    for n in range(count):
        gauge.gauge.data_points.add(as_int=n, time_unix_nano=1_700_000_000_000_000_000 + n)
    return request


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_a_request_past_the_buffer_limit_is_refused_for_good(small_collector: Collector, transport: str) -> None:
    """More items than the writer ever buffers would get 429 / UNAVAILABLE forever, even on an
    idle collector: the answer is one no OTLP exporter retries, naming the limit."""
    final = 413 if transport == "http" else grpc.StatusCode.INVALID_ARGUMENT
    for request, what in ((_spans(6), "6 spans"), (_gauge_points(6), "6 otel_metrics_gauge points")):
        answer = await export(small_collector, request, transport)
        assert answer.status == final, (answer.status, answer.body)
        why = answer.detail or RpcStatus.FromString(answer.body).message
        assert f"holds {what}, more than the 5 the collector buffers" in why, why
    for request in (_spans(5), _gauge_points(5)):  # what fits is taken, as before
        assert (await export(small_collector, request, transport)).accepted
    small_collector.settle()
    assert tuples(small_collector.db, "SELECT count(*) FROM otel_traces") == [(5,)]
    assert tuples(small_collector.db, "SELECT count(*) FROM otel_metrics_gauge") == [(5,)]


def _request_body(provider: TracerProvider) -> bytes:
    """One ExportTraceServiceRequest (2 spans) as the SDK's OTLP exporter would send it."""
    memory = InMemorySpanExporter()
    local = TracerProvider(resource=provider.resource)
    local.add_span_processor(SimpleSpanProcessor(memory))
    make_spans(local)
    body: bytes = encode_spans(memory.get_finished_spans()).SerializeToString()
    return body


def collect_process(db: Path, port: int, grpc_port: int, *options: str) -> subprocess.Popen[str]:
    """`getgather-otel collect` in a subprocess (stdout and stderr piped)."""
    command = ["collect", "--db", str(db), "--port", str(port), "--grpc-port", str(grpc_port), *options]
    return subprocess.Popen(
        [sys.executable, "-m", "getgather_otel.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_collect_command_flushes_everything_on_sigterm(tmp_path: Path) -> None:
    db, (port, grpc_port) = tmp_path / "fleet.duckdb", free_ports(2)
    process = collect_process(db, port, grpc_port)
    try:
        wait_until_listening(port, process, timeout_s=20)
        servers = [TracerProvider(resource=Resource.create({"service.name": f"mcp-{n}"})) for n in range(3)]
        http = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        grpc = GrpcSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)
        exporters = [http, OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"), grpc]
        for provider, exporter in zip(servers, exporters, strict=True):  # many MCP servers, one collector
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            for _ in range(5):
                make_spans(provider)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert out == "", "nothing on stdout"
    finally:
        if process.poll() is None:
            process.kill()
    rows = table(db)
    assert len(rows) == 3 * 5 * 2, "every span accepted before SIGTERM is written, exactly once"
    assert len({(r[1], r[2]) for r in rows}) == len(rows)
