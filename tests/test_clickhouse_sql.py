"""The stock queries give the same answers on ClickHouse's `otel_traces` as on our DuckDB file.

The same spans (real activities from `activity()` plus 3,000 synthetic ones with missing,
empty and present attributes) go into a DuckDB file and, through Parquet, into chdb (the
ClickHouse engine in process) with the table the OTel Collector's ClickHouse exporter
creates. Every stock query runs rendered for each dialect from one template, read from chdb
directly and through clickhouse-connect over ClickHouse's HTTP interface (a loopback server
over the same chdb engine, tests/helpers/clickhouse_http.py), on ClickHouse three ways: a
UTC session, sessions in other time zones (ClickHouse reads literals and prints
`DateTime64` in the session's zone), and rows spelled as exporters before contrib PR 34799
wrote them (`STATUS_CODE_ERROR`, `SPAN_KIND_SERVER`), which must count the same errors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.synthetic import insert_activity_spans
from getgather_otel import activity
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.store.clickhouse import ChdbEngine, ClickHouseServer, open_clickhouse
from getgather_otel.store.queries.activities import (
    ActivityFilter,
    activities_count_query,
    activities_query,
    stats_queries,
    stats_series_query,
)
from getgather_otel.store.reader import open_for_reading
from tests.helpers.clickhouse_http import ChdbHttpServer, serve_chdb_http

chdb_session = pytest.importorskip("chdb.session")

CLICKHOUSE_DDL = Path(__file__).parent / "clickhouse" / "otel_traces.sql"
# Recordings live in otel_logs on ClickHouse; none here, so has_recording is false on both engines.
LOGS_DDL = Path(__file__).parent / "clickhouse" / "otel_logs.sql"
# How ClickHouse is read: chdb's session directly, and clickhouse-connect over HTTP (`Loopback`).
CLIENTS = ("chdb", "clickhouse-connect")
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


async def _real_activities() -> None:
    async with activity(name="login", brand_id="netflix", kind="auth"):
        pass
    async with activity(name="reconcile"):  # no brand, custom kind
        pass
    with pytest.raises(TimeoutError):
        async with activity(name="get_orders", brand_id="amazon"):
            raise TimeoutError("the orders page never loaded")


class Loopback:
    """The chdb engine behind ClickHouse's HTTP interface (tests/helpers/clickhouse_http.py), read as
    `--clickhouse http://...` reads a server: `ClickHouseServer`, clickhouse-connect over HTTP. The
    session time zone is the server profile's (its `timezone()`, which the client also reads)."""

    def __init__(self, server: ChdbHttpServer) -> None:
        self.server = server
        self.engines: dict[tuple[str, str], ChdbEngine | ClickHouseServer] = {}

    def rows(self, sql: str, params: dict[str, object], where: tuple[str, str]) -> list[tuple[Any, ...]]:
        zone, database = where
        self.server.profile = {"session_timezone": zone}
        if where not in self.engines:
            self.engines[where] = open_clickhouse(self.server.url(database))
        return self.engines[where].rows(sql, params).rows


@pytest.fixture(params=CLIENTS)
async def engines(
    request: pytest.FixtureRequest, telemetry: Telemetry, db_path: Path, tmp_path: Path
) -> AsyncIterator[tuple[Path, Any]]:
    await _real_activities()
    assert telemetry.flush(20)
    telemetry.shutdown()
    conn = duckdb.connect(str(db_path))
    insert_activity_spans(conn, 3000, start=START.replace(tzinfo=None), step_s=97.0)
    parquet = tmp_path / "spans.parquet"
    conn.execute(f"COPY otel_traces TO '{parquet}' (FORMAT parquet)")
    conn.close()
    session = chdb_session.Session()
    session.query(CLICKHOUSE_DDL.read_text())
    session.query(LOGS_DDL.read_text())
    session.query(f"INSERT INTO otel_traces SELECT * FROM file('{parquet}', Parquet)")
    session.query("CREATE DATABASE old_spelling")
    session.query("USE old_spelling")
    session.query(CLICKHOUSE_DDL.read_text())
    session.query(LOGS_DDL.read_text())
    session.query(
        "INSERT INTO otel_traces SELECT * REPLACE ("
        "concat('STATUS_CODE_', upper(StatusCode)) AS StatusCode, concat('SPAN_KIND_', upper(SpanKind)) AS SpanKind"
        f") FROM file('{parquet}', Parquet)"
    )
    olds = json.loads(str(session.query("SELECT groupUniqArray(StatusCode) FROM otel_traces", "JSONCompact")))
    assert "STATUS_CODE_ERROR" in olds["data"][0][0]
    if request.param == "chdb":
        yield db_path, session
    else:
        with serve_chdb_http() as server:
            loopback = Loopback(server)
            yield db_path, loopback
            for engine in loopback.engines.values():
                engine.close()
    session.close()


def _normal(value: Any) -> Any:
    """One spelling per value across engines: timestamps to microseconds, numbers as floats."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, str) and len(value) == 29 and value[4] == "-" and value[19] == ".":
        return value[:26]  # ClickHouse DateTime64(9) text, nanoseconds -> microseconds
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _duckdb_rows(db: Path, sql: str, params: dict[str, object] | None = None) -> list[list[Any]]:
    with open_for_reading(db, wait_s=10) as conn:
        return [[_normal(v) for v in row] for row in conn.execute(sql, params or {}).fetchall()]


# (session time zone, database): the exporter's spelling in UTC and two other zones, the old spelling.
CLICKHOUSE_SESSIONS = [
    ("UTC", "default"),
    ("Asia/Kolkata", "default"),
    ("America/Los_Angeles", "default"),
    ("Asia/Kolkata", "old_spelling"),
]


def _clickhouse_rows(
    session: Any, sql: str, params: dict[str, object] | None = None, where: tuple[str, str] = ("UTC", "default")
) -> list[list[Any]]:
    if isinstance(session, Loopback):
        return [[_normal(v) for v in row] for row in session.rows(sql, params or {}, where)]
    zone, database = where
    session.query(f"USE {database}")
    session.query(f"SET session_timezone = '{zone}'")
    # An output setting only: 64-bit integers as JSON numbers rather than quoted text.
    unquoted = f"{sql} SETTINGS output_format_json_quote_64bit_integers = 0"
    result = session.query(unquoted, "JSONCompact", params=params or {})
    return [[_normal(v) for v in row] for row in json.loads(str(result))["data"]]


def _same_everywhere(duck: list[list[Any]], session: Any, sql: str, params: dict[str, object]) -> None:
    """The DuckDB rows equal ClickHouse's in every session time zone and on old-spelling rows."""
    for where in CLICKHOUSE_SESSIONS:
        try:
            _same(duck, _clickhouse_rows(session, sql, params, where))
        except AssertionError as error:
            raise AssertionError(f"ClickHouse session {where}: {error}") from None


def _same(left: list[list[Any]], right: list[list[Any]]) -> None:
    assert len(left) == len(right) > 0
    for a_row, b_row in zip(left, right, strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (a_row, b_row)
            else:
                assert a == b, (a_row, b_row)


@pytest.mark.parametrize("title", ["by brand", "by tool", "by client", "errors", "failures"])
async def test_stats_queries_agree(engines: tuple[Path, Any], title: str) -> None:
    db, session = engines
    since = START - dt.timedelta(days=1)
    duck_queries, duck_params = stats_queries(since, "duckdb")
    house_queries, house_params = stats_queries(since, "clickhouse")
    duck = _duckdb_rows(db, duck_queries[title], duck_params)
    _same_everywhere(duck, session, house_queries[title], house_params)
    if title == "by brand":
        brands = [row[0] for row in duck]
        assert "" in brands and "netflix" in brands, "real activities (one without a brand) are included"
    if title == "by client":
        clients = [row[:2] for row in duck]
        assert clients == [["", ""], ["claude-code", "2.0.1"], ["cursor", "1.7.0"]], "missing and empty are ''"
    by_client = title == "by client"
    one = "cursor" if by_client else "amazon"
    brand, client = (None, one) if by_client else (one, None)
    duck_queries, duck_params = stats_queries(since, "duckdb", brand=brand, client=client)
    house_queries, house_params = stats_queries(since, "clickhouse", brand=brand, client=client)
    only = _duckdb_rows(db, duck_queries[title], duck_params)
    _same_everywhere(only, session, house_queries[title], house_params)
    assert only == [row for row in duck if row[0] == one], "the same rows as every brand's (client's), filtered"


@pytest.mark.parametrize(
    "filters",
    [
        ActivityFilter(limit=50),
        ActivityFilter(brand="amazon", limit=30),
        ActivityFilter(name="login"),
        ActivityFilter(status="error", limit=40),
        ActivityFilter(status="ok", kind="tool", sort="duration", limit=25, offset=10),
        ActivityFilter(sort="name", descending=False, until=START + dt.timedelta(days=3), limit=30),
        ActivityFilter(since=START + dt.timedelta(days=2), brand="goodreads", limit=10),
        ActivityFilter(client="cursor", sort="client_name", limit=30),
        ActivityFilter(client="", status="ok", sort="client_name", descending=False, limit=30),
        ActivityFilter(trace_id=hashlib.md5(b"42").hexdigest()),  # one synthetic activity's trace (md5(i))
    ],
)
async def test_activities_query_agrees(engines: tuple[Path, Any], filters: ActivityFilter) -> None:
    db, session = engines
    sql, params = activities_query(filters, "duckdb")
    duck = _duckdb_rows(db, sql, params)
    house_sql, house_params = activities_query(filters, "clickhouse")
    for where in CLICKHOUSE_SESSIONS:
        _same(duck, _clickhouse_rows(session, house_sql, house_params, where))
    assert len(duck) == min(filters.limit, len(duck))


async def test_activity_counts_and_stats_series_agree(engines: tuple[Path, Any]) -> None:
    db, session = engines
    for filters in (
        ActivityFilter(),
        ActivityFilter(brand="amazon", status="error"),
        ActivityFilter(client="claude-code", status="error"),
        ActivityFilter(failure_class="unknown"),  # a failed span written without a class
        ActivityFilter(failure_class="tool_error"),
    ):
        sql, params = activities_count_query(filters, "duckdb")
        house_sql, house_params = activities_count_query(filters, "clickhouse")
        _same_everywhere(_duckdb_rows(db, sql, params), session, house_sql, house_params)
    until = START + dt.timedelta(days=4)
    for brand in (None, "netflix"):
        sql, params = stats_series_query(START, until, 6 * 3600, "duckdb", brand)
        duck = _duckdb_rows(db, sql, params)
        house_sql, house_params = stats_series_query(START, until, 6 * 3600, "clickhouse", brand)
        _same_everywhere(duck, session, house_sql, house_params)
        assert len({row[1] for row in duck}) == 14, "3,000 spans 97 s apart fill 14 six-hour buckets"
        sql, params = stats_series_query(START, until, 6 * 3600, "duckdb", brand, by_failure_class=True)
        house_sql, house_params = stats_series_query(START, until, 6 * 3600, "clickhouse", brand, by_failure_class=True)
        _same_everywhere(_duckdb_rows(db, sql, params), session, house_sql, house_params)
