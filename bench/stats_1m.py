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

from getgather_otel.store.queries import stats_queries
from getgather_otel.store.schema import migrate

GENERATE = """
INSERT INTO otel_traces
SELECT
    TIMESTAMP '2026-06-01' + to_seconds(i * 13) AS "Timestamp",
    md5(i::VARCHAR) AS "TraceId",
    substr(md5((i * 7)::VARCHAR), 1, 16) AS "SpanId",
    substr(md5((i * 11)::VARCHAR), 1, 16) AS "ParentSpanId",
    '' AS "TraceState",
    'activity ' || brand || '_get_orders' AS "SpanName",
    'Internal' AS "SpanKind",
    'getgather' AS "ServiceName",
    MAP {'service.name': 'getgather', 'host.name': 'bench'} AS "ResourceAttributes",
    'getgather_otel' AS "ScopeName",
    '0.1.0' AS "ScopeVersion",
    MAP {'getgather.activity.name': brand || '_get_orders', 'getgather.activity.kind': 'tool',
         'getgather.brand.id': brand, 'gen_ai.tool.name': brand || '_get_orders',
         'gen_ai.operation.name': 'execute_tool', 'mcp.method.name': 'tools/call',
         'error.type': CASE WHEN i % 17 = 0 THEN 'TimeoutError' ELSE '' END} AS "SpanAttributes",
    (5000000 + (hash(i) % 900000000))::UBIGINT AS "Duration",
    CASE WHEN i % 17 = 0 THEN 'Error' ELSE 'Unset' END AS "StatusCode",
    '' AS "StatusMessage",
    [] AS "Events.Timestamp", [] AS "Events.Name", [] AS "Events.Attributes",
    [] AS "Links.TraceId", [] AS "Links.SpanId", [] AS "Links.TraceState", [] AS "Links.Attributes"
FROM (SELECT i, (['netflix','amazon','goodreads','audible','wayfair','doordash'])[1 + i % 6] AS brand
      FROM range(?) t(i))
"""


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
        conn = duckdb.connect(str(db))
        migrate(conn)
        started = time.perf_counter()
        conn.execute(GENERATE, [args.spans])
        conn.close()
        print(f"generated {args.spans:,} activity spans in {time.perf_counter() - started:.1f} s")
        cli = [sys.executable, "-m", "getgather_otel.cli"]
        floor = min(
            timed([*cli, "sql", "SELECT count(*) FROM otel_traces", "--db", str(db)]) for _ in range(args.repeat)
        )
        stats = min(timed([*cli, "stats", "--db", str(db)]) for _ in range(args.repeat))
        conn = duckdb.connect(str(db), read_only=True)
        queries = stats_queries(datetime(1970, 1, 1, tzinfo=UTC), "duckdb")
        started = time.perf_counter()
        for sql in queries.values():
            conn.execute(sql).fetchall()
        in_process = time.perf_counter() - started
        conn.close()
    print(f"`getgather-otel sql 'SELECT count(*)'` (process start + open): {floor:.2f} s")
    print(f"`getgather-otel stats` end to end:                             {stats:.2f} s")
    print(f"the three stats queries alone, in process:                     {in_process:.2f} s")


if __name__ == "__main__":
    main()
