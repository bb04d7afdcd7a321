"""The duration histograms: MCP's two (requests, sessions), and ours per brand.

Instruments come from the MeterProvider given to `configure()` (or the global one, which
stays a no-op until an application or the OTLP setup installs an SDK provider). Buckets
are advisory, as the MCP semantic conventions recommend, so a View can still override them.
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import Histogram, MeterProvider
from opentelemetry.util.types import Attributes

from getgather_otel.capture import attributes as attr
from getgather_otel.version import __version__

__all__ = ["Instruments", "instruments", "use_meter_provider"]


class Instruments:
    """Histograms recorded at the end of every MCP request, MCP session and activity."""

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(attr.SCOPE_NAME, __version__)
        buckets = list(attr.DURATION_BUCKETS_S)
        self.mcp_operation_duration: Histogram = meter.create_histogram(
            attr.METRIC_MCP_OPERATION_DURATION,
            unit="s",
            description="Duration of MCP requests handled by the server",
            explicit_bucket_boundaries_advisory=buckets,
        )
        self.mcp_session_duration: Histogram = meter.create_histogram(
            attr.METRIC_MCP_SESSION_DURATION,
            unit="s",
            description="Duration of MCP sessions (handshake-era protocol versions only)",
            explicit_bucket_boundaries_advisory=[*buckets, 600.0, 1800.0, 3600.0],
        )
        self.activity_duration: Histogram = meter.create_histogram(
            attr.METRIC_ACTIVITY_DURATION,
            unit="s",
            description="Duration of getgather activities, by brand, name and kind",
            explicit_bucket_boundaries_advisory=buckets,
        )

    def record_activity(self, seconds: float, attributes: Attributes) -> None:
        self.activity_duration.record(seconds, attributes)

    def record_mcp_operation(self, seconds: float, attributes: Attributes) -> None:
        self.mcp_operation_duration.record(seconds, attributes)

    def record_mcp_session(self, seconds: float, attributes: Attributes) -> None:
        self.mcp_session_duration.record(seconds, attributes)


_instruments = Instruments()


def instruments() -> Instruments:
    """The instruments in use (replaced by `configure(meter_provider=...)`)."""
    return _instruments


def use_meter_provider(meter_provider: MeterProvider | None) -> None:
    """Record future measurements through `meter_provider` (None: the global provider)."""
    global _instruments
    _instruments = Instruments(meter_provider)
