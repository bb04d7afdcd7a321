"""The viewer's JSON API over HTTP on loopback, against the database the real `demo` command produces."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from collectors.receiver import build_app
from collectors.stores import ReceiverSettings
from getgather_otel.cli import main
from getgather_otel.demo.shop import DEMO_PASSWORD
from getgather_otel.export.duckdb_store import DuckDBStore
from getgather_otel.recording import assets
from getgather_otel.viewer.api import api_routes
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.auth import COOKIE
from getgather_otel.viewer.openapi import openapi_document
from getgather_otel.viewer.reads import FileReads
from getgather_otel.web.serving import serve_asgi
from tests.conftest import OtlpSender, Reply, post
from tests.test_cli import damaged_copy
from tests.test_store import HELPERS, lock_held_by_other_process

JSON_BODY = {"Content-Type": "application/json"}


@dataclass
class Viewer:
    url: str
    replay_url: str
    db: Path

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return await post(self.url + path, b"", headers or {}, method="GET")

    async def json(self, path: str) -> Any:
        reply = await self.get(path)
        assert reply.status_code == 200, reply.text
        return json.loads(reply.text)

    async def sql(self, body: dict[str, Any] | bytes) -> Reply:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await post(self.url + "/api/sql", raw, JSON_BODY)


@pytest.fixture
async def viewer(demo_db: Path) -> AsyncIterator[Viewer]:
    app = build_viewer_app(FileReads(demo_db), ViewerSettings())
    async with serve_asgi(app) as url:
        yield Viewer(url, f"http://127.0.0.1:{app.state.replay.port}", demo_db)


def _error(reply: Reply, status: int, *words: str) -> None:
    assert reply.status_code == status, reply.text
    body = json.loads(reply.text)
    assert body["status"] == status
    for word in words:
        assert word in body["error"], body["error"]


async def test_activities_filter_sort_and_page(viewer: Viewer) -> None:
    everything = await viewer.json("/api/activities?limit=500")
    total = everything["total"]
    assert total == len(everything["activities"]) >= 14
    starts = [a["start_time"] for a in everything["activities"]]
    assert starts == sorted(starts, reverse=True), "newest first by default"

    shop = await viewer.json("/api/activities?brand=shop")
    assert shop["total"] == 4 and {a["brand_id"] for a in shop["activities"]} == {"shop"}
    assert all(a["has_recording"] for a in shop["activities"])
    errors = await viewer.json("/api/activities?status=error&kind=tool")
    assert errors["total"] >= 1 and {a["status"] for a in errors["activities"]} == {"error"}
    assert all(a["error"] for a in errors["activities"])
    named = await viewer.json("/api/activities?name=netflix_get_history&since=1h")
    assert named["total"] == 2 and {a["name"] for a in named["activities"]} == {"netflix_get_history"}
    assert (await viewer.json("/api/activities?until=2000-01-01"))["total"] == 0

    by_duration = await viewer.json("/api/activities?sort=duration&order=asc&limit=500")
    durations = [a["ms"] for a in by_duration["activities"]]
    assert durations == sorted(durations)
    pages = [await viewer.json(f"/api/activities?limit=5&offset={offset}") for offset in range(0, total, 5)]
    paged = [a["activity_id"] for page in pages for a in page["activities"]]
    assert paged == [a["activity_id"] for a in everything["activities"]], "pages tile the list exactly"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("brnad=shop", ("unknown parameter 'brnad'",)),
        ("status=failed", ("status must be one of ok, error",)),
        ("sort=password", ("sort must be one of",)),
        ("limit=0", ("limit must be between 1 and 500",)),
        ("limit=ten", ("limit must be a whole number",)),
        ("since=yesterday", ("cannot read since",)),
        ("since=1h&until=2h", ("since must be before until",)),
        ("since=99999999999d", ("cannot read since", "before year 1")),
        ("until=1000000d", ("cannot read until", "before year 1")),
    ],
)
async def test_bad_filters_get_422_with_a_reason(viewer: Viewer, query: str, words: tuple[str, ...]) -> None:
    _error(await viewer.get("/api/activities?" + query), 422, *words)


async def test_stats_since_before_year_one_is_422(viewer: Viewer) -> None:
    """`/api/stats?since=1000000d` was a 500 (timedelta's OverflowError)."""
    _error(await viewer.get("/api/stats?since=1000000d"), 422, "cannot read since", "before year 1")


async def test_activity_detail_trace_and_recordings(viewer: Viewer) -> None:
    [latest] = (await viewer.json("/api/activities?name=shop_get_orders&limit=1"))["activities"]
    detail = await viewer.json(f"/api/activities/{latest['activity_id']}")
    activity = detail["activity"]
    assert activity["activity_id"] == latest["activity_id"] and activity["attributes"]["getgather.brand.id"] == "shop"
    spans = detail["trace"]["spans"]
    assert detail["trace"] == await viewer.json(f"/api/traces/{activity['trace_id']}")
    own = next(s for s in spans if s["span_id"] == activity["activity_id"])
    names = [e["name"] for e in own["events"]]
    assert "browser.navigation" in names and "browser.action" in names
    assert all(s["start_us"] <= e["time_us"] <= s["start_us"] + s["duration_us"] for s in spans for e in s["events"])
    assert any(s["span_id"] == own["parent_span_id"] for s in spans), "the MCP spans around the activity are there"

    recordings = await viewer.json(f"/api/activities/{activity['activity_id']}/recordings")
    assert recordings["recorded_by"] == activity["activity_id"]
    [recording] = recordings["recordings"]
    [page] = recording["pages"]
    assert page["events"] > 10 and page["url"].startswith("http://127.0.0.1:")

    reply = await viewer.get(f"/api/recordings/{recording['recording_id']}/events?page_id={page['page_id']}")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/json")
    events = json.loads(reply.text)
    assert len(events) == page["events"], "every stored event, decompressed"
    assert {4, 2} <= {e["type"] for e in events}, "a Meta and a full snapshot to replay from"
    assert DEMO_PASSWORD not in reply.text
    everything = json.loads((await viewer.get(f"/api/recordings/{recording['recording_id']}/events")).text)
    assert everything == events

    [two_tabs] = (await viewer.json("/api/activities?name=shop_get_first_order&limit=1"))["activities"]
    [recording] = (await viewer.json(f"/api/activities/{two_tabs['activity_id']}/recordings"))["recordings"]
    first, second = recording["pages"]
    assert second["url"].endswith("/orders/1") and first["first_event_time"] <= second["first_event_time"]
    both = json.loads((await viewer.get(f"/api/recordings/{recording['recording_id']}/events")).text)
    assert len(both) == first["events"] + second["events"]


async def test_activity_without_recording_and_wrong_ids(viewer: Viewer) -> None:
    [plain] = (await viewer.json("/api/activities?brand=netflix&limit=1"))["activities"]
    assert (await viewer.json(f"/api/activities/{plain['activity_id']}/recordings"))["recordings"] == []
    _error(await viewer.get("/api/activities/0123456789abcdef"), 404, "no activity")
    _error(await viewer.get("/api/activities/0123456789abcdef/recordings"), 404, "no activity")
    _error(await viewer.get("/api/activities/not-an-id"), 422, "activity id", "malformed")
    _error(await viewer.get("/api/traces/" + "0" * 32), 404, "no spans")
    _error(await viewer.get("/api/traces/xyz"), 422, "trace id")
    _error(await viewer.get("/api/recordings/nope/events"), 404, "no recording nope")
    _error(await viewer.get("/api/recordings/a%20b/events"), 422, "recording id")
    _error(await viewer.get("/api/nothing-here"), 404, "openapi.json")


async def test_stats_per_brand_tool_and_over_time(viewer: Viewer) -> None:
    stats = await viewer.json("/api/stats?since=1h")
    by_brand = {row["brand_id"]: row for row in stats["by_brand"]}
    assert by_brand["goodreads"]["errors"] >= 1 and by_brand["shop"]["p95_ms"] >= by_brand["shop"]["p50_ms"]
    assert {row["name"] for row in stats["by_tool"] if row["brand_id"] == "shop"} == {
        "shop_get_orders",
        "shop_get_first_order",
    }
    assert stats["bucket_s"] == 60
    assert sum(p["activities"] for p in stats["series"]) == sum(r["activities"] for r in stats["by_brand"])
    only = await viewer.json("/api/stats?since=1h&brand=shop")
    assert {r["brand_id"] for r in only["by_brand"] + only["series"]} == {"shop"}
    empty = await viewer.json("/api/stats?since=2000-01-01&until=2000-01-02")
    assert empty["by_brand"] == [] and empty["series"] == []
    _error(await viewer.get("/api/stats?since=soon"), 422, "since")


async def test_sql_is_read_only_and_bounded(viewer: Viewer) -> None:
    ok = await viewer.sql({"sql": "SELECT brand_id, count(*) AS n FROM activities GROUP BY ALL ORDER BY 1"})
    result = json.loads(ok.text)
    assert ok.status_code == 200 and result["columns"] == ["brand_id", "n"] and not result["truncated"]
    limited = json.loads((await viewer.sql({"sql": "FROM range(50)", "limit": 7})).text)
    assert len(limited["rows"]) == 7 and limited["truncated"]
    for statement, word in [
        ("DELETE FROM otel_traces", "DELETE"),
        ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
        ("COPY otel_traces TO '/tmp/out.csv'", "COPY"),
        ("SET threads = 1", "SET"),
        ("INSTALL httpfs", "LOAD"),
        ("SELECT 1; DROP TABLE otel_traces", "exactly one statement"),
    ]:
        _error(await viewer.sql({"sql": statement}), 403, word)
    _error(await viewer.sql({"sql": "SELECT * FROM read_text('/etc/passwd')"}), 422, "disabled")
    _error(await viewer.sql({"sql": "SELEKT 1"}), 422, "does not parse")
    _error(await viewer.sql({"sql": "SELECT * FROM no_such_table"}), 422, "no_such_table")
    slow = {"sql": "SELECT count(*) FROM range(1000000000000)", "time_limit_s": 0.3}
    _error(await viewer.sql(slow), 408, "longer than 0.3 s")
    _error(await viewer.sql(b"{not json"), 422, "must be JSON")
    _error(await viewer.sql({"query": "SELECT 1"}), 422, '"sql"')
    _error(await viewer.sql({"sql": "SELECT 1", "limit": 10**6}), 422, "limit")
    assert (await viewer.json("/api/activities?limit=500"))["total"] >= 14, "nothing was changed"


async def test_openapi_describes_every_route(viewer: Viewer) -> None:
    document = await viewer.json("/api/openapi.json")
    assert document == json.loads(json.dumps(openapi_document()))
    served = {
        (route.path, method.lower())
        for route in api_routes(FileReads(viewer.db), None)
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    described = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert served == described


async def test_pages_assets_and_replay_origin(viewer: Viewer) -> None:
    page = await viewer.get("/")
    assert page.status_code == 200 and "/static/viewer.js" in page.text
    assert (
        f"frame-src http://127.0.0.1:{viewer.replay_url.rsplit(':', 1)[1]}" in page.headers["content-security-policy"]
    )
    for name, kind in [("viewer.js", "javascript"), ("viewer.css", "css"), ("uplot.js", "javascript")]:
        asset = await viewer.get("/static/" + name)
        assert asset.status_code == 200 and kind in asset.headers["content-type"] and len(asset.text) > 1000
    assert (await viewer.get("/static/../../etc/passwd")).status_code == 404
    [latest] = (await viewer.json("/api/activities?brand=shop&limit=1"))["activities"]
    replay = await post(f"{viewer.replay_url}/replay/{latest['activity_id']}", b"", {}, method="GET")
    policy = replay.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert replay.status_code == 200 and f'<script nonce="{nonce}">' in replay.text and "frame-ancestors" in policy
    assert "<script>" not in replay.text, "every script of the page carries the nonce"
    missing = await post(f"{viewer.replay_url}/replay/0123456789abcdef", b"", {}, method="GET")
    assert missing.status_code == 404 and "no activity" in missing.text


async def test_token_by_header_or_cookie(demo_db: Path) -> None:
    app = build_viewer_app(FileReads(demo_db), ViewerSettings(token="s3cret"))
    async with serve_asgi(app) as url:
        _error(await post(url + "/api/activities", b"", {}, method="GET"), 401, "token")
        assert (await post(url + "/", b"", {}, method="GET")).status_code == 401
        bearer = await post(url + "/api/activities", b"", {"Authorization": "Bearer s3cret"}, method="GET")
        assert bearer.status_code == 200
        cookie = await post(url + "/api/stats", b"", {"Cookie": f"{COOKIE}=s3cret"}, method="GET")
        assert cookie.status_code == 200
        wrong = await post(url + "/api/stats", b"", {"Cookie": f"{COOKIE}=guess"}, method="GET")
        assert wrong.status_code == 401
        replay = f"http://127.0.0.1:{app.state.replay.port}/replay/0123456789abcdef"
        assert (await post(replay, b"", {}, method="GET")).status_code == 401
        assert (await post(replay, b"", {"Cookie": f"{COOKIE}=s3cret"}, method="GET")).status_code == 404


async def test_ui_beside_a_process_holding_the_file_says_what_to_do(demo_db: Path, tmp_path: Path) -> None:
    held = tmp_path / "held.duckdb"
    held.write_bytes(demo_db.read_bytes())
    app = build_viewer_app(FileReads(held, wait_s=0.3), ViewerSettings())
    async with serve_asgi(app) as url:
        with lock_held_by_other_process(held):
            _error(await post(url + "/api/activities", b"", {}, method="GET"), 503, "collect", "retry")
        assert (await post(url + "/api/activities", b"", {}, method="GET")).status_code == 200


async def test_collect_serves_the_viewer_from_the_writing_process(tmp_path: Path) -> None:
    db = tmp_path / "collected.duckdb"
    store = DuckDBStore(db)
    app = build_app(store, ReceiverSettings(), ViewerSettings())
    async with serve_asgi(app) as url:
        sender = OtlpSender(url, "fleet-1")
        for brand in ("netflix", "amazon"):
            await sender.activity("login", brand)
        await sender.close()
        assert store.flush(10)
        listed = json.loads((await post(url + "/api/activities", b"", {}, method="GET")).text)
        assert {a["brand_id"] for a in listed["activities"]} == {"netflix", "amazon"}
        count = await post(url + "/api/sql", b'{"sql": "SELECT count(*) FROM otel_traces"}', JSON_BODY)
        assert json.loads(count.text)["rows"] == [[2]]
        refused = await post(url + "/api/sql", b'{"sql": "DELETE FROM otel_traces"}', JSON_BODY)
        assert refused.status_code == 403
        assert app.state.replay.port, "the replay origin runs beside the collector"


async def test_ui_beside_an_instrumented_process_that_is_writing(tmp_path: Path) -> None:
    db = tmp_path / "live.duckdb"
    writer = subprocess.Popen(
        [sys.executable, str(HELPERS / "emit_until_sigterm.py"), str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        async with serve_asgi(build_viewer_app(FileReads(db), ViewerSettings())) as url:
            totals = []
            for _ in range(8):
                reply = await post(url + "/api/activities?limit=1", b"", {}, method="GET")
                assert reply.status_code == 200, reply.text
                totals.append(json.loads(reply.text)["total"])
                await asyncio.sleep(0.05)
        assert totals == sorted(totals) and totals[-1] > totals[0], "the viewer sees the writer's progress"
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(timeout=30)


def test_ui_command_reports_unusable_files_and_ports_in_one_sentence(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ui", "--db", str(tmp_path / "missing.duckdb")]) == 2
    assert "no getgather-otel database at" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.duckdb"
    corrupt.write_bytes(b"garbage" * 500)
    assert main(["ui", "--db", str(corrupt)]) == 2
    err = capsys.readouterr().err
    assert "not a readable DuckDB database" in err and "Traceback" not in err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["ui", "--db", str(demo_db), "--replay-port", port]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
        assert main(["collect", "--db", str(tmp_path / "c.duckdb"), "--port", port]) == 2
        assert "choose another --port" in capsys.readouterr().err


def test_ui_without_built_bundles_says_how_to_build_them(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(assets, "ASSETS_DIR", tmp_path)
    assert main(["ui", "--db", str(demo_db)]) == 2
    assert "npm ci && python -m getgather_otel.recording.assets build" in capsys.readouterr().err


async def test_a_damaged_chunk_is_an_error_status_before_any_event(demo_db: Path, tmp_path: Path) -> None:
    """A recording with a chunk that is not zstd was answered 200 and the body broke off mid-array."""
    db, activity, page, sequence = damaged_copy(demo_db, tmp_path)
    app = build_viewer_app(FileReads(db), ViewerSettings())
    async with serve_asgi(app) as url:
        viewer = Viewer(url, "", db)
        found = await viewer.json(f"/api/activities/{activity}/recordings")
        damaged = [r["recording_id"] for r in found["recordings"] if any(p["page_id"] == page for p in r["pages"])]
        reply = await viewer.get(f"/api/recordings/{damaged[0]}/events")
        _error(reply, 500, f"chunk {sequence} of page {page} is damaged: its data is not zstd-compressed")
        events = {"sql": f"SELECT length(events_json) FROM rrweb_recordings WHERE activity_id = '{activity}'"}
        _error(await viewer.sql(events), 422, f"chunk {sequence} of page {page} is damaged")


async def test_sql_answers_are_bounded_in_bytes_and_time(viewer: Viewer) -> None:
    """`SELECT repeat('x', 100000000) FROM range(8)` was an 800 MB answer, sent past the time
    limit, from a process grown to 3.2 GB: rows are measured as they are fetched, past the byte
    limit the answer is a 413 naming it, and the time limit covers making the answer."""
    huge = {"sql": "SELECT repeat('x', 10000000) AS s FROM range(8)"}
    _error(await viewer.sql(huge), 413, "larger than its limit, 16 MiB of JSON, after 1 row(s)", "max_bytes")
    _error(await viewer.sql({**huge, "max_bytes": 4096}), 413, "its limit, 4096 bytes of JSON, after 0 row(s)")
    many = {"sql": "SELECT repeat('y', 1000) AS s FROM range(10000)", "limit": 10000, "max_bytes": 2_000_000}
    _error(await viewer.sql(many), 413, "2000000 bytes of JSON, after 1992 row(s)")  # 1004 bytes a row
    fits = json.loads((await viewer.sql({**huge, "max_bytes": 64 * 1024 * 1024, "limit": 2})).text)
    assert [len(row[0]) for row in fits["rows"]] == [10_000_000, 10_000_000] and fits["truncated"]
    _error(await viewer.sql({**huge, "max_bytes": 64 * 1024 * 1024 + 1}), 422, "max_bytes")
    slow = {"sql": "SELECT repeat('z', 1000) AS s FROM range(10000)", "limit": 10000, "time_limit_s": 0.001}
    _error(await viewer.sql(slow), 408, "longer than 0.001 s")
