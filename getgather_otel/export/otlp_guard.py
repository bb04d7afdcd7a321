"""OTLP exporters that tolerate partial backends and quiet outages: a decorator around the SDK's.

The SDK's OTLP exporters retry transient failures (429, 502-504, UNAVAILABLE, connection
errors, timeouts) with backoff up to their timeout, then give up on the batch and log an
ERROR; a permanent answer (a traces-only receiver's 405 to `/v1/metrics`, gRPC UNIMPLEMENTED)
is logged as an ERROR too, every export interval, forever. These wrappers keep the SDK's
sending and retrying as they are and change what happens around them:

- the SDK's own log records during a guarded export are held back (a logging filter that
  only acts on the exporting thread, so an application's other OTLP exporters still log);
- 404, 405, 415 or 501 (gRPC UNIMPLEMENTED) switch the signal off after one warning naming
  the signal, the endpoint and the variable that silences it; nothing is sent afterwards;
- any other failure starts an outage: one warning when it begins, one when it ends (with
  how much did not arrive meanwhile), nothing per batch;
- each guard counts what was delivered and what was not, for the exit report (`shutdown.py`).

The status is read from the SDK's held-back records (the HTTP status code, or the gRPC
`StatusCode`, found among the record's arguments by type). If a later SDK words its records
differently, failures fall back to "transient": still retried, still logged once an outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from getgather_otel._log import logger

__all__ = [
    "PERMANENT_GRPC_CODES",
    "PERMANENT_HTTP_STATUSES",
    "SDK_LOGGERS",
    "SILENCE",
    "UNITS",
    "ExportGuard",
    "GuardedLogExporter",
    "GuardedMetricExporter",
    "GuardedSpanExporter",
    "Signal",
    "guarded",
]

Signal = Literal["traces", "metrics", "logs"]

# Answers that mean "this receiver does not take this signal": retrying cannot help.
PERMANENT_HTTP_STATUSES = frozenset({404, 405, 415, 501})
PERMANENT_GRPC_CODES = frozenset({"UNIMPLEMENTED"})
SILENCE = {
    "traces": "OTEL_TRACES_EXPORTER=none",
    "metrics": "OTEL_METRICS_EXPORTER=none",
    "logs": "OTEL_LOGS_EXPORTER=none",
}
UNITS = {"traces": "spans", "metrics": "metric points", "logs": "recording chunks (log records)"}
# Where the SDK's OTLP exporters log (HTTP: one logger per signal module; gRPC: one shared).
SDK_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)


class _HeldBack(logging.Filter):
    """Keeps the SDK exporters' records of the current thread while it runs a guarded export."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    @contextmanager
    def capture(self) -> Iterator[list[logging.LogRecord]]:
        records: list[logging.LogRecord] = []
        self._local.records = records
        try:
            yield records
        finally:
            self._local.records = None

    def filter(self, record: logging.LogRecord) -> bool:
        records = getattr(self._local, "records", None)
        if records is None:
            return True
        records.append(record)
        return False


_held_back = _HeldBack()
for _name in SDK_LOGGERS:
    logging.getLogger(_name).addFilter(_held_back)


def _answer(records: list[logging.LogRecord]) -> tuple[bool, str]:
    """(permanent?, what the receiver answered) from the SDK's records of one failed export.

    A final answer names its status code; retries that ran out do not, and then the first
    record (the first attempt's error, e.g. "Transient error Service Unavailable ...") says most.
    """
    for record in reversed(records):
        for arg in record.args if isinstance(record.args, tuple) else ():
            code_name = getattr(arg, "name", None)
            if type(arg).__name__ == "StatusCode" and isinstance(code_name, str):
                return code_name in PERMANENT_GRPC_CODES, code_name
            if type(arg) is int and 100 <= arg <= 599:
                return arg in PERMANENT_HTTP_STATUSES, f"HTTP {arg}"
    return False, records[0].getMessage() if records else "no answer"


class ExportGuard:
    """One signal's state towards one endpoint: on, in an outage, or switched off; and counts."""

    def __init__(self, signal: Signal, endpoint: str, shutdown_sdk_exporter: Callable[[], object]) -> None:
        self.signal = signal
        self.endpoint = endpoint
        self._shutdown_sdk_exporter = shutdown_sdk_exporter
        self.delivered = 0
        self.undelivered = 0
        self.in_flight = 0  # inside the SDK exporter now: undelivered if the process ends meanwhile
        self.reported = 0  # undelivered items a warning already counted (an outage's end)
        self.switched_off = False
        self._outage_lost: int | None = None  # None: no outage
        self._closed = False
        self._lock = threading.Lock()

    def run(self, export: Callable[[], bool], items: int) -> bool:
        """Call the SDK exporter (`export` returns success) unless this signal is off or closed."""
        if self.switched_off or self._closed:
            self._count(undelivered=items)
            return False
        self._count(in_flight=items)
        try:
            with _held_back.capture() as records:
                delivered = export()
        finally:
            self._count(in_flight=-items)
        if delivered:
            self._count(delivered=items)
            self._end_outage()
            return True
        self._count(undelivered=items)
        if not self._closed:  # failures caused by our own shutdown are the exit report's business
            self._failed(*_answer(records), items)
        return False

    def close(self) -> None:
        """Refuse further exports and shut the SDK exporter down, once; idempotent.

        Also called when the shutdown budget runs out while an export is still retrying: the
        SDK's exporters then stop waiting between attempts (and gRPC cancels its call).
        """
        with self._lock:
            first, self._closed = not self._closed, True
        if first:
            self._shutdown_sdk_exporter()

    def _count(self, *, delivered: int = 0, undelivered: int = 0, in_flight: int = 0) -> None:
        with self._lock:
            self.delivered += delivered
            self.undelivered += undelivered
            self.in_flight += in_flight
            if undelivered and self._outage_lost is not None:
                self._outage_lost += undelivered

    def _failed(self, permanent: bool, answer: str, items: int) -> None:
        if permanent:
            with self._lock:
                if self.switched_off:
                    return
                self.switched_off = True
            logger.warning(
                "OTLP %s switched off: %s answered %s, so it does not take %s; set %s to stop sending them",
                self.signal,
                self.endpoint,
                answer,
                self.signal,
                SILENCE[self.signal],
            )
            return
        with self._lock:
            if self._outage_lost is not None:
                return
            self._outage_lost = items
        logger.warning(
            "OTLP %s export to %s is failing (%s); retrying with backoff, quietly until it works again",
            self.signal,
            self.endpoint,
            answer,
        )

    def _end_outage(self) -> None:
        with self._lock:
            lost, self._outage_lost = self._outage_lost, None
            self.reported += lost or 0
        if lost is not None:
            logger.warning(
                "OTLP %s export to %s works again; %d %s did not get there meanwhile",
                self.signal,
                self.endpoint,
                lost,
                UNITS[self.signal],
            )


class GuardedSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, guard: ExportGuard) -> None:
        self.inner = inner
        self.guard = guard

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self.guard.run(lambda: self.inner.export(spans) == SpanExportResult.SUCCESS, len(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.guard.close()


def _points(metrics_data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource in metrics_data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


class GuardedMetricExporter(MetricExporter):
    def __init__(self, inner: MetricExporter, guard: ExportGuard) -> None:
        # The reader asks its exporter for these; they are the SDK exporter's own.
        super().__init__(inner._preferred_temporality, inner._preferred_aggregation)
        self.inner = inner
        self.guard = guard

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        ok = self.guard.run(
            lambda: self.inner.export(metrics_data, timeout_millis=timeout_millis) == MetricExportResult.SUCCESS,
            _points(metrics_data),
        )
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.guard.close()


class GuardedLogExporter(LogRecordExporter):
    def __init__(self, inner: LogRecordExporter, guard: ExportGuard) -> None:
        self.inner = inner
        self.guard = guard

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        ok = self.guard.run(lambda: self.inner.export(batch) == LogRecordExportResult.SUCCESS, len(batch))
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.guard.close()


def guarded(signal: Signal, exporter: Any) -> Any:
    """`exporter` (an SDK OTLP exporter for `signal`) behind a fresh `ExportGuard` (`.guard`)."""
    # The SDK exporters keep their resolved endpoint privately; it only names the receiver in messages.
    guard = ExportGuard(signal, str(getattr(exporter, "_endpoint", "the OTLP endpoint")), exporter.shutdown)
    if signal == "traces":
        return GuardedSpanExporter(exporter, guard)
    if signal == "metrics":
        return GuardedMetricExporter(exporter, guard)
    return GuardedLogExporter(exporter, guard)
