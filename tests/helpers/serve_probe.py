"""`serving.serve` with an app whose startup tries to take the port it is about to be served on.

Prints what that bind did, then fails the startup on purpose so that `serve` exits.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from getgather_otel.web.serving import bound_port, listening_socket, serve

sock = listening_socket("127.0.0.1", 0, "--port")


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    with socket.socket() as other:
        try:
            other.bind(("127.0.0.1", bound_port(sock)))
            print("startup could take the port", flush=True)
        except OSError:
            print("the port was held during startup", flush=True)
    raise RuntimeError("startup fails on purpose")
    yield


serve(Starlette(lifespan=lifespan), sock)
