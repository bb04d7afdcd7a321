"""Serve a FastMCP server over streamable HTTP on 127.0.0.1 for as long as a block runs.

Binds port 0 so parallel runs never collide, and reports the real URL. Used by the demo,
the tests and the benchmarks; the generic serving (`serve_asgi`, `free_ports`,
`wait_until_listening`) is in `getgather_otel.web.serving`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastmcp import FastMCP

from getgather_otel.web.serving import serve_asgi

__all__ = ["serve_streamable_http"]


@asynccontextmanager
async def serve_streamable_http(server: FastMCP, path: str = "/mcp") -> AsyncIterator[str]:
    """Run `server` on http://127.0.0.1:<free port><path>; yields that URL."""
    async with serve_asgi(server.http_app(path=path, transport="http")) as origin:
        yield origin + path
