"""Spans also leave over real OTLP/HTTP on loopback when configured."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import getgather_otel
from getgather_otel import activity
from tests.conftest import rows


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.path == "/v1/traces"
            assert self.headers["Content-Type"] == "application/x-protobuf"
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.append(request)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_same_spans_go_to_duckdb_and_otlp(
    db_path: Path,
    otlp_receiver: tuple[str, list[ExportTraceServiceRequest]],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    url, received = otlp_receiver
    if how == "environment":
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
        telemetry = getgather_otel.configure(duckdb_path=db_path)
    else:
        telemetry = getgather_otel.configure(duckdb_path=db_path, otlp=url)
    with activity(name="login", brand_id="netflix", kind="auth") as act:
        pass
    telemetry.shutdown()
    sent = [
        span
        for request in received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert [s.span_id.hex() for s in sent] == [act.activity_id]
    attributes = {a.key: a.value.string_value for a in sent[0].attributes}
    assert attributes["getgather.brand.id"] == "netflix"
    stored = rows(db_path, "SELECT activity_id FROM activities")
    assert stored == [{"activity_id": act.activity_id}]
    assert telemetry.stats().dropped_before_export == 0


def test_otlp_off_by_default_and_a_bad_variable_is_ignored_with_a_warning(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The OTel environment-variable specification: a value that cannot be parsed SHOULD be
    # warned about and ignored (a newcomer's break: a typo made configure() raise, so the server
    # did not start).
    from getgather_otel.export.otlp import otlp_protocol, otlp_span_exporter, recordings_mode

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert otlp_span_exporter(None) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    monkeypatch.setenv("GETGATHER_OTEL_OTLP_RECORDINGS", "maybe")
    monkeypatch.setenv("GETGATHER_OTEL_RETAIN_SPANS_DAYS", "abc")
    with caplog.at_level(logging.WARNING, "getgather_otel"):
        assert otlp_protocol("traces") == "http/protobuf" and otlp_span_exporter(True) is not None
        assert recordings_mode(None) == "auto"
        telemetry = getgather_otel.configure(service_name="typos", duckdb_path=db_path)
        with activity(name="still_works"):
            pass
        assert telemetry.flush()
        telemetry.shutdown()
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='carrier-pigeon'" in said and "GETGATHER_OTEL_OTLP_RECORDINGS='maybe'" in said
    assert "GETGATHER_OTEL_RETAIN_SPANS_DAYS='abc' is ignored" in said
    assert rows(db_path, "SELECT name FROM activities") == [{"name": "still_works"}]
