"""Browser recording costs: tool wall time, stored bytes, and in-page memory over a long recording.

`overhead`: the demo's scripted browser tool (`demo.shop.read_orders`: navigate, fill,
submit, read a list over 3 pages) on three persistent contexts of one Chromium: not
recorded, recorded, and under Playwright's own tracing (bench/browser_rounds.py), in
interleaved rounds, each call inside an activity. Reports the ratios of median wall
times, and the recording's raw rrweb JSON against stored bytes.

`soak`: a page that never stops changing (bench/pages/soak.*) open for N minutes in a
recorded and an unrecorded context side by side. Samples each page's JS heap after a
forced GC (CDP `Runtime.getHeapUsage`) and reports bytes stored per minute.

`heavy`: a big order page (bench/heavy_site.py, issue 13) the same three ways, plus where
a snapshot's time goes and what is stored; see bench/recording_heavy.py.

`serializers`: rrweb's full-snapshot serializer against the fast one (js/snapshot.js) in
the heavy page's world; see bench/recording_serializers.py.

Run: .venv/bin/python -m bench.recording overhead [--rounds 15] [--server-delay-ms 0]
     .venv/bin/python -m bench.recording soak [--minutes 5]
     .venv/bin/python -m bench.recording heavy [--rows 5000] [--rounds 5] [--visits 2] [--dwell-s 60]
     .venv/bin/python -m bench.recording serializers [--rows 5000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from patchright.async_api import BrowserContext, async_playwright
from starlette.types import ASGIApp, Receive, Scope, Send

import getgather_otel
from bench.browser_rounds import (
    RECORDED,
    chunk_bytes,
    heap_bytes,
    interleaved_rounds,
    mode_contexts,
    of_mode,
    print_rounds,
)
from bench.recording_heavy import heavy
from bench.recording_serializers import serializers
from getgather_otel import activity, record_browser
from getgather_otel.demo.browser import launch_options
from getgather_otel.demo.shop import read_orders
from getgather_otel.demo.site import brand_site
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.web.serving import serve_asgi

PAGES = Path(__file__).resolve().parent / "pages"


async def signed_in_orders(context: BrowserContext, origin: str) -> None:
    """The demo's `read_orders` (sign in, then 3 pages of orders), checked."""
    titles = await read_orders(context, origin)
    assert len(titles) == 15, titles


def with_latency(app: ASGIApp, delay_ms: float) -> ASGIApp:
    """`app` answering every HTTP request `delay_ms` later, like a real site's time to first byte."""

    async def delayed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        await app(scope, receive, send)

    return delayed


async def overhead(rounds: int, db: Path, delay_ms: float) -> None:
    telemetry = getgather_otel.configure(service_name="bench", duckdb_path=db, record_browsers=False)
    site = with_latency(brand_site(), delay_ms)
    async with serve_asgi(site) as origin, async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        contexts = await mode_contexts(browser)
        with tempfile.TemporaryDirectory() as tmp:
            done = await interleaved_rounds(
                contexts,
                lambda context: signed_in_orders(context, origin),
                rounds,
                Path(tmp) / "trace.zip",
                brand="shop",
            )
        await browser.close()
    telemetry.shutdown()
    raw, stored, _ = chunk_bytes(db, [r.activity_id for r in of_mode(done, RECORDED)])
    print(
        f"{rounds} interleaved rounds of read_orders (navigate, fill, submit, 3 list pages) on one Chromium, "
        f"site answering after {delay_ms:.0f} ms"
    )
    print_rounds(done)
    print(f"stored {stored:,} bytes for {raw:,} bytes of rrweb JSON: {raw / max(stored, 1):.1f}x smaller")


async def soak(minutes: float, db: Path, telemetry: Telemetry) -> None:
    async with serve_asgi(brand_site(PAGES)) as origin, async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        plain_context, recorded_context = await browser.new_context(), await browser.new_context()
        await record_browser(recorded_context)
        async with activity(name="soak", brand_id="bench", kind="tool"):
            recorded = await recorded_context.new_page()
            plain = await plain_context.new_page()
            for page in (recorded, plain):
                await page.goto(origin + "/soak.html")
            samples: list[tuple[float, int, int]] = []
            started = time.monotonic()
            step = 0
            while (elapsed := time.monotonic() - started) < minutes * 60:
                for page in (recorded, plain):  # a user's pointer: moves and a click now and then
                    await page.mouse.move(100 + step % 400, 200 + (step * 7) % 300)
                    if step % 10 == 0:
                        await page.mouse.click(300, 120)
                if step % 30 == 0:
                    samples.append((elapsed, await heap_bytes(recorded), await heap_bytes(plain)))
                    print(
                        f"  {elapsed:6.0f} s  heap recorded {samples[-1][1] / 1e6:6.2f} MB"
                        f"  unrecorded {samples[-1][2] / 1e6:6.2f} MB",
                        flush=True,
                    )
                step += 1
                await asyncio.sleep(1)
            samples.append((time.monotonic() - started, await heap_bytes(recorded), await heap_bytes(plain)))
        await browser.close()
    telemetry.shutdown()
    raw, stored, covered_s = chunk_bytes(db)
    after_1min = next(s for s in samples if s[0] >= 55) if samples[-1][0] >= 55 else samples[0]
    last = samples[-1]
    print(f"soak: {last[0] / 60:.1f} minutes of a page changing 14 times a second, pointer moving each second")
    print(
        f"JS heap, recorded page:   {after_1min[1] / 1e6:.2f} MB at {after_1min[0]:.0f} s -> {last[1] / 1e6:.2f} MB "
        f"at {last[0]:.0f} s ({last[1] / after_1min[1]:.3f}x)"
    )
    print(
        f"JS heap, unrecorded page: {after_1min[2] / 1e6:.2f} MB at {after_1min[0]:.0f} s -> {last[2] / 1e6:.2f} MB "
        f"at {last[0]:.0f} s ({last[2] / after_1min[2]:.3f}x)"
    )
    minutes_covered = max(covered_s / 60, 1e-9)
    print(f"stored {stored:,} bytes for {raw:,} bytes of rrweb JSON: {raw / max(stored, 1):.1f}x smaller")
    print(
        f"{stored / minutes_covered / 1024:.0f} KiB stored per minute of recording "
        f"({raw / minutes_covered / 1024:.0f} KiB raw)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("overhead")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--server-delay-ms", type=float, default=0.0, help="the fixture site's time to first byte")
    p = sub.add_parser("soak")
    p.add_argument("--minutes", type=float, default=5.0)
    p = sub.add_parser("heavy")
    p.add_argument("--rows", type=int, default=5000, help="rows of the order table (5 DOM nodes each)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--visits", type=int, default=2, help="visits timed on their way to storage")
    p.add_argument("--dwell-s", type=float, default=60.0, help="seconds the page stays open for bytes per minute")
    p = sub.add_parser("serializers")
    p.add_argument("--rows", type=int, default=5000, help="rows of the order table (5 DOM nodes each)")
    p.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        if args.what == "overhead":
            asyncio.run(overhead(args.rounds, db, args.server_delay_ms))
            return
        telemetry = getgather_otel.configure(service_name="bench", duckdb_path=db, record_browsers=False)
        if args.what == "soak":
            asyncio.run(soak(args.minutes, db, telemetry))
        elif args.what == "serializers":
            asyncio.run(serializers(args.rows, args.rounds))
            telemetry.shutdown()
        else:
            asyncio.run(heavy(args.rows, args.rounds, args.visits, args.dwell_s, db, telemetry))


if __name__ == "__main__":
    main()
