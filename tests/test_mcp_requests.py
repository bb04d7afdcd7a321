"""Every MCP request as the OpenTelemetry MCP semantic conventions say (issue 16).

A real FastMCP server (tests/helpers/mcp_methods_server.py) and a real FastMCP client, in
memory, over stdio (the server in a subprocess) and over streamable HTTP, in FastMCP's
`native` telemetry mode and with it `off` (and `propagation_only` in memory): each method's
SERVER span, its name, kind and attributes, exactly one per request, the activity under it,
the session rules, the calling client's name, and the metric points per method.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastmcp
import mcp_types
import pytest
from fastmcp import Client, FastMCP
from fastmcp.client.transports import StdioTransport
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import getgather_otel
from getgather_otel.capture import attributes as attr
from getgather_otel.capture import metrics as metrics_module
from getgather_otel.capture.middleware import ActivityMiddleware, uninstrument_mcp
from getgather_otel.demo.loopback import serve_streamable_http
from getgather_otel.export.pipeline import Telemetry
from tests.conftest import flushed, rows
from tests.helpers.mcp_methods_server import build_server, metric_points

HELPER = Path(__file__).parent / "helpers" / "mcp_methods_server.py"
CLIENT_INFO = mcp_types.Implementation(name="agent-under-test", version="1.2.3")
SEMCONV = Path(__file__).parent / "semconv" / "mcp_names.txt"


@dataclass
class Run:
    """What one client session left behind: the server's ledger, its spans, its metric points."""

    requests: list[tuple[str, str]]
    spans: list[dict[str, Any]]
    metrics: list[dict[str, Any]]

    def server_spans(self) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["SpanKind"] == "Server"]

    def points(self, name: str) -> list[dict[str, Any]]:
        return [p for p in self.metrics if p["name"] == name]


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def telemetry_with_metrics(db_path: Path, metric_reader: InMemoryMetricReader) -> Iterator[Telemetry]:
    t = getgather_otel.configure(
        service_name="methods",
        duckdb_path=db_path,
        record_browsers=False,
        meter_provider=MeterProvider([metric_reader]),
    )
    yield t
    t.shutdown()
    metrics_module.use_meter_provider(None)


def _spans(db: Path) -> list[dict[str, Any]]:
    return rows(
        db,
        """SELECT "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ScopeName",
                  "SpanAttributes" AS attrs, "StatusCode", "StatusMessage"
           FROM otel_traces ORDER BY "Timestamp" """,
    )


async def exercise(client: Client[Any]) -> None:
    """One agent's session: every kind of request, successes and each kind of failure."""
    if client.protocol_version == "2026-07-28":  # ping left the protocol: "Method not found"
        with pytest.raises(Exception, match="Method not found"):
            await client.ping()
    else:
        assert await client.ping()
    await client.list_tools()
    assert (await client.call_tool("netflix_title", {"show": "dark"})).data == "Dark"
    assert (await client.call_tool("fail", {}, raise_on_error=False)).is_error
    assert (await client.call_tool("no_such_tool", {}, raise_on_error=False)).is_error
    await client.list_resources()
    await client.read_resource("data://catalog")
    with pytest.raises(Exception, match="data://missing"):
        await client.read_resource("data://missing")
    with pytest.raises(Exception, match="the catalog is down"):
        await client.read_resource("data://broken")
    await client.list_prompts()
    await client.get_prompt("summarize", {"topic": "tv"})


@asynccontextmanager
async def in_process(transport: str, mode: str = "auto") -> AsyncIterator[tuple[Client[Any], list[tuple[str, str]]]]:
    server, ledger = build_server()
    if transport == "memory":
        async with Client(server, client_info=CLIENT_INFO, mode=mode) as client:
            yield client, ledger.requests
    else:
        async with (
            serve_streamable_http(server) as url,
            Client(url, client_info=CLIENT_INFO, mode=mode) as client,
        ):
            yield client, ledger.requests


async def run_in_process(
    transport: str, telemetry: Telemetry, db: Path, reader: InMemoryMetricReader, mode: str = "auto"
) -> Run:
    async with in_process(transport, mode) as (client, requests):
        await exercise(client)
    flushed(telemetry)
    return Run(list(requests), _spans(db), metric_points(reader))


async def run_stdio(tmp_path: Path, fastmcp_mode: str, mode: str = "auto") -> Run:
    db, out = tmp_path / "stdio.duckdb", tmp_path / "stdio.json"
    transport = StdioTransport(
        sys.executable,
        [str(HELPER), str(db), str(out)],
        env={"FASTMCP_TELEMETRY_MODE": fastmcp_mode, "PYTHONPATH": str(Path(__file__).parent.parent)},
        keep_alive=False,
    )
    async with Client(transport, client_info=CLIENT_INFO, mode=mode) as client:
        await exercise(client)
    found = json.loads(out.read_text())
    return Run([tuple(r) for r in found["requests"]], _spans(db), found["metrics"])


def check_every_request(run: Run, transport: str, legacy: bool = False) -> None:
    """The conventions, request by request, against the server's own ledger."""
    servers = run.server_spans()
    assert len(servers) == len(run.requests), "exactly one SERVER span per request"
    by_id = {s["attrs"][attr.JSONRPC_REQUEST_ID]: s for s in servers}
    assert sorted(by_id) == sorted(rid for _, rid in run.requests)
    protocol = "2025-11-25" if legacy else "2026-07-28"
    for method, rid in run.requests:
        span = by_id[rid]
        a = span["attrs"]
        assert a[attr.MCP_METHOD_NAME] == method
        assert a[attr.MCP_PROTOCOL_VERSION] == protocol
        assert a.get(attr.CLIENT_NAME) == "agent-under-test"
        assert a.get(attr.CLIENT_VERSION) == "1.2.3"
        if transport == "http":
            assert a[attr.NETWORK_TRANSPORT] == "tcp"
            assert a[attr.NETWORK_PROTOCOL_NAME] == "http" and a[attr.NETWORK_PROTOCOL_VERSION] == "1.1"
            assert a[attr.CLIENT_ADDRESS] == "127.0.0.1" and int(a[attr.CLIENT_PORT]) > 0
        elif transport == "stdio":
            assert a[attr.NETWORK_TRANSPORT] == "pipe"
            assert attr.NETWORK_PROTOCOL_NAME not in a and attr.CLIENT_ADDRESS not in a
        else:  # in memory: neither a pipe nor a socket
            assert attr.NETWORK_TRANSPORT not in a
        if not legacy or transport != "http":
            assert attr.MCP_SESSION_ID not in a, "no session: nothing to name"

    def one(method: str, target: str | None = None, **where: str) -> dict[str, Any]:
        name = f"{method} {target}" if target else method
        found = [s for s in servers if s["SpanName"] == name and all(s["attrs"].get(k) == v for k, v in where.items())]
        assert len(found) == 1, (name, where, [s["SpanName"] for s in servers])
        return found[0]

    ok = one("tools/call", "netflix_title")
    assert ok["attrs"][attr.GEN_AI_TOOL_NAME] == "netflix_title"
    assert ok["attrs"][attr.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert ok["StatusCode"] == "Unset" and attr.ERROR_TYPE not in ok["attrs"]
    assert ok["attrs"][attr.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"show": "dark"}'
    for failing in ("fail", "no_such_tool"):  # both reach the client as isError results
        span = one("tools/call", failing)
        assert span["attrs"][attr.ERROR_TYPE] == "tool_error" and span["StatusCode"] == "Error"
        assert attr.RPC_RESPONSE_STATUS_CODE not in span["attrs"]
    assert "this tool always fails" in one("tools/call", "fail")["StatusMessage"]
    read = one("resources/read", **{attr.MCP_RESOURCE_URI: "data://catalog"})
    assert read["StatusCode"] == "Unset" and attr.GEN_AI_OPERATION_NAME not in read["attrs"]
    missing = one("resources/read", **{attr.MCP_RESOURCE_URI: "data://missing"})
    # -32602 is the caller's mistake: the conventions say it is not a server error
    assert missing["attrs"][attr.RPC_RESPONSE_STATUS_CODE] == "-32602"
    assert attr.ERROR_TYPE not in missing["attrs"] and missing["StatusCode"] == "Unset"
    ping = one("ping")
    if legacy:
        assert ping["StatusCode"] == "Unset" and attr.RPC_RESPONSE_STATUS_CODE not in ping["attrs"]
    else:  # -32601 is the caller's mistake too
        assert ping["attrs"][attr.RPC_RESPONSE_STATUS_CODE] == "-32601"
        assert attr.ERROR_TYPE not in ping["attrs"] and ping["StatusCode"] == "Unset"
    broken = one("resources/read", **{attr.MCP_RESOURCE_URI: "data://broken"})
    # -32603 (internal error) is the server's own failure: an error, named by its code
    assert broken["attrs"][attr.ERROR_TYPE] == broken["attrs"][attr.RPC_RESPONSE_STATUS_CODE] == "-32603"
    assert broken["StatusCode"] == "Error" and "the catalog is down" in broken["StatusMessage"]
    prompt = one("prompts/get", "summarize")
    assert prompt["attrs"][attr.GEN_AI_PROMPT_NAME] == "summarize"
    assert prompt["attrs"][attr.GEN_AI_PROMPT_VARIABLE_PREFIX + "topic"] == "tv"
    for listing in ("tools/list", "resources/list", "prompts/list"):
        assert any(s["SpanName"] == listing for s in servers)
    assert any(s["SpanName"] == ("initialize" if legacy else "server/discover") for s in servers)

    # one activity per tool call, the INTERNAL child of that call's SERVER span
    activities = [s for s in run.spans if attr.ACTIVITY_NAME in s["attrs"]]
    calls = [s for s in servers if s["attrs"][attr.MCP_METHOD_NAME] == "tools/call"]
    assert len(activities) == len(calls) == 3
    server_ids = {s["SpanId"]: s for s in calls}
    for act in activities:
        parent = server_ids[act["ParentSpanId"]]
        assert act["SpanKind"] == "Internal" and act["TraceId"] == parent["TraceId"]
        assert parent["SpanName"] == f"tools/call {act['attrs'][attr.ACTIVITY_NAME]}"
        assert act["attrs"][attr.CLIENT_NAME] == "agent-under-test"
        assert act["attrs"][attr.JSONRPC_REQUEST_ID] == parent["attrs"][attr.JSONRPC_REQUEST_ID]
    errors = {a["attrs"][attr.ACTIVITY_NAME]: a["attrs"].get(attr.ERROR_TYPE) for a in activities}
    assert errors == {"netflix_title": None, "fail": "ValueError", "no_such_tool": "NotFoundError"}

    # mcp.server.operation.duration: one point per request, per method, the conventions' attributes
    points = run.points(attr.METRIC_MCP_OPERATION_DURATION)
    assert all(p["unit"] == "s" for p in points)
    counted: Counter[str] = Counter()
    for p in points:
        counted[p["attributes"][attr.MCP_METHOD_NAME]] += p["count"]
        assert attr.JSONRPC_REQUEST_ID not in p["attributes"] and attr.CLIENT_ADDRESS not in p["attributes"]
        assert attr.MCP_RESOURCE_URI not in p["attributes"], "opt-in for metrics"
        assert p["attributes"][attr.MCP_PROTOCOL_VERSION] == protocol
    assert counted == Counter(method for method, _ in run.requests)
    tool_points = {
        p["attributes"][attr.GEN_AI_TOOL_NAME]: p["attributes"].get(attr.ERROR_TYPE)
        for p in points
        if p["attributes"][attr.MCP_METHOD_NAME] == "tools/call"
    }
    assert tool_points == {"netflix_title": None, "fail": "tool_error", "no_such_tool": "tool_error"}
    missing_points = [p for p in points if p["attributes"].get(attr.RPC_RESPONSE_STATUS_CODE) == "-32602"]
    assert len(missing_points) == 1 and attr.ERROR_TYPE not in missing_points[0]["attributes"]
    broken_points = [p for p in points if p["attributes"].get(attr.RPC_RESPONSE_STATUS_CODE) == "-32603"]
    assert len(broken_points) == 1 and broken_points[0]["attributes"][attr.ERROR_TYPE] == "-32603"
    if transport == "stdio":
        assert all(p["attributes"][attr.NETWORK_TRANSPORT] == "pipe" for p in points)
    if transport == "http":
        assert all(p["attributes"][attr.NETWORK_PROTOCOL_NAME] == "http" for p in points)


@pytest.mark.parametrize("protocol", ["2026-07-28", "handshake"])
@pytest.mark.parametrize("transport", ["memory", "http"])
async def test_every_request_in_process(
    transport: str,
    protocol: str,
    fastmcp_mode: str,
    telemetry_with_metrics: Telemetry,
    db_path: Path,
    metric_reader: InMemoryMetricReader,
) -> None:
    if fastmcp_mode == "propagation_only" and (transport == "http" or protocol == "handshake"):
        pytest.skip("propagation_only is covered in memory on 2026-07-28; native and off cover the rest")
    legacy = protocol == "handshake"
    run = await run_in_process(
        transport, telemetry_with_metrics, db_path, metric_reader, "legacy" if legacy else "auto"
    )
    check_every_request(run, transport, legacy)
    scopes = {s["ScopeName"] for s in run.server_spans()}
    assert scopes == ({"fastmcp"} if fastmcp_mode == "native" else {"getgather_otel"})
    if not legacy:
        assert not run.points(attr.METRIC_MCP_SESSION_DURATION), "protocol 2026-07-28 has no sessions"
        return
    sessions = {s["attrs"].get(attr.MCP_SESSION_ID) for s in run.server_spans()}
    activities = {s["attrs"].get(attr.MCP_SESSION_ID) for s in run.spans if attr.ACTIVITY_NAME in s["attrs"]}
    if transport == "http":  # the Mcp-Session-Id the server handed out, on every request and activity
        (session_id,) = sessions
        assert session_id and len(session_id) >= 16 and activities == {session_id}
    else:  # a connection without an Mcp-Session-Id: nothing to name
        assert sessions == {None} and activities == {None}
    (session,) = run.points(attr.METRIC_MCP_SESSION_DURATION)
    assert session["count"] == 1 and session["unit"] == "s"
    assert session["attributes"][attr.MCP_PROTOCOL_VERSION] == "2025-11-25"
    if transport == "http":
        assert session["attributes"][attr.NETWORK_PROTOCOL_NAME] == "http"


@pytest.mark.parametrize("fastmcp_mode", ["native", "off"])
async def test_every_request_over_stdio(tmp_path: Path, fastmcp_mode: str) -> None:
    run = await run_stdio(tmp_path, fastmcp_mode)
    check_every_request(run, "stdio")
    assert {s["ScopeName"] for s in run.server_spans()} == (
        {"fastmcp"} if fastmcp_mode == "native" else {"getgather_otel"}
    )


async def test_handshake_session_over_stdio(tmp_path: Path) -> None:
    run = await run_stdio(tmp_path, "native", mode="legacy")
    check_every_request(run, "stdio", legacy=True)
    assert all(attr.MCP_SESSION_ID not in s["attrs"] for s in run.spans)
    (session,) = run.points(attr.METRIC_MCP_SESSION_DURATION)
    assert session["count"] == 1
    assert session["attributes"] == {attr.MCP_PROTOCOL_VERSION: "2025-11-25", attr.NETWORK_TRANSPORT: "pipe"}


@pytest.mark.parametrize("mode", ["native", "off"])
async def test_the_clients_trace_context_parents_the_request(
    mode: str, monkeypatch: pytest.MonkeyPatch, telemetry_with_metrics: Telemetry, db_path: Path
) -> None:
    """An agent's calls are grouped by the trace context its client sends in `_meta` (over
    HTTP, where nothing else carries it: the server's tasks do not inherit the client's context)."""
    monkeypatch.setattr(fastmcp.settings, "telemetry_mode", mode)
    server, _ = build_server()
    async with serve_streamable_http(server) as url:  # started outside the agent's span
        with trace.get_tracer("agent").start_as_current_span("agent turn") as turn:
            async with Client(url) as client:
                await client.call_tool("netflix_title", {"show": "dark"})
                await client.call_tool("netflix_title", {"show": "arcane"})
    flushed(telemetry_with_metrics)
    trace_id = format(turn.get_span_context().trace_id, "032x")
    calls = [s for s in _spans(db_path) if s["SpanName"] == "tools/call netflix_title" and s["SpanKind"] == "Server"]
    assert len(calls) == 2
    assert all(s["TraceId"] == trace_id and s["ParentSpanId"] for s in calls), calls
    same_trace = rows(db_path, "SELECT count(*) AS n FROM activities WHERE trace_id = ?", [trace_id])
    assert same_trace[0]["n"] == 2


def test_instrumenting_twice_replaces_and_uninstrument_removes() -> None:
    server, _ = build_server()  # instrumented once already
    getgather_otel.instrument_mcp(server)
    kinds = [type(m).__name__ for m in server._mcp_server.middleware]
    assert kinds.count("RequestMiddleware") == 1
    assert kinds[kinds.index("FastMCPServerMiddleware") + 1] == "RequestMiddleware", "right inside FastMCP's seam"
    assert sum(type(m).__name__ == "ActivityMiddleware" for m in server.middleware) == 1
    uninstrument_mcp(server)
    assert "RequestMiddleware" not in [type(m).__name__ for m in server._mcp_server.middleware]
    assert "ActivityMiddleware" not in [type(m).__name__ for m in server.middleware]


async def test_activity_middleware_alone_still_knows_the_request(
    telemetry_with_metrics: Telemetry, db_path: Path
) -> None:
    """`server.add_middleware(ActivityMiddleware())` without `instrument_mcp`: no request
    spans of ours, but the activity still names the client and the request."""
    server = FastMCP("bare")

    @server.tool
    def hello() -> str:
        return "hi"

    server.add_middleware(ActivityMiddleware())
    async with Client(server, client_info=CLIENT_INFO) as client:
        await client.call_tool("hello", {})
    flushed(telemetry_with_metrics)
    (act,) = rows(db_path, "SELECT attributes FROM activities")
    assert act["attributes"][attr.CLIENT_NAME] == "agent-under-test"
    assert act["attributes"][attr.JSONRPC_REQUEST_ID]
    assert attr.MCP_SESSION_ID not in act["attributes"]


def test_convention_names_exist_in_the_conventions() -> None:
    """Each name `attributes.py` marks as a convention's is in the conventions' own list."""
    lines = [line.strip() for line in SEMCONV.read_text().splitlines()]
    assert any(line.startswith("# source: open-telemetry/semantic-conventions-genai") for line in lines)
    names = {line for line in lines if line and not line.startswith("#")}
    assert names >= attr.CONVENTION_NAMES, sorted(attr.CONVENTION_NAMES - names)
    ours = {
        value
        for key, value in vars(attr).items()
        if key.isupper() and isinstance(value, str) and value.startswith("getgather.")
    }
    assert not ours & names
