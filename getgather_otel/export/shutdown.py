"""One shutdown budget: the process ends promptly whatever the OTLP endpoint does.

Supervisors and stdio MCP clients kill a server that does not stop, so at exit and on
SIGTERM getgather-otel spends at most `SHUTDOWN_BUDGET_S` (the rest of the 2 s promise is
left to other atexit hooks and the interpreter's own teardown): DuckDB first, until everything it holds is written
(it is local and fast; only another process holding the file makes it wait), then OTLP with
what is left. The SDK's OTLP calls can block far longer than that (each export retries up to
OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default, and a socket that never answers holds a request
for all of it; `BatchSpanProcessor.shutdown` waits up to 30 s), so they run on daemon threads
(`run_within`) that are abandoned when the budget runs out; shutting the SDK exporters down
then stops their retry loops (they wait on a shutdown event between attempts, and gRPC closes
its channel). One log line says what did not reach OTLP (`report_undelivered`).

At exit, the last step is `gc.freeze()`: the interpreter's final garbage collection over a
FastMCP process's objects took 0.9-2.4 s on the loaded 2-core test machine (a plain FastMCP
stdio server, no telemetry at all, from stdin closing to the process ending) and 0.1-0.2 s
with the objects frozen. Frozen objects in reference cycles are not finalized by that last
pass, which Python never promised at exit anyway; files and our DuckDB file are closed before.
"""

from __future__ import annotations

import atexit
import gc
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial

from getgather_otel._log import logger
from getgather_otel.export.otlp_guard import UNITS, ExportGuard

__all__ = [
    "REQUEST_GRACE_S",
    "SHUTDOWN_BUDGET_S",
    "Deadline",
    "at_exit",
    "exit_on_sigterm",
    "install_sigterm_flush",
    "report_undelivered",
    "run_within",
]

# Measured on the 2-core test machine under load: the interpreter's own teardown after
# atexit (pyarrow, DuckDB, gRPC modules) takes 0.3-0.8 s, and with two CPU burners and other
# test suites beside it (load average ~12) DuckDB's last write took up to 0.8 s more: 0.8 s
# for us keeps exit under 2 s there too.
SHUTDOWN_BUDGET_S = 0.8
# What a stopping server (`collect`, `ui`) grants requests in progress, per protocol (HTTP, then
# gRPC), before cancelling them: a client that sends half a body and stalls cannot hold it up.
REQUEST_GRACE_S = 0.3


class Deadline:
    """A point in time shared by the steps of one shutdown."""

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.at = self.started + seconds

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


_exit_hooks: dict[Callable[[], object], Callable[[], None]] = {}


def at_exit(shutdown: Callable[[], object]) -> None:
    """Run `shutdown` at exit (SIGTERM included: `install_sigterm_flush`), then skip the final GC pass.

    atexit runs the last registered hook first; registering the same `shutdown` again moves
    it ahead of the hooks registered since (the zero-code path needs that).
    """
    hook = _exit_hooks.setdefault(shutdown, partial(_shut_down_and_freeze, shutdown))
    atexit.unregister(hook)
    atexit.register(hook)


def _shut_down_and_freeze(shutdown: Callable[[], object]) -> None:
    shutdown()
    gc.freeze()


def run_within(steps: Mapping[str, Callable[[], object]], deadline: Deadline) -> list[str]:
    """Run the steps side by side on daemon threads until `deadline`; the names of those unfinished.

    A step still running afterwards is abandoned: a daemon thread never keeps the process
    alive, and its result no longer matters. Side by side, each step gets all the time left.
    """
    running = {}
    for name, call in steps.items():
        done = threading.Event()
        threading.Thread(target=_run_step, args=(name, call, done), name=f"getgather-otel-{name}", daemon=True).start()
        running[name] = done
    return [name for name, done in running.items() if not done.wait(deadline.remaining())]


def _run_step(name: str, call: Callable[[], object], done: threading.Event) -> None:
    try:
        call()
    except Exception:
        logger.exception("%s failed during shutdown", name)
    finally:
        done.set()


def report_undelivered(guards: Iterable[ExportGuard], deadline: Deadline, spans_not_delivered: int | None) -> None:
    """One line naming what did not reach OTLP and how much, not counted by a warning before.

    Nothing when everything arrived. A switched-off signal was announced once and stays out.
    `spans_not_delivered`: spans ended minus spans delivered, which also counts spans that
    never left the batch queue (a guard only sees exports); None to use the guard's own count.
    """
    parts = []
    endpoints = []
    for guard in guards:
        if guard.switched_off:
            continue
        missing = guard.undelivered + guard.in_flight
        if guard.signal == "traces" and spans_not_delivered is not None:
            missing = spans_not_delivered
        missing -= guard.reported
        if missing > 0:
            parts.append(f"{missing} {UNITS[guard.signal]}")
            endpoints.append(guard.endpoint)
    if parts:
        logger.warning(
            "shut down in %.1f s; did not reach OTLP (%s): %s",
            deadline.elapsed(),
            ", ".join(dict.fromkeys(endpoints)),
            ", ".join(parts),
        )


def exit_on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks and atexit (our flush) run."""
    raise SystemExit(128 + signum)


def install_sigterm_flush() -> None:
    """Flush on SIGTERM too, where the application has not chosen its own SIGTERM handling.

    Python's default action for SIGTERM ends the process without running atexit, which
    would lose the spans still queued. A handler set by the application (or a server
    such as uvicorn, which then exits normally and runs atexit) is left untouched.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, exit_on_sigterm)
