"""Recording chunks over OTLP: log records sent from a thread of their own.

The browser's event loop only queues a chunk (`submit`); this sink's thread compresses
it (`chunks_to_arrow`, the same code as for DuckDB), turns each row into a log record
(`chunk_logs`) and hands batches to an OTLP log exporter, which retries 429/503 itself.
In `auto` mode the thread first asks the endpoint whether it is `getgather-otel collect`
and sends nothing anywhere else (a third-party backend has no use for rrweb bytes):
queued chunks are then dropped and counted. Memory is bounded by `max_pending_bytes`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from getgather_otel._log import logger
from getgather_otel.capture import attributes as attr
from getgather_otel.export.chunk_log_records import row_to_log_parts
from getgather_otel.export.chunk_rows import chunks_to_arrow
from getgather_otel.export.otlp import receiver_is_ours
from getgather_otel.recording.chunks import Chunk
from getgather_otel.store.log_chunks import EVENT_NAME
from getgather_otel.store.write.buffered import WriteStats
from getgather_otel.version import __version__

__all__ = ["OtlpChunkSink", "chunk_log_records"]

_SCOPE = InstrumentationScope(attr.SCOPE_NAME, __version__)


def chunk_log_records(chunks: list[Chunk], resource: Resource) -> list[ReadableLogRecord]:
    """One log record per chunk, correlated with the chunk's activity span."""
    records = []
    observed = time.time_ns()
    for row in chunks_to_arrow(chunks).to_pylist():
        timestamp, body, attributes = row_to_log_parts(row)
        span = NonRecordingSpan(
            SpanContext(int(row["trace_id"], 16), int(row["span_id"], 16), False, TraceFlags(TraceFlags.SAMPLED))
        )
        record = LogRecord(
            timestamp=timestamp,
            observed_timestamp=observed,
            context=set_span_in_context(span),
            body=body,
            attributes=attributes,
            event_name=EVENT_NAME,
        )
        records.append(ReadableLogRecord(record, resource=resource, instrumentation_scope=_SCOPE))
    return records


class OtlpChunkSink:
    """Queues chunks and exports them as OTLP log records (stats in bytes of raw rrweb JSON)."""

    def __init__(
        self,
        exporter: Any,
        resource: Resource,
        *,
        info_url: str | None = None,
        max_pending_bytes: int = 64 * 1024 * 1024,
        max_batch: int = 64,
    ) -> None:
        self._exporter = exporter
        self._resource = resource
        self._info_url = info_url
        # None until the receiver was asked (auto mode); True when chunks may be sent.
        self._allowed: bool | None = None if info_url else True
        self._max_pending = max_pending_bytes
        self._max_batch = max_batch
        self._pending: deque[Chunk] = deque()
        self._pending_bytes = 0
        self._in_flight = 0
        self._stopping = False
        self._cond = threading.Condition()
        self._stats = WriteStats()
        self._thread = threading.Thread(target=self._run, name="getgather-otel-otlp-recordings", daemon=True)
        self._thread.start()

    def submit(self, chunk: Chunk) -> None:
        if not chunk.events:
            return
        with self._cond:
            if self._stopping or self._pending_bytes + chunk.approx_bytes > self._max_pending:
                self._stats.dropped += chunk.approx_bytes
                return
            self._pending.append(chunk)
            self._pending_bytes += chunk.approx_bytes
            self._cond.notify_all()

    def _take(self) -> tuple[list[Chunk], int]:
        """The next batch and its size, now in flight; an empty batch once stopping with nothing left."""
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            batch = [self._pending.popleft() for _ in range(min(self._max_batch, len(self._pending)))]
            size = sum(chunk.approx_bytes for chunk in batch)
            self._pending_bytes -= size
            self._in_flight = size
            return batch, size

    def _run(self) -> None:
        while True:
            batch, size = self._take()
            if not batch:
                return
            sent = False
            try:
                if self._allowed is None and self._info_url is not None:
                    self._allowed = receiver_is_ours(self._info_url)
                    if not self._allowed:
                        logger.info(
                            "the OTLP endpoint is not getgather-otel collect: recordings stay local "
                            "(set GETGATHER_OTEL_OTLP_RECORDINGS=true to send them anyway)"
                        )
                if self._allowed:
                    result = self._exporter.export(chunk_log_records(batch, self._resource))
                    sent = result == LogRecordExportResult.SUCCESS
            except Exception:
                logger.exception("could not send recording chunks over OTLP")
            with self._cond:
                self._in_flight = 0
                if sent:
                    self._stats.written += size
                else:
                    self._stats.dropped += size
                self._cond.notify_all()

    def flush(self, timeout_s: float) -> bool:
        """Wait until every chunk queued so far was sent (or given up on); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._pending or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout_s: float = 10.0) -> None:
        self.flush(timeout_s)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        self._exporter.shutdown()

    @property
    def stats(self) -> WriteStats:
        with self._cond:
            return WriteStats(self._stats.written, self._pending_bytes + self._in_flight, self._stats.dropped)
