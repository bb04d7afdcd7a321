"""Browser recordings with real Chromium (Patchright) against fixture sites on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import zstandard
from patchright.async_api import Browser, BrowserContext, Page, Playwright

import getgather_otel
from getgather_otel import activity, record_browser
from getgather_otel.cli import main as cli_main
from getgather_otel.demo.browser import launch_options
from getgather_otel.demo.site import order_titles
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.recording.cdp_worlds import PageWorlds
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.payloads import PayloadRejectedError, parse
from getgather_otel.recording.recorder import RECORDER_ATTRIBUTE
from getgather_otel.recording.replay import load_streams
from getgather_otel.recording.urls import UrlRedactor
from getgather_otel.recording.world_script import api_call
from getgather_otel.store.engine import DuckDBEngine
from getgather_otel.store.reader import open_for_reading
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.reads import FileReads
from getgather_otel.web.serving import serve_asgi
from tests.conftest import Sites, flushed, post, rows

EMAIL = "ada.lovelace@example.com"
PASSWORD = "Tr0ub4dor&3-very-secret"
CARD = "4242 4242 4242 4242"
CVC = "987"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# The document the replayer shows, from the replay page's main world.
STAGE = "window.replayer.getReplayer().iframe.contentDocument"


def streams(db: Path, activity_id: str) -> dict[str, list[dict[str, Any]]]:
    with open_for_reading(db, wait_s=10) as conn:
        _, pages = load_streams(DuckDBEngine(conn), activity_id)
    return {page.page_id: page.events for page in pages}


def stored_text(db: Path) -> str:
    """Every stored chunk, decompressed, as one string."""
    data = [bytes(r["data"]) for r in rows(db, "SELECT data FROM recording_chunks")]
    return "".join(zstandard.ZstdDecompressor().decompress(d).decode() for d in data)


def text_of(events: Any) -> str:
    return json.dumps(events, ensure_ascii=False)


def metas(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["href"] for e in events if e["type"] == 4]


def starts_with_snapshot(events: list[dict[str, Any]]) -> bool:
    page_events = [e for e in events if e["type"] != 5]
    return [e["type"] for e in page_events[:2]] == [4, 2]


async def login(page: Page, origin: str) -> None:
    await page.goto(origin + "/login.html")
    await page.fill("#email", EMAIL)
    await page.fill("#password", PASSWORD)
    await page.click("#submit")
    await page.wait_for_selector("#orders")


async def until_true(page: Page, expression: str, timeout_s: float = 10) -> None:
    """Poll `expression` in the page's main world (Patchright's wait_for_function runs in an isolated one)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await page.evaluate(expression, isolated_context=False):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {expression}"
        await asyncio.sleep(0.05)


async def until_recorded(telemetry: Telemetry, db: Path, activity_id: str, text: str, timeout_s: float = 10) -> None:
    """Wait for `text` to be stored in the activity's recording (late events within the grace period)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        await settle(telemetry, 0.1)
        chunks = rows(db, "SELECT data FROM recording_chunks WHERE span_id = ?", [activity_id])
        if any(text in zstandard.ZstdDecompressor().decompress(c["data"]).decode() for c in chunks):
            return
        assert asyncio.get_running_loop().time() < deadline, f"{text!r} never reached the recording"


async def open_replay(
    browser: Browser, db: Path, activity_id: str, tmp_path: Path, requested: list[str]
) -> tuple[Page, str]:
    """Write the activity's replay page with the CLI and open it in a fresh context.

    Returns the viewer page and what the CLI said; every URL the viewer requests goes into `requested`.
    """
    output = tmp_path / "replay.html"
    out = io.StringIO()
    assert cli_main(["replay", activity_id[:8], "--db", str(db), "-o", str(output)], out=out) == 0
    viewer = await (await browser.new_context()).new_page()
    viewer.on("request", lambda request: requested.append(request.url))
    await viewer.goto(output.as_uri())
    return viewer, out.getvalue()


async def seek_to_end(viewer: Page) -> None:
    """Show the replay's last frame (paused there: rrweb applies the events *before* a pause's time, so 1 ms on)."""
    await viewer.evaluate(
        "() => { const r = window.replayer.getReplayer(); r.pause(r.getMetaData().totalTime + 1); }",
        isolated_context=False,
    )


async def settle(telemetry: Telemetry, seconds: float = 0.3) -> None:
    """Let in-flight binding calls land (the page batches for 100 ms), then store everything."""
    await asyncio.sleep(seconds)
    flushed(telemetry)


async def test_navigation_form_submit_and_pages_in_one_recording(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    async with activity(name="read_orders", brand_id="fixture", kind="tool") as act:
        page = await context.new_page()
        await login(page, sites.main)
        await page.click("#next")
        await page.wait_for_selector("text=page 2 of 3")
        await page.click("#next")
        await page.wait_for_selector("text=page 3 of 3")
    await settle(telemetry)

    recorded = streams(db_path, act.activity_id)
    assert len(recorded) == 1
    events = next(iter(recorded.values()))
    hrefs = metas(events)
    assert [h.split("?")[0].removeprefix(sites.main) for h in hrefs][-4:] == [
        "/login.html",
        "/orders",
        "/orders",
        "/orders",
    ]
    assert order_titles(3)[0] in text_of(events), "the third page's content is recorded"
    tags = [e["data"]["tag"] for e in events if e["type"] == 5]
    assert tags[0] == "getgather.activity.start" and tags[-1] == "getgather.activity.end"

    chunks = rows(db_path, "SELECT * FROM recording_chunks ORDER BY sequence")
    assert all(c["span_id"] == act.activity_id and c["trace_id"] == act.trace_id for c in chunks)
    assert sum(c["starts_with_full_snapshot"] for c in chunks) >= 4, "chunks are cut at every full snapshot"
    assert [c["sequence"] for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk["compression"] == "zstd" and chunk["stored_bytes"] == len(chunk["data"])
        assert len(zstandard.ZstdDecompressor().decompress(chunk["data"])) == chunk["raw_bytes"]

    [span] = rows(db_path, 'SELECT * FROM otel_traces WHERE "SpanId" = ?', [act.activity_id])
    attributes = span["SpanAttributes"]
    assert attributes["getgather.recording.id"] == chunks[0]["recording_id"]
    assert int(attributes["getgather.recording.events"]) > 10 and int(attributes["getgather.recording.pages"]) == 1
    names = span["Events.Name"]
    assert names[0] == "browser.recording.start" and names[-1] == "browser.recording.stop"
    navigations = [
        a["url.full"] for n, a in zip(names, span["Events.Attributes"], strict=True) if n == "browser.navigation"
    ]
    assert len(navigations) >= 4 and navigations[-1] == sites.main + "/orders?page=3"
    assert "browser.action" in names
    [summary] = rows(db_path, "SELECT has_recording FROM activities WHERE activity_id = ?", [act.activity_id])
    assert summary["has_recording"] is True
    [recording] = rows(db_path, "SELECT * FROM recordings")
    assert recording["activity_id"] == act.activity_id and recording["pages"] == 1
    await context.close()


async def test_persistent_context_reused_by_three_activities(
    db_path: Path, playwright: Playwright, sites: Sites, tmp_path: Path
) -> None:
    telemetry = getgather_otel.configure(duckdb_path=db_path, record_browsers=True)
    try:
        context = await playwright.chromium.launch_persistent_context(tmp_path / "profile", **launch_options())
        ids = []
        for step in range(3):
            async with activity(name=f"step{step}", brand_id="fixture") as act:
                page = context.pages[0]
                await page.goto(f"{sites.main}/other.html?step={step}")
                await page.wait_for_selector("#other-text")
                ids.append(act.activity_id)
        await settle(telemetry, 2.5)
        recording_ids = set()
        for step, activity_id in enumerate(ids):
            recorded = streams(db_path, activity_id)
            assert len(recorded) == 1, f"activity {step} has its own single-page recording"
            events = next(iter(recorded.values()))
            assert starts_with_snapshot(events), f"activity {step}'s recording replays on its own"
            steps = {h.rsplit("=", 1)[1] for h in metas(events) if "step=" in h}
            assert steps <= {str(step - 1), str(step)} and str(step) in steps
            recording_ids |= {
                r["recording_id"]
                for r in rows(db_path, "SELECT recording_id FROM recording_chunks WHERE span_id = ?", [activity_id])
            }
        assert len(recording_ids) == 3
        await context.close()
    finally:
        telemetry.shutdown()


async def test_ten_concurrent_activities_on_ten_contexts_never_mix(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    async def one(n: int) -> str:
        context = await browser.new_context()
        await record_browser(context)
        async with activity(name=f"visit{n}", brand_id=f"brand{n}") as act:
            page = await context.new_page()
            for hop in range(3):
                await page.goto(f"{sites.main}/other.html?who={n}&hop={hop}")
                await page.fill("#other-input", f"typed-by-{n}")
        await context.close()
        return act.activity_id

    ids = await asyncio.gather(*(one(n) for n in range(10)))
    await settle(telemetry)
    for n, activity_id in enumerate(ids):
        recorded = streams(db_path, activity_id)
        hrefs = [h for events in recorded.values() for h in metas(events) if "who=" in h]
        assert {h.split("who=")[1].split("&")[0] for h in hrefs} == {str(n)}, f"recording {n} has only its own pages"
        # Every hop: each document lives through a fill, and its binding appears 12-100 ms
        # after it starts (a document that ends before that sends nothing).
        assert {h.split("hop=")[1] for h in hrefs} == {"0", "1", "2"}, f"recording {n} has all its pages: {hrefs}"


async def test_a_document_that_navigates_away_keeps_its_last_batch(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="bounce") as act:
        page = await context.new_page()
        for _ in range(3):
            await page.goto(f"{sites.main}/bounce.html")
            await page.wait_for_url("**/child.html?after=bounce")
            await page.wait_for_selector("#child-input")
    await settle(telemetry)
    [events] = streams(db_path, act.activity_id).values()
    hrefs = metas(events)
    assert hrefs.count(f"{sites.main}/bounce.html") == 3, hrefs
    assert text_of(events).count("changed on the way out") == 3, "the last mutation of each bounce is kept"
    assert hrefs.count(f"{sites.main}/child.html?after=bounce") == 3
    await context.close()


async def test_a_page_that_rewrites_itself_is_recorded_again(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    async with activity(name="rewrite") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/rewrite.html")
        await page.wait_for_selector("#rewritten")
        await page.fill("#rewritten-password", PASSWORD)  # the settle after it sees the new tree
        await page.evaluate("document.body.append('changed after the rewrite')", isolated_context=False)
        await until_recorded(telemetry, db_path, act.activity_id, "changed after the rewrite")
    await settle(telemetry)
    [events] = streams(db_path, act.activity_id).values()
    text = text_of(events)
    assert "before the rewrite" in text and "rewritten by document.write" in text
    assert PASSWORD not in stored_text(db_path)
    await context.close()


async def test_popups_have_their_url_in_the_viewers_recordings(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    """`/api/activities/{id}/recordings` gave popup pages the URL "" (a newcomer's break): a popup
    comes with its first document committed and no `framenavigated` for it. Redacted like every URL."""
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="popup_urls") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/popup.html")
        async with context.expect_page() as opened:
            await page.evaluate("window.open('/child.html?popup=same&session_token=s3cr3t', 'same')")
        popup = await opened.value
        async with context.expect_page() as tab:
            await page.click("#newtab")
        await popup.wait_for_load_state("domcontentloaded")
        await (await tab.value).wait_for_load_state("domcontentloaded")
        await asyncio.sleep(0.6)
    await settle(telemetry)
    telemetry.shutdown()  # the viewer reads the file as another process would
    app = build_viewer_app(FileReads(db_path), ViewerSettings())
    async with serve_asgi(app) as url:
        reply = await post(f"{url}/api/activities/{act.activity_id}/recordings", b"", {}, method="GET")
    assert reply.status_code == 200, reply.text
    [recording] = json.loads(reply.text)["recordings"]
    urls = sorted(page["url"] for page in recording["pages"])
    assert len(urls) == 3 and "" not in urls, urls
    assert any(u.startswith(f"{sites.main}/child.html?popup=same&session_token=") for u in urls), urls
    assert any(u.endswith("/child.html?popup=tab") for u in urls) and "s3cr3t" not in json.dumps(urls), urls
    await context.close()


async def test_tabs_and_popups_same_cross_origin_and_blank(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="popups") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/popup.html")
        await page.evaluate(f"document.body.dataset.other = {sites.other!r}")
        popups = []
        for button in ("#same", "#cross", "#blank", "#newtab"):
            async with context.expect_page() as new_page:
                await page.click(button)
            popups.append(await new_page.value)
        for popup in popups:
            await popup.wait_for_load_state("domcontentloaded")
        await asyncio.sleep(0.6)
    await settle(telemetry)
    recorded = streams(db_path, act.activity_id)
    texts = [text_of(events) for events in recorded.values()]
    assert len(recorded) == 5, "the opener and four new pages each have a stream"
    starts = {page: [(e["type"], e["data"].get("href")) for e in events[:3]] for page, events in recorded.items()}
    assert all(starts_with_snapshot(events) for events in recorded.values()), starts
    assert any("cross-origin content" in t for t in texts), "cross-origin popup recorded"
    assert any("written by opener" in t for t in texts), "script-written about:blank popup recorded"
    hrefs = [h for events in recorded.values() for h in metas(events)]
    assert any(h.endswith("/child.html?popup=same") for h in hrefs), "same-origin popup recorded"
    assert any(h.endswith("/child.html?popup=tab") for h in hrefs), "target=_blank tab recorded"


async def test_same_and_cross_origin_iframes(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="frames") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/iframes.html")
        await page.evaluate(f"document.getElementById('cross').src = {sites.other!r} + '/other.html'")
        await page.frame_locator("#cross").locator("#other-text").wait_for(timeout=5000)
        await page.frame_locator("#same").locator("#child-input").fill("in the child")
        await asyncio.sleep(0.5)
    await settle(telemetry)
    [events] = streams(db_path, act.activity_id).values()
    text = text_of(events)
    assert "same-origin child frame" in text
    assert "cross-origin content" in text


async def test_strict_csp_page_is_recorded(telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="csp") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/csp.html")
        await page.wait_for_selector("text=script ran")
        await page.evaluate("document.getElementById('csp-title').textContent = 'changed under CSP'")
        await asyncio.sleep(0.3)
    await settle(telemetry)
    [events] = streams(db_path, act.activity_id).values()
    assert starts_with_snapshot(events)
    assert "Strict CSP page" in text_of(events) and "changed under CSP" in text_of(events)


async def test_hostile_page_cannot_reach_break_or_pollute_recordings(
    browser: Browser, sites: Sites, db_path: Path
) -> None:
    # A per-page byte budget makes the drop count depend on bytes, not on timing: the flood
    # is ~2.5 MB of mutations, the budget 300 KB. (configure() records every new context with
    # its options: `record_browser(context, options=...)` would return that recorder.)
    options = RecordingOptions(max_bytes_per_page=300_000)
    telemetry = getgather_otel.configure(duckdb_path=db_path, recording=options)
    context = await browser.new_context()
    async with activity(name="hostile") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/flood.html")
        await page.wait_for_selector("text=flood done", timeout=20_000)
        found = await page.evaluate("document.getElementById('flood-title').textContent", isolated_context=False)
        # The flood only costs the flooding page its own events: another page of the same
        # context, opened right after, is recorded in full.
        calm = await context.new_page()
        await calm.goto(f"{sites.main}/other.html?calm=1")
        await until_recorded(telemetry, db_path, act.activity_id, "cross-origin content")
        await page.close()
    await settle(telemetry)
    assert found == "flood done: undefined,undefined", "the page finds no binding of the recorder"
    recorded = streams(db_path, act.activity_id)
    text = "".join(text_of(events) for events in recorded.values())
    assert "forged-token" not in text and "evil.example" not in text, "forged rrweb messages are not taken"
    assert "cross-origin content" in text, "a calm page next to a flooding one is recorded"
    [span] = rows(db_path, 'SELECT "SpanAttributes" FROM otel_traces WHERE "SpanId" = ?', [act.activity_id])
    assert int(span["SpanAttributes"]["getgather.recording.dropped_events"]) > 1000, "the flood is bounded"
    raw = sum(r["raw_bytes"] for r in rows(db_path, "SELECT raw_bytes FROM recording_chunks"))
    assert raw < 1_000_000, "stored bytes stay bounded"
    telemetry.shutdown()


async def test_text_utf8_cannot_hold_is_stored_with_the_rest(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    # Unpaired surrogates reach Python as they are; writing the chunk as UTF-8 used to raise on
    # the writer thread, and every chunk of that write was lost.
    context = await browser.new_context()
    async with activity(name="surrogates") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/surrogates.html")
        await page.wait_for_selector("text=added later")
    await context.close()
    await settle(telemetry)
    [events] = streams(db_path, act.activity_id).values()
    text = text_of(events)
    assert "Text UTF-8 cannot hold" in text and "between" in text and "and still recorded" in text
    assert "\ud800" not in text and "\udfff" not in text, "what UTF-8 cannot hold is replaced"


def test_malformed_payloads_are_rejected_with_a_reason() -> None:
    urls = UrlRedactor(["token"])
    now = int(time.time() * 1000)
    attempts: list[object] = [
        "not json",
        42,
        None,
        json.dumps({"v": 1}),
        json.dumps({"v": 2, "doc": "x", "events": []}),
        json.dumps({"v": 1, "doc": "x", "events": [{"type": 99, "timestamp": now, "data": {}}]}),
        json.dumps({"v": 1, "doc": "x", "events": [{"type": 3, "timestamp": 1, "data": {}}]}),
        json.dumps({"v": 1, "doc": "x" * 500, "events": []}),
        json.dumps({"v": 1, "doc": "x", "messages": [{"type": "other", "origin": "o", "event": {}}]}),
        "x" * 2_000,
    ]
    for attempt in attempts:
        with pytest.raises(PayloadRejectedError):
            parse(attempt, max_payload_bytes=1_000, max_event_bytes=500, urls=urls)
    meta = {"type": 4, "timestamp": now, "data": {"href": "http://a.test/?token=s3cret", "width": 1, "height": 1}}
    message = {"type": "rrweb", "origin": "http://a.test", "isCheckout": False, "event": meta}
    child = parse(
        json.dumps({"v": 1, "doc": "x", "messages": [message]}), max_payload_bytes=1_000, max_event_bytes=500, urls=urls
    )
    assert child.messages is not None and "s3cret" not in json.dumps(child.messages), "child frames' URLs are redacted"


async def test_page_crash_and_close_keep_the_partial_recording(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="crashy") as act:
        crashing = await context.new_page()
        await crashing.goto(f"{sites.main}/other.html?tab=crash")
        closing = await context.new_page()
        await closing.goto(f"{sites.main}/child.html?tab=close")
        # What the pages sent before the crash and the close is what must survive them.
        await until_recorded(telemetry, db_path, act.activity_id, "cross-origin content")
        await until_recorded(telemetry, db_path, act.activity_id, "same-origin child frame")
        cdp = await context.new_cdp_session(crashing)
        crashed = asyncio.get_running_loop().create_future()
        crashing.on("crash", lambda _page: crashed.set_result(True))
        crash = asyncio.ensure_future(cdp.send("Page.crash"))  # never answers: the page is gone
        await asyncio.wait_for(crashed, 10)
        crash.cancel()
        await closing.close()
    await settle(telemetry)
    recorded = streams(db_path, act.activity_id)
    assert len(recorded) == 2
    assert any("cross-origin content" in text_of(e) for e in recorded.values()), "the crashed page's events are kept"
    assert any("same-origin child frame" in text_of(e) for e in recorded.values()), "the closed page's events are kept"
    [span] = rows(db_path, 'SELECT "Events.Name" FROM otel_traces WHERE "SpanId" = ?', [act.activity_id])
    assert "browser.page.crashed" in span["Events.Name"] and "browser.page.closed" in span["Events.Name"]


async def test_a_binding_that_never_answers_still_gets_the_document_recorded(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    # Under load Patchright sometimes gives a document a binding whose calls never arrive,
    # for as long as it lives; this page makes that happen every time.
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="silent") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/silent-binding.html")
        await until_recorded(telemetry, db_path, act.activity_id, "recorded without the binding")
        await page.fill("#silent-input", PASSWORD)
        await page.evaluate("document.body.append('added a while later')", isolated_context=False)
        await until_recorded(telemetry, db_path, act.activity_id, "added a while later")
    await settle(telemetry)
    assert PASSWORD not in stored_text(db_path)
    [events] = streams(db_path, act.activity_id).values()
    assert starts_with_snapshot(events)


async def test_closing_a_page_or_context_keeps_what_it_had_not_sent_yet(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="closing") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/child.html?tab=page-close")
        other = await context.new_page()
        await other.goto(f"{sites.main}/other.html?tab=context-close")
        # Mutations wait up to 100 ms in the page's batch: close before they would go out.
        await page.evaluate("document.body.append('last words of a page')", isolated_context=False)
        await page.close()
        await other.evaluate("document.body.append('last words of a context')", isolated_context=False)
        await context.close()
    await settle(telemetry)
    text = text_of(list(streams(db_path, act.activity_id).values()))
    assert "last words of a page" in text and "last words of a context" in text


async def test_a_flush_right_after_a_context_closes_writes_its_pages_last_chunks(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A closed page's stream is cut on the event loop once the calls its document sent are
    # routed (`ContextRecorder._finish_page`); `flush()` right after `context.close()` holds that
    # loop. The routing is held back a second here, as a busy machine did: the flush must cut
    # the closing page's stream itself, and the closed context's recorder must stay flushable.
    real_handled = PageWorlds.handled

    async def held_back(worlds: PageWorlds) -> None:
        await asyncio.sleep(1.0)
        await real_handled(worlds)

    monkeypatch.setattr(PageWorlds, "handled", held_back)
    context = await browser.new_context()
    await record_browser(context)
    recorder = getattr(context._impl_obj, RECORDER_ATTRIBUTE)
    async with activity(name="close-then-flush") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/child.html?tab=flush-after-close")
        [state] = recorder._pages.values()
        doc = await state.worlds.evaluate_top(api_call(recorder.options.guard, "doc", "null"))
        deadline = asyncio.get_running_loop().time() + 10
        while state.doc != doc:  # the document's first payload (Meta, FullSnapshot) was routed
            assert asyncio.get_running_loop().time() < deadline, "the document's snapshot was routed"
            await asyncio.sleep(0.02)
    await context.close()
    telemetry.flush()  # synchronous: the loop runs no `_finish_page` meanwhile
    [events] = streams(db_path, act.activity_id).values()
    assert any("flush-after-close" in href for href in metas(events)), "the closed page's last chunk is written"


async def test_secrets_never_reach_storage(browser: Browser, sites: Sites, db_path: Path) -> None:
    telemetry = getgather_otel.configure(
        duckdb_path=db_path, recording=RecordingOptions(mask_text_patterns=("email", "card"))
    )
    try:
        context = await browser.new_context()
        await record_browser(context)
        async with activity(name="secrets", brand_id="fixture"):
            page = await context.new_page()
            await login(page, sites.main)  # POST
            await page.goto(f"{sites.main}/login-get.html")
            await page.fill("#email", EMAIL)
            await page.fill("#password", PASSWORD)
            await page.click("#submit")  # GET: the password lands in the next URL
            await page.wait_for_selector("#welcome")
            await page.goto(f"{sites.main}/card.html#access_token={PASSWORD}")
            await page.fill("#number", CARD)
            await page.type("#cvc", CVC)
            await page.fill("#note", f"my card is {CARD} and mail {EMAIL}")
            await page.evaluate(f"document.getElementById('done').textContent = 'card {CARD} for {EMAIL}'")
            await page.click("#save")
            await page.goto(f"{sites.main}/login.html")
            await asyncio.sleep(0.3)
        await settle(telemetry)
        await context.close()
    finally:
        telemetry.shutdown()

    secrets = [PASSWORD, EMAIL, CARD, CARD.replace(" ", ""), "4111-2222-3333-4444", "blocked-from-recording"]
    decompressed = stored_text(db_path)
    assert "Welcome back" in decompressed and "Order #1" in decompressed, "the pages themselves were recorded"
    spans = json.dumps(rows(db_path, "SELECT * FROM otel_traces"), default=str)
    metadata = json.dumps(rows(db_path, "SELECT * EXCLUDE (data) FROM recording_chunks"), default=str)
    whole_file = db_path.read_bytes()
    for secret in secrets:
        assert secret not in decompressed, f"{secret!r} in a recording"
        assert secret not in spans and secret not in metadata, f"{secret!r} in spans or chunk metadata"
        assert secret.encode() not in whole_file, f"{secret!r} in the DuckDB file"


async def test_recording_failures_never_fail_the_browser(
    telemetry: Telemetry, browser: Browser, sites: Sites, monkeypatch: pytest.MonkeyPatch
) -> None:
    from getgather_otel.recording import assets

    monkeypatch.setattr(assets, "ASSETS_DIR", Path("/nonexistent"))
    assets.load.cache_clear()
    assets.recorder_script.cache_clear()
    try:
        context = await browser.new_context()
        with pytest.raises(assets.MissingAssetError, match=re.escape(assets.BUILD_HINT)):
            await record_browser(context)
        async with activity(name="unrecorded"):
            page = await context.new_page()
            await page.goto(f"{sites.main}/other.html")
            assert await page.text_content("#other-text") == "cross-origin content"
    finally:
        monkeypatch.undo()
        assets.load.cache_clear()
        assets.recorder_script.cache_clear()


async def test_attaching_twice_is_a_no_op(telemetry: Telemetry, browser: Browser) -> None:
    context: BrowserContext = await browser.new_context()
    first = await record_browser(context)
    assert await record_browser(context) is first
    await context.close()


async def test_replay_page_plays_the_recording_offline(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    context = await browser.new_context()
    async with activity(name="read_orders", brand_id="fixture", kind="tool") as act:
        page = await context.new_page()
        await login(page, sites.main)
        await page.click("#next")
        await page.wait_for_selector("text=page 2 of 3")
    await until_recorded(telemetry, db_path, act.activity_id, order_titles(2)[0])
    await context.close()

    requested: list[str] = []
    viewer, said = await open_replay(browser, db_path, act.activity_id, tmp_path, requested)
    assert "1 page(s)" in said
    await until_true(viewer, f"() => {STAGE}.querySelector('#email') !== null")
    first_frame = await viewer.evaluate(f"() => {STAGE}.body.innerText", isolated_context=False)
    assert first_frame.startswith("Sign in"), "the replay opens on the first real page, not about:blank"
    markers = await viewer.evaluate(
        "() => Array.from(document.querySelectorAll('.rr-progress div[title]'), d => d.title)", isolated_context=False
    )
    assert {"browser.navigation", "browser.action", "getgather.activity.start"} <= set(markers)

    await seek_to_end(viewer)
    await until_true(viewer, f"() => /page 2 of 3/.test({STAGE}.body.innerText)")
    last_frame = await viewer.evaluate(f"() => {STAGE}.body.innerText", isolated_context=False)
    assert order_titles(2)[0] in last_frame and PASSWORD not in last_frame
    sandbox = await viewer.evaluate(
        "() => window.replayer.getReplayer().iframe.getAttribute('sandbox')", isolated_context=False
    )
    assert "allow-scripts" not in sandbox, "recorded pages' scripts never run in the replay"
    assert [url for url in requested if not url.startswith(("file:", "data:", "blob:"))] == [], "works offline"
    ARTIFACTS.mkdir(exist_ok=True)
    await viewer.screenshot(path=str(ARTIFACTS / "replay.png"))
