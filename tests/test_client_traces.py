"""The calling client and its trace context, from a real MCP session to the CLI, the API and stats (issue 16).

Two agents (two FastMCP clients with their own `clientInfo`) call a real instrumented
FastMCP server over streamable HTTP, each inside its own agent span, whose trace context
the client sends in `_meta`; one more call comes from outside any agent span. Then the
`activities` view, `getgather-otel activities --client/--trace`, `stats` (by client) and
the viewer's API give exactly those rows. An old file (schema 5) gets the new columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import fastmcp
import mcp_types
import pytest
from fastmcp import Client, FastMCP
from opentelemetry import trace

import getgather_otel
from getgather_otel import activity
from getgather_otel.demo.loopback import serve_streamable_http
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.store.reader import open_for_reading
from getgather_otel.store.schema import CURRENT_VERSION, SCHEMA_VERSION_TABLE, migrate
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.reads import FileReads
from getgather_otel.web.serving import serve_asgi
from tests.conftest import flushed, post, rows
from tests.helpers.mcp_methods_server import build_server
from tests.test_cli import run_cli

CLAUDE = mcp_types.Implementation(name="claude-code", version="2.0.1")
CURSOR = mcp_types.Implementation(name="cursor", version="1.7.0")


@dataclass(frozen=True)
class TwoAgents:
    """The trace ids the agents' turns had: `claude`'s turn, `cursor`'s turn."""

    claude: str
    cursor: str


async def record_two_agents(telemetry: Telemetry) -> TwoAgents:
    """claude-code: two calls in its turn, one more outside any span; cursor: three calls (one failing) in its turn."""
    server, _ = build_server()
    agents = trace.get_tracer("agents")
    async with serve_streamable_http(server) as url:  # started outside the agents' spans
        with agents.start_as_current_span("claude turn") as claude_turn:
            async with Client(url, client_info=CLAUDE) as client:
                await client.call_tool("netflix_title", {"show": "dark"})
                await client.call_tool("netflix_title", {"show": "arcane"})
        with agents.start_as_current_span("cursor turn") as cursor_turn:
            async with Client(url, client_info=CURSOR) as client:
                await client.call_tool("netflix_title", {"show": "severance"})
                assert (await client.call_tool("fail", {}, raise_on_error=False)).is_error
                await client.call_tool("netflix_title", {"show": "andor"})
        async with Client(url, client_info=CLAUDE) as client:
            await client.call_tool("netflix_title", {"show": "pluribus"})
    flushed(telemetry)
    return TwoAgents(
        claude=format(claude_turn.get_span_context().trace_id, "032x"),
        cursor=format(cursor_turn.get_span_context().trace_id, "032x"),
    )


def cli_json(db: Path, *argv: str) -> Any:
    code, text = run_cli(*argv, "--db", str(db), "--format", "json")
    assert code == 0, text
    return json.loads(text)


async def api_json(url: str, path: str, status: int = 200) -> Any:
    reply = await post(url + path, b"", {}, method="GET")
    assert reply.status_code == status, reply.text
    return json.loads(reply.text)


@pytest.mark.parametrize("mode", ["native", "off"])
async def test_activities_by_client_and_by_trace(
    mode: str, monkeypatch: pytest.MonkeyPatch, telemetry: Telemetry, db_path: Path
) -> None:
    monkeypatch.setattr(fastmcp.settings, "telemetry_mode", mode)
    agents = await record_two_agents(telemetry)

    view = rows(db_path, "SELECT name, client_name, client_version, trace_id, status FROM activities")
    assert len(view) == 6
    by_client = {(a["client_name"], a["client_version"]) for a in view}
    assert by_client == {("claude-code", "2.0.1"), ("cursor", "1.7.0")}
    assert sorted(a["client_name"] for a in view if a["trace_id"] == agents.claude) == ["claude-code"] * 2
    assert sorted(a["client_name"] for a in view if a["trace_id"] == agents.cursor) == ["cursor"] * 3
    (alone,) = [a for a in view if a["trace_id"] not in (agents.claude, agents.cursor)]
    assert alone["client_name"] == "claude-code", "a call outside any agent span has a trace of its own"

    # The CLI
    cursor = cli_json(db_path, "activities", "--client", "cursor")
    assert len(cursor) == 3 and {(a["client_name"], a["trace_id"]) for a in cursor} == {("cursor", agents.cursor)}
    claude = cli_json(db_path, "activities", "--client", "claude-code")
    assert len(claude) == 3 and {a["trace_id"] for a in claude} == {agents.claude, alone["trace_id"]}
    turn = cli_json(db_path, "activities", "--trace", agents.claude.upper())
    assert [a["name"] for a in turn] == ["netflix_title"] * 2 and {a["client_name"] for a in turn} == {"claude-code"}
    assert cli_json(db_path, "activities", "--client", "cursor", "--trace", agents.claude) == []
    (failed,) = cli_json(db_path, "activities", "--client", "cursor", "--errors")
    assert failed["name"] == "fail" and failed["trace_id"] == agents.cursor
    code, _ = run_cli("activities", "--db", str(db_path), "--trace", "not-a-trace")
    assert code == 2

    stats = cli_json(db_path, "stats")
    clients = [(r["client_name"], r["client_version"], r["activities"], r["errors"]) for r in stats["by client"]]
    assert clients == [("claude-code", "2.0.1", 3, 0), ("cursor", "1.7.0", 3, 1)]
    code, text = run_cli("stats", "--db", str(db_path))
    assert code == 0 and "\nby client\n" in text and "cursor" in text

    # The API
    async with serve_asgi(build_viewer_app(FileReads(db_path), ViewerSettings())) as url:
        page = await api_json(url, "/api/activities?client=cursor")
        assert page["total"] == 3 and {a["client_name"] for a in page["activities"]} == {"cursor"}
        page = await api_json(url, f"/api/activities?trace={agents.cursor}&status=error")
        assert [a["name"] for a in page["activities"]] == ["fail"]
        page = await api_json(url, f"/api/activities?trace={agents.claude}&sort=client_name")
        assert page["total"] == 2 and {a["trace_id"] for a in page["activities"]} == {agents.claude}
        page = await api_json(url, f"/api/activities?client=cursor&trace={agents.claude}")
        assert page["total"] == 0 and page["activities"] == []
        bad = await api_json(url, "/api/activities?trace=xyz", status=422)
        assert "trace id" in bad["error"]

        stats = await api_json(url, "/api/stats?since=1h")
        assert [(r["client_name"], r["activities"], r["errors"]) for r in stats["by_client"]] == [
            ("claude-code", 3, 0),
            ("cursor", 3, 1),
        ]
        one = await api_json(url, "/api/stats?since=1h&client=cursor")
        assert [r["client_name"] for r in one["by_client"]] == ["cursor"]
        assert sum(r["activities"] for r in one["by_brand"]) == sum(p["activities"] for p in one["series"]) == 3


@pytest.mark.parametrize("mode", ["native", "off"])
async def test_activities_nested_in_a_tool_call_name_its_client(
    mode: str, monkeypatch: pytest.MonkeyPatch, telemetry: Telemetry, db_path: Path
) -> None:
    """A login inside a tool is part of the client's call: listed and counted under the client too."""
    monkeypatch.setattr(fastmcp.settings, "telemetry_mode", mode)
    server = FastMCP("nested")

    @server.tool
    async def netflix_history() -> str:
        async with activity("login", "netflix", kind="auth"), activity("fill_password", "netflix"):
            pass
        return "history"

    getgather_otel.instrument_mcp(server)
    async with Client(server, client_info=CLAUDE) as client:
        await client.call_tool("netflix_history", {})
    async with activity("housekeeping"):  # outside any call: no client
        pass
    flushed(telemetry)
    found = rows(db_path, "SELECT name, client_name, client_version FROM activities ORDER BY start_time")
    assert [tuple(a.values()) for a in found] == [
        ("netflix_history", "claude-code", "2.0.1"),
        ("login", "claude-code", "2.0.1"),
        ("fill_password", "claude-code", "2.0.1"),
        ("housekeeping", None, None),
    ]
    listed = cli_json(db_path, "activities", "--client", "claude-code")
    assert sorted(a["name"] for a in listed) == ["fill_password", "login", "netflix_history"]


def test_a_schema_5_file_gets_the_client_columns(db_path: Path) -> None:
    conn = duckdb.connect(str(db_path))
    migrate(conn, target=5)
    before = [r[0] for r in conn.execute("DESCRIBE activities").fetchall()]
    conn.execute("""INSERT INTO otel_traces ("Timestamp","TraceId","SpanId","ParentSpanId","TraceState",
        "SpanName","SpanKind","ServiceName","ScopeName","ScopeVersion","SpanAttributes","Duration",
        "StatusCode","StatusMessage") VALUES (TIMESTAMP '2026-01-01 00:00:00', 'aa', 'bb', '', '',
        'activity old', 'Internal', 'svc', 's', '', MAP {'getgather.activity.name': 'old',
        'getgather.client.name': 'claude-code', 'getgather.client.version': '2.0.1'}, 5, 'Unset', '')""")
    conn.close()
    with open_for_reading(db_path) as reader:
        assert reader.execute(f"SELECT max(version) FROM {SCHEMA_VERSION_TABLE}").fetchone() == (CURRENT_VERSION,)
        after = [r[0] for r in reader.execute("DESCRIBE activities").fetchall()]
        assert after[: len(before) + 2] == [*before, "client_name", "client_version"], "no existing column moves"
        found = reader.execute("SELECT name, client_name, client_version FROM activities").fetchall()
        assert found == [("old", "claude-code", "2.0.1")]
