"""A server that knows nothing about getgather-otel, run under `opentelemetry-instrument`: it calls
its own tool in memory `argv[1]` times, says so, and waits to be sent SIGTERM."""

import asyncio
import sys

from fastmcp import Client, FastMCP

mcp = FastMCP("sigterm")


@mcp.tool(tags={"brand:netflix"})
def netflix_ping() -> str:
    return "pong"


async def main(calls: int) -> None:
    async with Client(mcp) as client:
        for _ in range(calls):
            await client.call_tool("netflix_ping", {})
    print("ready", flush=True)
    await asyncio.sleep(600)


asyncio.run(main(int(sys.argv[1])))
