"""`getgather-otel demo`: call the demo server for real and show what was stored."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from fastmcp import Client

from getgather_otel.demo.loopback import serve_streamable_http
from getgather_otel.demo.server import build_demo_server
from getgather_otel.mcp import instrument_mcp
from getgather_otel.telemetry import configure

DEMO_CALLS: tuple[tuple[str, dict[str, object]], ...] = (
    ("list_brands", {}),
    ("netflix_get_history", {"limit": 2}),
    ("amazon_get_orders", {"password": "hunter2"}),
    ("goodreads_get_shelf", {}),
    ("goodreads_search", {"query": "dune"}),
)


async def run_demo(db_path: Path, out: TextIO) -> int:
    """Run every demo call in memory and over streamable HTTP; returns the number of calls."""
    telemetry = configure(service_name="getgather-demo", duckdb_path=db_path)
    server = build_demo_server()
    instrument_mcp(server, brand_from_prefix=True, capture_arguments=True)
    calls = 0
    async with Client(server) as client:
        for name, arguments in DEMO_CALLS:
            await client.call_tool(name, arguments, raise_on_error=False)
            calls += 1
    async with serve_streamable_http(server) as url:
        print(f"serving the demo server at {url}", file=out)
        async with Client(url) as client:
            for name, arguments in DEMO_CALLS:
                await client.call_tool(name, arguments, raise_on_error=False)
                calls += 1
    telemetry.shutdown()
    stats = telemetry.stats()
    print(
        f"made {calls} tool calls (in memory and over HTTP); "
        f"{stats.duckdb.written if stats.duckdb else 0} spans written to {db_path}",
        file=out,
    )
    return calls
