"""`DuckDBSpanExporter`: a plain OpenTelemetry `SpanExporter` that writes `otel_traces`.

The exporter must never hurt the MCP server it observes. `export()` only converts the
spans to Arrow (in the span processor's thread) and queues the table; the table's
`BufferedTableWriter` inserts whatever has queued up in one statement from its own
thread, so conversion (Python) and insertion (DuckDB, which releases the GIL) overlap on
two cores. Locked, corrupt or unwritable files and full disks are handled there: rows
wait in a bounded buffer and are retried, drops are counted (`stats`). `export` reports
SUCCESS for rows it has taken custody of: retrying is this exporter's job, not the span
processor's.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from getgather_otel.store.paths import resolve_db_path
from getgather_otel.store.write.arrow_spans import spans_to_arrow
from getgather_otel.store.write.buffered import BufferedTableWriter, WriteStats, concat_tables, newest_rows
from getgather_otel.store.write.writer import DuckDBWriter

TRACES_TABLE = "otel_traces"


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
        self.path: Path = resolve_db_path(path) if writer is None else writer.path
        # One writer per file and process: browser recordings share it (`writer`).
        self.writer = writer or DuckDBWriter(self.path)
        self._shutdown_timeout_s = shutdown_timeout_s
        self._buffer: BufferedTableWriter[pa.Table] = BufferedTableWriter(
            self.writer,
            TRACES_TABLE,
            to_table=concat_tables,
            size_of=lambda table: table.num_rows,
            max_pending=max_pending_spans,
            unit="spans",
            keep_newest=newest_rows,
            retry_interval_s=retry_interval_s,
            max_retry_interval_s=max_retry_interval_s,
        )
        self._shut_down = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut_down:
            return SpanExportResult.FAILURE
        if spans:
            self.export_rows(spans_to_arrow(spans))
        return SpanExportResult.SUCCESS

    def export_rows(self, table: pa.Table) -> None:
        """Queue ready `otel_traces` rows (the collector decodes OTLP straight into them)."""
        self._buffer.submit(table)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until everything taken so far is written; False if the deadline passed first."""
        return self._buffer.force_flush(timeout_millis / 1000)

    def release_file(self) -> None:
        """Close the DuckDB file now rather than after the linger, so readers get it at once."""
        self.writer.close()

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self._buffer.shutdown(self._shutdown_timeout_s)
        self.writer.close()

    @property
    def stats(self) -> WriteStats:
        return self._buffer.stats
