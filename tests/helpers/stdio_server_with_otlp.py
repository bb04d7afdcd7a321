"""A FastMCP stdio server with getgather-otel configured towards an OTLP endpoint.

Usage: stdio_server_with_otlp.py DB ENDPOINT. With ENDPOINT `zero-code` it configures
nothing itself (run it under `opentelemetry-instrument`). It runs until its stdin closes,
as an MCP client ends a stdio server.
"""

import sys

from fastmcp import FastMCP

import getgather_otel

mcp = FastMCP("exit-test")


@mcp.tool(tags={"brand:netflix"})
def netflix_ping() -> str:
    """Answers at once."""
    return "pong"


if __name__ == "__main__":
    db, endpoint = sys.argv[1:3]
    if endpoint != "zero-code":
        getgather_otel.configure(service_name="stdio-exit-test", duckdb_path=db, otlp=endpoint, record_browsers=False)
        getgather_otel.instrument_mcp(mcp)
    mcp.run(show_banner=False)
