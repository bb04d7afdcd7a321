"""What Chromium spends on the recorder in each recorded document: compiling it, and running it.

The recorder's script (rrweb's bundle plus ours, `world_script.py`) is compiled again in every
document's isolated world, before the page's own scripts run. Each round creates a fresh
isolated world (`Page.createIsolatedWorld`) and evaluates the script there inside a branch
that never runs (`if (Math.random() > 2) {...}`), so what is timed is the parse and compile
of the whole text, not what it does; a unique comment in front keeps V8's compilation cache
from answering. The CDP round trip itself is measured with an empty script and reported
alongside. Rounds interleave the three scripts.

Then what a document pays for the whole script, run as a recorded document runs it (rrweb
starts, takes its full snapshot of the fixture's sign-in page, our recorder sets up), each in
a fresh world of that page: "first document" with a unique comment in front (nothing cached),
"next documents" with the same text every time, as every later document of a renderer process
gets it (V8's compilation cache answers for the parse and compile). The sign-in flow's four
documents pay this on the page's main thread before their own scripts run.

Run: .venv/bin/python -m bench.recorder_compile [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from patchright.async_api import async_playwright

from getgather_otel.demo.browser import launch_options
from getgather_otel.demo.site import brand_site
from getgather_otel.recording import assets
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.world_script import world_script
from getgather_otel.web.serving import serve_asgi

# The text evaluated in round i.
Script = Callable[[int], str]


async def fresh_world_ms(
    ways: dict[str, Script], rounds: int, url: str | None = None
) -> tuple[dict[str, float], float]:
    """Each way's median time (ms) to evaluate its script in a fresh isolated world of one page
    (at `url`, else about:blank), rounds interleaving the ways, less the median of the way named
    "empty" (the CDP round trip), which is returned beside; raises if a script throws."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        context = await browser.new_context()
        page = await context.new_page()
        if url is not None:
            await page.goto(url)
        cdp = await context.new_cdp_session(page)
        frame_id = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
        for i in range(rounds):
            for name, source in ways.items():
                world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": f"w{i}{name}"})
                expression = {"expression": source(i), "contextId": world["executionContextId"]}
                started = time.perf_counter()
                reply = await cdp.send("Runtime.evaluate", expression)
                times[name].append((time.perf_counter() - started) * 1000)
                if "exceptionDetails" in reply:
                    raise RuntimeError(f"the script {name!r} failed: {reply['exceptionDetails']}")
        await browser.close()
    base = statistics.median(times["empty"])
    return {name: statistics.median(found) - base for name, found in times.items() if name != "empty"}, base


def _never_run(name: str, script: str) -> Script:
    return lambda i: f"if (Math.random() > 2) {{ /* {i} {name} */ {script} }}"


async def compile_times(rounds: int) -> None:
    minified = world_script(RecordingOptions(), isolated=True)
    as_written = minified.replace(assets.recorder_script(), assets.recorder_function_source())
    scripts = {"as written": as_written, "minified": minified}
    ways = {"empty": lambda i: "0;", **{name: _never_run(name, script) for name, script in scripts.items()}}
    medians, base = await fresh_world_ms(ways, rounds)
    print(f"{rounds} rounds, median per document (the CDP round trip, {base:.2f} ms, subtracted):")
    for name, script in scripts.items():
        print(f"  {name:>10}: {medians[name]:5.2f} ms  ({len(script):,} characters)")


async def run_times(rounds: int) -> None:
    script = world_script(RecordingOptions(), isolated=True)
    ways: dict[str, Script] = {
        "empty": lambda i: "0;",
        "first document": lambda i: f"/* {i} */{script}",
        "next documents": lambda i: script,
    }
    async with serve_asgi(brand_site()) as origin:
        medians, base = await fresh_world_ms(ways, rounds, origin + "/login")
    print(f"the whole script run in a fresh world of the sign-in page, median per document ({base:.2f} ms subtracted):")
    for name, ms in medians.items():
        print(f"  {name:>15}: {ms:5.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    rounds = parser.parse_args().rounds
    asyncio.run(compile_times(rounds))
    asyncio.run(run_times(rounds))


if __name__ == "__main__":
    main()
