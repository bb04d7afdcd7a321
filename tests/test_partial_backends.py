"""Partial backends and outages are one warning, not one per batch (issue 14).

A real loopback receiver (HTTP, and gRPC with only the trace service) takes traces and
refuses metrics the way Arize Phoenix does (405 / UNIMPLEMENTED). The issue asks for a
minute of 1 s metric intervals; the guard's behaviour depends on the number of exports,
not on their spacing (a 405 is final, the SDK does not retry it), so 60 exports at 0.2 s
prove the same in 12 s.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import getgather_otel
from getgather_otel.export.pipeline import Telemetry
from tests.test_shutdown import OtlpHandler, serving

INTERVAL_S = 0.2
EXPORTS = 60


@dataclass
class Receiver:
    """What a loopback receiver saw: span names with arrival times, and metric requests."""

    url: str
    spans: list[tuple[float, str]] = field(default_factory=list)
    metric_requests: int = 0
    traces_status: int = 200  # what /v1/traces answers now (an outage sets 503)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def took(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        now = time.monotonic()
        with self.lock:
            self.spans.extend(
                (now, span.name) for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans
            )


@pytest.fixture
def traces_only_http() -> Iterator[Receiver]:
    receiver = Receiver("")

    class TracesOnly(OtlpHandler):
        def answer(self, path: str, body: bytes) -> int:
            if path == "/v1/metrics":
                with receiver.lock:
                    receiver.metric_requests += 1
            if path != "/v1/traces":
                return 405
            if receiver.traces_status == 200:
                receiver.took(body)
            return receiver.traces_status

    with serving(TracesOnly) as receiver.url:
        yield receiver


@pytest.fixture
def traces_only_grpc() -> Iterator[Receiver]:
    receiver = Receiver("")

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: ExportTraceServiceRequest, context: object) -> object:  # noqa: N802
            receiver.took(request.SerializeToString())
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        server.stop(grace=None)


def run_activities(telemetry: Telemetry, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < deadline:
        with getgather_otel.activity(name="tick", brand_id="netflix", seq=seq):
            pass
        seq += 1
        time.sleep(0.05)


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_http_receiver_without_metrics_gets_one_warning_and_keeps_getting_spans(
    traces_only_http: Receiver, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    telemetry = getgather_otel.configure(
        duckdb_path=db_path, otlp=traces_only_http.url, metric_interval_s=INTERVAL_S, record_browsers=False
    )
    try:
        started = time.monotonic()
        run_activities(telemetry, INTERVAL_S * EXPORTS)
        assert telemetry.flush(10)
    finally:
        telemetry.shutdown()
    found = warnings_from(caplog)
    assert len(found) == 1, found
    assert "metrics" in found[0] and f"{traces_only_http.url}/v1/metrics" in found[0]
    assert "405" in found[0] and "OTEL_METRICS_EXPORTER=none" in found[0]
    assert traces_only_http.metric_requests == 1, "switched off after the first answer"
    arrivals = [at - started for at, _ in traces_only_http.spans]
    assert len(arrivals) > EXPORTS and max(arrivals) > INTERVAL_S * EXPORTS - 1, "spans kept arriving to the end"


def test_grpc_receiver_without_metrics_gets_one_warning(
    traces_only_grpc: Receiver, db_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    caplog.set_level(logging.WARNING)
    telemetry = getgather_otel.configure(
        duckdb_path=db_path, otlp=traces_only_grpc.url, metric_interval_s=0.1, record_browsers=False
    )
    try:
        run_activities(telemetry, 2.0)  # ~20 metric exports
        assert telemetry.flush(10)
    finally:
        telemetry.shutdown()
    found = warnings_from(caplog)
    assert len(found) == 1 and "UNIMPLEMENTED" in found[0] and "OTEL_METRICS_EXPORTER=none" in found[0], found
    assert len(traces_only_grpc.spans) >= 10


def test_an_outage_is_one_warning_when_it_starts_and_one_when_it_ends(
    traces_only_http: Receiver, db_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One attempt per batch (the SDK's 1 s backoff exceeds this timeout), so batches fail fast.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    caplog.set_level(logging.WARNING)
    telemetry = getgather_otel.configure(
        duckdb_path=db_path, otlp=traces_only_http.url, record_browsers=False, schedule_delay_millis=50
    )
    try:
        traces_only_http.traces_status = 503
        run_activities(telemetry, 2.0)  # many batches fail
        traces_only_http.traces_status = 200
        run_activities(telemetry, 1.0)
        assert telemetry.flush(10)
    finally:
        telemetry.shutdown()
    found = warnings_from(caplog)
    assert len(found) == 2, found
    assert f"traces export to {traces_only_http.url}/v1/traces is failing" in found[0], found
    assert "works again" in found[1] and "spans did not get there" in found[1], found
    assert traces_only_http.spans, "spans arrive again after the outage"


def test_flush_with_a_dead_endpoint_returns_false_instead_of_raising(tmp_path: Path) -> None:
    # A newcomer's break: the SDK's MeterProvider.force_flush raises when a reader's collection
    # failed, and `Telemetry.flush()` let it through into the caller.
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    telemetry = getgather_otel.configure(
        service_name="dead-endpoint", duckdb_path=tmp_path / "t.duckdb", otlp=f"http://127.0.0.1:{port}"
    )
    try:
        with getgather_otel.activity(name="a"):
            pass
        assert telemetry.flush(2.0) is False
    finally:
        telemetry.shutdown(1.0)
