"""`getgather-otel stats` over a million activity spans.

The spans are generated inside DuckDB (SQL over `range()`), with the same attribute keys
as real activities, so the file looks like months of a busy server. The `stats` command
runs in a child process exactly as a user would run it, timed end to end (process start
included), next to `SELECT count(*)` as the floor for opening the file and scanning it.

Run: .venv/bin/python -m bench.stats_1m [--spans 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bench.synthetic import activity_file
from getgather_otel.store.queries.activities import stats_queries


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "stats.duckdb"
        started = time.perf_counter()
        activity_file(db, args.spans, start=datetime(2026, 6, 1), step_s=13)
        print(f"generated {args.spans:,} activity spans in {time.perf_counter() - started:.1f} s")
        cli = [sys.executable, "-m", "getgather_otel.cli"]
        floor = min(
            timed([*cli, "sql", "SELECT count(*) FROM otel_traces", "--db", str(db)]) for _ in range(args.repeat)
        )
        stats = min(timed([*cli, "stats", "--db", str(db)]) for _ in range(args.repeat))
        conn = duckdb.connect(str(db), read_only=True)
        queries, _ = stats_queries(datetime(1970, 1, 1, tzinfo=UTC), "duckdb")
        started = time.perf_counter()
        for sql in queries.values():
            conn.execute(sql).fetchall()
        in_process = time.perf_counter() - started
        conn.close()
    print(f"`getgather-otel sql 'SELECT count(*)'` (process start + open): {floor:.2f} s")
    print(f"`getgather-otel stats` end to end:                             {stats:.2f} s")
    print(f"the {len(queries)} stats queries alone, in process:                      {in_process:.2f} s")


if __name__ == "__main__":
    main()
