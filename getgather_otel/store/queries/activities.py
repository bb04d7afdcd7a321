"""The stock queries, in one place: the CLI, the viewer, the `activities` view and the ClickHouse check use these.

Queries on `otel_traces` are written once in SQL that DuckDB and ClickHouse both accept
(map subscripts, `coalesce`/`nullif`, `CASE`, string-literal timestamps, no `round()`,
whose ties differ between the two). A missing map key is NULL in DuckDB and '' in
ClickHouse, so every attribute read goes through `nullif(..., '')`. Where the dialects
really differ the template names the operation (`{quantile(q, expr)}`, `{has_recording}`,
`{param:Type}` placeholders) and `render()` fills in the engine's spelling. Values from
users never go into the text except as validated timestamps; everything else is a bound
parameter.

Time zones: ClickHouse reads a timestamp literal and prints a `DateTime64` column in the
session's time zone, so on a server whose zone is not UTC a plain `'2026-11-01 00:00:00'`
window shifts and `start_time` prints local time. Every literal is therefore
`{utc_literal('...')}` (ClickHouse `toDateTime64('...', 6, 'UTC')`) and every timestamp
returned is `{utc(expr)}` (ClickHouse `toTimeZone(expr, 'UTC')`); DuckDB's `TIMESTAMP`
columns hold naive UTC already. Spellings: ClickHouse exporters before contrib PR 34799
wrote `STATUS_CODE_ERROR` and `SPAN_KIND_SERVER` where newer ones (and we) write `Error`
and `Server`; every status and kind test accepts both (`IS_ERROR_SQL`, `SPAN_KIND_SQL`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, get_args

from getgather_otel.capture import attributes as attr
from getgather_otel.store.log_chunks import CLICKHOUSE_RECORDING_CHUNKS
from getgather_otel.store.values import naive_utc

if TYPE_CHECKING:  # the engine renders with this module's render(): no import at run time
    from getgather_otel.store.engine import Engine, Rows

__all__ = [
    "BRAND_SQL",
    "CLIENT_NAME_SQL",
    "CLIENT_VERSION_SQL",
    "CREATED_AT_SQL",
    "ERROR_SQL",
    "ERROR_TYPES",
    "FAILURES_BY_BRAND",
    "FAILURE_CLASSES_QUERY",
    "FAILURE_CLASS_SQL",
    "HAS_RECORDING_SQL",
    "IS_ACTIVITY_SQL",
    "IS_ERROR_SQL",
    "KIND_SQL",
    "NAME_SQL",
    "SORT_KEYS",
    "SPAN_KIND_SQL",
    "STATS_BY_BRAND",
    "STATS_BY_CLIENT",
    "STATS_BY_TOOL",
    "STATUSES",
    "STATUS_CODE_SQL",
    "STATUS_SQL",
    "ActivityFilter",
    "Dialect",
    "SortKey",
    "Status",
    "activities_count_query",
    "activities_query",
    "activity_row",
    "attribute",
    "parse_since",
    "render",
    "round_sql",
    "stats_queries",
    "stats_series_query",
    "window_sql",
]

Dialect = Literal["duckdb", "clickhouse"]

_QUANTILE = re.compile(r"\{quantile\((?P<q>0\.\d+), (?P<expr>[^}]+)\)\}")
_EPOCH_S = re.compile(r"\{epoch_s\((?P<expr>[^}]+)\)\}")
_UTC_LITERAL = re.compile(r"\{utc_literal\('(?P<text>[0-9: .-]+)'\)\}")
_UTC = re.compile(r"\{utc\((?P<expr>[^}]+)\)\}")
_UTC_LIST = re.compile(r"\{utc_list\((?P<expr>[^}]+)\)\}")
_PARAMETER = re.compile(r"\{(?P<name>[a-z_]+):(?P<type>[A-Za-z0-9()]+)\}")
_HAS_RECORDING = "{has_recording}"
_ACTIVITIES = "{activities}"
_RECORDING_CHUNKS = "{recording_chunks}"

# DuckDB's (and the `activities` view's): a correlated EXISTS on the chunk table.
HAS_RECORDING_SQL = (
    'EXISTS (SELECT 1 FROM recording_chunks AS c WHERE c.span_id = t."SpanId" AND c.trace_id = t."TraceId")'
)
# ClickHouse's: recordings are `otel_logs` rows (see store/log_chunks.py); a tuple IN, no correlation.
_CLICKHOUSE_HAS_RECORDING = (
    f'CAST((t."TraceId", t."SpanId") IN (SELECT trace_id, span_id FROM {_RECORDING_CHUNKS}) AS Bool)'
)


def render(template: str, dialect: Dialect) -> str:
    """Fill the dialect-specific operations of a stock query template.

    Quantiles interpolate linearly in both engines (DuckDB's `quantile_cont` and
    ClickHouse's `quantileExactInclusive` are the same R7 estimator); `{epoch_s(expr)}` is
    whole Unix seconds; `{utc_literal('...')}` a UTC timestamp literal and `{utc(expr)}` a
    timestamp shown in UTC whatever the session's zone; `{has_recording}` whether the span of
    `otel_traces AS t` has a recording; `{activities}` and `{recording_chunks}` the DuckDB view
    and table, or on ClickHouse the same columns computed from `otel_traces` and `otel_logs`;
    parameters become DuckDB's `$name` or stay ClickHouse's `{name:Type}`.
    """

    def quantile(match: re.Match[str]) -> str:
        q, expr = match.group("q"), match.group("expr")
        if dialect == "duckdb":
            return f"quantile_cont({expr}, {q})"
        return f"quantileExactInclusive({q})({expr})"

    def epoch_s(match: re.Match[str]) -> str:
        expr = match.group("expr")
        return f"CAST(floor(epoch({expr})) AS BIGINT)" if dialect == "duckdb" else f"toUnixTimestamp({expr})"

    def utc_literal(match: re.Match[str]) -> str:
        text = match.group("text")
        return f"TIMESTAMP '{text}'" if dialect == "duckdb" else f"toDateTime64('{text}', 6, 'UTC')"

    def utc(match: re.Match[str]) -> str:
        expr = match.group("expr")
        # Microseconds in UTC, as DuckDB's TIMESTAMP holds them (ClickHouse keeps nanoseconds).
        return expr if dialect == "duckdb" else f"toDateTime64({expr}, 6, 'UTC')"

    def utc_list(match: re.Match[str]) -> str:
        expr = match.group("expr")
        return expr if dialect == "duckdb" else f"arrayMap(x -> toDateTime64(x, 6, 'UTC'), {expr})"

    if dialect == "duckdb":
        text = template.replace(_HAS_RECORDING, HAS_RECORDING_SQL)
    else:
        text = template.replace(_HAS_RECORDING, _CLICKHOUSE_HAS_RECORDING)
        text = text.replace(_ACTIVITIES, _CLICKHOUSE_ACTIVITIES)
        text = text.replace(_RECORDING_CHUNKS, CLICKHOUSE_RECORDING_CHUNKS)
    text = text.replace(_ACTIVITIES, "activities").replace(_RECORDING_CHUNKS, "recording_chunks")
    text = _QUANTILE.sub(quantile, text)
    text = _EPOCH_S.sub(epoch_s, text)
    text = _UTC_LITERAL.sub(utc_literal, text)
    text = _UTC.sub(utc, text)
    text = _UTC_LIST.sub(utc_list, text)
    if dialect == "duckdb":
        text = _PARAMETER.sub(lambda match: f"${match.group('name')}", text)
    return text


def attribute(key: str) -> str:
    """A span attribute of `otel_traces AS t`, NULL when absent in both engines."""
    return f"nullif(t.\"SpanAttributes\"['{key}'], '')"


def round_sql(expr: str, digits: int) -> str:
    """`expr` rounded half away from zero for positive values, the same in both engines."""
    scale = 10**digits
    return f"floor(({expr}) * {scale} + 0.5) / {scale}"


# The activity columns, shared by the stock queries and the DuckDB `activities` view.
IS_ACTIVITY_SQL = f"{attribute(attr.ACTIVITY_NAME)} IS NOT NULL"
BRAND_SQL = f"coalesce({attribute(attr.BRAND_ID)}, '')"
NAME_SQL = attribute(attr.ACTIVITY_NAME)
KIND_SQL = f"coalesce({attribute(attr.ACTIVITY_KIND)}, '{attr.KIND_CUSTOM}')"
# Both spellings of an error: the exporter's since contrib PR 34799 (and ours), and before it.
IS_ERROR_SQL = "t.\"StatusCode\" IN ('Error', 'STATUS_CODE_ERROR')"
STATUS_SQL = f"CASE WHEN {IS_ERROR_SQL} THEN 'error' ELSE 'ok' END"
SPAN_KIND_SQL = (
    'CASE t."SpanKind" '
    + " ".join(
        f"WHEN 'SPAN_KIND_{name.upper()}' THEN '{name}'"
        for name in ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
    )
    + ' ELSE t."SpanKind" END'
)
STATUS_CODE_SQL = (
    'CASE t."StatusCode" '
    + " ".join(f"WHEN 'STATUS_CODE_{name.upper()}' THEN '{name}'" for name in ("Unset", "Ok", "Error"))
    + ' ELSE t."StatusCode" END'
)
ERROR_SQL = (
    f"CASE WHEN {IS_ERROR_SQL} "
    f"THEN coalesce(nullif(t.\"StatusMessage\", ''), {attribute(attr.ERROR_TYPE)}, 'error') END"
)
# Why a failed activity failed (issue 18, capture/failures.py); a failed span written without one is 'unknown'.
FAILURE_CLASS_SQL = f"CASE WHEN {IS_ERROR_SQL} THEN coalesce({attribute(attr.FAILURE_CLASS)}, 'unknown') END"
# getgather's own `activities.created_at`: when the activity started; an import keeps getgather's value.
CREATED_AT_SQL = f'coalesce(TRY_CAST({attribute(attr.IMPORT_CREATED_AT)} AS TIMESTAMP), t."Timestamp")'
# The calling MCP client (its clientInfo), NULL for activities outside a request or written before issue 16.
CLIENT_NAME_SQL = attribute(attr.CLIENT_NAME)
CLIENT_VERSION_SQL = attribute(attr.CLIENT_VERSION)
_CLIENT_SQL = f"coalesce({CLIENT_NAME_SQL}, '')"
_ERRORS = f"sum(CASE WHEN {IS_ERROR_SQL} THEN 1 ELSE 0 END)"

# The DuckDB `activities` view's columns (store/schema.py), in its order, from the exporter's
# `otel_traces` and `otel_logs` on ClickHouse. Pruning is ClickHouse's TTL there: no pruned reason.
_CLICKHOUSE_ACTIVITIES = f"""(
    SELECT t."SpanId" AS activity_id, t."TraceId" AS trace_id, t."ParentSpanId" AS parent_span_id,
           {BRAND_SQL} AS brand_id, {NAME_SQL} AS name, {KIND_SQL} AS kind,
           {{utc(t."Timestamp")}} AS start_time,
           {{utc(t."Timestamp" + toIntervalMicrosecond(intDiv(t."Duration", 1000)))}} AS end_time,
           t."Duration" / 1e6 AS execution_time_ms, {STATUS_SQL} AS status, {ERROR_SQL} AS error,
           {attribute(attr.ERROR_TYPE)} AS error_type, {attribute(attr.GEN_AI_TOOL_NAME)} AS tool_name,
           {attribute(attr.MCP_SESSION_ID)} AS session_id, t."ServiceName" AS service_name,
           t."SpanAttributes" AS attributes, {_CLICKHOUSE_HAS_RECORDING} AS has_recording,
           CAST(NULL AS Nullable(String)) AS recording_pruned, t."SpanId" AS id,
           coalesce(parseDateTime64BestEffortOrNull({attribute(attr.IMPORT_CREATED_AT)}, 6, 'UTC'),
                    {{utc(t."Timestamp")}}) AS created_at,
           {CLIENT_NAME_SQL} AS client_name, {CLIENT_VERSION_SQL} AS client_version,
           {FAILURE_CLASS_SQL} AS failure_class
    FROM otel_traces AS t
    WHERE {IS_ACTIVITY_SQL}
)"""


def _stats_template(group_columns: str, group_by: str) -> str:
    return f"""
SELECT {group_columns},
       count(*) AS activities,
       {_ERRORS} AS errors,
       {round_sql(f"100.0 * {_ERRORS} / count(*)", 2)} AS error_rate_pct,
       {round_sql('{quantile(0.5, t."Duration")} / 1e6', 1)} AS p50_ms,
       {round_sql('{quantile(0.95, t."Duration")} / 1e6', 1)} AS p95_ms,
       {round_sql('{quantile(0.99, t."Duration")} / 1e6', 1)} AS p99_ms
FROM otel_traces AS t
WHERE {IS_ACTIVITY_SQL} AND {{window}}
GROUP BY {group_by}
ORDER BY {group_by}
"""


STATS_BY_BRAND = _stats_template(f"{BRAND_SQL} AS brand_id", "brand_id")
STATS_BY_TOOL = _stats_template(f"{BRAND_SQL} AS brand_id, {NAME_SQL} AS name", "brand_id, name")
STATS_BY_CLIENT = _stats_template(
    f"{_CLIENT_SQL} AS client_name, coalesce({CLIENT_VERSION_SQL}, '') AS client_version",
    "client_name, client_version",
)

ERROR_TYPES = f"""
SELECT {BRAND_SQL} AS brand_id,
       coalesce({attribute(attr.ERROR_TYPE)}, '') AS error_type,
       count(*) AS errors
FROM otel_traces AS t
WHERE {IS_ACTIVITY_SQL} AND {IS_ERROR_SQL} AND {{window}}
GROUP BY brand_id, error_type
ORDER BY errors DESC, brand_id, error_type
"""


# Every failure class stored (the rules' and a user classifier's own): tells a class from a typo.
FAILURE_CLASSES_QUERY = f"""
SELECT DISTINCT {FAILURE_CLASS_SQL} AS failure_class
FROM otel_traces AS t
WHERE {IS_ACTIVITY_SQL} AND {IS_ERROR_SQL}
ORDER BY failure_class
"""

# Failures per brand and class, with each class's share of the brand's activities.
FAILURES_BY_BRAND = f"""
SELECT {BRAND_SQL} AS brand_id,
       {FAILURE_CLASS_SQL} AS failure_class,
       count(*) AS failures,
       {round_sql("100.0 * count(*) / max(b.activities)", 2)} AS failure_rate_pct
FROM otel_traces AS t
JOIN (SELECT {BRAND_SQL} AS brand, count(*) AS activities
      FROM otel_traces AS t WHERE {IS_ACTIVITY_SQL} AND {{window}} GROUP BY brand) AS b
  ON b.brand = {BRAND_SQL}
WHERE {IS_ACTIVITY_SQL} AND {IS_ERROR_SQL} AND {{window}}
GROUP BY brand_id, failure_class
ORDER BY failures DESC, brand_id, failure_class
"""


def _timestamp_literal(moment: datetime) -> str:
    return naive_utc(moment).strftime("%Y-%m-%d %H:%M:%S.%f")


def window_sql(since: datetime | None, until: datetime | None) -> str:
    """`t."Timestamp"` within [since, until) as validated literals both engines read ("true" when open)."""
    clauses = []
    if since is not None:
        clauses.append(f"t.\"Timestamp\" >= {{utc_literal('{_timestamp_literal(since)}')}}")
    if until is not None:
        clauses.append(f"t.\"Timestamp\" < {{utc_literal('{_timestamp_literal(until)}')}}")
    return " AND ".join(clauses) or "true"


def _equalities(*wanted: tuple[str, object, str]) -> tuple[list[str], dict[str, object]]:
    """`sql = {name:String}` clauses (bound parameters) for each (name, value, sql) whose value is given."""
    clauses: list[str] = []
    params: dict[str, object] = {}
    for name, value, sql in wanted:
        if value is not None:
            clauses.append(f"{sql} = {{{name}:String}}")
            params[name] = value
    return clauses, params


def _scope_filter(brand: str | None, client: str | None = None) -> tuple[list[str], dict[str, object]]:
    """The clauses and parameters that keep one brand's and one client's activities, if any."""
    return _equalities(("brand", brand, BRAND_SQL), ("client", client, _CLIENT_SQL))


def stats_queries(
    since: datetime,
    dialect: Dialect,
    until: datetime | None = None,
    brand: str | None = None,
    client: str | None = None,
) -> tuple[dict[str, str], dict[str, object]]:
    """The `stats` report: per brand, per tool, per client (name and version) and error types,
    in [since, until) (UTC), for every brand and client or one; the queries by title, and
    their named parameters."""
    clauses, params = _scope_filter(brand, client)
    where = " AND ".join([window_sql(since, until), *clauses])
    queries = {
        title: render(template.replace("{window}", where), dialect)
        for title, template in (
            ("by brand", STATS_BY_BRAND),
            ("by tool", STATS_BY_TOOL),
            ("by client", STATS_BY_CLIENT),
            ("errors", ERROR_TYPES),
            ("failures", FAILURES_BY_BRAND),
        )
    }
    return queries, params


def stats_series_query(
    since: datetime,
    until: datetime,
    bucket_s: int,
    dialect: Dialect,
    brand: str | None = None,
    client: str | None = None,
    *,
    by_failure_class: bool = False,
) -> tuple[str, dict[str, object]]:
    """Per brand and time bucket of `bucket_s` seconds: count, errors, error rate and latency percentiles;
    with `by_failure_class`, per brand, bucket and failure class: failures and their share of the bucket's
    activities."""
    bucket = f'floor({{epoch_s(t."Timestamp")}} / {int(bucket_s)}) * {int(bucket_s)}'
    scope, params = _scope_filter(brand, client)
    clauses = [IS_ACTIVITY_SQL, window_sql(since, until), *scope]
    if by_failure_class:
        return render(_failure_series(bucket, " AND ".join(clauses)), dialect), params
    template = f"""
SELECT {BRAND_SQL} AS brand_id,
       {bucket} AS bucket_start_s,
       count(*) AS activities,
       {_ERRORS} AS errors,
       {round_sql(f"100.0 * {_ERRORS} / count(*)", 2)} AS error_rate_pct,
       {round_sql('{quantile(0.5, t."Duration")} / 1e6', 1)} AS p50_ms,
       {round_sql('{quantile(0.95, t."Duration")} / 1e6', 1)} AS p95_ms
FROM otel_traces AS t
WHERE {" AND ".join(clauses)}
GROUP BY brand_id, bucket_start_s
ORDER BY brand_id, bucket_start_s
"""
    return render(template, dialect), params


def _failure_series(bucket: str, where: str) -> str:
    return f"""
SELECT f.brand_id, f.bucket_start_s, f.failure_class, f.failures,
       {round_sql("100.0 * f.failures / a.activities", 2)} AS failure_rate_pct
FROM (SELECT {BRAND_SQL} AS brand_id, {bucket} AS bucket_start_s, {FAILURE_CLASS_SQL} AS failure_class,
             count(*) AS failures
      FROM otel_traces AS t WHERE {where} AND {IS_ERROR_SQL}
      GROUP BY brand_id, bucket_start_s, failure_class) AS f
JOIN (SELECT {BRAND_SQL} AS brand_id, {bucket} AS bucket_start_s, count(*) AS activities
      FROM otel_traces AS t WHERE {where}
      GROUP BY brand_id, bucket_start_s) AS a
  ON a.brand_id = f.brand_id AND a.bucket_start_s = f.bucket_start_s
ORDER BY f.brand_id, f.bucket_start_s, f.failure_class
"""


Status = Literal["ok", "error"]
SortKey = Literal["start_time", "duration", "brand_id", "name", "kind", "status", "client_name"]
STATUSES: tuple[str, ...] = get_args(Status)
SORT_KEYS: tuple[str, ...] = get_args(SortKey)
_SORT_SQL: dict[str, str] = {
    "start_time": 't."Timestamp"',
    "duration": 't."Duration"',
    "brand_id": BRAND_SQL,
    "name": NAME_SQL,
    "kind": KIND_SQL,
    "status": STATUS_SQL,
    "client_name": CLIENT_NAME_SQL,
}


@dataclass(frozen=True)
class ActivityFilter:
    """Which activities, in what order, which page. Values are bound, never pasted into SQL."""

    brand: str | None = None
    name: str | None = None
    kind: str | None = None
    status: Status | None = None
    failure_class: str | None = None
    client: str | None = None  # the calling MCP client's name ('' for activities without one)
    trace_id: str | None = None  # one trace: an agent's calls under the trace context its client sent
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20
    offset: int = 0
    sort: SortKey = "start_time"
    descending: bool = True


def _activity_where(filters: ActivityFilter) -> tuple[str, dict[str, object]]:
    equal, params = _equalities(
        ("brand", filters.brand, BRAND_SQL),
        ("name", filters.name, NAME_SQL),
        ("kind", filters.kind, KIND_SQL),
        ("status", filters.status, STATUS_SQL),
        ("failure_class", filters.failure_class, FAILURE_CLASS_SQL),
        ("client", filters.client, _CLIENT_SQL),
        ("trace_id", filters.trace_id, 't."TraceId"'),
    )
    clauses = [IS_ACTIVITY_SQL, *equal]
    if filters.since is not None or filters.until is not None:
        clauses.append(window_sql(filters.since, filters.until))
    return " AND ".join(clauses), params


def activities_query(filters: ActivityFilter, dialect: Dialect = "duckdb") -> tuple[str, dict[str, object]]:
    """One page of activities straight from `otel_traces` (newest first by default), with named parameters."""
    where, params = _activity_where(filters)
    direction = "DESC" if filters.descending else "ASC"
    template = f"""
SELECT t."SpanId" AS activity_id, {{utc(t."Timestamp")}} AS start_time, {BRAND_SQL} AS brand_id, {NAME_SQL} AS name,
       {KIND_SQL} AS kind, {round_sql('t."Duration" / 1e6', 1)} AS ms, {STATUS_SQL} AS status,
       {ERROR_SQL} AS error, {CLIENT_NAME_SQL} AS client_name, t."TraceId" AS trace_id,
       {FAILURE_CLASS_SQL} AS failure_class, {{has_recording}} AS has_recording
FROM otel_traces AS t
WHERE {where}
ORDER BY {_SORT_SQL[filters.sort]} {direction} NULLS LAST, t."SpanId" {direction}
LIMIT {int(filters.limit)} OFFSET {int(filters.offset)}
"""
    return render(template, dialect), params


def activities_count_query(filters: ActivityFilter, dialect: Dialect = "duckdb") -> tuple[str, dict[str, object]]:
    """How many activities match `filters` (for paging), ignoring limit, offset and order."""
    where, params = _activity_where(filters)
    return render(f"SELECT count(*) AS total FROM otel_traces AS t WHERE {where}", dialect), params


_RELATIVE = re.compile(r"^(?P<n>\d+)(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`15m`, `2h`, `7d`, `1w` ago, or an ISO date/time (UTC when no zone is given)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        try:  # `99999999999d` is past timedelta's range, `1000000d` past year 1: a ValueError like any bad --since
            return now - timedelta(**{_UNITS[match.group("unit")]: int(match.group("n"))})
        except OverflowError:
            raise ValueError(
                f"cannot read --since {text[:40]!r}: that is before year 1; use a smaller count or an ISO time"
            ) from None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ValueError(
            f"cannot read --since {text!r}: use 30m, 2h, 7d, 1w or an ISO time like 2026-11-24T08:00"
        ) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def activity_row(engine: Engine, activity_id: str) -> Rows:
    """The `activities` row of one activity (no rows when there is no such activity)."""
    return engine.rows(
        "SELECT * FROM {activities} WHERE activity_id = {activity:String} LIMIT 1", {"activity": activity_id}
    )
