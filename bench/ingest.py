"""Exporter ingest of realistic spans, against DuckDB's own limit and the naive baseline.

All three run in one process on the very same spans:
  exporter  DuckDBSpanExporter.export() in batches as a BatchSpanProcessor hands them over,
            then force_flush(): conversion + insertion, end to end;
  limit     DuckDB inserting the same rows from a ready Arrow table (no conversion);
  naive     row-by-row `executemany` of the same rows (measured on a sample: it is slow).

Run: .venv/bin/python -m bench.ingest [--spans 100000] [--batch 2048]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
from opentelemetry.sdk.trace import ReadableSpan

from bench.spans import make_spans
from getgather_otel.export.duckdb_spans import DuckDBSpanExporter
from getgather_otel.store.schema import migrate
from getgather_otel.store.write.arrow_spans import spans_to_arrow


def measure_exporter(spans: list[ReadableSpan], batch: int, path: Path) -> float:
    exporter = DuckDBSpanExporter(path)
    exporter.export(spans[:1])
    exporter.force_flush()
    body = spans[1:]
    started = time.perf_counter()
    for i in range(0, len(body), batch):
        exporter.export(body[i : i + batch])
    assert exporter.force_flush(120_000)
    elapsed = time.perf_counter() - started
    exporter.shutdown()
    assert exporter.stats.written == len(spans) and exporter.stats.dropped == 0
    return len(body) / elapsed


def measure_limit(spans: list[ReadableSpan], path: Path) -> float:
    ready = spans_to_arrow(spans)
    conn = duckdb.connect(str(path))
    migrate(conn)
    conn.register("ready", ready)
    started = time.perf_counter()
    conn.execute("INSERT INTO otel_traces SELECT * FROM ready")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(spans) / elapsed


def _python_value(value: object) -> object:
    """Arrow's MAP values come back as lists of (key, value) pairs; DuckDB wants dicts."""
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return dict(value)
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [dict(v) for v in value]
    return value


def measure_naive(spans: list[ReadableSpan], path: Path) -> float:
    table = spans_to_arrow(spans)
    as_rows = [tuple(_python_value(v) for v in r.values()) for r in table.to_pylist()]
    conn = duckdb.connect(str(path))
    migrate(conn)
    placeholders = ", ".join("?" for _ in table.column_names)
    started = time.perf_counter()
    conn.executemany(f"INSERT INTO otel_traces VALUES ({placeholders})", as_rows)
    elapsed = time.perf_counter() - started
    conn.close()
    return len(spans) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2048, help="spans per export() call")
    parser.add_argument("--naive-sample", type=int, default=2_000)
    args = parser.parse_args()
    spans = make_spans(args.spans)
    with tempfile.TemporaryDirectory() as tmp:
        exporter = measure_exporter(spans, args.batch, Path(tmp) / "exporter.duckdb")
        limit = measure_limit(spans, Path(tmp) / "limit.duckdb")
        naive = measure_naive(spans[: args.naive_sample], Path(tmp) / "naive.duckdb")
    print(f"spans: {args.spans} (15 attributes, 2 events each), export batches of {args.batch}")
    print(f"exporter (convert + insert): {exporter:10,.0f} spans/s")
    print(f"limit (ready Arrow insert):  {limit:10,.0f} spans/s")
    print(f"naive executemany:           {naive:10,.0f} spans/s")
    print(f"exporter / limit = {exporter / limit:.2f}   exporter / naive = {exporter / naive:.0f}x")


if __name__ == "__main__":
    main()
