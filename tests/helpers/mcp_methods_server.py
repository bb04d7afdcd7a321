"""A FastMCP server with a tool, a failing tool, a resource and a prompt, instrumented with
`instrument_mcp`, and a ledger of every request it answered (the ground truth the tests
count SERVER spans and metric points against).

In-process tests import `build_server`; run as a script it serves stdio (FastMCP reads
FASTMCP_TELEMETRY_MODE itself) with telemetry into DB, and when its stdin closes writes
the ledger and the metric points it recorded to OUT as JSON. Usage: mcp_methods_server.py DB OUT
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fastmcp import FastMCP
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

import getgather_otel


class Ledger:
    """MCP SDK middleware at the innermost end of the list: every request that reached it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is not None:
            self.requests.append((ctx.method, str(ctx.request_id)))
        return await call_next(ctx)


def build_server() -> tuple[FastMCP, Ledger]:
    server = FastMCP("methods")

    @server.tool(tags={"brand:netflix"})
    def netflix_title(show: str) -> str:
        """The show's title."""
        return show.title()

    @server.tool
    def fail() -> str:
        """Always fails."""
        raise ValueError("this tool always fails")

    @server.resource("data://catalog")
    def catalog() -> str:
        return "dark, severance"

    @server.resource("data://broken")
    def broken() -> str:
        raise RuntimeError("the catalog is down")

    @server.prompt
    def summarize(topic: str) -> str:
        return f"Summarize {topic}"

    getgather_otel.instrument_mcp(server, capture_arguments=True)
    ledger = Ledger()
    server._mcp_server.middleware.append(ledger)
    return server, ledger


def metric_points(reader: InMemoryMetricReader) -> list[dict[str, Any]]:
    """Every histogram point the reader holds, as plain JSON values."""
    data = reader.get_metrics_data()
    points: list[dict[str, Any]] = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    if isinstance(point, HistogramDataPoint):
                        points.append(
                            {
                                "name": metric.name,
                                "unit": metric.unit,
                                "attributes": dict(point.attributes or {}),
                                "count": point.count,
                            }
                        )
    return points


if __name__ == "__main__":
    db, out = sys.argv[1:3]
    reader = InMemoryMetricReader()
    getgather_otel.configure(
        service_name="methods", duckdb_path=db, record_browsers=False, meter_provider=MeterProvider([reader])
    )
    mcp, requests = build_server()
    mcp.run(show_banner=False)
    with open(out, "w") as f:
        json.dump({"requests": requests.requests, "metrics": metric_points(reader)}, f)
