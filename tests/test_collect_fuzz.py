"""Fuzzing the receiver: malformed bodies never get a 5xx, never stop it, never lose accepted spans.

Hypothesis drives bodies at all three OTLP/HTTP endpoints through Starlette's in-process
ASGI client (the same app `collect` serves; no sockets needed to reach parsing): random
bytes, truncated and bit-flipped real requests, arbitrary JSON, gzip of any of those, with
either content type. After the run a valid request must still be stored.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.testclient import TestClient

from collectors.receiver import build_app
from collectors.stores import ReceiverSettings
from getgather_otel.export.duckdb_store import DuckDBStore


def _valid_request() -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes(range(1, 17))
    span.span_id = bytes(range(1, 9))
    span.name = "activity netflix_get_history"
    span.start_time_unix_nano = 1_795_550_000_000_000_000
    span.end_time_unix_nano = 1_795_550_000_250_000_000
    attribute = span.attributes.add()
    attribute.key = "getgather.activity.name"
    attribute.value.string_value = "netflix_get_history"
    return bytes(request.SerializeToString())


VALID = _valid_request()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
otlp_like_json = st.fixed_dictionaries(
    {"resourceSpans": st.lists(st.dictionaries(st.sampled_from(["resource", "scopeSpans", "x"]), json_values))}
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


bodies = st.one_of(
    st.binary(max_size=2048),
    mutated(),
    json_values.map(lambda v: json.dumps(v).encode()),
    otlp_like_json.map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, DuckDBStore, Path]]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb"
    store = DuckDBStore(db)
    with TestClient(build_app(store, ReceiverSettings(max_body_bytes=64 * 1024))) as test_client:
        yield test_client, store, db


DEEP_JSON = b'{"resourceSpans": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
DEEP_PROTOBUF = b"\x0a\x80\x01" * 15_000  # nested length-delimited fields, past protobuf's recursion limit


@example(body=DEEP_JSON, path="/v1/traces", content_type="application/json", gzipped=False)
@example(body=DEEP_PROTOBUF, path="/v1/logs", content_type="application/x-protobuf", gzipped=True)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies,
    path=st.sampled_from(["/v1/traces", "/v1/logs", "/v1/metrics"]),
    content_type=st.sampled_from(["application/x-protobuf", "application/json", "application/json; charset=utf-8"]),
    gzipped=st.booleans(),
)
def test_malformed_bodies_never_get_a_server_error(
    client: tuple[TestClient, DuckDBStore, Path], body: bytes, path: str, content_type: str, gzipped: bool
) -> None:
    test_client, _, _ = client
    headers = {"Content-Type": content_type}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    reply = test_client.post(path, content=body, headers=headers)
    assert reply.status_code in (200, 400, 413, 415), (reply.status_code, reply.text)


def test_the_receiver_still_stores_after_fuzzing(client: tuple[TestClient, DuckDBStore, Path]) -> None:
    test_client, store, _ = client
    before = store.stats.spans.written + store.stats.spans.pending
    reply = test_client.post("/v1/traces", content=VALID, headers={"Content-Type": "application/x-protobuf"})
    assert reply.status_code == 200
    assert store.flush(10)
    assert store.stats.spans.written >= before + 1 and store.stats.spans.dropped == 0
