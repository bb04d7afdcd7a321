"""How long Python holds the GIL to write and to parse a heavy page's rrweb JSON: `json` against orjson.

`recording/chunk_codec.encode` turns a chunk's events into the JSON array that is compressed
and stored; it runs on the sink's writer thread, and while it runs the browser's event loop
(the tool's own calls) waits for the GIL. `recording/chunk_codec.loads` parses each recorder
payload, on that event loop itself (and each stored chunk a replay reads). The events are the
heavy fixture's full snapshot (bench/heavy_site.py: an order table of N rows, 5 nodes a row),
built as rrweb serializes it; the two ways of each direction run alternately in one process,
and their output is checked to be the same events.

Run: .venv/bin/python -m bench.rrweb_json [--rows 5000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from collections.abc import Callable
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


def alternating(ways: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median ms of each way, run in turn (the first one rotating) `rounds` times."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for i in range(rounds):
        for name in list(ways)[i % 2 :] + list(ways)[: i % 2]:
            started = time.perf_counter()
            ways[name]()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(measured) for name, measured in times.items()}


def print_medians(medians: dict[str, float]) -> None:
    base = medians["json"]
    for name, median in medians.items():
        print(f"  {name:>28}: {median:7.1f} ms  ({base / median:.1f}x json's speed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    events = heavy_snapshot(args.rows)
    text = chunk_codec.encode(events)
    assert json.loads(stdlib_encode(events)) == events == chunk_codec.loads(text)
    print(f"{args.rows:,} rows, {len(text) / 1e6:.1f} MB of JSON, {args.rounds} alternating rounds (median ms)")
    print(" write (the chunk writer):")
    print_medians(
        alternating(
            {"json": lambda: stdlib_encode(events), "orjson (chunk_codec.encode)": lambda: chunk_codec.encode(events)},
            args.rounds,
        )
    )
    payload = text.decode()  # a binding call's payload reaches Python as str
    print(" parse (each recorder payload, on the event loop):")
    print_medians(
        alternating(
            {"json": lambda: json.loads(payload), "orjson (chunk_codec.loads)": lambda: chunk_codec.loads(payload)},
            args.rounds,
        )
    )


if __name__ == "__main__":
    main()
