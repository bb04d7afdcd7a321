"""What `configure()` sends over OTLP besides spans: the duration histograms and recordings.

Metrics: when OTLP is on and the application gave no MeterProvider, getgather-otel makes
one with a periodic OTLP reader for its own histograms (never replacing a global provider
the application set). Recordings: an `OtlpChunkSink` when the recordings mode (`Settings.otlp_recordings`) allows it
(by default only towards `getgather-otel collect`, see `otlp.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from getgather_otel._log import logger
from getgather_otel.export.otlp import otlp_log_exporter, otlp_metric_exporter, receiver_info_url
from getgather_otel.export.otlp_guard import ExportGuard
from getgather_otel.export.otlp_recordings import OtlpChunkSink
from getgather_otel.export.shutdown import Deadline
from getgather_otel.recording import recordings as recordings_module

__all__ = ["OtlpMetricsAndRecordings"]


@dataclass
class OtlpMetricsAndRecordings:
    meter_provider: SdkMeterProvider | None
    recordings: OtlpChunkSink | None
    # The guards of the metric and log exporters above, for the exit report.
    guards: tuple[ExportGuard, ...] = ()

    @classmethod
    def start(
        cls,
        otlp: bool | str | None,
        resource: Resource,
        *,
        want_meter_provider: bool,
        recordings: Literal["on", "off", "auto"],
        metric_interval_s: float,
    ) -> OtlpMetricsAndRecordings:
        meter_provider = None
        guards = []
        if want_meter_provider and (metric_exporter := otlp_metric_exporter(otlp)) is not None:
            reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=metric_interval_s * 1000)
            # Shut down by `stop()`, within the shutdown budget, not by the SDK's own unbounded atexit hook.
            meter_provider = SdkMeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
            guards.append(metric_exporter.guard)
        sink = None
        mode = recordings
        # In auto mode, only a receiver that can be asked (OTLP/HTTP) can turn out to be ours.
        info_url = receiver_info_url(otlp) if mode == "auto" else None
        if mode == "on" or info_url is not None:
            log_exporter = otlp_log_exporter(otlp)
            if log_exporter is not None:
                sink = OtlpChunkSink(log_exporter, resource, info_url=info_url)
                recordings_module.add_sink(sink)
                guards.append(log_exporter.guard)
        return cls(meter_provider, sink, tuple(guards))

    def flush(self, timeout_s: float) -> bool:
        """False when something did not reach the endpoint in time, or at all: never raises.

        The SDK's `MeterProvider.force_flush` raises when a reader's collection failed (an
        endpoint refusing or never reading: a newcomer's break had `Telemetry.flush()` raise
        into the caller); what did not arrive is said once at shutdown (`otlp_guard`).
        """
        done = True
        if self.recordings is not None:
            done = self.recordings.flush(timeout_s)
        if self.meter_provider is not None:
            try:
                done = self.meter_provider.force_flush(int(timeout_s * 1000)) and done
            except Exception as error:
                logger.debug("OTLP metrics flush failed: %s", error)
                done = False
        return done

    def stop(self, deadline: Deadline) -> None:
        """Send what is left within `deadline`: the last metric collection, queued recordings."""
        if self.recordings is not None:
            recordings_module.remove_sink(self.recordings)
            # flush, then join: each may take the time given.
            self.recordings.shutdown(timeout_s=deadline.remaining() / 2)
        if self.meter_provider is not None:
            # The SDK's own knob: the reader's last export gets the time left, then its exporter is shut down.
            try:
                self.meter_provider.shutdown(timeout_millis=deadline.remaining() * 1000)
            except Exception as error:  # raised when no time was left; the exit report counts what was lost
                logger.debug("metrics shut down without a last export: %s", error)
