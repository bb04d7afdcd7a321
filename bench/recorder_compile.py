"""What Chromium spends compiling the recorder in each recorded document: minified against as written.

The recorder's script (rrweb's bundle plus ours, `world_script.py`) is compiled again in every
document's isolated world, before the page's own scripts run. Each round creates a fresh
isolated world (`Page.createIsolatedWorld`) and evaluates the script there inside a branch
that never runs (`if (Math.random() > 2) {...}`), so what is timed is the parse and compile
of the whole text, not what it does; a unique comment in front keeps V8's compilation cache
from answering. The CDP round trip itself is measured with an empty script and reported
alongside. Rounds interleave the three scripts.

Run: .venv/bin/python -m bench.recorder_compile [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from patchright.async_api import async_playwright

from getgather_otel.demo.browser import launch_options
from getgather_otel.recording import assets
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.world_script import world_script


async def compile_times(rounds: int) -> None:
    minified = world_script(RecordingOptions(), isolated=True)
    as_written = minified.replace(assets.recorder_script(), assets.recorder_function_source())
    scripts = {"empty": "0;", "as written": as_written, "minified": minified}
    times: dict[str, list[float]] = {name: [] for name in scripts}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        context = await browser.new_context()
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        frame_id = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
        for i in range(rounds):
            for name, script in scripts.items():
                world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": f"b{i}{name}"})
                expression = f"if (Math.random() > 2) {{ /* {i} {name} */ {script} }}"
                started = time.perf_counter()
                await cdp.send("Runtime.evaluate", {"expression": expression, "contextId": world["executionContextId"]})
                times[name].append((time.perf_counter() - started) * 1000)
        await browser.close()
    base = statistics.median(times["empty"])
    print(f"{rounds} rounds, median per document (the CDP round trip, {base:.2f} ms, subtracted):")
    for name, script in scripts.items():
        if name != "empty":
            print(f"  {name:>10}: {statistics.median(times[name]) - base:5.2f} ms  ({len(script):,} characters)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(compile_times(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
