"""Recording chunks over OTLP: log records sent from a thread of their own.

The browser's event loop only queues a chunk (`submit`); this sink's thread compresses
it (`chunks_to_arrow`, the same code as for DuckDB), turns each row into a log record
(`chunk_logs`) and hands batches to an OTLP log exporter, which retries 429/503 itself.
In `auto` mode the thread first asks the endpoint whether it is `getgather-otel collect`
and sends nothing anywhere else (a third-party backend has no use for rrweb bytes):
queued chunks are then dropped and counted. Memory is bounded by `max_pending_bytes`. The
rows of a root activity still running are held, compressed, until it ends (`export/held.py`,
up to `max_held_bytes`), so a secret it registers late is scrubbed from them before they leave.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import pyarrow as pa
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from getgather_otel._log import logger
from getgather_otel.capture import attributes as attr
from getgather_otel.export.chunk_log_records import row_to_log_parts
from getgather_otel.export.chunk_rows import chunks_to_arrow, rescrubbed
from getgather_otel.export.held import HeldChunks, HeldRows, versions_of
from getgather_otel.export.otlp import receiver_is_ours
from getgather_otel.recording.chunks import Chunk
from getgather_otel.store.log_chunks import EVENT_NAME
from getgather_otel.store.write.buffered import WriteStats
from getgather_otel.version import __version__

__all__ = ["OtlpChunkSink", "chunk_log_records"]

_SCOPE = InstrumentationScope(attr.SCOPE_NAME, __version__)


def chunk_log_records(rows: pa.Table, resource: Resource) -> list[ReadableLogRecord]:
    """One log record per `recording_chunks` row (`chunks_to_arrow`), correlated with the chunk's activity span."""
    records = []
    observed = time.time_ns()
    for row in rows.to_pylist():
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
        max_held_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._exporter = exporter
        self._resource = resource
        self._info_url = info_url
        # None until the receiver was asked (auto mode); True when chunks may be sent.
        self._allowed: bool | None = None if info_url else True
        self._max_pending = max_pending_bytes
        self._max_batch = max_batch
        self._pending: deque[Chunk | HeldRows] = deque()
        self._pending_bytes = 0
        self._in_flight = 0
        self._stopping = False
        self._cond = threading.Condition()
        self._stats = WriteStats()
        # Rows of running activities wait for their end, as in the DuckDB store (`export/held.py`).
        self._held = HeldChunks(self._queue, max_held_bytes, "recordings for OTLP")
        self._thread = threading.Thread(target=self._run, name="getgather-otel-otlp-recordings", daemon=True)
        self._thread.start()

    def submit(self, chunk: Chunk) -> None:
        if chunk.events:
            self._queue(chunk)

    def _queue(self, item: Chunk | HeldRows) -> None:
        size = _size(item)
        with self._cond:
            if self._stopping or self._pending_bytes + size > self._max_pending:
                self._stats.dropped += size
                return
            self._pending.append(item)
            self._pending_bytes += size
            self._cond.notify_all()

    def _take(self) -> tuple[list[Chunk | HeldRows], int]:
        """The next batch and its size, now in flight; an empty batch once stopping with nothing left."""
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            batch = [self._pending.popleft() for _ in range(min(self._max_batch, len(self._pending)))]
            size = sum(_size(item) for item in batch)
            self._pending_bytes -= size
            self._in_flight = size
            return batch, size

    def _rows(self, batch: list[Chunk | HeldRows]) -> pa.Table:
        """The batch's rows to send now: chunks compressed (those of running activities held), held rows released."""
        chunks = [item for item in batch if isinstance(item, Chunk)]
        parts = [rescrubbed(item.rows, item.trace_id, item.version) for item in batch if isinstance(item, HeldRows)]
        if chunks:
            versions = versions_of({chunk.trace_id for chunk in chunks})
            parts.append(self._held.keep(chunks_to_arrow(chunks), versions))
        return pa.concat_tables(parts)

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
                    rows = self._rows(batch)
                    records = chunk_log_records(rows, self._resource) if rows.num_rows else []
                    sent = not records or self._exporter.export(records) == LogRecordExportResult.SUCCESS
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
        """Wait until every chunk queued so far, held ones included, was sent (or given up on); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._held.flushing(), self._cond:
            while self._pending or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout_s: float = 10.0) -> None:
        self._held.close()  # running activities' recordings are sent now
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


def _size(item: Chunk | HeldRows) -> int:
    return item.approx_bytes if isinstance(item, Chunk) else int(item.rows.nbytes)
