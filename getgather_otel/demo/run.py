"""`getgather-otel demo`: call the demo server for real and show what was stored.

The `shop` brand's tools drive a real Chromium against the fixture site on 127.0.0.1,
so the demo's database also holds browser recordings. Where no browser can start, the
demo says why and runs the other tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

from fastmcp import Client, FastMCP
from patchright.async_api import Error as PlaywrightError

from getgather_otel.capture.middleware import instrument_mcp
from getgather_otel.demo.loopback import serve_streamable_http
from getgather_otel.demo.server import build_demo_server
from getgather_otel.demo.shop import BRAND, ShopBrowser, build_shop_brand, shop_browser
from getgather_otel.demo.site import brand_site
from getgather_otel.export.pipeline import configure
from getgather_otel.web.serving import serve_asgi

__all__ = ["BROWSER_CALLS", "DEMO_CALLS", "run_demo"]

DEMO_CALLS: tuple[tuple[str, dict[str, object]], ...] = (
    ("list_brands", {}),
    ("netflix_get_history", {"limit": 2}),
    ("amazon_get_orders", {"password": "hunter2"}),
    ("goodreads_get_shelf", {}),
    ("goodreads_search", {"query": "dune"}),
)
BROWSER_CALLS: tuple[tuple[str, dict[str, object]], ...] = (
    (f"{BRAND}_get_orders", {"pages": 3}),
    (f"{BRAND}_get_first_order", {}),
)


@asynccontextmanager
async def _browser_or_none(origin: str, out: TextIO) -> AsyncIterator[ShopBrowser | None]:
    async with AsyncExitStack() as stack:
        browser: ShopBrowser | None = None
        try:
            browser = await stack.enter_async_context(shop_browser(origin))
        except PlaywrightError as error:  # no Chromium here: the rest of the demo still runs
            print(f"browser tools skipped: Chromium did not start ({str(error).splitlines()[0]})", file=out)
        yield browser


async def _call_all(client: Client[Any], calls: tuple[tuple[str, dict[str, object]], ...]) -> int:
    for name, arguments in calls:
        await client.call_tool(name, arguments, raise_on_error=False)
    return len(calls)


async def run_demo(db_path: Path, out: TextIO) -> int:
    """Run every demo call in memory and over streamable HTTP; returns the number of calls."""
    telemetry = configure(service_name="getgather-demo", duckdb_path=db_path)
    calls = 0
    async with serve_asgi(brand_site()) as site, _browser_or_none(site, out) as browser:
        server: FastMCP = build_demo_server()
        demo_calls = DEMO_CALLS
        if browser is not None:
            server.mount(build_shop_brand(browser), namespace=BRAND)
            demo_calls += BROWSER_CALLS
            print(f"the {BRAND} brand's tools drive Chromium against {site}", file=out)
        instrument_mcp(server, brand_from_prefix=True, capture_arguments=True)
        async with Client(server) as client:
            calls += await _call_all(client, demo_calls)
        async with serve_streamable_http(server) as url:
            print(f"serving the demo server at {url}", file=out)
            async with Client(url) as client:
                calls += await _call_all(client, demo_calls)
    telemetry.shutdown()
    stats = telemetry.stats()
    recorded_kib = (stats.recordings.written if stats.recordings else 0) // 1024
    print(
        f"made {calls} tool calls (in memory and over HTTP); "
        f"{stats.duckdb.written if stats.duckdb else 0} spans and "
        f"{recorded_kib} KiB of browser recordings (before compression) written to {db_path}",
        file=out,
    )
    return calls
