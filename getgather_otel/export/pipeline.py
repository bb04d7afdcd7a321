"""`configure()`: one call that wires spans to DuckDB (and OTLP), safely and idempotently.

OpenTelemetry lets a process set its global TracerProvider once, and FastMCP creates its
spans from the global provider. So `configure()` joins the provider that is already
global (or the one passed in), or creates and installs one, and adds a single
`_PipelineRouter` span processor to it, once. The router forwards to the pipelines of the
current `Telemetry`; configuring again swaps pipelines behind the router instead of
stacking processors, and `Telemetry.shutdown()` detaches them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider, get_meter_provider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from getgather_otel import env
from getgather_otel._log import logger
from getgather_otel.capture import activity as activities_module
from getgather_otel.capture import failures
from getgather_otel.capture import metrics as metrics_module
from getgather_otel.export.duckdb_spans import DuckDBSpanExporter
from getgather_otel.export.duckdb_store import DuckDBStore
from getgather_otel.export.held import SpanHold
from getgather_otel.export.otlp import otlp_span_exporter, recordings_mode
from getgather_otel.export.otlp_guard import GuardedSpanExporter
from getgather_otel.export.otlp_metrics_recordings import OtlpMetricsAndRecordings
from getgather_otel.export.settings import (
    BatchSettings,
    Settings,
    duckdb_path_setting,
    retention_setting,
    sdk_disabled,
)
from getgather_otel.export.shutdown import (
    SHUTDOWN_BUDGET_S,
    Deadline,
    at_exit,
    install_sigterm_flush,
    report_undelivered,
    run_within,
)
from getgather_otel.export.span_secrets import without_secrets
from getgather_otel.recording import hooks
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.recorder import flush_open_streams
from getgather_otel.store.maintenance.retention import RetentionPolicy
from getgather_otel.store.maintenance.retention_job import DEFAULT_INTERVAL_S
from getgather_otel.store.write.buffered import WriteStats

__all__ = ["Telemetry", "TelemetryStats", "active_telemetry", "configure"]


class _PipelineRouter(SpanProcessor):
    """The one processor getgather-otel adds to a provider; forwards to live pipelines."""

    def __init__(self) -> None:
        self.pipelines: tuple[SpanProcessor, ...] = ()
        self.ended = 0  # spans passed on to pipelines (held ones once released)
        # Spans of traces whose root activity still runs wait for it: a secret it registers
        # late still reaches them (issue 15, `export/held.py`).
        self.held = SpanHold(self._pass_on)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self.pipelines:
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.pipelines and not self.held.take(span):
            self._pass_on([span])

    def _pass_on(self, spans: list[ReadableSpan]) -> None:
        pipelines = self.pipelines
        if not pipelines:
            return
        for span in spans:
            self.ended += 1
            span = without_secrets(span)  # the tool's own secrets, before any exporter (issue 15)
            for processor in pipelines:
                processor.on_end(span)

    def shutdown(self) -> None:
        self.held.close()
        for processor in self.pipelines:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self.pipelines)


_ROUTER_ATTRIBUTE = "_getgather_otel_router"


def _router_for(provider: TracerProvider) -> _PipelineRouter:
    router = getattr(provider, _ROUTER_ATTRIBUTE, None)
    if router is None:
        router = _PipelineRouter()
        provider.add_span_processor(router)
        setattr(provider, _ROUTER_ATTRIBUTE, router)
    return router


@dataclass(frozen=True)
class TelemetryStats:
    """What happened to the spans this Telemetry saw."""

    spans_ended: int
    duckdb: WriteStats | None
    # Bytes of rrweb recordings (raw JSON, before compression) written / pending / dropped.
    recordings: WriteStats | None
    # The same, for recordings sent over OTLP as log records (None when they are not sent).
    otlp_recordings: WriteStats | None = None

    @property
    def dropped_before_export(self) -> int:
        """Spans the batch queue dropped (only exact once flushed: in-queue spans count here)."""
        received = 0 if self.duckdb is None else self.duckdb.written + self.duckdb.pending + self.duckdb.dropped
        return max(self.spans_ended - received, 0) if self.duckdb is not None else 0


class Telemetry:
    """A configured pipeline set: flush it, shut it down, read its counters."""

    def __init__(
        self,
        provider: TracerProvider | None,
        router: _PipelineRouter | None,
        settings: Settings,
        duckdb: tuple[SpanProcessor, DuckDBSpanExporter] | None = None,
        otlp: tuple[SpanProcessor, GuardedSpanExporter] | None = None,
        otlp_signals: OtlpMetricsAndRecordings | None = None,
    ) -> None:
        self.tracer_provider = provider
        self.duckdb_exporter = duckdb[1] if duckdb else None
        # The owner of the DuckDB file: spans, recordings, retention (`duckdb_store.py`).
        self.store: DuckDBStore | None = duckdb[1].store if duckdb else None
        self.otlp_signals = otlp_signals
        self._router = router
        self._duckdb_pipeline = duckdb[0] if duckdb else None
        self._otlp_pipeline = otlp[0] if otlp else None
        self._pipelines = tuple(p for p in (self._duckdb_pipeline, self._otlp_pipeline) if p is not None)
        self._otlp_guards = ((otlp[1].guard,) if otlp else ()) + (otlp_signals.guards if otlp_signals else ())
        self.settings = settings
        self._ended_at_start = router.ended if router else 0
        self._shut_down = False
        self._lock = threading.Lock()

    @property
    def duckdb_path(self) -> Path | None:
        return self.store.path if self.store else None

    @property
    def enabled(self) -> bool:
        return self._router is not None and not self._shut_down

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Export everything ended so far and release the DuckDB file for readers.

        Args:
            timeout_s: seconds for everything together (spans, recordings, metrics; DuckDB and OTLP).

        Returns True when all pipelines finished in time; what did not stays queued.
        """
        deadline = Deadline(timeout_s)
        if self._router is not None:
            self._router.held.release_all()  # spans of running activities too: a flush stores everything
        # The SDK's BatchSpanProcessor.force_flush ignores its timeout and exports in the calling
        # thread (an OTLP export can block for the exporter's whole timeout): bound it.
        flushes = {f"flush-{n}": partial(p.force_flush, int(timeout_s * 1000)) for n, p in enumerate(self._pipelines)}
        done = not run_within(flushes, deadline)
        # Once for every recording sink (DuckDB, OTLP): what open page streams hold becomes chunks.
        flush_open_streams()
        if self.store is not None:
            # The batch processor hands spans to export() but does not flush the store, whose
            # writer threads may still be inserting them; the store also releases the file.
            done = self.store.flush(deadline.remaining()) and done
        if self.otlp_signals is not None:
            done = self.otlp_signals.flush(deadline.remaining()) and done
        return done

    def shutdown(self, timeout_s: float = SHUTDOWN_BUDGET_S) -> None:
        """Write everything to DuckDB, send what `timeout_s` (seconds) allows over OTLP, stop. Idempotent.

        Runs at exit and on SIGTERM too. DuckDB comes first and is waited for (only another
        process holding the file makes that slow); OTLP gets the time left and is then cut
        off whatever its endpoint does, with one line saying what did not reach it
        (`shutdown.py`). Spans ended afterwards go nowhere.
        """
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        deadline = Deadline(timeout_s)
        if self._router is not None:
            self._router.held.release_all()  # spans of activities still running go to these pipelines
            self._router.pipelines = tuple(p for p in self._router.pipelines if p not in self._pipelines)
        flush_open_streams()
        if self._duckdb_pipeline is not None:
            # Hands every queued span over, then shuts the exporter's store down: everything is written.
            self._duckdb_pipeline.shutdown()
        otlp_steps: dict[str, Callable[[], object]] = {}
        if self._otlp_pipeline is not None:
            otlp_steps["otlp-traces"] = self._otlp_pipeline.shutdown
        if self.otlp_signals is not None:
            otlp_steps["otlp-metrics-and-recordings"] = partial(self.otlp_signals.stop, deadline)
        run_within(otlp_steps, deadline)
        for guard in self._otlp_guards:
            guard.close()  # stops the SDK exporters' retries still running on abandoned threads
        if self._otlp_guards:
            spans_delivered = self._otlp_guards[0].delivered if self._otlp_pipeline is not None else 0
            report_undelivered(self._otlp_guards, deadline, self.stats().spans_ended - spans_delivered)
        global _active
        if _active is self:
            _active = None

    def stats(self) -> TelemetryStats:
        ended = (self._router.ended - self._ended_at_start) if self._router else 0
        return TelemetryStats(
            ended,
            self.store.stats.spans if self.store else None,
            self.store.stats.recordings if self.store else None,
            sink.stats if self.otlp_signals and (sink := self.otlp_signals.recordings) else None,
        )


_active: Telemetry | None = None
_configure_lock = threading.Lock()


def _join_or_create_provider(settings: Settings) -> TracerProvider:
    tracer_provider = settings.tracer_provider
    if tracer_provider is not None:
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            trace.set_tracer_provider(tracer_provider)
        return tracer_provider
    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        return existing
    # OTEL_SERVICE_NAME (an operator's choice) wins over the name in code; OTEL_RESOURCE_ATTRIBUTES
    # is read by Resource.create.
    named_in_code = settings.service_name and not settings.service_name_from_env
    attributes = {"service.name": settings.service_name} if named_in_code else {}
    provider = TracerProvider(resource=Resource.create(attributes))
    trace.set_tracer_provider(provider)
    return provider


def configure(
    *,
    service_name: str | None = None,
    duckdb_path: str | PathLike[str] | bool | None = None,
    otlp: bool | str | None = None,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    record_browsers: bool = True,
    recording: RecordingOptions | None = None,
    retention: RetentionPolicy | bool = True,
    retention_interval_s: float = DEFAULT_INTERVAL_S,
    otlp_recordings: bool | None = None,
    metric_interval_s: float = 60.0,
    max_queue_size: int = 8192,
    max_export_batch_size: int = 2048,
    schedule_delay_millis: int = 500,
) -> Telemetry:
    """Send spans to DuckDB (default `./getgather-otel.duckdb`) and optionally OTLP; returns the `Telemetry`.

    Calling again with the same settings returns the same Telemetry; with different ones,
    the previous pipelines are flushed and replaced, never duplicated. Every call states
    the whole configuration: an argument left out means its default, not an earlier call's.

    Args:
        service_name: `service.name` of the TracerProvider getgather-otel creates, unless
            OTEL_SERVICE_NAME is set; a provider that already exists keeps its resource.
        duckdb_path: the DuckDB file; None for $GETGATHER_OTEL_DUCKDB or the default, False
            for no DuckDB.
        otlp: True (endpoint from the standard OTEL_EXPORTER_OTLP_* variables), an endpoint
            URL (base for all signals), False, or None (on when those variables name an endpoint).
        tracer_provider: the provider to add our span processor to (default: the global one,
            or a new one made global).
        meter_provider: where the duration histograms go (default: the global one; with OTLP
            on and none set, one getgather-otel makes, unless OTEL_METRICS_EXPORTER=none).
        record_browsers: record every Patchright/Playwright context with rrweb.
        recording: the privacy and limits of recordings (`RecordingOptions`).
        retention: prune the DuckDB file in the background (True: `RetentionPolicy()` with the
            GETGATHER_OTEL_RETAIN_* variables applied; a policy, the variables applied over it;
            False: keep everything).
        retention_interval_s: seconds between prunes.
        otlp_recordings: send recordings as OTLP log records (None: $GETGATHER_OTEL_OTLP_RECORDINGS,
            default auto = only to a `getgather-otel collect` receiver).
        metric_interval_s: seconds between OTLP exports of the duration histograms.
        max_queue_size, max_export_batch_size, schedule_delay_millis: each span pipeline's
            `BatchSpanProcessor` (the SDK's knobs).

    Raises:
        ValueError: a malformed GETGATHER_OTEL_* variable (the message names it) or OTLP protocol.

    OTEL_SDK_DISABLED=true turns everything off (a disabled Telemetry is returned). The
    variables are listed in `getgather_otel/env.py`.
    """
    settings = Settings(
        service_name=service_name,
        service_name_from_env=env.SERVICE_NAME.read(),
        duckdb_path=duckdb_path_setting(duckdb_path),
        otlp=otlp,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        record_browsers=record_browsers,
        # No options means the defaults, not whatever an earlier call set.
        recording=recording if recording is not None else RecordingOptions(),
        retention=retention_setting(retention),
        retention_interval_s=retention_interval_s,
        otlp_recordings=recordings_mode(otlp_recordings),
        metric_interval_s=metric_interval_s,
        batch=BatchSettings(max_queue_size, max_export_batch_size, schedule_delay_millis),
        sdk_disabled=sdk_disabled(),
        otlp_environment=env.otlp_variables(),
    )
    with _configure_lock:
        global _active
        if _active is not None and _active.enabled and _active.settings == settings:
            return _active
        if _active is not None:
            _active.shutdown()
        _active = Telemetry(None, None, settings) if settings.sdk_disabled else _start(settings)
        return _active


def _start(settings: Settings) -> Telemetry:
    """Build and attach the pipelines `settings` ask for."""
    provider = _join_or_create_provider(settings)
    router = _router_for(provider)
    activities_module.use_tracer_provider(provider)
    otlp_signals = OtlpMetricsAndRecordings.start(
        settings.otlp,
        provider.resource,
        want_meter_provider=settings.meter_provider is None and not isinstance(get_meter_provider(), SdkMeterProvider),
        recordings=settings.otlp_recordings,
        metric_interval_s=settings.metric_interval_s,
    )
    metrics_module.use_meter_provider(settings.meter_provider or otlp_signals.meter_provider)

    def batch(exporter: Any) -> BatchSpanProcessor:
        b = settings.batch
        return BatchSpanProcessor(
            exporter,
            max_queue_size=b.max_queue_size,
            max_export_batch_size=b.max_export_batch_size,
            schedule_delay_millis=b.schedule_delay_millis,
        )

    duckdb = None
    if settings.duckdb_path is not None:
        store = DuckDBStore(
            settings.duckdb_path,
            retention=settings.retention or False,
            retention_interval_s=settings.retention_interval_s,
        )
        store.record_browsers()
        duckdb_exporter = DuckDBSpanExporter(store=store)
        duckdb = (batch(duckdb_exporter), duckdb_exporter)
    otlp_exporter = otlp_span_exporter(settings.otlp)
    otlp_pipeline = None if otlp_exporter is None else (batch(otlp_exporter), otlp_exporter)
    hooks.use_default_options(settings.recording)
    failures.install()
    if settings.record_browsers:
        hooks.install_auto_recording()
    telemetry = Telemetry(provider, router, settings, duckdb, otlp_pipeline, otlp_signals)
    router.pipelines = router.pipelines + telemetry._pipelines
    at_exit(telemetry.shutdown)
    install_sigterm_flush()
    logger.debug("getgather-otel configured: duckdb=%s otlp=%s", settings.duckdb_path, otlp_exporter)
    return telemetry


def active_telemetry() -> Telemetry | None:
    """The Telemetry from the last `configure()` call, if it is still running."""
    return _active
