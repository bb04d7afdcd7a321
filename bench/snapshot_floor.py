"""How far the recorder's full snapshot of a heavy page is from the cheapest one JavaScript can take.

On the 5,000-row page of `bench/heavy_site.py` (~25k nodes), in the isolated world of a recorded
document, rounds interleave three ways of turning the document into rrweb's JSON and a Blob
(the way a big payload leaves the world, js/world.js `sendPayload`):

- "recorder": the recorder's own serializer (js/snapshot.js through `serialized(true)`: rrweb's
  rules for attributes and special elements, text privacy through `maskTextFn`, ids from rrweb's
  mirror), then `JSON.stringify`, then the Blob. The recorder's privacy pass over attributes and
  split card numbers, its size estimate and its parts come on top of this in a recorded document
  (`enqueue`), and are not timed here.
- "bare tree": the floor with the same output shape: a walk building rrweb-shaped nodes
  (attributes, children, ids) into a Map and a WeakMap as rrweb's mirror does, no rule of any
  kind, then `JSON.stringify`, then the Blob.
- "JSON in the walk": the same walk writing the JSON text as it goes (no object tree, small
  records in the mirror maps), then the Blob. The idea tested: skipping the tree and the separate
  stringify. Measured here: slower than the tree (V8 builds the text as concatenated strings, and
  each value is escaped by its own `JSON.stringify`).

The same world serves every round, so these are a warm world's times; a document's first
snapshot runs colder (js/world.js timers in BENCHMARKS.md section 8).

Run: .venv/bin/python -m bench.snapshot_floor [--rows 5000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from pathlib import Path

from patchright.async_api import async_playwright

import getgather_otel
from bench.heavy_site import heavy_site
from bench.recording_heavy import heavy_url
from getgather_otel import activity, record_browser
from getgather_otel.demo.browser import launch_options
from getgather_otel.recording.cdp_worlds import WORLD_NAME
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.world_script import api_call
from getgather_otel.web.serving import serve_asgi

# Each way returns [build ms, stringify ms, Blob ms, characters]; `SERIALIZED` is the recorder's.
WAYS = {
    "recorder": """
const t0 = performance.now();
const text = SERIALIZED;
const t1 = performance.now();
new Blob([text]);
return [t1 - t0, 0, performance.now() - t1, text.length];
""",
    "bare tree": """
const ids = new Map(), metas = new WeakMap(); let next = 1;
const t0 = performance.now();
function element(n) {
  const attributes = {};
  for (const name of n.getAttributeNames()) attributes[name] = n.getAttribute(name);
  const node = { type: 2, tagName: n.tagName.toLowerCase(), attributes, childNodes: [], id: next++ };
  ids.set(node.id, n); metas.set(n, node);
  for (let c = n.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === 1) node.childNodes.push(element(c));
    else if (c.nodeType === 3) {
      const text = { type: 3, textContent: c.data, id: next++ };
      ids.set(text.id, c); metas.set(c, text); node.childNodes.push(text);
    }
  }
  return node;
}
const tree = { type: 0, childNodes: [element(document.documentElement)], id: next++ };
const t1 = performance.now();
const text = JSON.stringify(tree);
const t2 = performance.now();
new Blob([text]);
return [t1 - t0, t2 - t1, performance.now() - t2, text.length];
""",
    "JSON in the walk": """
const ids = new Map(), metas = new WeakMap(); let next = 1;
const quote = JSON.stringify;
const t0 = performance.now();
function element(n) {
  const tagName = n.tagName.toLowerCase(); const id = next++;
  ids.set(id, n); metas.set(n, { type: 2, tagName, id });
  let out = '{"type":2,"tagName":"' + tagName + '","attributes":{';
  const names = n.getAttributeNames();
  for (let i = 0; i < names.length; i++) {
    out += (i ? "," : "") + quote(names[i]) + ":" + quote(n.getAttribute(names[i]));
  }
  out += '},"childNodes":[';
  let first = true;
  for (let c = n.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === 1) { out += (first ? "" : ",") + element(c); first = false; }
    else if (c.nodeType === 3) {
      const textId = next++; ids.set(textId, c); metas.set(c, { type: 3, id: textId });
      out += (first ? "" : ",") + '{"type":3,"textContent":' + quote(c.data) + ',"id":' + textId + "}"; first = false;
    }
  }
  return out + '],"id":' + id + "}";
}
const text = '{"type":0,"childNodes":[' + element(document.documentElement) + '],"id":' + next++ + "}";
const t1 = performance.now();
new Blob([text]);
return [t1 - t0, 0, performance.now() - t1, text.length];
""",
}


async def floor(rows: int, rounds: int) -> dict[str, list[list[float]]]:
    """Each way's [build, stringify, Blob, characters] per round, in the recorder's world of the heavy page."""
    serialized = api_call(RecordingOptions().guard, "serialized(true)", "null")
    results: dict[str, list[list[float]]] = {name: [] for name in WAYS}
    with tempfile.TemporaryDirectory() as tmp:
        telemetry = getgather_otel.configure(
            service_name="bench-snapshot-floor", duckdb_path=Path(tmp) / "floor.duckdb", record_browsers=False
        )
        try:
            async with serve_asgi(heavy_site()) as origin, async_playwright() as playwright:
                browser = await playwright.chromium.launch(**launch_options())
                context = await browser.new_context()
                await record_browser(context)
                page = await context.new_page()
                async with activity(name="snapshot_floor", brand_id="shop", kind="tool"):
                    await page.goto(heavy_url(origin, rows))
                cdp = await context.new_cdp_session(page)
                frame_id = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
                world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": WORLD_NAME})
                for i in range(rounds + 1):  # the first round warms the world up and is not kept
                    for name, body in WAYS.items():
                        expression = "JSON.stringify((() => {" + body.replace("SERIALIZED", serialized) + "})())"
                        reply = await cdp.send(
                            "Runtime.evaluate",
                            {"expression": expression, "contextId": world["executionContextId"], "returnByValue": True},
                        )
                        if "exceptionDetails" in reply:
                            raise RuntimeError(f"{name}: {reply['exceptionDetails']}")
                        if i:
                            results[name].append(json.loads(reply["result"]["value"]))
                await browser.close()
        finally:
            telemetry.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000, help="rows of the order table (5 DOM nodes each)")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    results = asyncio.run(floor(args.rows, args.rounds))
    print(f"{args.rows:,} rows, {args.rounds} rounds, medians in ms (a warm isolated world)")
    print(f"{'way':18} {'build':>7} {'stringify':>9} {'Blob':>6} {'total':>7} {'chars':>10}")
    for name, runs in results.items():
        build, text, blob, chars = (statistics.median(run[k] for run in runs) for k in range(4))
        total = statistics.median(run[0] + run[1] + run[2] for run in runs)
        print(f"{name:18} {build:7.1f} {text:9.1f} {blob:6.1f} {total:7.1f} {chars:10,.0f}")


if __name__ == "__main__":
    main()
