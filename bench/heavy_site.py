"""The heavy fixture for the recording benchmark (issue 13): a big order page, served on 127.0.0.1.

`/orders-heavy?rows=N` is a server-rendered order table of N rows (5 DOM nodes a row: the
row, two cells and their texts, so 5,000 rows are ~25k nodes and 20,000 rows ~100k), with
what makes real pages expensive to record, all in bench/pages/heavy.js: CSS-in-JS rules
inserted through the CSSOM, an adopted stylesheet, a shadow-root widget with its own
adopted sheet, and a clock changing every 100 ms. `#refresh` is a click that changes the
DOM. Nothing is loaded from elsewhere; the page is built per size once and cached.
"""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

PAGES = Path(__file__).resolve().parent / "pages"
PATH = "/orders-heavy"
MAX_ROWS = 100_000
ITEMS = ("Dune", "Desk lamp", "USB-C cable", "Coffee beans", "Headphones", "Notebook", "Emma", "Kettle")
STATUSES = ("ordered", "packed", "shipped", "late", "delivered")


def order_text(n: int) -> str:
    """The first cell of order `n`'s row (1-based), as the page renders it: the flow reads the last one."""
    return (
        f"Order #{n} · {ITEMS[n % len(ITEMS)]} · 2026-{n % 12 + 1:02d}-{n % 28 + 1:02d} · ${n * 7 % 200}.{n % 100:02d}"
    )


@functools.cache
def heavy_page(rows: int) -> str:
    """The page's HTML for `rows` orders: 5,000 rows are 1.3 MB of HTML and ~2.9 MB of rrweb
    snapshot JSON, 20,000 rows 5.1 MB and ~11.6 MB."""
    body = "".join(
        f'<tr class="css-row css-c{n % 300} css-st-{STATUSES[n % 5]}" data-testid="order-row" data-order-id="{n}"'
        f' aria-label="Order {n}, {STATUSES[n % 5]}"><td class="css-1x9h2kq-OrderCell">{order_text(n)}</td>'
        f'<td class="css-8u3kq1-StatusCell">{STATUSES[n % 5]}</td></tr>'
        for n in range(1, rows + 1)
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Orders ({rows})</title><style id="css-in-js"></style></head>
<body>
<div id="toolbar"><h1>Your orders</h1><span id="clock">--</span><button id="refresh">Refresh</button></div>
<table id="orders"><thead><tr><th>Order</th><th>Status</th></tr></thead><tbody>{body}</tbody></table>
<div id="support-widget"></div>
<script src="/heavy.js"></script>
</body></html>"""


def heavy_site() -> Starlette:
    """The fixture as an ASGI app (serve it with `getgather_otel.web.serving.serve_asgi`)."""

    async def orders(request: Request) -> Response:
        try:
            rows = min(max(int(request.query_params.get("rows", "5000")), 1), MAX_ROWS)
        except ValueError:
            return HTMLResponse("rows must be a number", 400)
        return HTMLResponse(heavy_page(rows))

    async def script(request: Request) -> Response:
        return FileResponse(PAGES / "heavy.js", media_type="text/javascript")

    return Starlette(routes=[Route(PATH, orders), Route("/heavy.js", script)])
