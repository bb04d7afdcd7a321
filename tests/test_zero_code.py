"""Zero-code instrumentation: an unmodified FastMCP server run under `opentelemetry-instrument`.

The server (tests/helpers/plain_mcp_server.py) imports nothing from getgather-otel. Over
stdio (so any stray byte on stdout would break the MCP transport) a real client calls its
tools; the entry points add the activity middleware and record its Patchright context,
and `OTEL_TRACES_EXPORTER=duckdb` writes spans and recordings into the file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fastmcp import Client, FastMCP
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError

from getgather_otel.capture.middleware import ActivityMiddleware
from getgather_otel.demo.browser import chromium_executable
from getgather_otel.export.zero_code import GetgatherOtelInstrumentor
from getgather_otel.recording import hooks
from getgather_otel.recording.replay import load_streams
from getgather_otel.store.reader import open_for_reading
from tests.conftest import Sites, rows

HELPERS = Path(__file__).parent / "helpers"
INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")


async def test_unmodified_server_under_opentelemetry_instrument(sites: Sites, db_path: Path) -> None:
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "duckdb",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "plain-server",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test,team=gather",
        "GETGATHER_OTEL_DUCKDB": str(db_path),
        "CHROMIUM": chromium_executable() or "",
    }
    transport = StdioTransport(
        str(INSTRUMENT), [sys.executable, str(HELPERS / "plain_mcp_server.py")], env=env, keep_alive=False
    )
    async with Client(transport) as client:
        result = await client.call_tool("netflix_page_title", {"url": f"{sites.main}/login.html"})
        assert result.data == "Fixture Brand - Sign in"
        with pytest.raises(ToolError, match="always fails"):
            await client.call_tool("fail", {})
    # The server exits when stdin closes; the SDK's atexit shutdown writes everything.
    activities = rows(
        db_path,
        """SELECT name, brand_id, kind, status, service_name, has_recording, activity_id, trace_id
           FROM activities ORDER BY start_time""",
    )
    assert [(a["name"], a["brand_id"], a["status"], a["has_recording"]) for a in activities] == [
        ("netflix_page_title", "netflix", "ok", True),
        ("fail", "", "error", False),
    ]
    assert {a["service_name"] for a in activities} == {"plain-server"}
    [resource] = rows(db_path, """SELECT DISTINCT "ResourceAttributes" AS r FROM otel_traces""")
    assert resource["r"]["team"] == "gather" and resource["r"]["deployment.environment.name"] == "test"
    with open_for_reading(db_path, wait_s=10) as conn:
        _, [page] = load_streams(conn, activities[0]["activity_id"])
    events = page.events
    assert any(e["type"] == 2 for e in events), "a full snapshot of the page was recorded"
    assert "hunter2" not in str(events), "typed passwords never reach storage"


def test_uninstrument_undoes_everything() -> None:
    import patchright.async_api as api

    hooks.uninstall_auto_recording()  # an earlier configure() in this process may have installed them
    original_init = FastMCP.__init__
    original_new_context = api.Browser.new_context
    instrumentor = GetgatherOtelInstrumentor()
    instrumentor.instrument()
    try:
        server = FastMCP("during")
        assert isinstance(server.middleware[0], ActivityMiddleware)
        assert api.Browser.new_context is not original_new_context
    finally:
        instrumentor.uninstrument()
    assert FastMCP.__init__ is original_init
    assert api.Browser.new_context is original_new_context
    assert not any(isinstance(m, ActivityMiddleware) for m in server.middleware)
    assert not any(isinstance(m, ActivityMiddleware) for m in FastMCP("after").middleware)
    assert GetgatherOtelInstrumentor() is instrumentor, "OpenTelemetry instrumentors are singletons"


def test_zero_code_writes_what_it_holds_when_sent_sigterm(db_path: Path) -> None:
    """The SDK's batch processor holds spans for 5 s; SIGTERM ends the process at once unless
    the zero-code exporter turned it into an exit that runs the shutdown budget."""
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "duckdb", "GETGATHER_OTEL_DUCKDB": str(db_path)}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    calls = 20
    process = subprocess.Popen(
        [str(INSTRUMENT), sys.executable, str(HELPERS / "zero_code_calls_until_sigterm.py"), str(calls)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
    assert rows(db_path, "SELECT count(*) AS n FROM activities")[0]["n"] == calls
