"""The stock queries, in one place: the CLI, the viewer and the ClickHouse check use these.

Queries on `otel_traces` are written once in SQL both DuckDB and ClickHouse accept
(map subscripts, `coalesce`, `CASE`, string-literal timestamps); where the dialects
really differ (quantiles) the template names the operation and `render()` fills in the
engine's function. Values from users never go into the text except as validated
timestamps; everything else is a bound parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from getgather_otel import attributes as attr

Dialect = Literal["duckdb", "clickhouse"]

_QUANTILE = re.compile(r"\{quantile\((?P<q>0\.\d+), (?P<expr>[^}]+)\)\}")


def render(template: str, dialect: Dialect) -> str:
    """Fill the dialect-specific operations in a stock query template."""

    def quantile(match: re.Match[str]) -> str:
        q, expr = match.group("q"), match.group("expr")
        if dialect == "duckdb":
            return f"quantile_cont({expr}, {q})"
        return f"quantile({q})({expr})"

    return _QUANTILE.sub(quantile, template)


_IS_ACTIVITY = f"\"SpanAttributes\"['{attr.ACTIVITY_NAME}'] != ''"
_BRAND = f"coalesce(\"SpanAttributes\"['{attr.BRAND_ID}'], '')"
_NAME = f"\"SpanAttributes\"['{attr.ACTIVITY_NAME}']"
_ERRORS = "sum(CASE WHEN \"StatusCode\" = 'Error' THEN 1 ELSE 0 END)"


def _stats_template(group_columns: str, group_by: str) -> str:
    return f"""
SELECT {group_columns},
       count(*) AS activities,
       {_ERRORS} AS errors,
       round(100.0 * {_ERRORS} / count(*), 2) AS error_rate_pct,
       round({{quantile(0.5, "Duration")}} / 1e6, 1) AS p50_ms,
       round({{quantile(0.95, "Duration")}} / 1e6, 1) AS p95_ms,
       round({{quantile(0.99, "Duration")}} / 1e6, 1) AS p99_ms
FROM otel_traces
WHERE {_IS_ACTIVITY} AND "Timestamp" >= '{{since}}'
GROUP BY {group_by}
ORDER BY {group_by}
"""


STATS_BY_BRAND = _stats_template(f"{_BRAND} AS brand_id", "brand_id")
STATS_BY_TOOL = _stats_template(f"{_BRAND} AS brand_id, {_NAME} AS name", "brand_id, name")

ERROR_TYPES = f"""
SELECT {_BRAND} AS brand_id,
       coalesce("SpanAttributes"['{attr.ERROR_TYPE}'], '') AS error_type,
       count(*) AS errors
FROM otel_traces
WHERE {_IS_ACTIVITY} AND "StatusCode" = 'Error' AND "Timestamp" >= '{{since}}'
GROUP BY brand_id, error_type
ORDER BY errors DESC, brand_id, error_type
"""


def naive_utc(moment: datetime) -> datetime:
    """`moment` as the naive UTC timestamp the `Timestamp` column holds (naive = already UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def stats_queries(since: datetime, dialect: Dialect) -> dict[str, str]:
    """The `stats` report: per brand, per tool, and error types, since `since` (UTC)."""
    literal = naive_utc(since).strftime("%Y-%m-%d %H:%M:%S")
    return {
        title: render(template, dialect).replace("{since}", literal)
        for title, template in (
            ("by brand", STATS_BY_BRAND),
            ("by tool", STATS_BY_TOOL),
            ("errors", ERROR_TYPES),
        )
    }


@dataclass(frozen=True)
class ActivityFilter:
    brand: str | None = None
    name: str | None = None
    since: datetime | None = None
    errors_only: bool = False
    limit: int = 20


def activities_query(filters: ActivityFilter) -> tuple[str, list[object]]:
    """Recent activities from the `activities` view, newest first, with bound parameters."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.brand is not None:
        clauses.append("brand_id = ?")
        params.append(filters.brand)
    if filters.name is not None:
        clauses.append("name = ?")
        params.append(filters.name)
    if filters.since is not None:
        clauses.append("start_time >= ?")
        params.append(naive_utc(filters.since))
    if filters.errors_only:
        clauses.append("status = 'error'")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    params.append(filters.limit)
    sql = f"""
SELECT activity_id, start_time, brand_id, name, kind, round(execution_time_ms, 1) AS ms,
       status, error, has_recording
FROM activities {where}
ORDER BY start_time DESC
LIMIT ?
"""
    return sql, params


_RELATIVE = re.compile(r"^(?P<n>\d+)(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`15m`, `2h`, `7d`, `1w` ago, or an ISO date/time (UTC when no zone is given)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group("unit")]: int(match.group("n"))})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ValueError(
            f"cannot read --since {text!r}: use 30m, 2h, 7d, 1w or an ISO time like 2026-11-24T08:00"
        ) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
