"""Every environment variable getgather-otel reads: name, default, meaning. Nothing else reads `os.environ`.

getgather-otel's own variables are `GETGATHER_OTEL_*`. The standard OpenTelemetry ones
(`OTEL_*`, from the SDK's environment-variable specification) are read here only where
getgather-otel makes a decision from them; the SDK's exporters read the rest (headers,
timeouts, certificates, compression) themselves. `configure()` reads each variable once
per call, into its frozen `Settings` (`export/settings.py`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CHROMIUM",
    "COLLECT_TOKEN",
    "DUCKDB_PATH",
    "OTLP_ENDPOINT",
    "OTLP_PROTOCOL",
    "OTLP_RECORDINGS",
    "RETAIN_ERROR_RECORDINGS_DAYS",
    "RETAIN_PREFIX",
    "RETAIN_RECORDINGS_DAYS",
    "RETAIN_RECORDINGS_MAX_BYTES",
    "RETAIN_SPANS_DAYS",
    "SDK_DISABLED",
    "SERVICE_NAME",
    "UI_TOKEN",
    "EnvVar",
    "Signal",
    "first",
    "otlp_signal_endpoint",
    "otlp_signal_protocol",
    "otlp_variables",
    "signal_exporter",
]

Signal = Literal["traces", "metrics", "logs"]


@dataclass(frozen=True)
class EnvVar:
    """One variable. `read()` gives its value stripped, or `default` when it is unset or blank."""

    name: str
    default: str | None
    meaning: str

    def read(self, environ: Mapping[str, str] | None = None) -> str | None:
        return self.set_value(environ) or self.default

    def set_value(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The value stripped, or None when the variable is unset or blank (no default)."""
        return (os.environ if environ is None else environ).get(self.name, "").strip() or None

    def is_blank(self, environ: Mapping[str, str] | None = None) -> bool:
        """Set, but to nothing but whitespace: `TOKEN=$UNSET_VARIABLE` in a shell or a compose file."""
        value = (os.environ if environ is None else environ).get(self.name)
        return value is not None and not value.strip()


DUCKDB_PATH: Final = EnvVar(
    "GETGATHER_OTEL_DUCKDB", None, "the DuckDB file when no path is given (default ./getgather-otel.duckdb)"
)
OTLP_RECORDINGS: Final = EnvVar(
    "GETGATHER_OTEL_OTLP_RECORDINGS",
    "auto",
    "send recordings over OTLP as log records: auto (only to `getgather-otel collect`), true, false",
)
RETAIN_PREFIX: Final = "GETGATHER_OTEL_RETAIN_"
RETAIN_SPANS_DAYS: Final = EnvVar(RETAIN_PREFIX + "SPANS_DAYS", None, "days spans are kept (default 90; none)")
RETAIN_RECORDINGS_DAYS: Final = EnvVar(
    RETAIN_PREFIX + "RECORDINGS_DAYS", None, "days recordings of successful activities are kept (default 14; none)"
)
RETAIN_ERROR_RECORDINGS_DAYS: Final = EnvVar(
    RETAIN_PREFIX + "ERROR_RECORDINGS_DAYS", None, "days recordings of failed activities are kept (default 60; none)"
)
RETAIN_RECORDINGS_MAX_BYTES: Final = EnvVar(
    RETAIN_PREFIX + "RECORDINGS_MAX_BYTES", None, "bytes of recordings kept, oldest pruned first (default 5GB; none)"
)
COLLECT_TOKEN: Final = EnvVar(
    "GETGATHER_OTEL_COLLECT_TOKEN", None, "bearer token `collect` requires (OTLP and its viewer) unless --token"
)
UI_TOKEN: Final = EnvVar("GETGATHER_OTEL_UI_TOKEN", None, "bearer token `ui` requires unless --token")
CHROMIUM: Final = EnvVar(
    "GETGATHER_OTEL_CHROMIUM", None, "the Chromium the demo and tests launch (default: a system one, else Patchright's)"
)

SDK_DISABLED: Final = EnvVar("OTEL_SDK_DISABLED", "false", "true turns getgather-otel off entirely (OTel SDK spec)")
SERVICE_NAME: Final = EnvVar(
    "OTEL_SERVICE_NAME", None, "service.name of a provider getgather-otel creates; wins over configure(service_name=)"
)
OTLP_ENDPOINT: Final = EnvVar("OTEL_EXPORTER_OTLP_ENDPOINT", None, "OTLP base endpoint: turns OTLP on (otlp=None)")
OTLP_PROTOCOL: Final = EnvVar("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "OTLP protocol: http/protobuf or grpc")


def otlp_signal_endpoint(signal: Signal) -> EnvVar:
    """OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT: the signal's own endpoint, over the base one."""
    return EnvVar(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", None, f"OTLP endpoint for {signal}")


def otlp_signal_protocol(signal: Signal) -> EnvVar:
    """OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL: the signal's own protocol, over the base one."""
    return EnvVar(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", None, f"OTLP protocol for {signal}")


def signal_exporter(signal: Signal) -> EnvVar:
    """OTEL_<SIGNAL>_EXPORTER: `none` turns that signal's OTLP export off (the partial-backend warning says so)."""
    return EnvVar(f"OTEL_{signal.upper()}_EXPORTER", "otlp", f"exporter for {signal}; none turns it off")


def otlp_variables() -> tuple[tuple[str, str | None], ...]:
    """(name, value) of every variable that decides whether and where OTLP goes: compared by
    `configure()`, so setting one between two calls rebuilds the pipelines."""
    signals: tuple[Signal, ...] = ("traces", "metrics", "logs")
    variables = [OTLP_ENDPOINT, OTLP_PROTOCOL, OTLP_RECORDINGS]
    for signal in signals:
        variables += [otlp_signal_endpoint(signal), otlp_signal_protocol(signal), signal_exporter(signal)]
    return tuple((variable.name, variable.set_value()) for variable in variables)


def first(*variables: EnvVar) -> str | None:
    """The value of the first variable that is set (before any default), else the last one's default."""
    found = next((value for variable in variables if (value := variable.set_value()) is not None), None)
    return found if found is not None else (variables[-1].default if variables else None)
