"""Every MCP tool call becomes exactly one activity span: real server, real client, real file."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from opentelemetry.sdk.metrics.export import Histogram

import getgather_otel
from getgather_otel import activity, current_activity, instrument_mcp
from getgather_otel.capture.redaction import Redactor
from getgather_otel.demo.loopback import serve_streamable_http
from getgather_otel.demo.run import DEMO_CALLS
from getgather_otel.demo.server import build_demo_server
from getgather_otel.export.pipeline import Telemetry
from tests.conftest import flushed, rows


@asynccontextmanager
async def connect(server: FastMCP, transport: str) -> AsyncIterator[Client[Any]]:
    if transport == "memory":
        async with Client(server) as client:
            yield client
    else:
        async with serve_streamable_http(server) as url, Client(url) as client:
            yield client


@pytest.mark.parametrize("transport", ["memory", "http"])
async def test_each_tool_call_is_one_activity_in_every_mode(
    telemetry: Telemetry, db_path: Path, fastmcp_mode: str, transport: str
) -> None:
    server = build_demo_server()
    instrument_mcp(server, brand_from_prefix=True)
    async with connect(server, transport) as client:
        for name, arguments in DEMO_CALLS:
            await client.call_tool(name, arguments, raise_on_error=False)
    flushed(telemetry)

    tool_activities = rows(db_path, "SELECT * FROM activities WHERE kind != 'auth' ORDER BY start_time")
    assert [a["name"] for a in tool_activities] == [name for name, _ in DEMO_CALLS]
    by_name = {a["name"]: a for a in tool_activities}
    assert by_name["list_brands"]["brand_id"] == "" and by_name["list_brands"]["kind"] == "general"
    assert by_name["netflix_get_history"]["brand_id"] == "netflix"
    assert by_name["amazon_get_orders"]["brand_id"] == "amazon"
    assert by_name["goodreads_get_shelf"]["status"] == "error"
    assert by_name["goodreads_get_shelf"]["error_type"] == "TimeoutError"
    assert by_name["goodreads_search"]["error_type"] == "tool_error"
    assert all(a["has_recording"] is False for a in tool_activities)

    login = rows(db_path, "SELECT * FROM activities WHERE name = 'login'")
    assert len(login) == 1 and login[0]["kind"] == "auth"
    assert login[0]["parent_span_id"] == by_name["netflix_get_history"]["activity_id"]

    servers = rows(
        db_path,
        """SELECT "SpanName", "SpanId" FROM otel_traces
                               WHERE "SpanKind" = 'Server' AND "SpanName" LIKE 'tools/call%'""",
    )
    assert len(servers) == len(DEMO_CALLS), "exactly one SERVER span per tool call, FastMCP's or ours"
    parents = {s["SpanId"]: s["SpanName"] for s in servers}
    for a in tool_activities:
        assert parents[a["parent_span_id"]] == f"tools/call {a['name']}"
    attrs = tool_activities[1]["attributes"]
    assert attrs["gen_ai.tool.name"] == "netflix_get_history"
    assert attrs["gen_ai.operation.name"] == "execute_tool"
    assert attrs["mcp.method.name"] == "tools/call"
    assert attrs["jsonrpc.request.id"]
    assert attrs["getgather.client.name"] == "fastmcp"
    assert "mcp.session.id" not in attrs, "protocol 2026-07-28 has no session to name"


async def test_results_and_errors_reach_the_client_unchanged(telemetry: Telemetry) -> None:
    plain, instrumented = build_demo_server(), build_demo_server()
    instrument_mcp(instrumented)
    for name, arguments in DEMO_CALLS:
        async with Client(plain) as a, Client(instrumented) as b:
            want = await a.call_tool(name, arguments, raise_on_error=False)
            got = await b.call_tool(name, arguments, raise_on_error=False)
        assert got.is_error == want.is_error
        assert got.content == want.content
        assert got.structured_content == want.structured_content
    async with Client(instrumented) as client:
        with pytest.raises(ToolError, match="timed out waiting for #shelf"):
            await client.call_tool("goodreads_get_shelf", {})


async def test_exception_recorded_as_event_and_status(telemetry: Telemetry, db_path: Path) -> None:
    server = build_demo_server()
    instrument_mcp(server)
    async with Client(server) as client:
        await client.call_tool("goodreads_get_shelf", {}, raise_on_error=False)
    flushed(telemetry)
    (span,) = rows(
        db_path,
        """SELECT "StatusCode", "StatusMessage", "Events.Name" AS events,
                                      "Events.Attributes" AS event_attrs
                               FROM otel_traces WHERE "SpanName" = 'activity goodreads_get_shelf'""",
    )
    assert span["StatusCode"] == "Error"
    assert "timed out waiting for #shelf" in span["StatusMessage"]
    assert span["events"] == ["exception"]
    assert span["event_attrs"][0]["exception.type"] == "fastmcp.exceptions.ToolError"


async def test_a_call_the_client_cancels_is_no_failure(telemetry: Telemetry, db_path: Path) -> None:
    # A newcomer's break: a call the client gave up on was a failed activity (`tool_error`, an
    # anyio task's repr as its error) while the request's SERVER span said nothing failed, so
    # client timeouts and disconnects inflated error rates by brand.
    server = FastMCP("cancel")

    @server.tool
    async def netflix_slow_report() -> str:
        await asyncio.sleep(5)
        return "done"

    instrument_mcp(server, brand_from_prefix=True)
    async with Client(server) as client:
        with pytest.raises(MCPError):  # the client's own timeout: it cancels the request
            await client.call_tool("netflix_slow_report", {}, timeout=0.5)
    flushed(telemetry)
    [server_span] = rows(
        db_path,
        """SELECT "StatusCode" FROM otel_traces
           WHERE "SpanName" = 'tools/call netflix_slow_report' AND "SpanKind" IN ('Server', 'SPAN_KIND_SERVER')""",
    )
    [act] = rows(
        db_path,
        """SELECT a.status, a.error_type, a.failure_class, t."StatusMessage" AS message,
                  t."SpanAttributes"['getgather.activity.cancelled'] AS cancelled, t."Events.Name" AS events
           FROM activities a JOIN otel_traces t ON t."SpanId" = a.activity_id WHERE a.name = 'netflix_slow_report'""",
    )
    assert server_span["StatusCode"] != "Error"
    assert (act["status"], act["error_type"], act["failure_class"]) == ("ok", None, None), act
    assert act["cancelled"] == "true" and act["message"] == "" and act["events"] == []


async def test_concurrent_calls_never_mix_activities(telemetry: Telemetry, db_path: Path) -> None:
    server = FastMCP("concurrency")

    @server.tool
    async def work(n: int) -> dict[str, str]:
        outer = current_activity()
        assert outer is not None
        await asyncio.sleep(random.uniform(0, 0.03))

        async def child() -> str:
            async with activity(name=f"step-{n}", brand_id=f"b{n}") as step:
                await asyncio.sleep(random.uniform(0, 0.02))
                seen = current_activity()
                assert seen is step
                return step.activity_id

        step_id = await asyncio.create_task(child())
        assert current_activity() is outer
        return {"activity": outer.activity_id, "name": outer.name, "step": step_id}

    instrument_mcp(server)
    async with Client(server) as client:
        results = await asyncio.gather(*(client.call_tool("work", {"n": n}) for n in range(20)))
    flushed(telemetry)
    stored = {r["activity_id"]: r for r in rows(db_path, "SELECT * FROM activities")}
    assert len(stored) == 40
    for n, result in enumerate(results):
        data = result.structured_content
        assert data is not None
        assert stored[data["activity"]]["name"] == "work"
        assert stored[data["activity"]]["attributes"]["gen_ai.tool.name"] == "work"
        step = stored[data["step"]]
        assert step["name"] == f"step-{n}" and step["brand_id"] == f"b{n}"
        assert step["parent_span_id"] == data["activity"]


async def test_mounted_server_instrumented_too_gives_one_activity(telemetry: Telemetry, db_path: Path) -> None:
    main, sub = FastMCP("main"), FastMCP("netflix")

    @sub.tool(tags={"brand:netflix"})
    def history() -> str:
        return "ok"

    main.mount(sub, namespace="netflix")
    instrument_mcp(sub)
    instrument_mcp(main)
    instrument_mcp(main)  # twice: replaced, not stacked
    assert sum(type(m).__name__ == "ActivityMiddleware" for m in main.middleware) == 1
    async with Client(main) as client:
        await client.call_tool("netflix_history", {})
    flushed(telemetry)
    (only,) = rows(db_path, "SELECT name, brand_id FROM activities")
    assert only == {"name": "netflix_history", "brand_id": "netflix"}


async def test_capture_arguments_redacts_secrets_and_is_off_by_default(telemetry: Telemetry, db_path: Path) -> None:
    secret_values = ["hunter2-pass", "tok-abc-123", "otp-998877", "cookie-xyz", "auth-code-42", "sk-live-777"]

    def make() -> FastMCP:
        server = FastMCP("redaction")

        @server.tool
        def login(username: str, password: str, extra: dict[str, Any]) -> dict[str, Any]:
            return {"username": username, "session_token": "tok-abc-123", "ok": True}

        return server

    arguments = {
        "username": "ada",
        "password": "hunter2-pass",
        "extra": {
            "accessToken": "tok-abc-123",
            "otp": "otp-998877",
            "Cookie": "cookie-xyz",
            "auth_code": "auth-code-42",
            "nested": [{"api_key": "sk-live-777"}],
            "zipcode": "94103",
        },
    }
    off, on = make(), make()
    instrument_mcp(off)
    async with Client(off) as client:
        await client.call_tool("login", arguments)
    flushed(telemetry)
    assert (
        rows(
            db_path,
            """SELECT count(*) AS n FROM otel_traces
                            WHERE "SpanAttributes"['gen_ai.tool.call.arguments'] IS NOT NULL""",
        )[0]["n"]
        == 0
    )

    instrument_mcp(on, capture_arguments=True)
    async with Client(on) as client:
        await client.call_tool("login", arguments)
    flushed(telemetry)
    both = rows(
        db_path,
        """SELECT "SpanKind" AS kind, "SpanAttributes"['gen_ai.tool.call.arguments'] AS args,
                  "SpanAttributes"['gen_ai.tool.call.result'] AS result
           FROM otel_traces WHERE "SpanAttributes"['gen_ai.tool.call.arguments'] IS NOT NULL ORDER BY kind""",
    )
    assert [c["kind"] for c in both] == ["Internal", "Server"], "the activity and the request's SERVER span"
    for captured in both:
        assert '"username": "ada"' in captured["args"] and '"zipcode": "94103"' in captured["args"]
        assert '"session_token": "[REDACTED]"' in captured["result"]
    telemetry.shutdown()
    raw = db_path.read_bytes()
    for secret in secret_values:
        assert secret.encode() not in raw, f"{secret} reached the database file"


def test_plural_and_synonym_keys_are_secret_and_ordinary_words_are_not() -> None:
    # A newcomer's break: `pins`, `backup_codes`, `totp`, `mfa`, `social_security_number` were
    # captured in clear, while the recorder treats a field named like them as secret.
    redactor = Redactor()
    for key in ("pins", "backup_codes", "recovery_codes", "totp", "otps", "mfa", "social_security_number", "api_keys"):
        assert redactor.is_secret_key(key), key
    for key in ("passenger", "passengers", "spinner", "zipcode", "keyword", "keywords", "username", "addresses"):
        assert not redactor.is_secret_key(key), key
    own = Redactor("password")  # one string is one word, not its letters
    assert own.is_secret_key("userPassword") and own.is_secret_key("passwords") and not own.is_secret_key("spa")


async def test_brand_resolver_is_pluggable_and_failures_fall_back(telemetry: Telemetry, db_path: Path) -> None:
    server = build_demo_server()
    instrument_mcp(server, brand_resolver=lambda name, tool: "acme" if "shelf" in name else "")
    async with Client(server) as client:
        await client.call_tool("goodreads_get_shelf", {}, raise_on_error=False)
        await client.call_tool("amazon_get_orders", {})

    def broken(name: str, tool: Any) -> str:
        raise RuntimeError("resolver bug")

    instrument_mcp(server, brand_resolver=broken, brand_from_prefix=True)
    async with Client(server) as client:
        await client.call_tool("amazon_get_orders", {})
    # A newcomer's break: a list's or bytes' repr was stored as the brand id.
    for odd in (["x", "y"], b"\xff\x00"):
        instrument_mcp(server, brand_resolver=lambda name, tool, odd=odd: odd, brand_from_prefix=True)  # type: ignore[misc]
        async with Client(server) as client:
            await client.call_tool("amazon_get_orders", {})
    flushed(telemetry)
    got = [
        (r["name"], r["brand_id"]) for r in rows(db_path, "SELECT name, brand_id FROM activities ORDER BY start_time")
    ]
    assert got == [
        ("goodreads_get_shelf", "acme"),
        ("amazon_get_orders", ""),
        ("amazon_get_orders", "amazon"),
        ("amazon_get_orders", "amazon"),
        ("amazon_get_orders", "amazon"),
    ]


def test_activity_works_with_plain_with_and_rejects_bad_kinds(telemetry: Telemetry, db_path: Path) -> None:
    with activity(name="sync-job", brand_id="wayfair", kind="general", attempt=2) as act:
        assert current_activity() is act
        act.set_attribute("getgather.result.items", 7)
    assert current_activity() is None
    with pytest.raises(ValueError, match="kind must be one of"):
        activity(name="x", kind="weird")
    with pytest.raises(KeyError), activity(name="fails"):
        raise KeyError("missing")
    flushed(telemetry)
    got = {r["name"]: r for r in rows(db_path, "SELECT * FROM activities")}
    assert got["sync-job"]["attributes"]["attempt"] == "2"
    assert got["sync-job"]["attributes"]["getgather.result.items"] == "7"
    assert got["fails"]["status"] == "error" and got["fails"]["error_type"] == "KeyError"


async def test_duration_histograms_are_recorded(db_path: Path) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    t = getgather_otel.configure(duckdb_path=db_path, meter_provider=MeterProvider(metric_readers=[reader]))
    try:
        server = build_demo_server()
        instrument_mcp(server, brand_from_prefix=True)
        async with Client(server) as client:
            for name, arguments in DEMO_CALLS:
                await client.call_tool(name, arguments, raise_on_error=False)
    finally:
        t.shutdown()
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    mcp_metric = metrics["mcp.server.operation.duration"]
    assert mcp_metric.unit == "s"
    assert isinstance(mcp_metric.data, Histogram)
    points = list(mcp_metric.data.data_points)
    assert list(points[0].explicit_bounds) == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]
    calls = [p for p in points if (p.attributes or {})["mcp.method.name"] == "tools/call"]
    assert sum(p.count for p in calls) == len(DEMO_CALLS)
    failed = {(p.attributes or {})["gen_ai.tool.name"]: (p.attributes or {}).get("error.type") for p in calls}
    # the request's outcome as the client sees it (an isError result), as the MCP conventions say
    assert failed["goodreads_get_shelf"] == "tool_error" and failed["list_brands"] is None
    activity_metric = metrics["getgather.activity.duration"]
    assert isinstance(activity_metric.data, Histogram)
    activity_points = list(activity_metric.data.data_points)
    brands = {(p.attributes or {})["getgather.brand.id"] for p in activity_points}
    assert brands == {"", "netflix", "amazon", "goodreads"}
    shelf = [p for p in activity_points if (p.attributes or {})["getgather.activity.name"] == "goodreads_get_shelf"]
    assert (shelf[0].attributes or {})["error.type"] == "TimeoutError", "the activity keeps what broke"


def test_configure_twice_never_duplicates_spans(db_path: Path, tmp_path: Path) -> None:
    first = getgather_otel.configure(duckdb_path=db_path)
    assert getgather_otel.configure(duckdb_path=db_path) is first
    with activity(name="once"):
        pass
    other = tmp_path / "other.duckdb"
    second = getgather_otel.configure(duckdb_path=other)
    assert not first.enabled and second is not first
    with activity(name="twice"):
        pass
    second.shutdown()
    assert [r["name"] for r in rows(db_path, "SELECT name FROM activities")] == ["once"]
    assert [r["name"] for r in rows(other, "SELECT name FROM activities")] == ["twice"]


def test_configure_again_after_the_otlp_environment_changed_rebuilds(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The variables that decide OTLP are part of what configure() compares: the same call after
    OTEL_EXPORTER_OTLP_ENDPOINT is set adds the OTLP pipeline instead of returning the old Telemetry."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    first = getgather_otel.configure(duckdb_path=db_path, record_browsers=False)
    assert getgather_otel.configure(duckdb_path=db_path, record_browsers=False) is first
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    second = getgather_otel.configure(duckdb_path=db_path, record_browsers=False)
    try:
        assert second is not first and not first.enabled
        assert second.settings.otlp_environment != first.settings.otlp_environment
        assert second._otlp_pipeline is not None, "the endpoint now set turns OTLP on"
    finally:
        second.shutdown(timeout_s=0.2)
