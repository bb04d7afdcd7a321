"""Logging that is safe inside an MCP server.

stdio is the MCP transport, so nothing here ever prints: records go to the
`getgather_otel` logger, which the host application routes (stderr by default via
Python's last-resort handler for warnings and above). A failing sink is reported once
per kind of failure, not once per span, and its recovery is reported once too.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["FailureReporter", "logger"]

logger = logging.getLogger("getgather_otel")


class FailureReporter:
    """Logs the first failure of each kind, stays quiet while it repeats, logs recovery."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        kind = type(error).__name__
        with self._lock:
            if kind in self._active:
                return
            self._active.add(kind)
        logger.warning("%s failed, will keep retrying: %s", self._what, error)

    def recovered(self, detail: str) -> None:
        with self._lock:
            if not self._active:
                return
            self._active.clear()
        logger.warning("%s works again: %s", self._what, detail)

    @property
    def failing(self) -> bool:
        return bool(self._active)
