"""The CLI's servers hold their port from before the app starts (other servers start inside it)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from getgather_otel.web.serving import STARTUP_FAILURE, PortInUseError, listening_socket, require_free_ports

PROBE = Path(__file__).parent / "helpers" / "serve_probe.py"


def test_the_port_is_held_while_the_app_starts_and_a_failed_startup_exits() -> None:
    done = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True, timeout=60)
    assert "the port was held during startup" in done.stdout, done.stdout + done.stderr
    assert done.returncode == STARTUP_FAILURE


def test_a_taken_port_is_one_sentence_naming_the_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=rf"cannot listen on 127.0.0.1:{port} \(.+\); choose another --port"):
            listening_socket("127.0.0.1", port, "--port")
        with pytest.raises(PortInUseError, match="choose another --grpc-port"):
            require_free_ports("127.0.0.1", {"--replay-port": 0, "--grpc-port": port})
