"""What to keep: the retention policy, and planning and applying a prune of a DuckDB file or ClickHouse.

Recordings are the bulk of the file (a full snapshot of a real site is hundreds of KB to
a few MB), so they have their own, shorter, age limit and a cap on total bytes; spans are
small and kept longer. Recordings of failed activities can be kept longer than the rest,
because those are the ones people replay. When a recording goes, its activity stays, with
`has_recording` false and `recording_pruned` saying why.

A prune is planned first (`plan_prune`, what `getgather-otel prune --dry-run` prints),
then applied in one transaction (`apply_prune`). Deletions only ever select rows older
than a cutoff or named by the plan, so spans and chunks written while a prune runs are
never touched.

On ClickHouse (`prune --clickhouse`) the same policy picks the same recordings from the
exporter's otel_logs through the same query (`plan_clickhouse_prune`), and
`apply_clickhouse_prune` deletes their rows; spans there go by the table TTL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from getgather_otel import env as env_vars
from getgather_otel._log import logger
from getgather_otel.store.engine import DuckDBEngine, Engine
from getgather_otel.store.queries import retention as retention_sql
from getgather_otel.store.tables import RECORDING_PRUNES

__all__ = [
    "MAX_DAYS",
    "REASON_AGE",
    "REASON_ERROR_AGE",
    "REASON_SIZE_CAP",
    "REASON_SPAN_PRUNED",
    "DoomedRecording",
    "PrunePlan",
    "RetentionPolicy",
    "apply_clickhouse_prune",
    "apply_prune",
    "parse_limit",
    "parse_size",
    "plan_clickhouse_prune",
    "plan_prune",
]

T = TypeVar("T")
# The longest age limit (days) a policy takes: about a century.
MAX_DAYS = 36_525.0
REASON_AGE = "age"
REASON_ERROR_AGE = "age (error activity)"
REASON_SIZE_CAP = "size cap"
REASON_SPAN_PRUNED = "activity pruned"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from '500MB', '2GiB', '1.5g' or a plain number (decimal units; 'i' for binary)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 500MB, 2GiB, 1000000)")
    number, prefix, binary = float(match.group(1)), match.group(2).lower(), match.group(3)
    power = "kmgt".index(prefix) + 1 if prefix else 0
    return int(number * (1024 if binary else 1000) ** power)


def parse_limit(text: str, parse: Callable[[str], T]) -> T | None:
    """`parse(text)`, or None (no limit) for 'none', 'off' or 'unlimited'."""
    return None if text.strip().lower() in ("none", "off", "unlimited") else parse(text)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long to keep what; None means no limit."""

    span_days: float | None = 90.0
    recording_days: float | None = 14.0
    error_recording_days: float | None = 60.0
    max_recording_bytes: int | None = 5 * 1000**3

    def __post_init__(self) -> None:
        for name in ("span_days", "recording_days", "error_recording_days"):
            value = getattr(self, name)
            # A cutoff is `now - days`: beyond ~100 years it leaves datetime's range (and means "keep").
            if value is not None and not (0 <= value <= MAX_DAYS):
                raise ValueError(f"{name} must be between 0 and {MAX_DAYS} days, or None for no limit, not {value!r}")
        if self.max_recording_bytes is not None and self.max_recording_bytes < 0:
            raise ValueError(f"max_recording_bytes must be >= 0 or None, not {self.max_recording_bytes!r}")

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, base: RetentionPolicy | None = None, *, lenient: bool = False
    ) -> RetentionPolicy:
        """`base` (defaults: this class's) with GETGATHER_OTEL_RETAIN_* variables applied.

        SPANS_DAYS, RECORDINGS_DAYS, ERROR_RECORDINGS_DAYS (days; 'none' for no limit) and
        RECORDINGS_MAX_BYTES ('5GB', '500MiB', 'none'). A value that is none of those raises
        ValueError naming the variable, or with `lenient` (`configure()`: a typo must not keep
        a server from starting) is ignored with one warning.
        """
        policy = base or cls()
        values: dict[str, Any] = {}
        for name, variable, parse in (
            ("span_days", env_vars.RETAIN_SPANS_DAYS, float),
            ("recording_days", env_vars.RETAIN_RECORDINGS_DAYS, float),
            ("error_recording_days", env_vars.RETAIN_ERROR_RECORDINGS_DAYS, float),
            ("max_recording_bytes", env_vars.RETAIN_RECORDINGS_MAX_BYTES, parse_size),
        ):
            raw = variable.read(env)
            if raw is None:
                continue
            try:
                values[name] = parse_limit(raw, parse)
                replace(policy, **{name: values[name]})  # checks the value where its variable is known
            except (ValueError, OverflowError) as error:
                if not lenient:
                    raise ValueError(f"{variable.name}={raw!r}: {error}") from None
                values.pop(name, None)
                logger.warning("%s=%r is ignored (%s); its default is used", variable.name, raw, error)
        return replace(policy, **values)


@dataclass(frozen=True)
class DoomedRecording:
    recording_id: str
    trace_id: str
    span_id: str
    stored_bytes: int
    reason: str


@dataclass
class PrunePlan:
    """What a prune removes, decided at `now`.

    On ClickHouse (`plan_clickhouse_prune`) spans are the exporter's table TTL's to remove
    (`spans_by_ttl`): `span_cutoff` still decides which recordings go with their activity.
    """

    now: datetime
    span_cutoff: datetime | None
    spans: int = 0
    recordings: list[DoomedRecording] = field(default_factory=list)
    spans_by_ttl: bool = False

    @property
    def recording_bytes(self) -> int:
        return sum(r.stored_bytes for r in self.recordings)

    def summary(self) -> str:
        by_reason: dict[str, int] = {}
        for recording in self.recordings:
            by_reason[recording.reason] = by_reason.get(recording.reason, 0) + 1
        reasons = ", ".join(f"{count} by {reason}" for reason, count in sorted(by_reason.items())) or "none"
        if self.spans_by_ttl:
            spans = "no spans (otel_traces' TTL removes them); "
        elif self.span_cutoff:
            spans = f"{self.spans} spans older than {self.span_cutoff:%Y-%m-%d %H:%M} UTC; "
        else:
            spans = "no span age limit; "
        return spans + f"{len(self.recordings)} recordings ({self.recording_bytes:,} bytes stored): {reasons}"


def _days_before(now: datetime, days: float | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def _naive_utc(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)


def _plan_recordings(plan: PrunePlan, engine: Engine, policy: RetentionPolicy) -> None:
    """Add to `plan` the recordings `policy` removes, read through `engine` (DuckDB or ClickHouse alike).

    A recording goes with its activity (past the span age), past its age limit (the error
    limit if its activity failed), or, oldest first, while the rest exceed the size cap.
    """
    ok_cutoff = _days_before(plan.now, policy.recording_days)
    error_cutoff = _days_before(plan.now, policy.error_recording_days)
    kept: list[tuple[str, str, str, int]] = []
    for recording_id, trace_id, span_id, stored, ended, failed in retention_sql.recordings_oldest_first(engine):
        cutoff, reason = (error_cutoff, REASON_ERROR_AGE) if failed else (ok_cutoff, REASON_AGE)
        if plan.span_cutoff is not None and ended < plan.span_cutoff:
            plan.recordings.append(DoomedRecording(recording_id, trace_id, span_id, stored, REASON_SPAN_PRUNED))
        elif cutoff is not None and ended < cutoff:
            plan.recordings.append(DoomedRecording(recording_id, trace_id, span_id, stored, reason))
        else:
            kept.append((recording_id, trace_id, span_id, stored))
    if policy.max_recording_bytes is not None:
        total = sum(stored for *_, stored in kept)
        for recording_id, trace_id, span_id, stored in kept:  # oldest first
            if total <= policy.max_recording_bytes:
                break
            plan.recordings.append(DoomedRecording(recording_id, trace_id, span_id, stored, REASON_SIZE_CAP))
            total -= stored


def plan_prune(conn: duckdb.DuckDBPyConnection, policy: RetentionPolicy, now: datetime | None = None) -> PrunePlan:
    """Decide what `policy` removes from the file behind `conn` (read-only is enough)."""
    now = _naive_utc(now)
    plan = PrunePlan(now=now, span_cutoff=_days_before(now, policy.span_days))
    if plan.span_cutoff is not None:
        plan.spans = retention_sql.count_spans_before(conn, plan.span_cutoff)
    _plan_recordings(plan, DuckDBEngine(conn), policy)
    return plan


def plan_clickhouse_prune(engine: Engine, policy: RetentionPolicy, now: datetime | None = None) -> PrunePlan:
    """Decide which recordings `policy` removes from ClickHouse's otel_logs: the ones `plan_prune` would
    remove from a DuckDB file holding the same data (spans stay: the exporter's TTL removes those)."""
    now = _naive_utc(now)
    plan = PrunePlan(now=now, span_cutoff=_days_before(now, policy.span_days), spans_by_ttl=True)
    _plan_recordings(plan, engine, policy)
    return plan


def apply_clickhouse_prune(engine: Engine, plan: PrunePlan) -> None:
    """Delete the otel_logs rows of the recordings `plan` names (ClickHouse has no prune notes: the
    activities there show no `recording_pruned` reason)."""
    retention_sql.clickhouse_delete_recordings(engine, [r.recording_id for r in plan.recordings])


def apply_prune(conn: duckdb.DuckDBPyConnection, plan: PrunePlan) -> None:
    """Remove what `plan` names, in one transaction, leaving a note per pruned recording."""
    conn.execute("BEGIN TRANSACTION")
    try:
        if plan.recordings:
            notes = pa.table(
                {
                    "trace_id": [r.trace_id for r in plan.recordings],
                    "span_id": [r.span_id for r in plan.recordings],
                    "recording_id": [r.recording_id for r in plan.recordings],
                    "pruned_at": [plan.now] * len(plan.recordings),
                    "reason": [r.reason for r in plan.recordings],
                    "stored_bytes": [r.stored_bytes for r in plan.recordings],
                },
                schema=RECORDING_PRUNES.arrow_schema,
            )
            retention_sql.delete_recordings(conn, notes)
        if plan.span_cutoff is not None:
            retention_sql.delete_spans_before(conn, plan.span_cutoff)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
