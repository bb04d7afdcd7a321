"""getgather-otel: activities, browser recordings and SQL analytics for MCP servers.

Public API (a contract: code outside this repository imports these names).
"""

from getgather_otel.activities import Activity, activity, current_activity
from getgather_otel.brands import default_brand_resolver
from getgather_otel.mcp import ActivityMiddleware, instrument_mcp
from getgather_otel.store.exporter import DuckDBSpanExporter
from getgather_otel.telemetry import Telemetry, configure
from getgather_otel.version import __version__

__all__ = [
    "Activity",
    "ActivityMiddleware",
    "DuckDBSpanExporter",
    "Telemetry",
    "__version__",
    "activity",
    "configure",
    "current_activity",
    "default_brand_resolver",
    "instrument_mcp",
]
