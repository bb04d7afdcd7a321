"""Serving the viewer and the collector from the CLI, on a port bound before anything starts.

uvicorn binds its own socket only after the app's startup has run, and that startup starts
other servers (OTLP/gRPC, the replay origin on any free port): one of them could take the
main port in between (seen: the replay origin's port 0 landed on `collect --port`). So the
main socket is bound first and handed to uvicorn, and the other fixed ports are checked
before anything starts; a taken port is one sentence, not a server's traceback.

Also: `serve_asgi`, an ASGI app on a port for as long as an async block runs (the viewer's
replay origin, the demo, tests and benchmarks), and for servers started as another process,
`free_ports` and `wait_until_listening` (tests and benchmarks).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from typing import Any

from getgather_otel.export.shutdown import REQUEST_GRACE_S

__all__ = [
    "STARTUP_FAILURE",
    "PortInUseError",
    "bound_port",
    "free_ports",
    "listening_socket",
    "require_free_ports",
    "serve",
    "serve_asgi",
    "wait_until_listening",
]

# What uvicorn itself exits with when the app's startup fails.
STARTUP_FAILURE = 3


class PortInUseError(Exception):
    """A port the user named (or defaulted to) cannot be listened on."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listening_socket(host: str, port: int, flag: str) -> socket.socket:
    """A socket bound to host:port and listening (port 0: any free one), or `PortInUseError`."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts need no wait
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise PortInUseError(f"cannot listen on {host}:{port} ({error.strerror}); choose another {flag}") from None
    return sock


def require_free_ports(host: str, ports: dict[str, int]) -> None:
    """Check ports that other servers bind later (port 0 or less: none to check)."""
    for flag, port in ports.items():
        if port > 0:
            listening_socket(host, port, flag).close()


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def serve(app: Any, sock: socket.socket) -> None:
    """Run the ASGI `app` on `sock` until SIGINT/SIGTERM; exit like uvicorn if its startup fails."""
    import uvicorn

    # uvicorn waits for requests in progress without limit by default; a stalled client would keep
    # the process from stopping.
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=REQUEST_GRACE_S)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


@asynccontextmanager
async def serve_asgi(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ASGI `app` on http://`host`:`port` (0: a free port); yields that origin (no trailing slash)."""
    import uvicorn

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
