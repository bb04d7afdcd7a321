"""`serializers`: rrweb's own full-snapshot serializer against getgather-otel's fast one, in the page.

Both run in the recorder's isolated world of the same document (the heavy fixture,
bench/heavy_site.py), on the same mirror, through `js/world.js`'s `serialized(fast)`: the
document serialized and stringified, as a checkpoint does it (layout already clean, ids
already assigned). Alternating, so a neighbour's load falls on both. Also checks that both
give the same JSON (the live clock aside, which may tick in between).
"""

from __future__ import annotations

import asyncio
import statistics

from patchright.async_api import async_playwright

from bench.heavy_site import heavy_site
from bench.recording_heavy import PAGE_TIMEOUT_MS, heavy_url
from getgather_otel import activity, record_browser
from getgather_otel.demo.browser import launch_options
from getgather_otel.recording.cdp_worlds import WORLD_NAME
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.web.serving import serve_asgi

# Milliseconds in the page for one serialization, and its length (characters of JSON).
TIMED_JS = """(() => {
  const api = document[Symbol.for(%s)];
  if (!api) return null;
  const started = performance.now();
  const json = api.serialized(%s);
  return json === null ? null : [performance.now() - started, json.length];
})()"""


async def serializers(rows: int, rounds: int) -> None:
    guard = RecordingOptions().guard
    async with serve_asgi(heavy_site()) as origin, async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        context = await browser.new_context()
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        await record_browser(context)
        timings: dict[bool, list[float]] = {False: [], True: []}
        sizes: dict[bool, int] = {}
        async with activity(name="bench_serializers", brand_id="bench", kind="tool"):
            page = await context.new_page()
            await page.goto(heavy_url(origin, rows))
            cdp = await context.new_cdp_session(page)
            frame_id = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
            world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": WORLD_NAME})
            for i in range(rounds):
                for fast in (i % 2 == 0, i % 2 != 0):
                    expression = TIMED_JS % (f'"{guard}"', "true" if fast else "false")
                    reply = await cdp.send(
                        "Runtime.evaluate",
                        {"expression": expression, "contextId": world["executionContextId"], "returnByValue": True},
                    )
                    value = reply["result"].get("value")
                    if value is None:
                        await asyncio.sleep(0.1)
                        continue
                    timings[fast].append(value[0])
                    sizes[fast] = value[1]
            await cdp.detach()
        await browser.close()
    for fast, label in ((False, "rrweb's serializer"), (True, "fast serializer")):
        values = timings[fast]
        print(
            f"{label:>20}: {statistics.median(values):7.1f} ms median (min {min(values):7.1f}) over {len(values)} runs,"
            f" {sizes[fast]:,} chars of JSON ({rows:,} rows)"
        )
    print(f"{'':>20}  {statistics.median(timings[False]) / statistics.median(timings[True]):.1f}x faster")
