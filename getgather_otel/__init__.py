"""getgather-otel: activities, browser recordings and SQL analytics for MCP servers.

Public API (a contract: code outside this repository imports these names). Names are
imported on first use (PEP 562) so that `getgather-otel sql` and `stats` do not pay for
importing FastMCP, which is most of a cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from getgather_otel.version import __version__

if TYPE_CHECKING:
    from getgather_otel.capture.activity import Activity, activity, current_activity
    from getgather_otel.capture.brands import default_brand_resolver
    from getgather_otel.capture.failures import FailureContext, default_failure_classifier, set_failure_classifier
    from getgather_otel.capture.middleware import ActivityMiddleware, instrument_mcp
    from getgather_otel.export.duckdb_spans import DuckDBSpanExporter
    from getgather_otel.export.pipeline import Telemetry, configure
    from getgather_otel.recording.hooks import record_browser
    from getgather_otel.recording.options import RecordingOptions
    from getgather_otel.recording.rrweb_recordings import add_rrweb_recordings, open_database

_EXPORTS = {
    "Activity": "getgather_otel.capture.activity",
    "activity": "getgather_otel.capture.activity",
    "current_activity": "getgather_otel.capture.activity",
    "default_brand_resolver": "getgather_otel.capture.brands",
    "FailureContext": "getgather_otel.capture.failures",
    "default_failure_classifier": "getgather_otel.capture.failures",
    "set_failure_classifier": "getgather_otel.capture.failures",
    "ActivityMiddleware": "getgather_otel.capture.middleware",
    "instrument_mcp": "getgather_otel.capture.middleware",
    "record_browser": "getgather_otel.recording.hooks",
    "RecordingOptions": "getgather_otel.recording.options",
    "DuckDBSpanExporter": "getgather_otel.export.duckdb_spans",
    "Telemetry": "getgather_otel.export.pipeline",
    "configure": "getgather_otel.export.pipeline",
    "open_database": "getgather_otel.recording.rrweb_recordings",
    "add_rrweb_recordings": "getgather_otel.recording.rrweb_recordings",
}

__all__ = [
    "Activity",
    "ActivityMiddleware",
    "DuckDBSpanExporter",
    "FailureContext",
    "RecordingOptions",
    "Telemetry",
    "__version__",
    "activity",
    "add_rrweb_recordings",
    "configure",
    "current_activity",
    "default_brand_resolver",
    "default_failure_classifier",
    "instrument_mcp",
    "open_database",
    "record_browser",
    "set_failure_classifier",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'getgather_otel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
