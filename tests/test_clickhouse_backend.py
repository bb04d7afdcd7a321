"""The viewer, the CLI and replays read ClickHouse (chdb here) and answer exactly as they do on DuckDB.

One data set, the database the real `demo` command produces, goes into chdb the way an
OTel Collector with the ClickHouse exporter would put it there (tests/helpers/clickhouse_exporter.py:
spans as the exporter's `otel_traces` rows, each recording chunk as the log record our sender
emits and then as the exporter's `otel_logs` row, Body base64). Every API answer, every
replay and the CLI's output must be the same from both, in a UTC session and in one whose
time zone is not UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource

from getgather_otel.recording.replay import load_streams, replay_page
from getgather_otel.store.clickhouse import ChdbEngine, ClickHouseError, ClickHouseServer, open_clickhouse, public_url
from getgather_otel.store.engine import DuckDBEngine
from getgather_otel.store.reader import open_for_reading
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.reads import ClickHouseReads, FileReads, Reads
from getgather_otel.web.serving import serve_asgi
from tests.conftest import post
from tests.helpers.clickhouse_exporter import chunk_log_request, create_tables, exporter_log_rows, load_database

chdb_session = pytest.importorskip("chdb.session")

ZONES = ("UTC", "America/Los_Angeles")
JSON_BODY = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def house(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A chdb session holding the demo's spans and recordings as the exporter writes them."""
    session = chdb_session.Session()
    loaded = load_database(session, demo_db, tmp_path_factory.mktemp("exporter"))
    assert loaded > 0, "the demo recorded browser pages"
    # The same rows as exporters before contrib PR 34799 spelled kinds and status codes.
    session.query("CREATE DATABASE old_spelling")
    session.query("USE old_spelling")
    create_tables(session)
    session.query(
        "INSERT INTO otel_traces SELECT * REPLACE (concat('STATUS_CODE_', upper(StatusCode)) AS StatusCode, "
        "concat('SPAN_KIND_', upper(SpanKind)) AS SpanKind) FROM default.otel_traces"
    )
    session.query("INSERT INTO otel_logs SELECT * FROM default.otel_logs")
    session.query("USE default")
    yield session
    session.close()


def _recorded_activities(db: Path) -> list[str]:
    with open_for_reading(db, wait_s=10) as conn:
        rows = conn.execute("SELECT activity_id FROM activities WHERE has_recording ORDER BY activity_id").fetchall()
    return [str(row[0]) for row in rows]


@pytest.mark.parametrize("zone", ZONES)
def test_replays_from_otel_logs_equal_duckdbs_byte_for_byte(demo_db: Path, house: Any, zone: str) -> None:
    house.query(f"SET session_timezone = '{zone}'")
    engine = ChdbEngine(house)
    activities = _recorded_activities(demo_db)
    assert activities
    with open_for_reading(demo_db, wait_s=10) as conn:
        duck = DuckDBEngine(conn)
        for activity_id in activities:
            owner, pages = load_streams(duck, activity_id)
            assert (owner, pages) == load_streams(engine, activity_id)
            assert pages and all(page.events for page in pages)
            assert (
                replay_page(duck, activity_id, "fixed-nonce")[0] == replay_page(engine, activity_id, "fixed-nonce")[0]
            )


async def _answers(reads: Reads, paths: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with serve_asgi(build_viewer_app(reads, ViewerSettings())) as url:
        for path in paths:
            reply = await post(url + path, b"", {}, method="GET")
            out[path] = (
                reply.status_code,
                json.loads(reply.text) if path.startswith("/api/") and "/events" not in path else reply.text,
            )
        reply = await post(
            url + "/api/sql",
            json.dumps(
                {"sql": "SELECT count(*) AS spans, count(DISTINCT TraceId) AS traces FROM otel_traces"}
            ).encode(),
            {"Content-Type": "application/json"},
        )
        body = json.loads(reply.text)
        out["sql"] = (reply.status_code, body["columns"], body["rows"])
    return out


def _paths(db: Path) -> list[str]:
    with open_for_reading(db, wait_s=10) as conn:
        activities = [
            str(r[0]) for r in conn.execute("SELECT activity_id FROM activities ORDER BY activity_id").fetchall()
        ]
        traces = [str(r[0]) for r in conn.execute("SELECT DISTINCT trace_id FROM activities ORDER BY 1").fetchall()]
        recordings = conn.execute(
            "SELECT DISTINCT recording_id, page_id FROM recording_chunks ORDER BY 1, 2"
        ).fetchall()
    window = "since=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00Z"
    paths = [
        "/api/activities?limit=500",
        "/api/activities?status=error",
        "/api/activities?sort=duration&order=asc&limit=5&offset=1",
        f"/api/stats?{window}",
        f"/api/stats?{window}&brand=shop",
        "/api/activities/0000000000000000",
        "/api/traces/00000000000000000000000000000000",
    ]
    for activity_id in activities:
        paths += [f"/api/activities/{activity_id}", f"/api/activities/{activity_id}/recordings"]
    paths += [f"/api/traces/{trace_id}" for trace_id in traces]
    for recording_id, page_id in recordings:
        paths += [f"/api/recordings/{recording_id}/events", f"/api/recordings/{recording_id}/events?page_id={page_id}"]
    return paths


@pytest.mark.parametrize(("zone", "database"), [*((zone, "default") for zone in ZONES), (ZONES[1], "old_spelling")])
async def test_the_viewer_api_answers_the_same_from_duckdb_and_clickhouse(
    demo_db: Path, house: Any, zone: str, database: str
) -> None:
    house.query(f"SET session_timezone = '{zone}'")
    paths = _paths(demo_db)
    duck = await _answers(FileReads(demo_db), paths)
    house.query(f"USE {database}")
    try:
        clickhouse = await _answers(ClickHouseReads(ChdbEngine(house)), paths)
    finally:
        house.query("USE default")
    assert duck["sql"] == (200, ["spans", "traces"], duck["sql"][2]) and duck["sql"][2][0][0] > 0
    for path in [*paths, "sql"]:
        assert clickhouse[path] == duck[path], path
    statuses = {status for status, _ in (duck[path][:2] for path in paths)}
    assert statuses == {200, 404}, "both found and missing ids were asked for"
    recorded = [path for path in paths if path.endswith("/recordings")]
    assert any(duck[path][1]["recordings"] for path in recorded), "recordings are compared, not only empty lists"


async def test_a_write_through_the_clickhouse_sql_api_is_refused(house: Any) -> None:
    before = house.query("SELECT count() FROM otel_traces", "CSV")
    async with serve_asgi(build_viewer_app(ClickHouseReads(ChdbEngine(house)), ViewerSettings())) as url:
        for text in ("DROP TABLE otel_traces", "INSERT INTO otel_traces (TraceId) VALUES ('x')"):
            reply = await post(
                url + "/api/sql", json.dumps({"sql": text}).encode(), {"Content-Type": "application/json"}
            )
            assert reply.status_code == 422, reply.text
    assert str(house.query("SELECT count() FROM otel_traces", "CSV")) == str(before)


def test_clickhouse_urls_and_missing_logs(house: Any) -> None:
    assert public_url("http://otel:s3cret@ch.internal:8123/otel") == "http://otel:***@ch.internal:8123/otel"
    with pytest.raises(ClickHouseError, match="http"):
        open_clickhouse("tcp://ch.internal:9000")
    house.query("CREATE DATABASE IF NOT EXISTS traces_only")
    house.query("USE traces_only")
    try:
        house.query((Path(__file__).parent / "clickhouse" / "otel_traces.sql").read_text())
        engine = ChdbEngine(house)
        assert engine.rows("SELECT count() FROM otel_traces").rows == [(0,)]
        with pytest.raises(ClickHouseError, match="no otel_logs table"):
            engine.rows("SELECT count() FROM {recording_chunks}")
    finally:
        house.query("USE default")


def test_the_server_engine_binds_parameters_and_returns_plain_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ClickHouseServer` (clickhouse-connect) against a stand-in client: no ClickHouse server runs here."""
    clickhouse_connect = pytest.importorskip("clickhouse_connect")
    calls: list[tuple[Any, ...]] = []
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))

    class Result:
        def __init__(self) -> None:
            self.column_names = ("start", "attributes")
            self.result_rows = [(dt.datetime(2026, 11, 1, 5, 30, tzinfo=kolkata), {"a": "b"})]

    class Client:
        def query(self, sql: str, parameters: dict[str, object], settings: dict[str, object]) -> Result:
            calls.append(("query", sql, parameters, settings))
            return Result()

        def command(self, sql: str, parameters: dict[str, object], settings: dict[str, object]) -> None:
            calls.append(("command", sql, parameters, settings))

        def close(self) -> None:
            calls.append(("close",))

    def get_client(dsn: str, autogenerate_session_id: bool) -> Client:
        assert not autogenerate_session_id, "concurrent requests cannot share one server session"
        calls.append(("connect", dsn))
        return Client()

    monkeypatch.setattr(clickhouse_connect, "get_client", get_client)
    engine = open_clickhouse("http://viewer:pw@ch.internal:8123/otel")
    assert isinstance(engine, ClickHouseServer) and engine.label == "http://viewer:***@ch.internal:8123/otel"
    found = engine.rows(
        'SELECT {utc(t."Timestamp")} AS start, t."SpanAttributes" AS attributes FROM otel_traces AS t '
        'WHERE t."TraceId" = {trace:String}',
        {"trace": "ab"},
    )
    assert found.rows == [(dt.datetime(2026, 11, 1, 0, 0), {"a": "b"})], "aware times become naive UTC"
    _, sql, parameters, settings = calls[1]
    assert "toDateTime64(t.\"Timestamp\", 6, 'UTC')" in sql and "{trace:String}" in sql, "bound server-side"
    assert (parameters, settings) == ({"trace": "ab"}, {})
    engine.read_only("SELECT 1 AS one;", 10, 5.0)
    _, sql, _, settings = calls[2]
    assert sql.startswith("SELECT * FROM (\nSELECT 1 AS one\n) LIMIT 11")
    assert settings == {"readonly": 2, "max_execution_time": 5}
    engine.command("DELETE FROM otel_logs WHERE {keep:String} = ''", {"keep": "x"})
    assert calls[3][:2] == ("command", "DELETE FROM otel_logs WHERE {keep:String} = ''")
    engine.close()
    assert calls[-1] == ("close",)


def test_duckdbs_otel_logs_view_is_what_the_exporter_writes_for_our_chunks(demo_db: Path) -> None:
    """The DuckDB file's `otel_logs` (a view over recording_chunks) equals, row for row, the `otel_logs`
    rows the ClickHouse exporter writes for the log records our sender emits for the same chunks."""
    with open_for_reading(demo_db, wait_s=10) as conn:
        [(resource, version)] = conn.execute(
            'SELECT DISTINCT "ResourceAttributes", "ScopeVersion" FROM otel_traces WHERE "ScopeName" = ?',
            ["getgather_otel"],
        ).fetchall()
        cursor = conn.execute('SELECT * FROM otel_logs ORDER BY "Timestamp", "SpanId", "LogAttributes"')
        columns = [d[0] for d in cursor.description or []]
        ours = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    expected = exporter_log_rows(chunk_log_request(demo_db, Resource(dict(resource)), version)).to_pylist()
    assert ours and len(ours) == len(expected)

    def comparable(row: dict[str, Any]) -> tuple[Any, ...]:
        moment = row["Timestamp"]
        naive = moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment
        return tuple(
            dict(value) if isinstance(value, list) else naive if name == "Timestamp" else value
            for name, value in sorted(row.items())
            if name != "TimestampTime"
        )

    assert sorted(map(comparable, ours), key=repr) == sorted(map(comparable, expected), key=repr)
