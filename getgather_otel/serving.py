"""Serving the viewer and the collector from the CLI, on a port bound before anything starts.

uvicorn binds its own socket only after the app's startup has run, and that startup starts
other servers (OTLP/gRPC, the replay origin on any free port): one of them could take the
main port in between (seen: the replay origin's port 0 landed on `collect --port`). So the
main socket is bound first and handed to uvicorn, and the other fixed ports are checked
before anything starts; a taken port is one sentence, not a server's traceback.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from getgather_otel.shutdown import REQUEST_GRACE_S

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
