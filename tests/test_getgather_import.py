"""Coming from getgather: its schema's queries on getgather-otel, and its SQLite history imported.

The source is a real SQLite file built from getgather's `schema.sql` (tests/getgather/) and
filled the way getgather wrote it (`datetime.isoformat()` times, `CURRENT_TIMESTAMP`
`created_at`, rrweb events as one JSON array); the target is a real DuckDB file.
"""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from patchright.async_api import Browser

import getgather_otel
from collectors.receiver import build_app
from collectors.stores import ReceiverSettings
from getgather_otel.cli import main
from getgather_otel.export import getgather_import
from getgather_otel.export.duckdb_store import DuckDBStore
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.recording.chunk_codec import decompress_json
from getgather_otel.recording.chunks import Chunk
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.reads import FileReads
from getgather_otel.web.serving import serve_asgi
from tests.conftest import flushed, rows
from tests.test_recording import STAGE, open_replay, seek_to_end, until_true
from tests.test_viewer_api import Viewer

Recordings = dict[int, list[dict[str, Any]]]
Imported = tuple[Path, Recordings, str]
SCHEMA = Path(__file__).with_name("getgather") / "schema.sql"
VIEWPORT = {"width": 1280, "height": 720}
# Three days ago, whole milliseconds: getgather's times, in UTC.
BASE = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=250_000, tzinfo=None)


def page_events(start_ms: int, title: str, line: str) -> list[dict[str, Any]]:
    """What getgather's rrweb recorder stored for one page: Meta, a full snapshot, then a mutation adding `line`."""
    text = {"type": 3, "textContent": title, "id": 7}
    heading = {"type": 2, "tagName": "h1", "attributes": {"id": "title"}, "childNodes": [text], "id": 6}
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [heading], "id": 5}
    head = {"type": 2, "tagName": "head", "attributes": {}, "childNodes": [], "id": 4}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [head, body], "id": 3}
    doctype = {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 2}
    document = {"type": 0, "childNodes": [doctype, html], "id": 1}
    paragraph = {"type": 2, "tagName": "p", "attributes": {}, "childNodes": [], "id": 8}
    adds = [
        {"parentId": 5, "nextId": None, "node": paragraph},
        {"parentId": 8, "nextId": None, "node": {"type": 3, "textContent": line, "id": 9}},
    ]
    mutation = {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": adds}
    return [
        {"type": 4, "data": {"href": "https://shop.example/orders", **VIEWPORT}, "timestamp": start_ms},
        {"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}, "timestamp": start_ms + 5},
        {"type": 3, "data": mutation, "timestamp": start_ms + 900},
    ]


def ms(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def getgather_db(path: Path) -> Recordings:
    """A getgather SQLite file with three good activities (two recorded, one unfinished) and three bad rows."""
    source = sqlite3.connect(path)
    source.executescript(SCHEMA.read_text())
    good = [
        ("netflix", "get_watch_history", BASE, 2_500),
        ("goodreads", "get_book_list", BASE + timedelta(minutes=5), 1_250),
        ("amazon", "get_orders", BASE + timedelta(minutes=9), None),
    ]
    for brand, name, start, elapsed in good:
        end = start + timedelta(milliseconds=elapsed) if elapsed is not None else None
        source.execute(
            "INSERT INTO activities (brand_id, name, start_time, end_time, execution_time_ms, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (brand, name, start.isoformat(), end.isoformat() if end else None, elapsed, f"{start:%Y-%m-%d %H:%M:%S}"),
        )
    source.execute(
        "INSERT INTO activities (brand_id, name, start_time, created_at) VALUES ('netflix', 'broken', 'yesterday', ?)",
        (f"{BASE:%Y-%m-%d %H:%M:%S}",),
    )
    recordings = {
        1: page_events(ms(BASE) + 100, "Watch history", "Watched: Dune"),
        2: page_events(ms(BASE + timedelta(minutes=5)) + 50, "Your books", "Read: Middlemarch"),
    }
    # A second page in the first recording: getgather kept navigations in the same array.
    recordings[1] += page_events(ms(BASE) + 1_200, "Watch history, page 2", "Watched: Arrival")
    for activity_id, events in recordings.items():
        source.execute(
            "INSERT INTO rrweb_recordings (activity_id, events_json, event_count, start_timestamp, end_timestamp) "
            "VALUES (?, ?, ?, ?, ?)",
            (activity_id, json.dumps(events), len(events), events[0]["timestamp"], events[-1]["timestamp"]),
        )
    source.execute(
        "INSERT INTO rrweb_recordings (activity_id, events_json, event_count, start_timestamp, end_timestamp) "
        "VALUES (3, 'not json', 0, 0, 0), (99, '[]', 0, 0, 0)"
    )
    source.commit()
    source.close()
    return recordings


def cli(*argv: str) -> str:
    out = io.StringIO()
    assert main(list(argv), out=out) == 0, out.getvalue()
    return out.getvalue()


def sql(db: Path, query: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(cli("sql", query, "--db", str(db), "--format", "json"))
    return found


@pytest.fixture
def imported(tmp_path: Path, db_path: Path) -> Imported:
    source = tmp_path / "getgather.db"
    recordings = getgather_db(source)
    said = cli("import-getgather", str(source), "--db", str(db_path))
    return source, recordings, said


def test_getgathers_queries_give_the_imported_rows_back(imported: Imported, db_path: Path) -> None:
    source, recordings, said = imported
    assert "3 of 4 activities and 2 of 4 recordings added" in said
    assert "3 malformed row(s) skipped" in said
    assert "activities id 4: start_time 'yesterday' is not a timestamp" in said
    assert "rrweb_recordings id 3: events_json is not JSON" in said
    assert "rrweb_recordings id 4: activity_id 99 is not an imported activity" in said

    latest = sql(db_path, "SELECT * FROM activities ORDER BY created_at DESC LIMIT 10")
    with sqlite3.connect(source) as conn:
        conn.row_factory = sqlite3.Row
        expected = [dict(r) for r in conn.execute("SELECT * FROM activities WHERE id <> 4 ORDER BY created_at DESC")]
    assert [(a["brand_id"], a["name"]) for a in latest] == [(e["brand_id"], e["name"]) for e in expected]
    for got, want in zip(latest, expected, strict=True):
        assert got["created_at"] == want["created_at"]
        assert got["start_time"] == want["start_time"].replace("T", " ")
        assert got["id"] == got["activity_id"] and len(got["id"]) == 16
        if want["end_time"] is None:
            assert (got["status"], got["error_type"]) == ("error", "unfinished")
        else:
            assert got["end_time"] == want["end_time"].replace("T", " ")
            assert got["execution_time_ms"] == want["execution_time_ms"] and got["status"] == "ok"
    by_name = {a["name"]: a for a in latest}
    assert [by_name[n]["has_recording"] for n in ("get_watch_history", "get_book_list", "get_orders")] == [
        True,
        True,
        False,
    ], "the unfinished activity is in, its malformed recording is not"

    watch = by_name["get_watch_history"]["id"]
    [recording] = sql(db_path, f"SELECT * FROM rrweb_recordings WHERE activity_id = '{watch}'")
    events = json.loads(recording["events_json"])
    assert [{k: v for k, v in e.items() if k != "page_id"} for e in events] == recordings[1]
    assert {e["page_id"] for e in events} == {"getgather"}
    assert recording["event_count"] == len(recordings[1]) == 6
    assert (recording["start_timestamp"], recording["end_timestamp"]) == (
        recordings[1][0]["timestamp"],
        recordings[1][-1]["timestamp"],
    )
    # Cut before each full snapshot, like live recordings.
    chunks = rows(
        db_path, "SELECT sequence, starts_with_full_snapshot FROM recording_chunks ORDER BY span_id, sequence"
    )
    assert len(chunks) == 3 and all(c["starts_with_full_snapshot"] for c in chunks)

    with getgather_otel.open_database(db_path) as conn:
        python = conn.execute("SELECT events_json FROM rrweb_recordings WHERE activity_id = ?", [watch]).fetchall()
    assert python == [(recording["events_json"],)]

    stats = json.loads(cli("stats", "--db", str(db_path), "--format", "json"))
    assert {row["brand_id"]: row["activities"] for row in stats["by brand"]} == {
        "amazon": 1,
        "goodreads": 1,
        "netflix": 1,
    }


def test_a_second_import_adds_nothing(imported: Imported, db_path: Path) -> None:
    source, _, _ = imported
    counts = "SELECT (SELECT count(*) FROM otel_traces) AS spans, (SELECT count(*) FROM recording_chunks) AS chunks"
    before = rows(db_path, counts)
    said = cli("import-getgather", str(source), "--db", str(db_path))
    assert "0 of 4 activities and 0 of 4 recordings added (3 activities and 2 recordings were already there)" in said
    assert rows(db_path, counts) == before == [{"spans": 3, "chunks": 3}]


def test_a_failed_import_adds_nothing(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "getgather.db"
    getgather_db(source)

    def broken(_activities: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(getgather_import, "_spans", broken)  # after the recordings' chunks went in
    assert main(["import-getgather", str(source), "--db", str(db_path)], out=io.StringIO()) == 2
    assert "(nothing was added): disk on fire" in capsys.readouterr().err
    assert rows(db_path, "SELECT count(*) AS n FROM recording_chunks") == [{"n": 0}]


def test_not_a_getgather_database(tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE activities (id INTEGER)").connection.close()
    assert main(["import-getgather", str(other), "--db", str(db_path)], out=io.StringIO()) == 2
    assert "has no getgather `activities` table" in capsys.readouterr().err


async def test_imported_activities_in_the_viewer(imported: Imported, db_path: Path) -> None:
    app = build_viewer_app(FileReads(db_path), ViewerSettings())
    async with serve_asgi(app) as url:
        viewer = Viewer(url, "", db_path)
        listed = await viewer.json("/api/activities?brand=netflix")
        [watch] = listed["activities"]
        pages = await viewer.json(f"/api/activities/{watch['activity_id']}/recordings")
        assert [p["page_id"] for r in pages["recordings"] for p in r["pages"]] == ["getgather"]
        reply = await viewer.sql(
            {"sql": f"SELECT event_count FROM rrweb_recordings WHERE activity_id = '{watch['activity_id']}'"}
        )
        assert reply.status_code == 200, reply.text
        assert json.loads(reply.text)["rows"] == [[6]]


async def test_a_replay_of_an_imported_recording_renders(
    imported: Imported, db_path: Path, browser: Browser, tmp_path: Path
) -> None:
    [watch] = sql(db_path, "SELECT id FROM activities WHERE name = 'get_watch_history'")
    requested: list[str] = []
    viewer, said = await open_replay(browser, db_path, watch["id"], tmp_path, requested)
    assert "1 page(s), 6 events" in said
    await until_true(viewer, f"() => /Watch history/.test({STAGE}.body.innerText)")
    await seek_to_end(viewer)
    await until_true(viewer, f"() => /Watched: Arrival/.test({STAGE}.body.innerText)")


async def test_collects_viewer_answers_rrweb_recordings_from_the_writers_connection(
    imported: Imported, db_path: Path
) -> None:
    app = build_app(DuckDBStore(db_path), ReceiverSettings(), ViewerSettings())
    async with serve_asgi(app) as url:
        viewer = Viewer(url, "", db_path)
        for _ in range(2):  # each request reads on a fresh cursor of the writer's connection
            reply = await viewer.sql({"sql": "SELECT event_count FROM rrweb_recordings ORDER BY event_count"})
            assert reply.status_code == 200, reply.text
            assert json.loads(reply.text)["rows"] == [[3], [6]]


def test_live_activities_answer_getgathers_columns(telemetry: Telemetry, db_path: Path) -> None:
    with getgather_otel.activity(name="get_orders", brand_id="amazon", kind="tool") as act:
        pass
    flushed(telemetry)
    [row] = sql(db_path, "SELECT id, activity_id, created_at, start_time FROM activities ORDER BY created_at DESC")
    assert row["id"] == row["activity_id"] == act.activity_id
    assert row["created_at"] == row["start_time"]


def test_rrweb_recordings_merges_every_page_in_time_order(db_path: Path) -> None:
    """A live recording's pages (chunks per page, cut by sequence) become one array in time order, tagged by page."""
    store = DuckDBStore(db_path)
    ids = {"trace_id": "a" * 32, "span_id": "b" * 16, "recording_id": "r1", "url": "https://shop.example/"}

    def chunk(page: str, sequence: int, times: list[int]) -> Chunk:
        events = [{"type": 3, "timestamp": t, "data": {"source": 1}} for t in times]
        return Chunk(**ids, page_id=page, sequence=sequence, events=events, approx_bytes=100)

    for item in (chunk("c1p1", 0, [10, 40]), chunk("c1p2", 0, [20, 40, 50]), chunk("c1p1", 1, [60])):
        store.submit(item)
    assert store.flush(20)
    store.shutdown()
    [recording] = sql(db_path, "SELECT * FROM rrweb_recordings")
    order = [(e["timestamp"], e["page_id"]) for e in json.loads(recording["events_json"])]
    assert order == [(10, "c1p1"), (20, "c1p2"), (40, "c1p1"), (40, "c1p2"), (50, "c1p2"), (60, "c1p1")]
    assert (recording["activity_id"], recording["event_count"]) == ("b" * 16, 6)
    assert (recording["start_timestamp"], recording["end_timestamp"]) == (10, 60)


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2026-11-27T18:56:24.250000", datetime(2026, 11, 27, 18, 56, 24, 250000)),  # datetime.isoformat(), naive UTC
        ("2026-11-27T18:56:24.250000+00:00", datetime(2026, 11, 27, 18, 56, 24, 250000)),
        ("2026-11-28T01:56:24+07:00", datetime(2026, 11, 27, 18, 56, 24)),
        ("2026-11-27 18:56:24", datetime(2026, 11, 27, 18, 56, 24)),  # SQLite's CURRENT_TIMESTAMP
    ],
)
def test_getgathers_timestamps_are_read_as_utc(written: str, utc: datetime) -> None:
    assert getgather_import._timestamp(written, "start_time") == utc


@pytest.mark.parametrize("written", [1732733784, "", "27/11/2026", None])
def test_a_timestamp_that_is_not_one_is_malformed(written: object) -> None:
    with pytest.raises(getgather_import.MalformedRowError, match="start_time"):
        getgather_import._timestamp(written, "start_time")


@pytest.mark.parametrize("elapsed", [1e20, float("inf"), float("nan"), -1, 400 * 24 * 3600 * 1000])
def test_an_unfinished_activity_with_an_impossible_duration_is_malformed(elapsed: float) -> None:
    row = {
        "id": 7,
        "brand_id": "netflix",
        "name": "orders",
        "start_time": "2026-11-27 18:56:24",
        "end_time": None,
        "execution_time_ms": elapsed,
        "created_at": "2026-11-27 18:56:24",
    }
    with pytest.raises(getgather_import.MalformedRowError, match="execution_time_ms"):
        getgather_import._activity(row)


def test_imported_recordings_get_their_urls_redacted(tmp_path: Path, db_path: Path) -> None:
    """getgather stored URLs as pages had them: an import redacts them like a live recording."""
    source = tmp_path / "getgather.db"
    getgather_db(source)
    token = "Zm9vYmFyYmF6cXV4UGF0aFRva2VuMTIzNDU2Nzg5"
    events = page_events(ms(BASE) + 50, "Your books", "Read: Middlemarch")
    events[0]["data"]["href"] = "https://shop.example/books?session=SESSIONINHREF42"
    link = {"type": 2, "tagName": "a", "attributes": {"href": f"/reset/{token}"}, "childNodes": [], "id": 10}
    events[2]["data"]["adds"].append({"parentId": 5, "nextId": None, "node": link})
    conn = sqlite3.connect(source)
    conn.execute("UPDATE rrweb_recordings SET events_json = ? WHERE activity_id = 2", (json.dumps(events),))
    conn.commit()
    conn.close()
    cli("import-getgather", str(source), "--db", str(db_path))
    out = io.StringIO()
    assert main(["scan", "--db", str(db_path), "--secret", "SESSIONINHREF42", "--secret", token], out=out) == 0, (
        out.getvalue()
    )
    [row] = sql(
        db_path,
        "SELECT count(*) AS n FROM recording_chunks WHERE url = 'https://shop.example/books?session=[REDACTED]'",
    )
    assert row["n"] >= 1


def test_imported_recordings_get_the_url_redaction_of_recordings(tmp_path: Path, db_path: Path) -> None:
    """A token in a recorded page's URL (query or fragment) is not stored, as for recordings made here."""
    source = tmp_path / "getgather.db"
    recordings = getgather_db(source)
    events = recordings[2]
    events[0]["data"]["href"] = "https://shop.example/books?token=SECRET-TOKEN-123&page=2#access=SECRET-FRAG-456"
    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE rrweb_recordings SET events_json = ? WHERE activity_id = 2", (json.dumps(events),))
    cli("import-getgather", str(source), "--db", str(db_path))
    chunks = rows(db_path, "SELECT url, data, compression FROM recording_chunks")
    assert chunks and any("page=2" in chunk["url"] for chunk in chunks), "the URL still says which page it was"
    for chunk in chunks:
        stored = chunk["url"] + decompress_json(bytes(chunk["data"]), chunk["compression"]).decode()
        assert "SECRET-TOKEN-123" not in stored and "SECRET-FRAG-456" not in stored
