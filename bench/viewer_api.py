"""The viewer's API over a million activity spans: HTTP answer time against the same query in process.

The spans are generated inside DuckDB (`bench.synthetic`), as for `bench.stats_1m`. The
viewer runs as `getgather-otel ui` does (read-only connection per request, on loopback);
each API call is timed from the client (median of `--repeat`), next to the same SQL on an
already open connection, which is the floor the API adds HTTP, opening the file and JSON to.

Run: .venv/bin/python -m bench.viewer_api [--spans 1000000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from bench.synthetic import activity_file
from getgather_otel.store.engine import DuckDBEngine
from getgather_otel.store.queries.activities import ActivityFilter, activities_count_query, activities_query
from getgather_otel.viewer import data
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.reads import FileReads
from getgather_otel.web.serving import serve_asgi

START = datetime(2026, 6, 1)


def median_ms(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return bytes(response.read())


async def measure(db: Path, spans: int, repeat: int) -> list[tuple[str, float, float]]:
    # The floor's connection is opened as the viewer's are (one configuration per file and process).
    conn = duckdb.connect(str(db), read_only=True, config={"enable_external_access": False})
    until = START + timedelta(seconds=13 * spans)
    since = until - timedelta(days=7)
    brand_errors = ActivityFilter(brand="amazon", status="error", limit=50)
    [activity_id] = conn.execute("SELECT activity_id FROM activities LIMIT 1").fetchone() or [""]

    def page_in_process(filters: ActivityFilter) -> Callable[[], object]:
        def run() -> object:
            conn.execute(*activities_query(filters)).fetchall()
            return conn.execute(*activities_count_query(filters)).fetchall()

        return run

    floors = {
        "activities, first page": page_in_process(ActivityFilter(limit=50)),
        "activities, brand + errors": page_in_process(brand_errors),
        "activities, page 100 by duration": page_in_process(ActivityFilter(limit=50, offset=5000, sort="duration")),
        "activity detail (trace)": lambda: data.activity(DuckDBEngine(conn), activity_id),
        "stats, last 7 days": lambda: data.stats(DuckDBEngine(conn), since, until, None),
    }
    window = f"since={since.isoformat()}&until={until.isoformat()}"
    paths = {
        "activities, first page": "/api/activities?limit=50",
        "activities, brand + errors": "/api/activities?brand=amazon&status=error&limit=50",
        "activities, page 100 by duration": "/api/activities?limit=50&offset=5000&sort=duration",
        "activity detail (trace)": f"/api/activities/{activity_id}",
        "stats, last 7 days": f"/api/stats?{window}",
    }
    results = []
    async with serve_asgi(build_viewer_app(FileReads(db), ViewerSettings())) as url:
        for name, path in paths.items():
            await asyncio.to_thread(fetch, url + path)  # warm: the file's pages in the OS cache
            api = await asyncio.to_thread(median_ms, lambda p=path: fetch(url + p), repeat)  # type: ignore[misc]
            results.append((name, api, median_ms(floors[name], repeat)))
    conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "viewer.duckdb"
        activity_file(db, args.spans, start=START, step_s=13)
        results = asyncio.run(measure(db, args.spans, args.repeat))
    print(f"{args.spans:,} activity spans; median of {args.repeat} calls")
    print(f"{'call':34} {'API (HTTP) ms':>14} {'in process ms':>14} {'ratio':>6}")
    for name, api, floor in results:
        print(f"{name:34} {api:14.1f} {floor:14.1f} {api / floor:6.2f}")


if __name__ == "__main__":
    main()
