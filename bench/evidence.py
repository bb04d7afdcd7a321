"""Evidence capture's cost (issue 18): the demo's flow unrecorded, recorded, and recorded with evidence.

`flow`: the demo's scripted browser tool (`demo.shop.read_orders`: sign in with a form and a
POST, then read 3 pages of orders) on three contexts of one Chromium: not recorded, recorded
with `RecordingOptions(evidence=False)`, and recorded with evidence capture on (the
default: a CDP session of its own per page with Network and Page enabled), in interleaved
rounds, each inside an activity. Each page also asks for a missing image, so evidence is
really captured (one `browser.http.error` per page). Reports medians and the ratios against
the unrecorded context; the recording budget of issue 13 is the recorded / unrecorded ratio
(1.13x for this flow in BENCHMARKS.md section 8).

`failure`: what a failed activity costs on top: a tool that waits 300 ms for a selector that
never comes, with evidence off and on (the failure checkpoint, the pages read, the selector
counted), time from the call to the activity's end.

Run: .venv/bin/python -m bench.evidence flow [--rounds 20]
     .venv/bin/python -m bench.evidence failure [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from patchright.async_api import BrowserContext, async_playwright
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import getgather_otel
from bench.recording import signed_in_orders
from getgather_otel import activity, record_browser
from getgather_otel.demo.browser import launch_options
from getgather_otel.demo.site import brand_site
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.web.serving import serve_asgi

UNRECORDED, RECORDED, EVIDENCE = "unrecorded", "recorded", "recorded+evidence"
MODES = (UNRECORDED, RECORDED, EVIDENCE)
_BROKEN_IMAGE = b'<img src="/no-such-image.png">'


def with_broken_image(app: ASGIApp) -> ASGIApp:
    """`app` whose HTML pages also ask for an image that is not there (a 404: evidence on every page)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]
            if message["type"] == "http.response.body" and b"</body>" in message.get("body", b""):
                message["body"] = message["body"].replace(b"</body>", _BROKEN_IMAGE + b"</body>")
            await send(message)

        await app(scope, receive, sending)

    return wrapped


async def contexts_by_mode(browser: object) -> dict[str, BrowserContext]:
    contexts = {mode: await browser.new_context() for mode in MODES}  # type: ignore[attr-defined]
    await record_browser(contexts[RECORDED], options=RecordingOptions(evidence=False))
    await record_browser(contexts[EVIDENCE], options=RecordingOptions(evidence=True))
    return contexts


async def rounds_of(
    contexts: dict[str, BrowserContext], flow: Callable[[BrowserContext], Awaitable[None]], rounds: int
) -> dict[str, list[float]]:
    """One untimed warm-up per mode, then `rounds` rounds, the order of the modes rotating each round."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for i in range(rounds + 1):
        for mode in MODES[i % len(MODES) :] + MODES[: i % len(MODES)]:
            started = time.perf_counter()
            try:
                async with activity(name=f"bench_{mode}", brand_id="shop", kind="tool"):
                    await flow(contexts[mode])
            except Exception:  # the failure bench's tool fails on purpose
                pass
            if i:
                times[mode].append((time.perf_counter() - started) * 1000)
    return times


def report(times: dict[str, list[float]], modes: tuple[str, ...] = MODES) -> None:
    base = statistics.median(times[modes[0]])
    for mode in modes:
        median = statistics.median(times[mode])
        print(f"  {mode:18} median {median:8.1f} ms   {median / base:.2f}x   (n={len(times[mode])})")


async def flow(rounds: int, db: Path) -> None:
    telemetry = getgather_otel.configure(service_name="bench", duckdb_path=db, record_browsers=False)
    async with serve_asgi(with_broken_image(brand_site())) as origin, async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        contexts = await contexts_by_mode(browser)
        times = await rounds_of(contexts, lambda context: signed_in_orders(context, origin), rounds)
        await browser.close()
    stored = events_stored(telemetry, db, "browser.http.error")
    print(f"{rounds} interleaved rounds of read_orders (sign in, 3 order pages; each page with a 404 image)")
    report(times)
    print(f"  browser.http.error events stored for the evidence context: {stored}")


def events_stored(telemetry: getgather_otel.Telemetry, db: Path, name: str) -> int:
    """How many `name` span events the evidence context's activities have (evidence really captured)."""
    telemetry.flush()
    with getgather_otel.open_database(db) as conn:
        row = conn.execute(
            'SELECT count(*) FROM otel_traces, unnest("Events.Name") AS e(name) '
            "WHERE \"SpanAttributes\"['getgather.activity.name'] = ? AND e.name = ?",
            [f"bench_{EVIDENCE}", name],
        ).fetchone()
    telemetry.shutdown()
    return int(row[0]) if row else 0


async def failure(rounds: int, db: Path) -> None:
    telemetry = getgather_otel.configure(service_name="bench", duckdb_path=db, record_browsers=False)
    async with serve_asgi(brand_site()) as origin, async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        contexts = await contexts_by_mode(browser)
        pages = {mode: await context.new_page() for mode, context in contexts.items()}

        async def failing(context: BrowserContext) -> None:
            page = next(p for m, p in pages.items() if contexts[m] is context)
            await page.goto(f"{origin}/login")
            await page.wait_for_selector("#never-there", timeout=300)

        times = await rounds_of(contexts, failing, rounds)
        await browser.close()
    stored = events_stored(telemetry, db, "browser.element.missing")
    print(f"{rounds} interleaved rounds of a tool that times out after 300 ms waiting for a selector")
    report(times)
    print(f"  browser.element.missing events (the failure checkpoint ran) for the evidence context: {stored}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("flow", "failure"))
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        asyncio.run(flow(args.rounds, db) if args.what == "flow" else failure(args.rounds, db))


if __name__ == "__main__":
    main()
