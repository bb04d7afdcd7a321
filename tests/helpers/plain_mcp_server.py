"""An MCP server that knows nothing about getgather-otel; the zero-code test runs it under
`opentelemetry-instrument` over stdio. Its tool reads a page's title with Patchright."""

import os

from fastmcp import FastMCP
from patchright.async_api import async_playwright

mcp = FastMCP("plain")


@mcp.tool(tags={"brand:netflix"})
async def netflix_page_title(url: str) -> str:
    """Open `url` in Chromium and return its title."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM") or None, args=["--no-sandbox", "--disable-gpu"]
        )
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(url)
        await page.fill("#password", "hunter2-zero-code")
        title = await page.title()
        await context.close()
        await browser.close()
        return title


@mcp.tool
def fail() -> str:
    """Always fails."""
    raise ValueError("this tool always fails")


if __name__ == "__main__":
    mcp.run(show_banner=False)
