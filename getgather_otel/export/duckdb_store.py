"""What runs beside the DuckDB span exporter in the process that writes the file.

Recording chunks go through the exporter's writer (one writer per file and process), and
the retention job prunes that file. `configure()` and the zero-code `duckdb` exporter both
start them here, so the two ways in behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from getgather_otel.export.duckdb_spans import DuckDBSpanExporter
from getgather_otel.recording import recordings as recordings_module
from getgather_otel.recording.chunks import ChunkSink
from getgather_otel.store.maintenance.retention import RetentionPolicy
from getgather_otel.store.maintenance.retention_job import RetentionJob


@dataclass
class Companions:
    """The recording sink and retention job of one DuckDB exporter."""

    chunk_sink: ChunkSink
    retention_job: RetentionJob | None

    @classmethod
    def start(
        cls, exporter: DuckDBSpanExporter, retention: RetentionPolicy | bool, retention_interval_s: float
    ) -> Companions:
        """Route recordings into `exporter`'s file and start pruning it (unless `retention` is False)."""
        chunk_sink = ChunkSink(exporter.writer)
        recordings_module.add_sink(chunk_sink)
        job = None
        if retention is not False:
            policy = RetentionPolicy.from_env(base=None if retention is True else retention)
            job = RetentionJob(
                exporter.path, policy, interval_s=retention_interval_s, first_delay_s=min(60.0, retention_interval_s)
            ).start()
        return cls(chunk_sink, job)

    def flush(self, timeout_s: float) -> bool:
        """Wait until every chunk submitted so far is written (callers first cut open streams: `flush_open_streams`)."""
        return self.chunk_sink.flush(timeout_s)

    def stop(self) -> None:
        """Stop pruning, stop taking new recordings, and write the ones already taken."""
        if self.retention_job is not None:
            self.retention_job.stop()
        recordings_module.remove_sink(self.chunk_sink)  # before shutdown, as OtlpExtras.stop does
        self.chunk_sink.shutdown(timeout_s=10.0)
