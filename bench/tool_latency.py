"""Tool-call latency with `instrument_mcp` against FastMCP's native telemetry alone.

Both servers run in one process under the same SDK setup (`configure()` with the DuckDB
exporter, FastMCP native spans on); only `instrument_mcp` differs. Rounds alternate
between the two so machine noise hits both alike; the ratio of medians is reported.

Run: .venv/bin/python -m bench.tool_latency [--rounds 30] [--calls 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastmcp import Client, FastMCP

import getgather_otel


def build(instrumented: bool) -> FastMCP:
    server = FastMCP("bench")

    @server.tool(tags={"brand:netflix"})
    async def netflix_get_history(limit: int = 3) -> list[str]:
        await asyncio.sleep(0)
        return ["Arcane", "Dark", "Severance"][:limit]

    if instrumented:
        getgather_otel.instrument_mcp(server, brand_from_prefix=True)
    return server


async def round_ms(client: Client[Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await client.call_tool("netflix_get_history", {"limit": 2})
    return (time.perf_counter() - started) * 1000 / calls


async def run(rounds: int, calls: int, db: Path) -> tuple[float, float, int]:
    telemetry = getgather_otel.configure(service_name="bench", duckdb_path=db)
    plain, instrumented = build(False), build(True)
    results: dict[bool, list[float]] = {False: [], True: []}
    async with Client(plain) as a, Client(instrumented) as b:
        for client in (a, b):
            await round_ms(client, calls)  # warm-up
        for i in range(rounds):
            order = (False, True) if i % 2 == 0 else (True, False)
            for flag in order:
                results[flag].append(await round_ms(b if flag else a, calls))
    telemetry.shutdown()
    stats = telemetry.stats()
    return statistics.median(results[False]), statistics.median(results[True]), stats.spans_ended


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, inst, spans = asyncio.run(run(args.rounds, args.calls, Path(tmp) / "bench.duckdb"))
    print(f"{args.rounds} interleaved rounds x {args.calls} in-memory tool calls each ({spans} spans exported)")
    print(f"FastMCP native telemetry only: {base:.3f} ms/call (median of rounds)")
    print(f"with instrument_mcp:           {inst:.3f} ms/call")
    print(f"ratio: {inst / base:.3f}x")


if __name__ == "__main__":
    main()
