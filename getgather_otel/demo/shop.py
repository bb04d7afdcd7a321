"""The demo's browser brand: MCP tools that sign in to the fixture site and read orders with Chromium.

This is what a getgather brand integration looks like from the browser's side, and what
the recording benchmark times: one persistent browser context (as getgather keeps one per
profile), reused by every tool call, so each call becomes its own recording.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastmcp import FastMCP
from patchright.async_api import BrowserContext, async_playwright

from getgather_otel.demo.browser import launch_options
from getgather_otel.demo.site import ORDER_PAGES

__all__ = ["BRAND", "DEMO_EMAIL", "DEMO_PASSWORD", "ShopBrowser", "build_shop_brand", "read_orders", "shop_browser"]

BRAND = "shop"
# The demo profile's stored sign-in (what a user would have given getgather once).
DEMO_EMAIL = "ada.lovelace@example.com"
DEMO_PASSWORD = "demo-Passw0rd-never-stored"


async def read_orders(context: BrowserContext, origin: str, pages: int = ORDER_PAGES) -> list[str]:
    """Sign in on the fixture site and read `pages` pages of orders: navigate, fill, submit, read a list."""
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto(origin + "/login")
    await page.fill("#email", DEMO_EMAIL)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#submit")
    titles: list[str] = []
    for number in range(1, pages + 1):
        if number > 1:
            await page.click("#next")
        await page.wait_for_selector(f"text=page {number} of {ORDER_PAGES}")
        titles.extend(await page.locator("#orders li").all_inner_texts())
    return titles


@dataclass
class ShopBrowser:
    """A running Chromium with one context, and the fixture site's origin."""

    context: BrowserContext
    origin: str


@asynccontextmanager
async def shop_browser(origin: str) -> AsyncIterator[ShopBrowser]:
    """Launch Chromium (headless, this machine's flags) with one context for the shop brand."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        try:
            yield ShopBrowser(await browser.new_context(), origin)
        finally:
            await browser.close()


def build_shop_brand(browser: ShopBrowser) -> FastMCP:
    """The `shop` brand's tools, driving `browser` (mount it under the `shop` namespace)."""
    shop = FastMCP(BRAND)

    @shop.tool(tags={f"brand:{BRAND}"})
    async def get_orders(pages: int = ORDER_PAGES) -> list[str]:
        """Sign in to the shop and read the order history with a real browser."""
        return await read_orders(browser.context, browser.origin, min(max(pages, 1), ORDER_PAGES))

    @shop.tool(tags={f"brand:{BRAND}"})
    async def get_first_order() -> dict[str, Any]:
        """The most recent order (one page), and its receipt read in a second tab."""
        titles = await read_orders(browser.context, browser.origin, pages=1)
        tab = await browser.context.new_page()
        try:
            await tab.goto(browser.origin + "/orders/1")
            receipt = await tab.inner_text("#receipt")
        finally:
            await tab.close()
        return {"title": titles[0], "orders_on_page": len(titles), "receipt": receipt}

    return shop
