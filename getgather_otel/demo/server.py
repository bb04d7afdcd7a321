"""A small getgather-like MCP server: brand tools, a general tool and a tool that fails."""

from __future__ import annotations

import asyncio

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError

from getgather_otel import activity

__all__ = ["build_demo_server"]


def build_demo_server() -> FastMCP:
    """Brands mounted under their namespace, as getgather does (`netflix_get_history`, ...)."""
    main = FastMCP("getgather-demo")

    netflix = FastMCP("netflix")

    @netflix.tool(tags={"brand:netflix"})
    async def get_history(limit: int = 3) -> list[str]:
        """Recently watched titles."""
        async with activity(name="login", brand_id="netflix", kind="auth"):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.01)
        return ["Arcane", "Dark", "Severance"][:limit]

    amazon = FastMCP("amazon")

    @amazon.tool
    async def get_orders(password: str = "") -> list[dict[str, str]]:
        """Recent orders (the password argument shows redaction at work)."""
        await asyncio.sleep(0.015)
        return [{"id": "113-1", "item": "USB-C cable"}, {"id": "113-2", "item": "Desk lamp"}]

    goodreads = FastMCP("goodreads")

    @goodreads.tool
    async def get_shelf() -> list[str]:
        """A shelf that always fails, as a broken brand integration does."""
        await asyncio.sleep(0.005)
        raise TimeoutError("timed out waiting for #shelf to appear")

    @goodreads.tool
    async def search(query: str) -> str:
        """Returns a tool-level error result (isError) rather than raising."""
        raise ToolError(f"no results for {query!r}")

    @main.tool(tags={"general_tool"})
    def list_brands() -> list[str]:
        """A general tool: no brand."""
        return ["amazon", "goodreads", "netflix"]

    main.mount(netflix, namespace="netflix")
    main.mount(amazon, namespace="amazon")
    main.mount(goodreads, namespace="goodreads")
    return main
