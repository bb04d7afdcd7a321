"""How a big payload leaves an isolated world: a binding call against a Blob read over CDP.

The payload is real: the full snapshot rrweb's recorder serializes for the heavy fixture's
5,000-row order page (bench/heavy_site.py, ~2.8 MB of JSON), taken from a recorded page's
world (`serialized(true)`), cut in the recorder's slices (`sliceChars`, 256 K characters). It
is then sent from an isolated world of another page, rounds interleaving the two ways:

- binding: one `Runtime.addBinding` call per slice (what `Runtime.bindingCalled` costs);
- Blob: `new Blob([slice])` per slice, announced through the binding, and read by Python with
  the recorder's own `recording.cdp_blobs.read_blob` (`IO.resolveBlob`, `IO.read`).

Reported per round (medians): the page's main thread inside the sending loop
(`performance.now()` around it), and the wall time until Python holds every slice as text.

Run: .venv/bin/python -m bench.payload_transfer [--rows 5000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from patchright.async_api import async_playwright

from bench.heavy_site import heavy_site
from bench.recording_heavy import heavy_url
from getgather_otel import record_browser
from getgather_otel.demo.browser import launch_options
from getgather_otel.recording.cdp_blobs import blob_key, read_blob
from getgather_otel.recording.cdp_worlds import WORLD_NAME
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.world_script import api_call
from getgather_otel.web.serving import serve_asgi

BINDING = "__bench_transfer"
# Defines `globalThis.bench` in the bench's own world: the slices, and the two ways to send them.
SENDER = """(slices, binding) => {
  const send = (text) => globalThis[binding](text);
  const blobs = new Map();
  globalThis.bench = {
    binding() {
      const started = performance.now();
      for (const slice of slices) send(slice);
      return performance.now() - started;
    },
    blob() {
      const started = performance.now();
      slices.forEach((slice, i) => {
        blobs.set(i, new Blob([slice]));
        send('{"blob":' + i + '}');
      });
      return performance.now() - started;
    },
    take: (key) => { const blob = blobs.get(key); blobs.delete(key); return blob; },
  };
  return slices.length;
}"""


async def snapshot_json(browser: Any, origin: str, rows: int) -> str:
    """The recorder's full snapshot JSON of the heavy page, from a recorded page's world."""
    context = await browser.new_context()
    await record_browser(context)
    page = await context.new_page()
    await page.goto(heavy_url(origin, rows))
    cdp = await context.new_cdp_session(page)
    frame_id = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
    world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": WORLD_NAME})
    expression = api_call(RecordingOptions().guard, "serialized(true)", "null")
    reply = await cdp.send(
        "Runtime.evaluate", {"expression": expression, "contextId": world["executionContextId"], "returnByValue": True}
    )
    await context.close()
    value = reply["result"].get("value")
    if not isinstance(value, str):
        raise RuntimeError(f"no snapshot from the recorder's world: {reply}")
    return value


async def transfer(rows: int, rounds: int) -> None:
    slice_chars = json.loads(RecordingOptions().page_config())["sliceChars"]
    async with serve_asgi(heavy_site()) as origin, async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        payload = await snapshot_json(browser, origin, rows)
        slices = [payload[i : i + slice_chars] for i in range(0, len(payload), slice_chars)]
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(heavy_url(origin, rows))
        cdp = await context.new_cdp_session(page)
        frame_id = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
        world = (await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": "bench"}))[
            "executionContextId"
        ]
        await cdp.send("Runtime.addBinding", {"name": BINDING, "executionContextName": "bench"})
        calls: asyncio.Queue[str] = asyncio.Queue()
        cdp.on("Runtime.bindingCalled", lambda event: calls.put_nowait(event["payload"]))
        this = (await cdp.send("Runtime.evaluate", {"expression": "globalThis", "contextId": world}))["result"]
        await cdp.send(
            "Runtime.callFunctionOn",
            {
                "objectId": this["objectId"],
                "functionDeclaration": SENDER,
                "arguments": [{"value": slices}, {"value": BINDING}],
            },
        )

        async def run(way: str) -> tuple[float, float]:
            started = time.perf_counter()
            reply = await cdp.send(
                "Runtime.evaluate", {"expression": f"bench.{way}()", "contextId": world, "returnByValue": True}
            )
            got = 0
            for _ in slices:
                text = await calls.get()
                key = blob_key(text)
                if key is not None:
                    read = await read_blob(cdp, world, f"bench.take({key})", 3 * slice_chars)
                    text = read or ""
                got += len(text)
            if got != len(payload):
                raise RuntimeError(f"{way}: {got} of {len(payload)} characters arrived")
            return reply["result"]["value"], (time.perf_counter() - started) * 1000

        times: dict[str, list[tuple[float, float]]] = {"binding": [], "blob": []}
        for i in range(rounds + 1):
            for way in ("binding", "blob") if i % 2 else ("blob", "binding"):
                result = await run(way)
                if i:  # the first round warms both up
                    times[way].append(result)
        await browser.close()
    megabytes = len(payload.encode()) / 1e6
    print(f"{rows:,} rows: a {megabytes:.2f} MB snapshot in {len(slices)} slices of {slice_chars // 1024} K characters")
    print(f"{rounds} interleaved rounds, medians:")
    for way, found in times.items():
        in_page = statistics.median(t for t, _ in found)
        wall = statistics.median(w for _, w in found)
        print(
            f"  {way:>7}: page's main thread {in_page:6.1f} ms ({in_page / megabytes:4.1f} ms/MB),"
            f" all of it in Python after {wall:6.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=15)
    arguments = parser.parse_args()
    asyncio.run(transfer(arguments.rows, arguments.rounds))


if __name__ == "__main__":
    main()
