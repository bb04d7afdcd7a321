"""`DuckDBStore`: the one owner of a DuckDB file in the process that writes it.

DuckDB allows one writing process per file, and within that process everything goes
through one `DuckDBWriter`. The store holds that writer and everything that writes
through it or keeps the file in shape: the `otel_traces` buffer (fed by
`DuckDBSpanExporter` in process, or by decoded OTLP in `getgather-otel collect`), the
`recording_chunks` buffer (cut chunks of this process's recordings, compressed on the
writer thread, or ready rows from the collector), the `otel_metrics_*` buffers, reads
through the writer's own connection, and the retention job. `configure()`, the zero-code
`duckdb` exporter and `collect` all build one, so the three ways in flush, shut down and
prune the same way, in the order written once below.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TypeAlias

import duckdb
import pyarrow as pa

from getgather_otel.export.chunk_rows import chunks_to_arrow, rescrubbed
from getgather_otel.export.held import HeldChunks, HeldRows, versions_of
from getgather_otel.export.shutdown import Deadline
from getgather_otel.recording import recordings as recordings_module
from getgather_otel.recording.chunks import Chunk
from getgather_otel.recording.recorder import flush_open_streams
from getgather_otel.store.maintenance.retention import RetentionPolicy
from getgather_otel.store.maintenance.retention_job import DEFAULT_INTERVAL_S, RetentionJob
from getgather_otel.store.paths import resolve_db_path
from getgather_otel.store.tables import METRIC_TABLES, OTEL_TRACES, RECORDING_CHUNKS
from getgather_otel.store.write.arrow_warmup import warm_up_arrow
from getgather_otel.store.write.buffered import (
    WAIT_SLICE_S,
    BufferedTableWriter,
    WriteStats,
    concat_tables,
    newest_rows,
)
from getgather_otel.store.write.writer import DuckDBWriter

__all__ = ["DuckDBStore", "StoreLimits", "StoreStats"]


@dataclass(frozen=True)
class StoreLimits:
    """How much may wait in memory for the writer (a locked file, a slow disk) before the oldest is dropped.

    Spans and metric points are counted in rows, recordings in bytes (raw rrweb JSON for this
    process's chunks, Arrow bytes for rows from the collector). Drops are counted in `stats`.
    `max_held_recording_bytes`: compressed recording rows of running activities kept until the
    activity ends (`export/held.py`); past it the oldest are written early.
    """

    max_pending_spans: int = 100_000
    max_pending_recording_bytes: int = 256 * 1024 * 1024
    max_held_recording_bytes: int = 64 * 1024 * 1024
    max_pending_metric_points: int = 200_000
    retry_interval_s: float = 0.5
    max_retry_interval_s: float = 30.0


@dataclass(frozen=True)
class StoreStats:
    """What happened to what the store took, per kind (units as in `StoreLimits`)."""

    spans: WriteStats
    recordings: WriteStats
    metric_points: WriteStats
    # Compressed bytes of recordings held for running activities now, and rows written before
    # their activity ended because more than `max_held_recording_bytes` were held.
    recordings_held_bytes: int = 0
    recording_rows_written_early: int = 0


_ChunkItem: TypeAlias = Chunk | pa.Table | HeldRows


def _chunk_size(item: _ChunkItem) -> int:
    if isinstance(item, Chunk):
        return item.approx_bytes
    table = item.rows if isinstance(item, HeldRows) else item
    return int(table.nbytes)


class DuckDBStore:
    """Owns one DuckDB file for this process: writes spans, recordings and metric points, reads, prunes.

    Args:
        path: the file; None for $GETGATHER_OTEL_DUCKDB or `./getgather-otel.duckdb`.
        retention: prune in the background every `retention_interval_s` seconds (True: the
            defaults with the GETGATHER_OTEL_RETAIN_* variables applied; a `RetentionPolicy`,
            used as it is; False: never).
        retention_interval_s: seconds between prunes; the first runs at most 60 s after start.
        limits: the memory bounds of the write buffers.
        shutdown_timeout_s: how long `shutdown()` waits for each buffer to be written.

    Nothing touches the file until the first write or read: a bad path or a locked file is
    reported then (`store/errors.py`), or at once with `open_and_migrate()`.
    """

    def __init__(
        self,
        path: str | PathLike[str] | None = None,
        *,
        retention: RetentionPolicy | bool = False,
        retention_interval_s: float = DEFAULT_INTERVAL_S,
        limits: StoreLimits = StoreLimits(),
        shutdown_timeout_s: float = 10.0,
    ) -> None:
        self.path: Path = resolve_db_path(path)
        warm_up_arrow()  # pyarrow's first conversion imports pandas: not inside the first export
        self.writer = DuckDBWriter(self.path)
        self.limits = limits
        self._shutdown_timeout_s = shutdown_timeout_s
        self._spans: BufferedTableWriter[pa.Table] = BufferedTableWriter(
            self.writer,
            OTEL_TRACES.name,
            to_table=concat_tables,
            size_of=lambda table: table.num_rows,
            max_pending=limits.max_pending_spans,
            unit="spans",
            keep_newest=newest_rows,
            retry_interval_s=limits.retry_interval_s,
            max_retry_interval_s=limits.max_retry_interval_s,
        )
        self._held: HeldChunks | None = None  # this process's recordings (`record_browsers`)
        self._chunks: BufferedTableWriter[_ChunkItem] = BufferedTableWriter(
            self.writer,
            RECORDING_CHUNKS.name,
            to_table=self._chunk_rows,
            size_of=_chunk_size,
            max_pending=limits.max_pending_recording_bytes,
            unit="bytes of recordings",
            retry_interval_s=limits.retry_interval_s,
            max_retry_interval_s=limits.max_retry_interval_s,
        )
        self._metrics: dict[str, BufferedTableWriter[pa.Table]] = {
            table: BufferedTableWriter(
                self.writer,
                table,
                to_table=concat_tables,
                size_of=lambda rows: rows.num_rows,
                max_pending=limits.max_pending_metric_points,
                unit=f"{table} points",
                keep_newest=newest_rows,
                retry_interval_s=limits.retry_interval_s,
                max_retry_interval_s=limits.max_retry_interval_s,
            )
            for table in METRIC_TABLES
        }
        self._records_browsers = False
        self._shut_down = False
        self.retention_job: RetentionJob | None = None
        self.start_retention(retention, retention_interval_s)

    # -- writing -------------------------------------------------------------------------

    def submit_spans(self, rows: pa.Table) -> None:
        """Queue `otel_traces` rows (`spans_to_arrow`, or decoded OTLP); returns at once."""
        if rows.num_rows:
            self._spans.submit(rows)

    def submit(self, chunk: Chunk) -> None:
        """Queue one chunk of this process's recordings (a `ChunkConsumer`; runs on the browser's loop)."""
        if chunk.events:
            self._chunks.submit(chunk)

    def _chunk_rows(self, items: list[_ChunkItem]) -> pa.Table:
        """One table from this process's chunks (compressed here, on the writer thread; those of
        running activities held until they end), held rows released, and ready rows."""
        chunks = [item for item in items if isinstance(item, Chunk)]
        parts = [item for item in items if isinstance(item, pa.Table)]
        parts += [rescrubbed(item.rows, item.trace_id, item.version) for item in items if isinstance(item, HeldRows)]
        if chunks:
            versions = versions_of({chunk.trace_id for chunk in chunks})  # before compressing: see `held.py`
            rows = chunks_to_arrow(chunks)
            parts.append(self._held.keep(rows, versions) if self._held is not None else rows)
        return concat_tables(parts)

    def submit_chunk_rows(self, rows: pa.Table) -> None:
        """Queue ready `recording_chunks` rows (decoded from OTLP log records)."""
        if rows.num_rows:
            self._chunks.submit(rows)

    def submit_metric_points(self, table: str, rows: pa.Table) -> None:
        """Queue rows of one `otel_metrics_*` table (KeyError for a table that is not one)."""
        if rows.num_rows:
            self._metrics[table].submit(rows)

    def record_browsers(self) -> None:
        """Store this process's browser recordings here (until `shutdown()`)."""
        if not self._records_browsers:
            self._held = HeldChunks(self._chunks.submit, self.limits.max_held_recording_bytes, "recordings")
            recordings_module.add_sink(self)
            self._records_browsers = True

    def start_retention(
        self, retention: RetentionPolicy | bool, interval_s: float = DEFAULT_INTERVAL_S
    ) -> RetentionJob | None:
        """Prune the file every `interval_s` seconds under `retention` (see the class); the job, or None."""
        if retention is False or self.retention_job is not None:
            return self.retention_job
        policy = RetentionPolicy.from_env(lenient=True) if retention is True else retention
        self.retention_job = RetentionJob(
            self.path, policy, interval_s=interval_s, first_delay_s=min(60.0, interval_s)
        ).start()
        return self.retention_job

    # -- reading -------------------------------------------------------------------------

    def open_and_migrate(self) -> None:
        """Open the file now and bring its schema up to date: a bad path or a newer schema fails here."""
        self.writer.open_and_migrate()

    def reading(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A connection for reads from the writing process (others read with `store/reader.py`)."""
        return self.writer.reading()

    # -- flush and shutdown, in one order ---------------------------------------------------

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Write everything taken so far, then close the file so other processes can read it.

        The order: open page streams are cut into chunks, then chunks, metric points and
        spans are written, then the file is released. True when all of it was written
        within `timeout_s` seconds. Recordings of activities still running, held until they
        end (`export/held.py`), are written too.
        """
        deadline = Deadline(timeout_s)
        with self._held.flushing() if self._held is not None else nullcontext():
            if self._records_browsers:
                flush_open_streams()
            done = True
            for buffer in self._buffers():
                done = buffer.force_flush(deadline.remaining()) and done
        self.writer.close()
        return done

    def shutdown(self) -> None:
        """Stop pruning and taking recordings, write everything taken (up to `shutdown_timeout_s`
        while writes succeed, less for a file that fails: `BufferedTableWriter.shutdown`), close
        the file. Idempotent; later submissions are counted as dropped."""
        if self._shut_down:
            return
        self._shut_down = True
        if self.retention_job is not None:
            self.retention_job.stop()
        if self._held is not None:
            self._held.close()  # running activities' recordings are written now, and no more held
        if self._records_browsers:
            flush_open_streams()  # what open page streams hold becomes chunks, taken here
            recordings_module.remove_sink(self)
        since = time.monotonic()  # one file: its buffers wait for it once, not one after the other
        written = [buffer.shutdown(self._shutdown_timeout_s, since) for buffer in self._buffers()]
        # A buffer that gave up may have a write still waiting for the lock: not waited for.
        self.writer.close(-1 if all(written) else WAIT_SLICE_S)

    def _buffers(self) -> Iterator[BufferedTableWriter[_ChunkItem] | BufferedTableWriter[pa.Table]]:
        yield self._chunks
        yield from self._metrics.values()
        yield self._spans

    def metric_stats(self, table: str) -> WriteStats:
        """The points of one `otel_metrics_*` table (KeyError for a table that is not one)."""
        return self._metrics[table].stats

    @property
    def stats(self) -> StoreStats:
        points = WriteStats()
        for buffer in self._metrics.values():
            for field in ("written", "pending", "dropped", "failed_writes"):
                setattr(points, field, getattr(points, field) + getattr(buffer.stats, field))
        held = self._held
        return StoreStats(
            self._spans.stats,
            self._chunks.stats,
            points,
            held.held_bytes if held else 0,
            held.written_early if held else 0,
        )
