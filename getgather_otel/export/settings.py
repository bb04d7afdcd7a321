"""`Settings`: everything one `configure()` call decided, its arguments and the environment read once.

`configure()` builds a `Settings` and compares it with the running one: equal settings
return the running `Telemetry`, different ones replace it. Providers are compared by
identity (the SDK's providers define no equality), everything else by value. The
functions below resolve the arguments that the environment completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Literal

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from getgather_otel import env
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.store.maintenance.retention import RetentionPolicy
from getgather_otel.store.paths import resolve_db_path

__all__ = ["BatchSettings", "Settings", "duckdb_path_setting", "retention_setting", "sdk_disabled"]


@dataclass(frozen=True)
class BatchSettings:
    """The `BatchSpanProcessor` of each span pipeline (the SDK's own knobs, same meaning)."""

    max_queue_size: int = 8192
    max_export_batch_size: int = 2048
    schedule_delay_millis: int = 500


@dataclass(frozen=True)
class Settings:
    """What a `configure()` call asked for, resolved: paths absolute, the environment applied.

    `duckdb_path` None means no DuckDB; `retention` None means keep everything;
    `otlp_recordings` is "on", "off" or "auto" (only towards `getgather-otel collect`).
    """

    service_name: str | None
    service_name_from_env: str | None
    duckdb_path: Path | None
    otlp: bool | str | None
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None
    record_browsers: bool
    recording: RecordingOptions
    retention: RetentionPolicy | None
    retention_interval_s: float
    otlp_recordings: Literal["on", "off", "auto"]
    metric_interval_s: float
    batch: BatchSettings
    sdk_disabled: bool
    # The OTEL_* variables that decide OTLP export, as read by this call (`env.otlp_variables`).
    otlp_environment: tuple[tuple[str, str | None], ...] = ()


def duckdb_path_setting(duckdb_path: str | PathLike[str] | bool | None) -> Path | None:
    """`configure(duckdb_path=...)` as an absolute path, or None for no DuckDB (False)."""
    return None if duckdb_path is False else resolve_db_path(None if duckdb_path is True else duckdb_path)


def retention_setting(retention: RetentionPolicy | bool) -> RetentionPolicy | None:
    """`configure(retention=...)` with GETGATHER_OTEL_RETAIN_* applied; None for no retention.

    Raises ValueError for a malformed variable, naming it.
    """
    return (
        None
        if retention is False
        else RetentionPolicy.from_env(base=None if retention is True else retention, lenient=True)
    )


def sdk_disabled() -> bool:
    """OTEL_SDK_DISABLED=true (the SDK's own switch) turns getgather-otel off too."""
    return (env.SDK_DISABLED.read() or "").lower() == "true"
