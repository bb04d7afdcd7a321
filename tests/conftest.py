"""Shared fixtures: a real DuckDB file per test, configured telemetry, FastMCP modes,
the fixture brand site on two loopback origins, real Chromium through Patchright, and a
`getgather-otel collect` receiver on loopback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastmcp
import grpc
import pytest
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from patchright.async_api import Browser, Playwright, async_playwright
from playwright.async_api import Browser as PlaywrightBrowser
from playwright.async_api import async_playwright as async_playwright_plain

import getgather_otel
from collectors.receiver import build_app
from collectors.stores import ReceiverSettings, Stores
from getgather_otel.demo.browser import launch_options
from getgather_otel.demo.site import brand_site
from getgather_otel.export.duckdb_store import DuckDBStore
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.recording import hooks
from getgather_otel.store.reader import open_for_reading
from getgather_otel.web.serving import serve_asgi


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "telemetry.duckdb"


@pytest.fixture
def telemetry(db_path: Path) -> Iterator[Telemetry]:
    t = getgather_otel.configure(service_name="getgather-test", duckdb_path=db_path)
    yield t
    t.shutdown()


@pytest.fixture
def quiet_telemetry(db_path: Path) -> Iterator[Telemetry]:
    """Telemetry that records only the contexts given to `record_browser`, so a control run can be unrecorded."""
    t = getgather_otel.configure(service_name="getgather-test", duckdb_path=db_path, record_browsers=False)
    hooks.uninstall_auto_recording()  # an earlier configure() in this process may have installed them
    yield t
    t.shutdown()


@pytest.fixture(params=["native", "propagation_only", "off"])
def fastmcp_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(fastmcp.settings, "telemetry_mode", request.param)
    return str(request.param)


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Run a query on the file as a separate reader would, returning dicts."""
    with open_for_reading(db, wait_s=10) as conn:
        cursor = conn.execute(sql, params or [])
        columns = [d[0] for d in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def tuples(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Like `rows`, as plain tuples: for comparing whole rows between two files."""
    with open_for_reading(db, wait_s=10) as conn:
        return conn.execute(sql).fetchall()


def flushed(telemetry: Telemetry) -> None:
    """Everything ended so far is in the file, and the writer has let go of it."""
    assert telemetry.flush(timeout_s=20)


SITES_DIR = Path(__file__).with_name("sites")
STRICT_CSP = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
}


@dataclass(frozen=True)
class Sites:
    """The fixture brand on four loopback origins: `main` and `other` are one site on two ports
    (same site, cross origin); `far` (127.0.0.2) and `third` (127.0.0.3) are other sites, which
    Chromium's site isolation puts in processes of their own (out-of-process iframes)."""

    main: str
    other: str
    far: str
    third: str


@pytest.fixture
async def sites() -> AsyncIterator[Sites]:
    headers = {"csp.html": STRICT_CSP, "detect-csp.html": STRICT_CSP}
    async with (
        serve_asgi(brand_site(SITES_DIR, headers)) as main,
        serve_asgi(brand_site(SITES_DIR, headers)) as other,
        serve_asgi(brand_site(SITES_DIR, headers), host="127.0.0.2") as far,
        serve_asgi(brand_site(SITES_DIR, headers), host="127.0.0.3") as third,
    ):
        yield Sites(main, other, far, third)


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    browser = await playwright.chromium.launch(**launch_options())
    yield browser
    await browser.close()


@pytest.fixture
async def pw_browser() -> AsyncIterator[PlaywrightBrowser]:
    """The same Chromium driven by plain Playwright (init scripts and bindings over CDP, no document routing)."""
    async with async_playwright_plain() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        yield browser
        await browser.close()


PROTOBUF = {"Content-Type": "application/x-protobuf"}


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]
    text: str


def _post(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> Reply:
    request = urllib.request.Request(url, data=body if method == "POST" else None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read().decode("utf-8", "replace"),
            )
    except urllib.error.HTTPError as error:
        return Reply(
            error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode("utf-8", "replace")
        )


async def post(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> Reply:
    """A plain HTTP request from a worker thread (the receiver runs on this event loop)."""
    return await asyncio.to_thread(_post, url, body, headers, method)


# OTLP/HTTP path and OTLP/gRPC method of each Export*ServiceRequest.
_ENDPOINTS = {
    "ExportTraceServiceRequest": ("/v1/traces", "/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
    "ExportLogsServiceRequest": ("/v1/logs", "/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
    "ExportMetricsServiceRequest": ("/v1/metrics", "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"),
}


@dataclass
class Answer:
    """A collector's answer to one OTLP export, over either transport."""

    status: int | grpc.StatusCode  # HTTP status, or gRPC status code
    body: bytes  # the serialised Export*ServiceResponse (or rpc Status, for an HTTP error)
    detail: str  # gRPC's status details ("" over HTTP)

    @property
    def accepted(self) -> bool:
        return self.status in (200, grpc.StatusCode.OK)


def _post_bytes(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=PROTOBUF, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def export(collector: Collector, request: Message, transport: str) -> Answer:
    """Send `request` as protobuf over OTLP/HTTP (`transport` "http") or OTLP/gRPC ("grpc")."""
    path, method = _ENDPOINTS[type(request).__name__]
    if transport == "http":
        status, body = await asyncio.to_thread(_post_bytes, collector.url + path, request.SerializeToString())
        return Answer(status, body, "")
    options = [("grpc.max_send_message_length", 64 << 20)]
    async with grpc.aio.insecure_channel(collector.grpc_target, options=options) as channel:
        call = channel.unary_unary(method)
        try:
            return Answer(grpc.StatusCode.OK, await call(request.SerializeToString(), timeout=30), "")
        except grpc.aio.AioRpcError as error:
            return Answer(error.code(), b"", error.details() or "")


class OtlpSender:
    """An SDK tracer exporting each span over OTLP/HTTP to a receiver on this test's event loop.

    Spans are made and exported in a worker thread: the receiver answers on the loop.
    """

    def __init__(self, url: str, service: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces")))
        self._tracer = self.provider.get_tracer("tests")

    def _emit(self, name: str, brand: str) -> None:
        with self._tracer.start_as_current_span(f"activity {name}") as span:
            span.set_attributes({"getgather.activity.name": name, "getgather.brand.id": brand})

    async def activity(self, name: str, brand: str) -> None:
        await asyncio.to_thread(self._emit, name, brand)

    async def close(self) -> None:
        await asyncio.to_thread(self.provider.shutdown)


@dataclass
class Collector:
    url: str
    store: DuckDBStore
    db: Path
    stores: Stores
    grpc_target: str  # host:port of the OTLP/gRPC side

    def settle(self) -> None:
        """Everything accepted so far is in the file, and the file is free for a reader."""
        assert self.store.flush(20)


@pytest.fixture
async def collector(tmp_path: Path) -> AsyncIterator[Collector]:
    db = tmp_path / "collected.duckdb"
    store = DuckDBStore(db)
    settings = ReceiverSettings(max_body_bytes=256 * 1024, token=None, grpc_port=0)
    app = build_app(store, settings)
    async with serve_asgi(app) as origin:
        yield Collector(origin, store, db, app.state.stores, f"127.0.0.1:{app.state.grpc_port}")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database a newcomer's `getgather-otel demo` produces, made by the real command."""
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    replay = db.with_name("replay.html")
    done = subprocess.run(
        [sys.executable, "-m", "getgather_otel.cli", "demo", "--db", str(db), "--replay", str(replay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "latest activities" in done.stdout and "by brand" in done.stdout
    assert "netflix_get_history" in done.stdout and "TimeoutError" in done.stdout
    assert f"wrote {replay}" in done.stdout and "Your orders" in replay.read_text()
    return db
