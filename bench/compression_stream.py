"""Would compressing big payloads in the page make them cheaper to send? (issue 13, measured: no)

Builds snapshot-like JSON of N rows in a page (about 155 characters a row), then times
`CompressionStream` (gzip and deflate-raw) and the base64 a binding call would need, and runs
a 5 ms ticker on the page while gzip runs: its largest gap is how long the page's main thread
was held. Compare with the binding's own copy, ~25-50 ms per MB here (BENCHMARKS.md section 8).

    .venv/bin/python -m bench.compression_stream --rows 20000 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json

from patchright.async_api import async_playwright

from getgather_otel.demo.browser import launch_options

MEASURE_JS = """async (n) => {
  const rows = [];
  for (let i = 0; i < n; i++) {
    const text = 'Order #' + (100000 + i) + ' shipped ' + (i * 37 % 1000) + ' items';
    rows.push({type: 2, id: i, tagName: 'td', attributes: {class: 'cell-' + (i % 7)},
               childNodes: [{type: 3, textContent: text, id: i + 1e6}]});
  }
  const text = JSON.stringify({type: 2, data: {node: {childNodes: rows}}, timestamp: Date.now()});
  const out = {mb: text.length / 1e6};
  for (const format of ['gzip', 'deflate-raw']) {
    const t0 = performance.now();
    const stream = new Blob([text]).stream().pipeThrough(new CompressionStream(format));
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    const t1 = performance.now();
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    const base64 = btoa(binary);
    out[format] = {compress_ms: t1 - t0, base64_ms: performance.now() - t1,
                   compressed_mb: bytes.length / 1e6, base64_mb: base64.length / 1e6};
  }
  let last = performance.now(), maxGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 5);
  const t0 = performance.now();
  await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
  clearInterval(ticker);
  out.gzip_with_ticker = {ms: performance.now() - t0, longest_main_thread_gap_ms: maxGap};
  return out;
}"""


async def measure(rows: list[int]) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        page = await browser.new_page()
        await page.goto("about:blank")
        for n in rows:
            print(n, "rows:", json.dumps(await page.evaluate(MEASURE_JS, n)))
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20000, 100000])
    asyncio.run(measure(parser.parse_args().rows))


if __name__ == "__main__":
    main()
