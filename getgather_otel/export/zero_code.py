"""Zero-code instrumentation: `opentelemetry-instrument python server.py` on an unmodified server.

Two entry points (pyproject.toml), loaded by `opentelemetry-instrument`:

- `opentelemetry_instrumentor` `getgather_otel` -> `GetgatherOtelInstrumentor`: every
  FastMCP server created afterwards gets the activity middleware (as `instrument_mcp`
  does), and every Patchright/Playwright context is recorded. Deliberately not named
  `mcp`: two other instrumentation packages use that name, and entry point names must not
  collide.
- `opentelemetry_traces_exporter` `duckdb` -> `DuckDBTracesExporter`, chosen with
  `OTEL_TRACES_EXPORTER=duckdb` (or `duckdb,otlp`): the file from $GETGATHER_OTEL_DUCKDB
  (default ./getgather-otel.duckdb), recordings and retention beside it as with
  `configure()`. The SDK's configurator builds exporters without arguments, so everything
  comes from the environment.

The SDK configuration itself (`opentelemetry-distro`) reads OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES and OTEL_SDK_DISABLED; nothing here writes to stdout, which is the
MCP stdio transport.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Collection
from functools import partial
from typing import Any, ClassVar

from fastmcp import FastMCP
from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from getgather_otel._log import logger
from getgather_otel.capture.middleware import instrument_mcp, uninstrument_mcp
from getgather_otel.export.duckdb_spans import DuckDBSpanExporter
from getgather_otel.export.duckdb_store import DuckDBStore
from getgather_otel.export.shutdown import SHUTDOWN_BUDGET_S, Deadline, at_exit, install_sigterm_flush, run_within
from getgather_otel.recording import hooks

__all__ = ["DuckDBTracesExporter", "GetgatherOtelInstrumentor", "install_exit_budget", "shut_down_sdk_within_budget"]


class DuckDBTracesExporter(DuckDBSpanExporter):
    """The `duckdb` traces exporter of OTEL_TRACES_EXPORTER, configured from the environment."""

    def __init__(self, **_sdk_arguments: Any) -> None:
        store = DuckDBStore(retention=True)
        store.record_browsers()
        super().__init__(store=store, hold_spans=True)
        _duckdb_exporters.add(self)
        install_exit_budget()


_duckdb_exporters: weakref.WeakSet[DuckDBTracesExporter] = weakref.WeakSet()


def install_exit_budget() -> None:
    """Run `shut_down_sdk_within_budget` at exit, before the SDK providers' own exit hooks.

    atexit runs hooks last-registered first, and the SDK registers one per provider as it
    creates them: the tracer provider before our exporter exists, the meter and logger
    providers after it. So this is (re)registered by the exporter and again by the
    instrumentor, which `opentelemetry-instrument` loads after creating every provider.
    SIGTERM runs it too (`install_sigterm_flush`), as with `configure()`: Python's default
    SIGTERM ends the process without atexit, and uvicorn hands the signal back to the
    handler it found after its graceful stop.
    """
    at_exit(shut_down_sdk_within_budget)
    install_sigterm_flush()


def shut_down_sdk_within_budget() -> None:
    """The zero-code side of the shutdown budget (`shutdown.py`): DuckDB first, then OTLP.

    Here the SDK's configurator built the providers and the OTLP exporters, so there are no
    guards to count with: the DuckDB exporters' span processors are found among the tracer
    provider's (a private list of the SDK's; without it every processor is shut down together),
    shut down first, then every provider gets what is left of the budget on daemon threads.
    The SDK's own exit hooks then find everything shut down and return at once.
    """
    deadline = Deadline(SHUTDOWN_BUDGET_S)
    provider = trace.get_tracer_provider()
    processors = list(getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ()))
    ours = [p for p in processors if getattr(p, "span_exporter", None) in _duckdb_exporters]
    for processor in ours:
        processor.shutdown()
    steps: dict[str, Callable[[], object]] = {}
    if isinstance(provider, TracerProvider):
        steps["traces"] = provider.shutdown
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        steps["metrics"] = partial(_shut_down_meter_provider, meter_provider, deadline)
    logger_provider = get_logger_provider()
    if isinstance(logger_provider, LoggerProvider):
        steps["logs"] = logger_provider.shutdown
    unfinished = run_within(steps, deadline)
    if "traces" in unfinished:
        exporters = [p.span_exporter for p in processors if p not in ours and hasattr(p, "span_exporter")]
        # Stops an OTLP exporter's retries on the abandoned thread. Its shutdown can itself wait
        # for the export in flight (gRPC takes its export lock), so it is not waited for either.
        run_within({"stop-exporters": lambda: [exporter.shutdown() for exporter in exporters]}, Deadline(0.05))
    if unfinished:
        logger.warning(
            "shut down in %.1f s; the OTLP export of %s did not finish: what was queued or in flight did not reach it",
            deadline.elapsed(),
            " and ".join(unfinished),
        )


def _shut_down_meter_provider(provider: MeterProvider, deadline: Deadline) -> None:
    try:
        provider.shutdown(timeout_millis=deadline.remaining() * 1000)
    except Exception as error:  # raised when its readers ran out of time
        logger.debug("metrics shut down without a last export: %s", error)


class GetgatherOtelInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Activities for every FastMCP server, recordings for every browser context.

    `instrument(brand_resolver=..., capture_arguments=..., brand_from_prefix=...,
    redact_keys=..., failure_classifier=..., record_browsers=True)` takes `instrument_mcp`'s options.
    `uninstrument()` restores FastMCP, takes the middleware off the servers it was added
    to, and stops recording new contexts.
    """

    # BaseInstrumentor is a singleton (`__new__` returns the one instance), so this state
    # lives on the class rather than being reset by every `GetgatherOtelInstrumentor()`.
    _servers: ClassVar[weakref.WeakSet[FastMCP]] = weakref.WeakSet()
    _original_init: Callable[..., None] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("fastmcp >= 4.2",)

    def _instrument(self, **kwargs: Any) -> None:
        options = {
            key: kwargs[key]
            for key in ("brand_resolver", "capture_arguments", "brand_from_prefix", "redact_keys", "failure_classifier")
            if key in kwargs
        }
        original: Callable[..., None] = FastMCP.__init__
        servers = self._servers

        @functools.wraps(original)
        def init(server: FastMCP, *args: Any, **init_kwargs: Any) -> None:
            original(server, *args, **init_kwargs)
            instrument_mcp(server, **options)
            servers.add(server)

        self._original_init = original
        FastMCP.__init__ = init  # type: ignore[method-assign,assignment]
        if _duckdb_exporters:
            install_exit_budget()
        if kwargs.get("record_browsers", True):
            hooks.install_auto_recording()

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._original_init is not None:
            FastMCP.__init__ = self._original_init  # type: ignore[method-assign]
            self._original_init = None
        for server in list(self._servers):
            uninstrument_mcp(server)
        self._servers.clear()
        hooks.uninstall_auto_recording()
