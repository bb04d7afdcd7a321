"""The viewer's reads: activities, traces, recordings and stats as JSON-ready values.

Every function takes an `Engine` (the DuckDB file, or ClickHouse) and returns plain dicts and lists (timestamps as
ISO-8601 UTC text plus integer microseconds, which the waterfall and the replay need to
line up). Ids are checked before any query so a wrong id is a clear 404 or 422, never a
query error. Every query is in `store/queries/`; this module shapes what they return.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from getgather_otel.capture import attributes as attr
from getgather_otel.store.engine import Engine, Rows
from getgather_otel.store.queries import recordings as recording_reads
from getgather_otel.store.queries.activities import (
    ActivityFilter,
    activities_count_query,
    activities_query,
    activity_row,
    stats_queries,
    stats_series_query,
)
from getgather_otel.store.queries.traces import trace_spans
from getgather_otel.store.values import naive_utc, plain

__all__ = [
    "BUCKETS_S",
    "RECORDING_ID",
    "SPAN_ID",
    "TRACE_ID",
    "BadIdError",
    "NotFoundError",
    "activity",
    "bucket_for",
    "check_id",
    "evidence",
    "iso",
    "jsonable",
    "list_activities",
    "micros",
    "recording_chunks",
    "recordings",
    "records",
    "stats",
    "trace",
]

SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
RECORDING_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
# Chart buckets: the smallest that keeps a window within ~60 points.
BUCKETS_S = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
_EPOCH = dt.datetime(1970, 1, 1)


class NotFoundError(LookupError):
    """No activity, trace or recording under the id given (HTTP 404)."""


class BadIdError(ValueError):
    """An id that cannot be one (HTTP 422): says what a valid one looks like."""


def check_id(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(value):
        raise BadIdError(f"{what} {value[:80]!r} is malformed: expected {pattern.pattern}")
    return value


def iso(moment: dt.datetime) -> str:
    """A stored (naive UTC) timestamp as ISO-8601 with its zone."""
    return naive_utc(moment).isoformat(timespec="microseconds") + "Z"


def micros(moment: dt.datetime) -> int:
    """A stored (naive UTC) timestamp as integer microseconds since the epoch."""
    return (naive_utc(moment) - _EPOCH) // dt.timedelta(microseconds=1)


def jsonable(value: Any) -> Any:
    """A DuckDB value as JSON: timestamps as ISO text, maps as objects, blobs as their size, NaN as null."""
    return plain(value, iso, nan_as_none=True)


def records(rows: Rows) -> list[dict[str, Any]]:
    """Rows of a read as JSON-ready dicts keyed by column name."""
    return [{column: jsonable(v) for column, v in zip(rows.columns, row, strict=True)} for row in rows.rows]


def list_activities(engine: Engine, filters: ActivityFilter) -> dict[str, Any]:
    sql, params = activities_query(filters, engine.dialect)
    rows = records(engine.rows(sql, params))
    count_sql, count_params = activities_count_query(filters, engine.dialect)
    total = engine.rows(count_sql, count_params).first()
    count = int(total[0]) if total else 0
    return {"activities": rows, "total": count, "limit": filters.limit, "offset": filters.offset}


def activity(engine: Engine, activity_id: str) -> dict[str, Any]:
    """The activity's row (the `activities` view), its trace's spans and whether it has a recording."""
    check_id(activity_id, SPAN_ID, "activity id")
    found = records(activity_row(engine, activity_id))
    if not found:
        raise NotFoundError(f"no activity with id {activity_id}")
    row = found[0]
    spans = trace(engine, row["trace_id"])
    return {"activity": row, "trace": spans, "evidence": evidence(spans["spans"], activity_id)}


def evidence(spans: list[dict[str, Any]], activity_id: str) -> list[dict[str, Any]]:
    """The evidence events (issue 18) of the activity and the spans below it, in time order, each with its span id."""
    children: dict[str, list[str]] = {}
    for span in spans:
        children.setdefault(span["parent_span_id"], []).append(span["span_id"])
    inside, todo = set(), [activity_id]
    while todo:
        span_id = todo.pop()
        inside.add(span_id)
        todo.extend(children.get(span_id, []))
    found = [
        {**event, "span_id": span["span_id"]}
        for span in spans
        if span["span_id"] in inside
        for event in span["events"]
        if event["name"] in attr.EVIDENCE_EVENT_NAMES
    ]
    return sorted(found, key=lambda event: event["time_us"])


def _span(row: dict[str, Any]) -> dict[str, Any]:
    start: dt.datetime = row.pop("start")
    times, names, attributes = row.pop("event_times") or [], row.pop("event_names") or [], row.pop("event_attributes")
    links = zip(row.pop("link_trace_ids") or [], row.pop("link_span_ids") or [], strict=False)
    return {
        **{key: jsonable(value) for key, value in row.items()},
        "start_time": iso(start),
        "start_us": micros(start),
        "duration_us": int(row["duration_ns"]) // 1000,
        "events": [
            {"name": name, "time": iso(moment), "time_us": micros(moment), "attributes": jsonable(attrs or {})}
            for moment, name, attrs in zip(times, names, attributes or [{}] * len(names), strict=False)
        ],
        "links": [{"trace_id": trace_id, "span_id": span_id} for trace_id, span_id in links],
    }


def trace(engine: Engine, trace_id: str) -> dict[str, Any]:
    """Every stored span of a trace, in start order, with events and links."""
    check_id(trace_id, TRACE_ID, "trace id")
    spans = [_span(row) for row in trace_spans(engine, trace_id)]
    if not spans:
        raise NotFoundError(f"no spans with trace id {trace_id}")
    return {"trace_id": trace_id, "spans": spans}


def recordings(engine: Engine, activity_id: str) -> dict[str, Any]:
    """The recordings an activity's browser work is in (its own, or its nearest recorded ancestor's), by page."""
    check_id(activity_id, SPAN_ID, "activity id")
    found = recording_reads.activity_recording_state(engine, activity_id)
    if found is None:
        raise NotFoundError(f"no activity with id {activity_id}")
    trace_id, pruned = found
    answer: dict[str, Any] = {"activity_id": activity_id, "recorded_by": None, "pruned": pruned, "recordings": []}
    owner = recording_reads.recording_owner(engine, activity_id, trace_id)
    if owner is None:
        return answer
    by_recording: dict[str, list[dict[str, Any]]] = {}
    for page in records(recording_reads.owner_pages(engine, owner, trace_id)):
        by_recording.setdefault(page.pop("recording_id"), []).append(page)
    answer["recorded_by"] = owner
    answer["recordings"] = [{"recording_id": rid, "pages": pages} for rid, pages in by_recording.items()]
    return answer


def recording_chunks(engine: Engine, recording_id: str, page_id: str | None) -> list[tuple[str, int, bytes, str]]:
    """(page id, sequence, compressed data, compression) of a recording's chunks, page by page in sequence order."""
    check_id(recording_id, RECORDING_ID, "recording id")
    rows = recording_reads.recording_chunk_data(engine, recording_id, page_id)
    if not rows:
        page = f" page {page_id}" if page_id is not None else ""
        raise NotFoundError(f"no recording {recording_id}{page} (it may have been pruned)")
    return rows


def bucket_for(since: dt.datetime, until: dt.datetime) -> int:
    window_s = max((until - since).total_seconds(), 1.0)
    return next((bucket for bucket in BUCKETS_S if window_s / bucket < 61), BUCKETS_S[-1])


def stats(
    engine: Engine,
    since: dt.datetime,
    until: dt.datetime,
    brand: str | None,
    client: str | None = None,
) -> dict[str, Any]:
    """Per brand, tool and client over [since, until), and per brand over time for the charts."""
    queries, params = stats_queries(since, engine.dialect, until, brand, client)
    report = {title: records(engine.rows(sql, params)) for title, sql in queries.items()}
    bucket_s = bucket_for(since, until)
    sql, params = stats_series_query(since, until, bucket_s, engine.dialect, brand, client)
    failure_sql, failure_params = stats_series_query(
        since, until, bucket_s, engine.dialect, brand, client, by_failure_class=True
    )
    return {
        "since": iso(since),
        "until": iso(until),
        "bucket_s": bucket_s,
        "by_brand": report["by brand"],
        "by_tool": report["by tool"],
        "by_client": report["by client"],
        "errors": report["errors"],
        "failures": report["failures"],
        "series": records(engine.rows(sql, params)),
        "failure_series": records(engine.rows(failure_sql, failure_params)),
    }
