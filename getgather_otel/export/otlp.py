"""OTLP export of spans, metrics and recordings, configured the standard way.

`otlp=None` follows the OpenTelemetry environment variables: export is on when
OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set, with the
protocol from OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL
(http/protobuf by default, grpc supported). Everything else (headers, timeouts,
compression, certificates) is read by the exporters themselves from the same variables.
An endpoint given as `otlp="http://host:4318"` is the base URL for all signals.

Recordings go over OTLP (as log records) only to a receiver that wants them: by default
(`GETGATHER_OTEL_OTLP_RECORDINGS=auto`) only after `receiver_is_ours()` found a
`getgather-otel collect` at the endpoint; `true` always, `false` never.
"""

from __future__ import annotations

import importlib
import json
import urllib.error
import urllib.request
from typing import Any, Literal

from getgather_otel import env
from getgather_otel._log import logger
from getgather_otel.export.otlp_guard import GuardedSpanExporter, Signal, guarded

__all__ = [
    "RECEIVER_INFO_PATH",
    "RECEIVER_NAME",
    "http_endpoint",
    "otlp_enabled",
    "otlp_log_exporter",
    "otlp_metric_exporter",
    "otlp_protocol",
    "otlp_span_exporter",
    "receiver_info_url",
    "receiver_is_ours",
    "recordings_mode",
]

# What `getgather-otel collect` answers at GET /getgather-otel, so senders can tell it apart.
RECEIVER_INFO_PATH = "/getgather-otel"
RECEIVER_NAME = "getgather-otel collect"


# What OTEL_EXPORTER_OTLP_PROTOCOL may say (the SDK environment-variable specification).
PROTOCOLS = ("grpc", "http/protobuf", "http/json")
_warned_values: set[tuple[str, str]] = set()


def warn_ignored(name: str, value: str, instead: str) -> None:
    """A variable's value that cannot be used is ignored with one warning (the OpenTelemetry
    environment-variable specification: implementations SHOULD warn and ignore it rather than
    fail): a typo must not keep the server from starting."""
    if (name, value) not in _warned_values:
        _warned_values.add((name, value))
        logger.warning("%s=%r is not a value getgather-otel understands; using %s (said once)", name, value, instead)


def otlp_protocol(signal: Signal = "traces") -> str:
    """The signal's OTLP protocol, one of PROTOCOLS; any other value is ignored with a warning."""
    default = env.OTLP_PROTOCOL.default or "http/protobuf"
    for variable in (env.otlp_signal_protocol(signal), env.OTLP_PROTOCOL):
        value = variable.set_value()
        if value is None:
            continue
        if value in PROTOCOLS:
            return value
        warn_ignored(variable.name, value, default)
        return default
    return default


def otlp_enabled(otlp: bool | str | None, signal: Signal = "traces") -> bool:
    if otlp is False:
        return False
    if otlp is None:
        return env.first(env.otlp_signal_endpoint(signal), env.OTLP_ENDPOINT) is not None
    return True


def http_endpoint(otlp: bool | str | None, signal: Signal) -> str | None:
    """The URL to post `signal` to when `configure(otlp=URL)` named one (None: the exporter reads the env)."""
    if isinstance(otlp, str):
        base = otlp.rstrip("/")
        for known in ("traces", "metrics", "logs"):
            base = base.removesuffix(f"/v1/{known}")
        return f"{base}/v1/{signal}"
    return None


# (transport, signal) -> (module, class) of the OTLP exporter, imported only when used.
_EXPORTERS: dict[tuple[str, Signal], tuple[str, str]] = {
    ("grpc", "traces"): ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "OTLPSpanExporter"),
    ("grpc", "metrics"): ("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", "OTLPMetricExporter"),
    ("grpc", "logs"): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "OTLPLogExporter"),
    ("http", "traces"): ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "OTLPSpanExporter"),
    ("http", "metrics"): ("opentelemetry.exporter.otlp.proto.http.metric_exporter", "OTLPMetricExporter"),
    ("http", "logs"): ("opentelemetry.exporter.otlp.proto.http._log_exporter", "OTLPLogExporter"),
}


def _exporter(signal: Signal, otlp: bool | str | None) -> Any:
    """The SDK's exporter for `signal`, behind an `otlp_guard` (partial backends, quiet outages)."""
    protocol = otlp_protocol(signal)
    if protocol == "grpc":
        module, name = _EXPORTERS[("grpc", signal)]
        sdk = getattr(importlib.import_module(module), name)(endpoint=otlp if isinstance(otlp, str) else None)
    elif protocol in ("http/protobuf", "http/json"):
        module, name = _EXPORTERS[("http", signal)]
        sdk = getattr(importlib.import_module(module), name)(endpoint=http_endpoint(otlp, signal))
    else:  # otlp_protocol gives nothing else
        raise AssertionError(protocol)
    return guarded(signal, sdk)


def _wanted(otlp: bool | str | None, signal: Signal) -> bool:
    """OTLP is on for `signal`, and OTEL_<SIGNAL>_EXPORTER does not say none (the silencing
    variable the partial-backend warning names)."""
    chosen = env.signal_exporter(signal).read() or ""
    return chosen.lower() != "none" and otlp_enabled(otlp, signal)


def otlp_span_exporter(otlp: bool | str | None) -> GuardedSpanExporter | None:
    """An OTLP span exporter for `configure(otlp=...)`, or None when OTLP is off or OTEL_TRACES_EXPORTER says none."""
    return _exporter("traces", otlp) if _wanted(otlp, "traces") else None


def otlp_metric_exporter(otlp: bool | str | None) -> Any:
    """An OTLP metric exporter, or None when OTLP is off or OTEL_METRICS_EXPORTER says none."""
    return _exporter("metrics", otlp) if _wanted(otlp, "metrics") else None


def otlp_log_exporter(otlp: bool | str | None) -> Any:
    """An OTLP log exporter for recordings, or None when OTLP is off or OTEL_LOGS_EXPORTER says none."""
    return _exporter("logs", otlp) if _wanted(otlp, "logs") else None


def recordings_mode(explicit: bool | None) -> Literal["on", "off", "auto"]:
    """`configure(otlp_recordings=...)`, else GETGATHER_OTEL_OTLP_RECORDINGS (auto, true, false)."""
    if explicit is not None:
        return "on" if explicit else "off"
    value = (env.OTLP_RECORDINGS.read() or "auto").lower()
    if value in ("auto", ""):
        return "auto"
    if value in ("true", "1", "yes", "on"):
        return "on"
    if value in ("false", "0", "no", "off"):
        return "off"
    warn_ignored(env.OTLP_RECORDINGS.name, value, "auto")
    return "auto"


def receiver_info_url(otlp: bool | str | None) -> str | None:
    """Where to ask whether the OTLP/HTTP logs receiver is `getgather-otel collect` (None for gRPC)."""
    if otlp_protocol("logs") == "grpc":
        return None
    logs_url = http_endpoint(otlp, "logs") or env.otlp_signal_endpoint("logs").read()
    base = logs_url.rstrip("/").removesuffix("/v1/logs") if logs_url else env.OTLP_ENDPOINT.read()
    return None if base is None else base.rstrip("/") + RECEIVER_INFO_PATH


def receiver_is_ours(info_url: str, timeout_s: float = 3.0) -> bool:
    """True when `info_url` answers as `getgather-otel collect` does; any failure means no."""
    try:
        with urllib.request.urlopen(info_url, timeout=timeout_s) as response:
            info = json.loads(response.read(4096))
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return isinstance(info, dict) and info.get("receiver") == RECEIVER_NAME
