"""What to keep: the retention policy, and planning and applying a prune of one DuckDB file.

Recordings are the bulk of the file (a full snapshot of a real site is hundreds of KB to
a few MB), so they have their own, shorter, age limit and a cap on total bytes; spans are
small and kept longer. Recordings of failed activities can be kept longer than the rest,
because those are the ones people replay. When a recording goes, its activity stays, with
`has_recording` false and `recording_pruned` saying why.

A prune is planned first (`plan_prune`, what `getgather-otel prune --dry-run` prints),
then applied in one transaction (`apply_prune`). Deletions only ever select rows older
than a cutoff or named by the plan, so spans and chunks written while a prune runs are
never touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

ENV_PREFIX = "GETGATHER_OTEL_RETAIN_"
T = TypeVar("T")
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
        for name in ("span_days", "recording_days", "error_recording_days", "max_recording_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 or None, not {value!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, base: RetentionPolicy | None = None) -> RetentionPolicy:
        """`base` (defaults: this class's) with GETGATHER_OTEL_RETAIN_* variables applied.

        SPANS_DAYS, RECORDINGS_DAYS, ERROR_RECORDINGS_DAYS (days; 'none' for no limit) and
        RECORDINGS_MAX_BYTES ('5GB', '500MiB', 'none').
        """
        env = os.environ if env is None else env
        policy = base or cls()
        values: dict[str, Any] = {}
        for name, key, parse in (
            ("span_days", "SPANS_DAYS", float),
            ("recording_days", "RECORDINGS_DAYS", float),
            ("error_recording_days", "ERROR_RECORDINGS_DAYS", float),
            ("max_recording_bytes", "RECORDINGS_MAX_BYTES", parse_size),
        ):
            raw = env.get(ENV_PREFIX + key)
            if raw is None or not raw.strip():
                continue
            try:
                values[name] = parse_limit(raw, parse)
            except ValueError as error:
                raise ValueError(f"{ENV_PREFIX}{key}={raw!r}: {error}") from None
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
    """What a prune removes, decided at `now`."""

    now: datetime
    span_cutoff: datetime | None
    spans: int = 0
    recordings: list[DoomedRecording] = field(default_factory=list)

    @property
    def recording_bytes(self) -> int:
        return sum(r.stored_bytes for r in self.recordings)

    def summary(self) -> str:
        by_reason: dict[str, int] = {}
        for recording in self.recordings:
            by_reason[recording.reason] = by_reason.get(recording.reason, 0) + 1
        reasons = ", ".join(f"{count} by {reason}" for reason, count in sorted(by_reason.items())) or "none"
        return (
            f"{self.spans} spans older than {self.span_cutoff:%Y-%m-%d %H:%M} UTC; "
            if self.span_cutoff
            else "no span age limit; "
        ) + f"{len(self.recordings)} recordings ({self.recording_bytes:,} bytes stored): {reasons}"


def _days_before(now: datetime, days: float | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def plan_prune(conn: duckdb.DuckDBPyConnection, policy: RetentionPolicy, now: datetime | None = None) -> PrunePlan:
    """Decide what `policy` removes from the file behind `conn` (read-only is enough)."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    plan = PrunePlan(now=now, span_cutoff=_days_before(now, policy.span_days))
    if plan.span_cutoff is not None:
        row = conn.execute('SELECT count(*) FROM otel_traces WHERE "Timestamp" < ?', [plan.span_cutoff]).fetchone()
        plan.spans = int(row[0]) if row else 0
    recordings = conn.execute(
        """
        SELECT c.recording_id, any_value(c.trace_id), any_value(c.span_id), sum(c.stored_bytes),
               max(c.last_event_time) AS ended, bool_or(t."StatusCode" = 'Error') AS failed
        FROM recording_chunks AS c
        LEFT JOIN otel_traces AS t ON t."SpanId" = c.span_id AND t."TraceId" = c.trace_id
        GROUP BY c.recording_id
        ORDER BY ended, c.recording_id
        """
    ).fetchall()
    ok_cutoff = _days_before(now, policy.recording_days)
    error_cutoff = _days_before(now, policy.error_recording_days)
    kept: list[tuple[str, str, str, int]] = []
    for recording_id, trace_id, span_id, stored, ended, failed in recordings:
        cutoff, reason = (error_cutoff, REASON_ERROR_AGE) if failed else (ok_cutoff, REASON_AGE)
        if plan.span_cutoff is not None and ended < plan.span_cutoff:
            plan.recordings.append(DoomedRecording(recording_id, trace_id, span_id, int(stored), REASON_SPAN_PRUNED))
        elif cutoff is not None and ended < cutoff:
            plan.recordings.append(DoomedRecording(recording_id, trace_id, span_id, int(stored), reason))
        else:
            kept.append((recording_id, trace_id, span_id, int(stored)))
    if policy.max_recording_bytes is not None:
        total = sum(stored for *_, stored in kept)
        for recording_id, trace_id, span_id, stored in kept:  # oldest first
            if total <= policy.max_recording_bytes:
                break
            plan.recordings.append(DoomedRecording(recording_id, trace_id, span_id, stored, REASON_SIZE_CAP))
            total -= stored
    return plan


def apply_prune(conn: duckdb.DuckDBPyConnection, plan: PrunePlan) -> None:
    """Remove what `plan` names, in one transaction, leaving a note per pruned recording."""
    conn.execute("BEGIN TRANSACTION")
    try:
        if plan.recordings:
            # One columnar insert, never row by row (executemany runs ~500 rows/s).
            doomed = pa.table(
                {
                    "trace_id": [r.trace_id for r in plan.recordings],
                    "span_id": [r.span_id for r in plan.recordings],
                    "recording_id": [r.recording_id for r in plan.recordings],
                    "pruned_at": pa.array([plan.now] * len(plan.recordings), pa.timestamp("us")),
                    "reason": [r.reason for r in plan.recordings],
                    "stored_bytes": pa.array([r.stored_bytes for r in plan.recordings], pa.uint64()),
                }
            )
            conn.register("_doomed", doomed)
            try:
                conn.execute("INSERT INTO recording_prunes SELECT * FROM _doomed")
                conn.execute("DELETE FROM recording_chunks WHERE recording_id IN (SELECT recording_id FROM _doomed)")
            finally:
                conn.unregister("_doomed")
        if plan.span_cutoff is not None:
            conn.execute('DELETE FROM otel_traces WHERE "Timestamp" < ?', [plan.span_cutoff])
            # A note about a recording is kept as long as its activity is.
            conn.execute(
                "DELETE FROM recording_prunes AS p WHERE NOT EXISTS "
                '(SELECT 1 FROM otel_traces AS t WHERE t."SpanId" = p.span_id AND t."TraceId" = p.trace_id)'
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
