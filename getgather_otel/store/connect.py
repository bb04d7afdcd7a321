"""Opening a DuckDB file that another process may hold for a moment.

DuckDB lets one process hold a file read-write, and then no other process can open it at
all. getgather-otel's writer and readers each hold it for milliseconds, so both sides
open through this one function: retry while the file is locked, every 10-30 ms
(jittered, so a reader and a writer looping together cannot stay in lockstep), until
`wait_s` runs out; any other problem is reported at once as a clear `StoreError`.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from getgather_otel.store.errors import DatabaseLockedError, classify

__all__ = ["connect_waiting_for_lock"]


def connect_waiting_for_lock(
    path: Path,
    wait_s: float,
    *,
    read_only: bool = False,
    config: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to `path`, retried while another process holds it, up to `wait_s` or until
    `stop` is set (a stopping process: see `DuckDBWriter.stop_waiting`); a clear StoreError."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except Exception as error:
            problem = classify(path, error, reading=read_only)
            if not isinstance(problem, DatabaseLockedError) or time.monotonic() >= deadline:
                raise problem from error
            if stop is not None and stop.is_set():
                raise problem from error
            time.sleep(random.uniform(0.01, 0.03))
