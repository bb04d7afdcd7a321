"""Retention in the background of the process that writes the file.

A daemon thread prunes the file under the policy every `interval_s` (the first time
`first_delay_s` after start, so a server's start-up is never slowed). It never blocks an
export: spans and chunks keep queueing in their bounded buffers while the prune holds
the file, and are written when it is done. A failed run is logged and retried at the
next interval; the server is never affected.
"""

from __future__ import annotations

import threading
from pathlib import Path

from getgather_otel._log import logger
from getgather_otel.store.errors import StoreError
from getgather_otel.store.maintenance.prune import PruneResult, prune_file
from getgather_otel.store.maintenance.retention import RetentionPolicy

__all__ = ["DEFAULT_INTERVAL_S", "RetentionJob"]

DEFAULT_INTERVAL_S = 3600.0


class RetentionJob:
    """Prunes `path` under `policy` on a timer until `stop()`."""

    def __init__(
        self,
        path: Path,
        policy: RetentionPolicy,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        first_delay_s: float = 60.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("retention interval must be positive")
        self.path = path
        self.policy = policy
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        self.runs = 0
        self.last_result: PruneResult | None = None
        self.last_error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="getgather-otel-retention", daemon=True)

    def start(self) -> RetentionJob:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def run_once(self) -> PruneResult | None:
        """One prune now; None when the file does not exist yet or could not be pruned."""
        if not self.path.is_file():
            return None
        try:
            result = prune_file(self.path, self.policy, progress=lambda message: logger.info("retention: %s", message))
        except (StoreError, OSError) as error:
            self.last_error = error
            logger.warning("retention could not prune %s (%s); next try in %ss", self.path, error, self.interval_s)
            return None
        except Exception as error:  # a bug here must not take the server down
            self.last_error = error
            logger.exception("retention failed on %s", self.path)
            return None
        self.runs += 1
        self.last_result = result
        self.last_error = None
        if result.compaction is not None:
            c = result.compaction
            logger.info("retention: %s -> %d bytes on disk (was %d)", self.path, c.bytes_after, c.bytes_before)
        return result

    def _run(self) -> None:
        delay = self.first_delay_s
        while not self._stop.wait(delay):
            self.run_once()
            delay = self.interval_s
