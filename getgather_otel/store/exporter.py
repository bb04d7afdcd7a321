"""`DuckDBSpanExporter`: a plain OpenTelemetry `SpanExporter` that writes `otel_traces`.

The exporter must never hurt the MCP server it observes. `export()` only converts the
spans to Arrow and queues the table; a writer thread inserts whatever has queued up in
one statement, so conversion (Python) and insertion (DuckDB, which releases the GIL)
overlap on two cores and batches grow under load, which is what DuckDB likes.

When the file is locked, corrupt, unwritable or the disk is full, rows stay in a bounded
buffer, the writer retries with backoff, the failure is logged once, and rows beyond the
bound are dropped oldest-first and counted (`stats`). `export` reports SUCCESS for rows it
has taken custody of: retrying is this exporter's job, not the span processor's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from os import PathLike

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from getgather_otel._log import FailureReporter, logger
from getgather_otel.store.arrow_spans import spans_to_arrow
from getgather_otel.store.errors import DatabaseLockedError, StoreError
from getgather_otel.store.paths import resolve_db_path
from getgather_otel.store.writer import DuckDBWriter

TRACES_TABLE = "otel_traces"


@dataclass
class ExporterStats:
    """Counters an operator can read (`Telemetry.stats()`) to see what reached the file."""

    written: int = 0
    pending: int = 0
    dropped: int = 0
    failed_writes: int = 0


class DuckDBSpanExporter(SpanExporter):
    """Export spans into a DuckDB file laid out like the ClickHouse exporter's `otel_traces`."""

    def __init__(
        self,
        path: str | PathLike[str] | None = None,
        *,
        max_pending_spans: int = 100_000,
        retry_interval_s: float = 0.5,
        max_retry_interval_s: float = 30.0,
        shutdown_timeout_s: float = 10.0,
        writer: DuckDBWriter | None = None,
    ) -> None:
        self.path = resolve_db_path(path) if writer is None else writer.path
        self._writer = writer or DuckDBWriter(self.path)
        self._max_pending = max_pending_spans
        self._retry_interval_s = retry_interval_s
        self._max_retry_interval_s = max_retry_interval_s
        self._shutdown_timeout_s = shutdown_timeout_s
        self._pending: deque[pa.Table] = deque()
        self._pending_rows = 0
        self._in_flight = 0
        self._cond = threading.Condition()
        self._flush_requested = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._reporter = FailureReporter(f"writing spans to {self.path}")
        self._stats = ExporterStats()
        self._shut_down = False
        self._last_error: StoreError | None = None

    # --- SpanExporter API ---

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut_down:
            return SpanExportResult.FAILURE
        if spans:
            table = spans_to_arrow(spans)
            with self._cond:
                self._pending.append(table)
                self._pending_rows += table.num_rows
                self._enforce_bound_locked()
                self._ensure_thread_locked()
                self._cond.notify_all()
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until everything taken so far is written; False if the deadline passed first."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            if not self._pending and not self._in_flight:
                return True
            self._ensure_thread_locked()
            self._flush_requested = True
            self._cond.notify_all()
            while self._pending or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def release_file(self) -> None:
        """Close the DuckDB file now rather than after the linger, so readers get it at once."""
        self._writer.close()

    def shutdown(self) -> None:
        if self._shut_down:
            return
        # Waiting only helps while another process holds the lock; a corrupt or unwritable
        # file will not heal in the next seconds, so it gets one last attempt.
        transient = self._last_error is None or isinstance(self._last_error, DatabaseLockedError)
        flushed = self.force_flush(int((self._shutdown_timeout_s if transient else 0.5) * 1000))
        self._shut_down = True
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self._shutdown_timeout_s)
        self._writer.close()
        if not flushed:
            with self._cond:
                lost = self._pending_rows
                self._stats.dropped += lost
                self._pending.clear()
                self._pending_rows = 0
            logger.error("shut down with %d spans not written to %s", lost, self.path)
        if self._stats.dropped:
            logger.warning(
                "%d spans were dropped in total because %s was unavailable",
                self._stats.dropped,
                self.path,
            )

    # --- introspection ---

    @property
    def stats(self) -> ExporterStats:
        with self._cond:
            return replace(self._stats, pending=self._pending_rows + self._in_flight)

    # --- internals ---

    def _enforce_bound_locked(self) -> None:
        """Drop the oldest buffered rows beyond `max_pending_spans`, counting them."""
        while self._pending_rows > self._max_pending and len(self._pending) > 1:
            oldest = self._pending.popleft()
            self._pending_rows -= oldest.num_rows
            self._stats.dropped += oldest.num_rows
        if self._pending_rows > self._max_pending:
            only = self._pending.popleft()
            keep = only.slice(only.num_rows - self._max_pending)
            self._stats.dropped += only.num_rows - keep.num_rows
            self._pending.appendleft(keep)
            self._pending_rows = keep.num_rows

    def _ensure_thread_locked(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="getgather-otel-duckdb-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        backoff = self._retry_interval_s
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                batch = list(self._pending)
                self._pending.clear()
                rows = self._pending_rows
                self._pending_rows = 0
                self._in_flight = rows
            table = pa.concat_tables(batch) if len(batch) > 1 else batch[0]
            try:
                self._writer.write(TRACES_TABLE, table)
            except StoreError as error:
                with self._cond:
                    self._stats.failed_writes += 1
                    self._pending.extendleft(reversed(batch))
                    self._pending_rows += rows
                    self._in_flight = 0
                    self._enforce_bound_locked()
                    self._cond.notify_all()
                self._last_error = error
                self._reporter.failed(error)
                with self._cond:
                    if not self._stopping:
                        self._cond.wait_for(lambda: self._flush_requested or self._stopping, timeout=backoff)
                    self._flush_requested = False
                    if self._stopping:
                        return
                backoff = min(backoff * 2, self._max_retry_interval_s)
                continue
            with self._cond:
                self._stats.written += rows
                self._in_flight = 0
                self._cond.notify_all()
            self._last_error = None
            if self._reporter.failing:
                self._reporter.recovered(f"{rows} buffered spans written")
            backoff = self._retry_interval_s
