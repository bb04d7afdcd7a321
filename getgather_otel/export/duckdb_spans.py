"""`DuckDBSpanExporter`: a plain OpenTelemetry `SpanExporter` that writes `otel_traces`.

The exporter must never hurt the MCP server it observes. `export()` only converts the
spans to Arrow (in the span processor's thread) and hands the table to its `DuckDBStore`,
whose buffer inserts whatever has queued up in one statement from its own thread, so
conversion (Python) and insertion (DuckDB, which releases the GIL) overlap on two cores.
Locked, corrupt or unwritable files and full disks are handled there: rows wait in a
bounded buffer and are retried, drops are counted (`stats`). `export` reports SUCCESS for
rows it has taken custody of: retrying is this exporter's job, not the span processor's.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from getgather_otel.export.duckdb_store import DuckDBStore, StoreLimits
from getgather_otel.export.held import SpanHold
from getgather_otel.export.span_secrets import without_secrets
from getgather_otel.store.write.arrow_spans import spans_to_arrow
from getgather_otel.store.write.buffered import WriteStats

__all__ = ["DuckDBSpanExporter"]


class DuckDBSpanExporter(SpanExporter):
    """Export spans into a DuckDB file laid out like the ClickHouse exporter's `otel_traces`.

    Args:
        path: the file; None for $GETGATHER_OTEL_DUCKDB or `./getgather-otel.duckdb`.
        max_pending_spans: spans held in memory while the file cannot be written (a lock held
            elsewhere, a full disk) before the oldest are dropped and counted in `stats`.
        retry_interval_s, max_retry_interval_s: the first and the longest wait (seconds)
            between attempts to write a batch that failed; the wait doubles in between.
        store: the `DuckDBStore` to write through instead of one of its own (then the other
            arguments are the store's). Shutting the exporter down shuts the
            store down: the span processor's shutdown is where a process's telemetry ends.
        hold_spans: keep the spans of a trace whose root activity still runs until it ends, so a
            secret it registers late reaches them (`export/held.py`). `configure()` holds them
            before any exporter (its router) and leaves this off; the zero-code exporter, which
            has no router, turns it on.
    """

    def __init__(
        self,
        path: str | PathLike[str] | None = None,
        *,
        max_pending_spans: int = StoreLimits.max_pending_spans,
        retry_interval_s: float = StoreLimits.retry_interval_s,
        max_retry_interval_s: float = StoreLimits.max_retry_interval_s,
        store: DuckDBStore | None = None,
        hold_spans: bool = False,
    ) -> None:
        limits = StoreLimits(
            max_pending_spans=max_pending_spans,
            retry_interval_s=retry_interval_s,
            max_retry_interval_s=max_retry_interval_s,
        )
        self.store = store or DuckDBStore(path, limits=limits)
        self._shut_down = False
        self._held = SpanHold(self._submit) if hold_spans else None

    @property
    def path(self) -> Path:
        return self.store.path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut_down:
            return SpanExportResult.FAILURE
        held = self._held
        self._submit([span for span in spans if not held.take(span)] if held is not None else spans)
        return SpanExportResult.SUCCESS

    def _submit(self, spans: Sequence[ReadableSpan]) -> None:
        if spans:
            # The router did this already under configure(); zero-code pipelines have no router.
            self.store.submit_spans(spans_to_arrow([without_secrets(span) for span in spans]))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Write everything taken so far, held spans too, and release the file; False if the deadline passed first."""
        if self._held is not None:
            self._held.release_all()
        return self.store.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        if self._held is not None:
            self._held.close()  # running activities' spans are written now
        self._shut_down = True
        self.store.shutdown()

    @property
    def stats(self) -> WriteStats:
        return self.store.stats.spans
