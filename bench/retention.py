"""Prune and export throughput against a plain COPY of the same rows (the limit).

A file with `--days` of activity spans and a recording for every 20th activity (random
bytes: incompressible, like zstd chunks) is generated, then:

- export: `getgather-otel export` of everything (day-partitioned Parquet, three tables)
  against one plain `COPY table TO 'x.parquet'` per table of the same rows;
- prune: `prune_file` (plan, delete in a transaction, rewrite and swap the file) removing
  spans older than 30 days and recordings older than 7, against the floor of that rewrite:
  `COPY FROM DATABASE` of the rows it keeps into a new file.

Run: .venv/bin/python -m bench.retention [--days 120] [--per-day 8000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bench.synthetic import insert_activity_spans, insert_recordings
from getgather_otel.store.maintenance.parquet import TABLES, export
from getgather_otel.store.maintenance.prune import prune_file
from getgather_otel.store.maintenance.retention import RetentionPolicy
from getgather_otel.store.schema import migrate

CHUNK_BYTES = 30_000


def generate(db: Path, days: int, per_day: int) -> int:
    count = days * per_day
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    conn = duckdb.connect(str(db))
    migrate(conn)
    insert_activity_spans(conn, count, start=start, step_s=86_400 / per_day)
    insert_recordings(conn, count, start=start, step_s=86_400 / per_day, every=20, chunk_bytes=CHUNK_BYTES)
    conn.execute("CHECKPOINT")
    conn.close()
    return count


def plain_copy(db: Path, out: Path) -> float:
    started = time.perf_counter()
    conn = duckdb.connect(str(db), read_only=True)
    for spec in TABLES:
        conn.execute(f"COPY {spec.table} TO '{out / spec.directory}.parquet' (FORMAT parquet, COMPRESSION zstd)")
    conn.close()
    return time.perf_counter() - started


def rewrite_floor(db: Path, out: Path) -> float:
    started = time.perf_counter()
    conn = duckdb.connect(str(db))
    conn.execute(f"ATTACH '{out}' AS floor")
    name = conn.execute("SELECT current_database()").fetchone()
    conn.execute(f'COPY FROM DATABASE "{name[0] if name else "memory"}" TO floor')
    conn.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--per-day", type=int, default=8000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "months.duckdb"
        started = time.perf_counter()
        spans = generate(db, args.days, args.per_day)
        size = db.stat().st_size
        print(
            f"generated {spans:,} spans and {spans // 20:,} recordings ({size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        rows = spans + spans // 20

        transfers = export(db, work / "export")
        ours = sum(t.seconds for t in transfers)
        (work / "plain").mkdir()
        limit = plain_copy(db, work / "plain")
        print(
            f"export:       {rows / ours:,.0f} rows/s, {size / 1e6 / ours:.0f} MB/s of database "
            f"({ours:.2f} s; one plain COPY per table of the same rows {limit:.2f} s; time ratio {ours / limit:.2f}x)"
        )
        shutil.rmtree(work / "export")
        shutil.rmtree(work / "plain")

        policy = RetentionPolicy(span_days=30, recording_days=7, error_recording_days=7, max_recording_bytes=None)
        result = prune_file(db, policy)
        assert result.compaction is not None
        removed = result.plan.spans + len(result.plan.recordings)
        floor = rewrite_floor(db, work / "floor.duckdb")
        c = result.compaction
        print(
            f"prune:        {removed:,} rows removed, {size / 1e6 / result.seconds:.0f} MB/s of database, "
            f"{c.bytes_before / 1e6:.0f} MB -> {c.bytes_after / 1e6:.0f} MB in {result.seconds:.2f} s "
            f"(of which rewrite {c.seconds:.2f} s; COPY FROM DATABASE of the kept rows {floor:.2f} s -> "
            f"time ratio {result.seconds / floor:.2f}x)"
        )


if __name__ == "__main__":
    main()
