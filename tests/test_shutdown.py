"""The process ends within 2 s whatever the OTLP endpoint does, with every activity in DuckDB (issue 14).

Each case runs a real instrumented process against a real loopback endpoint that refuses
connections, accepts and never answers, or answers only after 5 s, and times its exit from
the moment its main function returns, its stdin closes or it is sent SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from getgather_otel.web.serving import free_ports, wait_until_listening
from tests.conftest import PROTOBUF, _post, rows
from tests.test_collect import _request_body, collect_process, table
from tests.test_store import lock_held_by_other_process

HELPERS = Path(__file__).parent / "helpers"
INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")
EXIT_LIMIT_S = 2.0


@contextmanager
def refusing() -> Iterator[str]:
    """An endpoint nobody listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


@contextmanager
def never_answering() -> Iterator[str]:
    """A socket that accepts connections (the kernel completes them) and never reads or replies."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class OtlpHandler(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver's request handler: `answer(path, body)` gives the status; empty replies."""

    def answer(self, path: str, body: bytes) -> int:
        raise NotImplementedError

    def do_POST(self) -> None:
        status = self.answer(self.path, self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(handler: type[OtlpHandler]) -> Iterator[str]:
    """A real HTTP server on loopback, in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def answering_slowly() -> Iterator[str]:
    """A real HTTP server that accepts every export, 5 s after receiving it."""

    class Slow(OtlpHandler):
        def answer(self, path: str, body: bytes) -> int:
            time.sleep(5)
            return 200

    with serving(Slow) as url:
        yield url


ENDPOINTS: dict[str, Callable[[], AbstractContextManager[str]]] = {
    "refused": refusing,
    "never-answers": never_answering,
    "answers-slowly": answering_slowly,
}


def one_report(stderr: str) -> None:
    """Exactly one line says what did not reach OTLP; no tracebacks."""
    assert "Traceback" not in stderr, stderr
    reports = [line for line in stderr.splitlines() if "did not reach OTLP" in line or "did not finish" in line]
    assert len(reports) == 1, stderr


@dataclass(frozen=True)
class Exited:
    """How a `helpers/exit_with_otlp.py` process ended: seconds after it was asked to, its output."""

    took: float
    returncode: int
    out: str
    err: str


def exit_with_otlp(db: Path, endpoint: str, ending: str) -> Exited:
    """Run `helpers/exit_with_otlp.py` until it returns from main or, once ready, until SIGTERM ends it."""
    process = subprocess.Popen(
        [sys.executable, str(HELPERS / "exit_with_otlp.py"), str(db), endpoint, ending],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if ending == "sigterm":
            assert line == "ready\n", process.communicate(timeout=30)
            asked_at = time.time()
            process.send_signal(signal.SIGTERM)
        else:
            assert line.startswith("returning "), process.communicate(timeout=30)
            asked_at = float(line.split()[1])
        out, err = process.communicate(timeout=60)
        return Exited(time.time() - asked_at, process.returncode, out, err)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("endpoint_kind", list(ENDPOINTS))
@pytest.mark.parametrize("ending", ["return", "sigterm"])
def test_exit_within_2s_whatever_the_endpoint_does(endpoint_kind: str, ending: str, db_path: Path) -> None:
    with ENDPOINTS[endpoint_kind]() as endpoint:
        exited = exit_with_otlp(db_path, endpoint, ending)
    took, out, err = exited.took, exited.out, exited.err
    assert exited.returncode == (128 + signal.SIGTERM if ending == "sigterm" else 0), err
    assert out == "", "telemetry wrote nothing to stdout"
    assert took < EXIT_LIMIT_S, f"{endpoint_kind}/{ending}: exited {took:.2f} s after being asked\n{err}"
    one_report(err)
    assert "20 spans" in err, "the report says how much did not reach OTLP"
    assert len(rows(db_path, "SELECT activity_id FROM activities")) == 20, "every activity is in DuckDB"


def mcp_session(process: subprocess.Popen[str]) -> None:
    """initialize + one tools/call over the process's stdio, as an MCP client does."""
    assert process.stdin is not None and process.stdout is not None

    def send(message: dict[str, object]) -> None:
        assert process.stdin is not None
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()

    client = {"name": "exit-test", "version": "1"}
    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}})  # fmt: skip
    assert json.loads(process.stdout.readline())["id"] == 1
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "netflix_ping", "arguments": {}}})
    answer = json.loads(process.stdout.readline())
    assert answer["id"] == 2 and answer["result"]["content"][0]["text"] == "pong", "stdout carries only MCP"


def exit_after_stdin_closes(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str, str]:
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        mcp_session(process)
        assert process.stdin is not None
        closed_at = time.monotonic()
        process.stdin.close()
        process.wait(timeout=60)  # stderr stays small: a few lines
        took = time.monotonic() - closed_at
        assert process.stdout is not None and process.stderr is not None
        out, err = process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    return took, out, err


def test_stdio_server_exits_within_2s_of_stdin_closing(db_path: Path) -> None:
    with never_answering() as endpoint:
        took, out, err = exit_after_stdin_closes(
            [sys.executable, str(HELPERS / "stdio_server_with_otlp.py"), str(db_path), endpoint]
        )
    assert took < EXIT_LIMIT_S, f"exited {took:.2f} s after stdin closed\n{err}"
    assert out == ""
    one_report(err)
    assert [r["name"] for r in rows(db_path, "SELECT name FROM activities")] == ["netflix_ping"]


def test_zero_code_server_exits_within_2s_of_stdin_closing(db_path: Path) -> None:
    with never_answering() as endpoint:
        env = {
            **os.environ,
            "OTEL_TRACES_EXPORTER": "duckdb,otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "GETGATHER_OTEL_DUCKDB": str(db_path),
        }
        command = [str(INSTRUMENT), sys.executable, str(HELPERS / "stdio_server_with_otlp.py"), "-", "zero-code"]
        took, out, err = exit_after_stdin_closes(command, env)
    assert took < EXIT_LIMIT_S, f"exited {took:.2f} s after stdin closed\n{err}"
    assert out == ""
    one_report(err)
    assert [r["name"] for r in rows(db_path, "SELECT name FROM activities")] == ["netflix_ping"]


def test_collect_exits_within_2s_of_sigterm_despite_a_stalled_client(tmp_path: Path) -> None:
    """A client that sent half a request body and stalls cannot hold the collector up, and
    what was accepted before SIGTERM is written."""
    db, (port, grpc_port) = tmp_path / "fleet.duckdb", free_ports(2)
    process = collect_process(db, port, grpc_port, "--no-ui")
    try:
        wait_until_listening(port, process, timeout_s=20)
        with socket.create_connection(("127.0.0.1", port)) as stalled:
            stalled.sendall(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                b"Content-Length: 1000\r\n\r\n" + b"\x0a" * 10
            )
            # Answered after the stalled request's headers were read (one event loop, in order).
            body = _request_body(TracerProvider(resource=Resource.create({"service.name": "before-sigterm"})))
            assert _post(f"http://127.0.0.1:{port}/v1/traces", body, PROTOBUF).status_code == 200
            asked_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
            took = time.monotonic() - asked_at
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert took < EXIT_LIMIT_S, f"exited {took:.2f} s after SIGTERM\n{err}"
    assert out == ""
    assert len(table(db)) == 2, "the request answered before SIGTERM is written"


WHO_IMPORTS_PANDAS = """
import importlib.util, sys, threading, time
from importlib.abc import MetaPathFinder

importers = []

class Watch(MetaPathFinder):
    # Names the thread that imports pandas (not importlib.util.find_spec asking if it is there).

    def find_spec(self, name, path, target=None):
        frame, asking = sys._getframe(1), ("<frozen importlib.util>", importlib.util.__file__)
        while frame is not None and frame.f_code.co_filename not in asking:
            frame = frame.f_back
        if name == "pandas" and frame is None:
            importers.append(threading.current_thread().name)
        return None

sys.meta_path.insert(0, Watch())
from getgather_otel.export.duckdb_store import DuckDBStore
store = DuckDBStore(sys.argv[1])
deadline = time.monotonic() + 60
while "pandas" not in sys.modules and time.monotonic() < deadline:
    time.sleep(0.05)
print(",".join(importers))
"""


def test_pyarrows_pandas_import_happens_when_a_store_starts_not_in_the_first_export(db_path: Path) -> None:
    """pyarrow's first conversion imports pandas (1.3-4.4 s of CPU on the loaded test machine),
    which inside the first span export at exit blew the shutdown budget: a store starts it on a
    thread of its own, so the export finds it done."""
    out = subprocess.run(
        [sys.executable, "-c", WHO_IMPORTS_PANDAS, str(db_path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["getgather-otel-arrow-warmup"], out.stdout


@pytest.mark.parametrize("file", ["not-a-database", "a-directory", "a-named-pipe", "locked"])
@pytest.mark.parametrize("ending", ["return", "sigterm"])
def test_exit_within_2s_when_the_duckdb_file_cannot_be_written(file: str, ending: str, tmp_path: Path) -> None:
    # A newcomer's break: the first write had not failed yet when the process stopped, so the
    # writer waited its whole 10 s for a file that is no database; a file another process holds
    # (a notebook) kept it 10.1 s after SIGTERM, past the 2 s here and Docker's 10 s.
    db = tmp_path / "telemetry.duckdb"
    if file == "not-a-database":
        db.write_text("not a database\n")
    elif file == "a-directory":
        db.mkdir()
    elif file == "a-named-pipe":
        os.mkfifo(db)  # opening it waits for a writer: 10.5 s at exit, silently, before
    with lock_held_by_other_process(db) if file == "locked" else contextlib.nullcontext():
        exited = exit_with_otlp(db, "-", ending)
    took, err = exited.took, exited.err
    # Not SIGABRT (134): a writer thread left inside DuckDB at teardown aborted the process.
    assert exited.returncode == (128 + signal.SIGTERM if ending == "sigterm" else 0), err
    assert took < EXIT_LIMIT_S, f"{file}/{ending}: exited {took:.2f} s after being asked\n{err}"
    assert "Traceback" not in err, err
    assert "not written" in err, "what could not be written is said"
