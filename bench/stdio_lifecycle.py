"""A stdio MCP server's life with getgather-otel: start to first answer, one tool call, exit.

What pyarrow's one-time pandas import costs and where (`store/write/arrow_warmup.py`): each
round spawns a FastMCP stdio server with `configure()` (DuckDB only), sends initialize and
one tools/call, closes stdin and times the exit, as an MCP client does. Two variants
alternate round by round: `warm` as shipped (the store starts the import on a thread of its
own) and `cold` with the warm-up switched off in that process (pyarrow imports pandas inside
the first span export, which at exit is the shutdown's). Medians per variant; exits over
the 2 s promise of `tests/test_shutdown.py` counted.

Run: .venv/bin/python -m bench.stdio_lifecycle [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def serve(db: str, warm: bool) -> None:
    """The server side of one round (`--serve DB warm|cold`), in its own process."""
    if not warm:
        from getgather_otel.store.write import arrow_warmup

        arrow_warmup.warm_up_arrow = lambda: None  # before duckdb_store imports it
    from fastmcp import FastMCP

    import getgather_otel

    mcp = FastMCP("lifecycle")

    @mcp.tool(tags={"brand:netflix"})
    def netflix_ping() -> str:
        return "pong"

    getgather_otel.configure(service_name="lifecycle", duckdb_path=db, record_browsers=False)
    getgather_otel.instrument_mcp(mcp)
    mcp.run(show_banner=False)


def one_round(db: Path, variant: str) -> dict[str, float]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.stdio_lifecycle", "--serve", str(db), variant],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None

    def ask(message: dict[str, object]) -> dict[str, object]:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()
        if "id" not in message:
            return {}
        answer: dict[str, object] = json.loads(process.stdout.readline())
        return answer

    client = {"name": "bench", "version": "1"}
    ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}})  # fmt: skip
    initialized = time.monotonic()
    ask({"jsonrpc": "2.0", "method": "notifications/initialized"})
    ask({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "netflix_ping", "arguments": {}}})
    called = time.monotonic()
    process.stdin.close()
    process.wait(timeout=120)
    ended = time.monotonic()
    return {"start_s": initialized - started, "call_s": called - initialized, "exit_s": ended - called}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--serve", nargs=2, metavar=("DB", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1] == "warm")
        return
    results: dict[str, list[dict[str, float]]] = {"warm": [], "cold": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for variant in ("warm", "cold") if i % 2 == 0 else ("cold", "warm"):
                results[variant].append(one_round(Path(tmp) / f"{variant}-{i}.duckdb", variant))
    print(f"{args.rounds} rounds per variant, medians (s); exits over 2 s counted")
    for variant, rounds in results.items():
        medians = {key: statistics.median(r[key] for r in rounds) for key in ("start_s", "call_s", "exit_s")}
        over = sum(r["exit_s"] >= 2.0 for r in rounds)
        print(
            f"{variant:5} start {medians['start_s']:.2f}  call {medians['call_s']:.3f}  "
            f"exit {medians['exit_s']:.2f} (max {max(r['exit_s'] for r in rounds):.2f}, {over} over 2 s)"
        )


if __name__ == "__main__":
    main()
