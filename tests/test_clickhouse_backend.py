"""The viewer, the CLI and replays read ClickHouse (chdb here) and answer exactly as they do on DuckDB.

One data set, the database the real `demo` command produces, goes into chdb the way an
OTel Collector with the ClickHouse exporter would put it there (tests/helpers/clickhouse_exporter.py:
spans as the exporter's `otel_traces` rows, each recording chunk as the log record our sender
emits and then as the exporter's `otel_logs` row, Body base64). Every API answer, every
replay and the CLI's output must be the same from both, in a UTC session and in one whose
time zone is not UTC, read with chdb in process and with clickhouse-connect over ClickHouse's
HTTP interface (tests/helpers/clickhouse_http.py serves it over the same chdb engine).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource

from getgather_otel.recording.replay import load_streams, replay_page
from getgather_otel.store.clickhouse import (
    ChdbEngine,
    ClickHouseError,
    ClickHouseQueryError,
    ClickHouseRefusedError,
    ClickHouseServer,
    open_clickhouse,
    public_url,
)
from getgather_otel.store.engine import DuckDBEngine, Engine
from getgather_otel.store.reader import open_for_reading
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.reads import ClickHouseReads, FileReads, Reads
from getgather_otel.web.serving import serve_asgi
from tests.conftest import post
from tests.helpers.clickhouse_exporter import chunk_log_request, create_tables, exporter_log_rows, load_database
from tests.helpers.clickhouse_http import ChdbHttpServer, serve_chdb_http
from tests.helpers.outside_reads import listening, outside_reads

chdb_session = pytest.importorskip("chdb.session")

ZONES = ("UTC", "America/Los_Angeles")
# How ClickHouse is read: `ChdbEngine` in process, and `ClickHouseServer` (clickhouse-connect over
# HTTP) through ClickHouse's HTTP interface served over the same chdb engine on loopback.
CLIENTS = ("chdb", "clickhouse-connect")
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


@pytest.fixture(scope="module")
def loopback(house: Any) -> Iterator[ChdbHttpServer]:
    """ClickHouse's HTTP interface over the same chdb engine (`house`), for clickhouse-connect."""
    with serve_chdb_http() as server:
        yield server


OpenEngine = Callable[..., Engine]


@pytest.fixture(params=CLIENTS)
def clickhouse(request: pytest.FixtureRequest, house: Any) -> Iterator[OpenEngine]:
    """Opens an engine on `house` in a session time zone and database: `ChdbEngine` on the chdb
    session, or `ClickHouseServer` (clickhouse-connect) on the loopback server, whose profile
    holds the zone as a server's would (its `timezone()`, which the client reads too)."""
    opened: list[ClickHouseServer] = []

    def open_engine(zone: str = "UTC", database: str = "default") -> Engine:
        if request.param == "chdb":
            house.query(f"SET session_timezone = '{zone}'")
            house.query(f"USE {database}")
            return ChdbEngine(house)
        server: ChdbHttpServer = request.getfixturevalue("loopback")
        server.profile = {"session_timezone": zone}
        engine = ClickHouseServer(server.url(database))
        opened.append(engine)
        return engine

    yield open_engine
    for engine in opened:
        engine.close()
    house.query("USE default")
    house.query("SET session_timezone = 'UTC'")


def _recorded_activities(db: Path) -> list[str]:
    with open_for_reading(db, wait_s=10) as conn:
        rows = conn.execute("SELECT activity_id FROM activities WHERE has_recording ORDER BY activity_id").fetchall()
    return [str(row[0]) for row in rows]


@pytest.mark.parametrize("zone", ZONES)
def test_replays_from_otel_logs_equal_duckdbs_byte_for_byte(demo_db: Path, clickhouse: OpenEngine, zone: str) -> None:
    engine = clickhouse(zone)
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
        # An empty result still names its columns (ClickHouse's HTTP answer to one has no Native block).
        empty = "SELECT TraceId, SpanName AS name FROM otel_traces WHERE SpanName = 'no such span'"
        reply = await post(url + "/api/sql", json.dumps({"sql": empty}).encode(), JSON_BODY)
        body = json.loads(reply.text)
        out["empty sql"] = (reply.status_code, body["columns"], body["rows"])
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
    demo_db: Path, clickhouse: OpenEngine, zone: str, database: str
) -> None:
    paths = _paths(demo_db)
    duck = await _answers(FileReads(demo_db), paths)
    house_answers = await _answers(ClickHouseReads(clickhouse(zone, database)), paths)
    assert duck["sql"] == (200, ["spans", "traces"], duck["sql"][2]) and duck["sql"][2][0][0] > 0
    assert duck["empty sql"] == (200, ["TraceId", "name"], [])
    for path in [*paths, "sql", "empty sql"]:
        assert house_answers[path] == duck[path], path
    statuses = {status for status, _ in (duck[path][:2] for path in paths)}
    assert statuses == {200, 404}, "both found and missing ids were asked for"
    recorded = [path for path in paths if path.endswith("/recordings")]
    assert any(duck[path][1]["recordings"] for path in recorded), "recordings are compared, not only empty lists"


async def test_a_write_through_the_clickhouse_sql_api_is_refused(house: Any, clickhouse: OpenEngine) -> None:
    reads = ClickHouseReads(clickhouse())
    before = house.query("SELECT count() FROM otel_traces", "CSV")
    async with serve_asgi(build_viewer_app(reads, ViewerSettings())) as url:
        for text in ("DROP TABLE otel_traces", "INSERT INTO otel_traces (TraceId) VALUES ('x')"):
            reply = await post(
                url + "/api/sql", json.dumps({"sql": text}).encode(), {"Content-Type": "application/json"}
            )
            assert reply.status_code == 422, reply.text
    assert str(house.query("SELECT count() FROM otel_traces", "CSV")) == str(before)


async def test_the_clickhouse_sql_api_reads_its_tables_and_nothing_else(
    house: Any, clickhouse: OpenEngine, tmp_path: Path
) -> None:
    """`POST /api/sql` on `ui --clickhouse` ran file(), url(), s3(), remote() (readonly=2 allows table
    functions): a viewer user could read the host's files. ClickHouse's parse now refuses them (403)."""
    secret = tmp_path / "host-secret.txt"
    secret.write_text("s3cr3t-on-the-host\n")
    reads = ClickHouseReads(clickhouse())
    async with serve_asgi(build_viewer_app(reads, ViewerSettings())) as url:
        with listening() as (port, hits):
            for text in outside_reads(secret, port):
                reply = await post(url + "/api/sql", json.dumps({"sql": text}).encode(), JSON_BODY)
                assert reply.status_code == 403, (text, reply.text)
                assert "refused" in reply.text and "s3cr3t" not in reply.text
        assert hits == [], "nothing reached the network"
        count = json.dumps({"sql": "SELECT count() AS n FROM otel_traces"}).encode()
        reply = await post(url + "/api/sql", count, JSON_BODY)
        assert reply.status_code == 200 and json.loads(reply.text)["rows"][0][0] > 0


def test_a_query_that_fails_while_running_leaves_the_next_read_working(clickhouse: OpenEngine) -> None:
    """chdb answered the query after one that failed while running (throwIf, the time limit) with the
    failed one's leftovers ("Unexpected empty message in IPC file format"): after a user's query
    timed out in the viewer, its next request failed too."""
    engine = clickhouse()
    assert isinstance(engine, ChdbEngine | ClickHouseServer)
    failing = (
        ("SELECT throwIf(number = 3) AS x FROM numbers(10)", "throwIf"),
        ("SELECT sleepEachRow(0.5) AS x FROM numbers(10) SETTINGS max_block_size = 1", "TIMEOUT_EXCEEDED"),
    )
    for query, says in failing:
        with pytest.raises(ClickHouseQueryError, match=says):
            engine.read_only(query, 5, 1.0)
        assert engine.rows("SELECT count() AS n FROM otel_traces").rows[0][0] > 0, query


def test_clickhouse_urls_and_missing_logs(house: Any, clickhouse: OpenEngine) -> None:
    assert public_url("http://otel:s3cret@ch.internal:8123/otel") == "http://otel:***@ch.internal:8123/otel"
    with pytest.raises(ClickHouseError, match="http"):
        open_clickhouse("tcp://ch.internal:9000")
    house.query("CREATE DATABASE IF NOT EXISTS traces_only")
    house.query(
        (Path(__file__).parent / "clickhouse" / "otel_traces.sql")
        .read_text()
        .replace("CREATE TABLE IF NOT EXISTS otel_traces", "CREATE TABLE IF NOT EXISTS traces_only.otel_traces")
    )
    engine = clickhouse("UTC", "traces_only")
    assert engine.rows("SELECT count() FROM otel_traces").rows == [(0,)]
    with pytest.raises(ClickHouseError, match="no otel_logs table"):
        engine.rows("SELECT count() FROM {recording_chunks}")


def test_the_server_engine_over_http(house: Any, loopback: ChdbHttpServer) -> None:
    """`ClickHouseServer` (clickhouse-connect) against ClickHouse's HTTP interface: no server session
    (the loopback server refuses one, as the viewer's threads could not share it), parameters bound
    server-side, aware times made naive UTC in a non-UTC zone, a user's query limited and read-only,
    a command with a long array parameter (sent as a form), compressed answers, a wrong password."""
    loopback.profile = {"session_timezone": "Asia/Kolkata"}
    engine = open_clickhouse(loopback.url())
    assert isinstance(engine, ClickHouseServer) and engine.label == public_url(loopback.url())
    try:
        assert str(engine.client.server_tz) == "Asia/Kolkata", "the client read the server's zone"
        trace = house.query("SELECT TraceId FROM otel_traces LIMIT 1", "TabSeparated").bytes().decode().strip()
        found = engine.rows(
            'SELECT {utc(t."Timestamp")} AS start, t."Timestamp" AS raw, t."SpanAttributes" AS attributes '
            'FROM otel_traces AS t WHERE t."TraceId" = {trace:String} ORDER BY t."Timestamp" LIMIT 1',
            {"trace": trace},
        )
        [(start, raw, attributes)] = found.rows
        expected = house.query(
            f"SELECT toString(toDateTime64(Timestamp, 6, 'UTC')) FROM otel_traces WHERE TraceId = '{trace}' "
            "ORDER BY Timestamp LIMIT 1",
            "TabSeparated",
        ).bytes()
        assert start == dt.datetime.fromisoformat(expected.decode().strip()), "naive UTC, not Kolkata's wall clock"
        assert start.tzinfo is None and raw.tzinfo is None and abs(raw - start) <= dt.timedelta(microseconds=1)
        assert isinstance(attributes, dict) and attributes
        rows, more = engine.read_only("SELECT number FROM system.numbers LIMIT 20;", 10, 5.0)
        assert (len(rows.rows), more) == (10, True)
        limits, _ = engine.read_only("SELECT getSetting('readonly') AS r, getSetting('max_execution_time') AS s", 1, 5)
        assert limits.rows == [(1, 5)], "the settings travel with the query: readonly=1, no table functions"
        with pytest.raises(ClickHouseQueryError, match="code: 62"):
            engine.read_only("DROP TABLE otel_traces", 1, 5.0)
        house.query("CREATE TABLE IF NOT EXISTS doomed (id String) ENGINE = MergeTree ORDER BY id")
        house.query("INSERT INTO doomed SELECT toString(number) FROM numbers(300)")
        ids = [str(n) for n in range(0, 300, 2)] + ["x" * 64] * 100  # past 4 KB: a multipart form
        engine.command("DELETE FROM doomed WHERE id IN {ids:Array(String)}", {"ids": ids})
        assert engine.rows("SELECT count() FROM doomed").rows == [(150,)]
        assert loopback.encodings["zstd"] > 0, "answers came compressed, as ClickHouse sends them"
    finally:
        engine.close()
        house.query("DROP TABLE IF EXISTS doomed")
        loopback.profile = {}
    with pytest.raises(ClickHouseError, match="AUTHENTICATION_FAILED"):
        open_clickhouse(loopback.url(password="wrong"))
    # A reading user whose profile is readonly=1 (docs/collector.md) may change no setting: its own
    # readonly and time limit apply (clickhouse-connect refused to send ours: "Setting ... is readonly").
    loopback.profile = {"readonly": "1"}
    engine = open_clickhouse(loopback.url())
    try:
        rows, _ = engine.read_only("SELECT getSetting('readonly') AS r", 1, 5.0)
        assert rows.rows == [(1,)]
        with pytest.raises(ClickHouseRefusedError, match="file"):
            engine.read_only("SELECT file('/etc/hostname') AS host", 1, 5.0)
    finally:
        engine.close()
        loopback.profile = {}


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
