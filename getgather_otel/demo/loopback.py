"""Serve an ASGI app (a FastMCP server, the demo brand site) on 127.0.0.1 for as long as a block runs.

Binds port 0 so parallel runs never collide, and reports the real URL. Used by the demo,
the tests and the benchmarks, which also start servers as separate processes
(`free_ports`, `wait_until_listening`); nothing here listens beyond loopback.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

import uvicorn
from fastmcp import FastMCP


@asynccontextmanager
async def serve_streamable_http(server: FastMCP, path: str = "/mcp") -> AsyncIterator[str]:
    """Run `server` on http://127.0.0.1:<free port><path>; yields that URL."""
    async with serve_asgi(server.http_app(path=path, transport="http")) as origin:
        yield origin + path


@asynccontextmanager
async def serve_asgi(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ASGI `app` on http://`host`:`port` (0: a free port); yields that origin (no trailing slash)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    try:
        while not uv.started:
            if task.done():
                task.result()
                raise RuntimeError(f"the server for http://{host}:{port} stopped before it started")
            await asyncio.sleep(0.01)
        bound = uv.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}"
    finally:
        uv.should_exit = True
        await task


def free_ports(count: int = 1) -> list[int]:
    """`count` different loopback ports nothing listens on right now, for servers started as
    another process (all held while choosing: two probes one after the other can get the same)."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def wait_until_listening(port: int, process: subprocess.Popen[Any], timeout_s: float = 30.0) -> None:
    """Return once `process` accepts connections on 127.0.0.1:`port`; raise if it exits or takes too long."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                stderr = process.stderr.read() if process.stderr is not None else ""
                raise RuntimeError(f"exited with {process.returncode} before listening on {port}: {stderr!r}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listened on {port} within {timeout_s} s") from None
            time.sleep(0.05)
