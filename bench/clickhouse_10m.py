"""The viewer's activities page and stats over millions of spans: DuckDB against ClickHouse (chdb), same run.

The spans are generated inside DuckDB (`bench/synthetic.py`, the attribute keys of real
activities, one every `--step-s` seconds), copied through Parquet into chdb with the OTel
Collector ClickHouse exporter's own DDL (tests/clickhouse/), and read through the same code
the viewer runs (`viewer/data.py` on a `DuckDBEngine` or a `ChdbEngine`): the first page of
activities with its total, a filtered page, a deep page sorted by duration, and the stats
page for the last 7 days and for all time. Each read is timed `--repeat` times, best kept.

Run: .venv/bin/python -m bench.clickhouse_10m [--spans 10000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from bench.synthetic import activity_file
from getgather_otel.store.clickhouse import ChdbEngine
from getgather_otel.store.engine import DuckDBEngine, Engine
from getgather_otel.store.queries.activities import ActivityFilter
from getgather_otel.viewer import data

DDL = Path(__file__).resolve().parent.parent / "tests" / "clickhouse"


def _reads(engine: Engine, end: dt.datetime, start: dt.datetime) -> dict[str, Callable[[], Any]]:
    week = end - dt.timedelta(days=7)
    return {
        "activities, first page (50) + total": lambda: data.list_activities(engine, ActivityFilter(limit=50)),
        "activities, brand + errors, last 7 days": lambda: data.list_activities(
            engine, ActivityFilter(brand="amazon", status="error", since=week, limit=50)
        ),
        "activities, page 100 by duration": lambda: data.list_activities(
            engine, ActivityFilter(limit=50, offset=5000, sort="duration")
        ),
        "stats, last 7 days": lambda: data.stats(engine, week, end, None),
        "stats, all time": lambda: data.stats(engine, start, end, None),
    }


def _best(work: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = work()
        times.append(time.perf_counter() - started)
    return min(times), answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument("--step-s", type=float, default=1.3, help="seconds between activities (10M: ~150 days)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(seconds=args.spans * args.step_s)
    with tempfile.TemporaryDirectory() as tmp:
        db, parquet = Path(tmp) / "spans.duckdb", Path(tmp) / "spans.parquet"
        started = time.perf_counter()
        activity_file(db, args.spans, start=start.replace(tzinfo=None), step_s=args.step_s)
        print(f"generated {args.spans:,} activity spans in DuckDB in {time.perf_counter() - started:.1f} s")
        conn = duckdb.connect(str(db), read_only=True)
        conn.execute(f"COPY otel_traces TO '{parquet}' (FORMAT parquet)")
        from chdb import session as chdb_session

        session: Any = chdb_session.Session(str(Path(tmp) / "chdb"))  # type: ignore[no-untyped-call]
        for table in ("otel_traces", "otel_logs"):
            session.query((DDL / f"{table}.sql").read_text())
        started = time.perf_counter()
        session.query(f"INSERT INTO otel_traces SELECT * FROM file('{parquet}', Parquet)")
        session.query("OPTIMIZE TABLE otel_traces FINAL")
        print(f"loaded them into chdb (exporter DDL, MergeTree) in {time.perf_counter() - started:.1f} s")
        engines: dict[str, Engine] = {"DuckDB": DuckDBEngine(conn), "chdb": ChdbEngine(session)}
        results: dict[str, dict[str, float]] = {}
        answers: dict[str, dict[str, Any]] = {}
        for name, engine in engines.items():
            for title, work in _reads(engine, end, start).items():
                seconds, answer = _best(work, args.repeat)
                results.setdefault(title, {})[name] = seconds
                answers.setdefault(title, {})[name] = answer
        conn.close()
        session.close()
    print(f"\n| read ({args.spans:,} spans) | DuckDB | chdb |\n|---|---:|---:|")
    for title, by_engine in results.items():
        same = answers[title]["DuckDB"] == answers[title]["chdb"]
        cells = " | ".join(f"{by_engine[name] * 1000:,.0f} ms" for name in ("DuckDB", "chdb"))
        print(f"| {title}{'' if same else ' (answers differ!)'} | {cells} |")


if __name__ == "__main__":
    main()
