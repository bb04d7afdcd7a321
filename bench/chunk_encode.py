"""How long the chunk writer holds the GIL to write a heavy page's events: `json` against orjson.

`recording/chunk_codec.encode` turns a chunk's events into the JSON array that is compressed
and stored; it runs on the sink's writer thread, and while it runs the browser's event loop
(the tool's own calls) waits for the GIL. The events are the heavy fixture's full snapshot
(bench/heavy_site.py: an order table of N rows, 5 nodes a row), built as rrweb serializes it;
both encoders run alternately in one process, and their output is checked to parse to the
same events.

Run: .venv/bin/python -m bench.chunk_encode [--rows 5000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from typing import Any

from bench.heavy_site import STATUSES, order_text
from getgather_otel.recording import chunk_codec

FULL_SNAPSHOT = 2


def heavy_snapshot(rows: int) -> list[dict[str, Any]]:
    """A FullSnapshot event of the heavy page's table, in rrweb's node format."""
    ids = itertools.count(10)

    def element(tag: str, attributes: dict[str, str], children: list[dict[str, Any]]) -> dict[str, Any]:
        return {"type": 2, "tagName": tag, "attributes": attributes, "childNodes": children, "id": next(ids)}

    def text(value: str) -> dict[str, Any]:
        return {"type": 3, "textContent": value, "id": next(ids)}

    table_rows = [
        element(
            "tr",
            {
                "class": f"css-row css-c{n % 300} css-st-{STATUSES[n % 5]}",
                "data-testid": "order-row",
                "data-order-id": str(n),
                "aria-label": f"Order {n}, {STATUSES[n % 5]}",
            },
            [
                element("td", {"class": "css-1x9h2kq-OrderCell"}, [text(order_text(n))]),
                element("td", {"class": "css-8u3kq1-StatusCell"}, [text(STATUSES[n % 5])]),
            ],
        )
        for n in range(1, rows + 1)
    ]
    body = element("body", {}, [element("table", {"id": "orders"}, [element("tbody", {}, table_rows)])])
    document = {"type": 0, "childNodes": [element("html", {}, [body])], "id": 1}
    snapshot = {"node": document, "initialOffset": {"left": 0, "top": 0}}
    return [{"type": FULL_SNAPSHOT, "timestamp": time.time() * 1000, "data": snapshot}]


def stdlib_encode(events: list[dict[str, Any]]) -> bytes:
    """What `chunk_codec.encode` did before orjson."""
    return json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    events = heavy_snapshot(args.rows)
    encoders = {"json": stdlib_encode, "orjson (chunk_codec.encode)": chunk_codec.encode}
    times: dict[str, list[float]] = {name: [] for name in encoders}
    sizes: dict[str, int] = {}
    for i in range(args.rounds):
        for name in list(encoders)[i % 2 :] + list(encoders)[: i % 2]:
            started = time.perf_counter()
            raw = encoders[name](events)
            times[name].append((time.perf_counter() - started) * 1000)
            sizes[name] = len(raw)
            assert json.loads(raw) == events
    base = statistics.median(times["json"])
    print(f"{args.rows:,} rows, {sizes['json'] / 1e6:.1f} MB of JSON, {args.rounds} alternating rounds (median ms)")
    for name, measured in times.items():
        median = statistics.median(measured)
        print(f"  {name:>28}: {median:7.1f} ms  ({base / median:.1f}x json's speed)")


if __name__ == "__main__":
    main()
