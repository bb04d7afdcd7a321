"""Queries that would read a host file or reach the network through ClickHouse, and a listener to catch them.

`outside_reads(secret, port)` are user queries (`sql`, `POST /api/sql`) that read `secret` or call
the loopback `port`, each a different way (table function, ordinary function, CTE, IN); `listening()`
is an HTTP server on 127.0.0.1 that records every request, so a url()/remote() that ran shows up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["listening", "outside_reads"]


@contextmanager
def listening() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on loopback recording every request: a url()/remote() that ran would show up here."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"reached\n")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), hits
    finally:
        server.shutdown()
        server.server_close()


def outside_reads(secret: Path, port: int) -> list[str]:
    """User queries that read a host file or reach the network through ClickHouse, each its own way."""
    return [
        f"SELECT * FROM file('{secret}', 'LineAsString')",
        f"SELECT file('{secret}') AS leaked",  # the ordinary function: readonly=1 does not stop it
        f"SELECT 1 IN file('{secret}', 'LineAsString') AS leaked",  # evaluated as that function
        f"SELECT * FROM url('http://127.0.0.1:{port}/url', 'LineAsString')",
        f"WITH t AS (SELECT * FROM url('http://127.0.0.1:{port}/cte', 'LineAsString')) SELECT * FROM t",
        f"SELECT * FROM s3('http://127.0.0.1:{port}/bucket/key', 'LineAsString')",
        f"SELECT * FROM remote('127.0.0.1:{port}', system.one)",
        "SELECT * FROM executable('cat', 'LineAsString', 'line String')",
        # loop() is allowed, and its argument is a table function of its own.
        f"SELECT * FROM loop(url('http://127.0.0.1:{port}/loop', 'LineAsString')) LIMIT 1",
        f"SELECT * FROM loop(remote('127.0.0.1:{port}', system.one)) LIMIT 1",
    ]
