"""The same recorder on plain Playwright (not Patchright), with Debian's Chromium on 127.0.0.1,
and the rule that the main-world fallback (`RecordingOptions(world="main")`) never applies to
Chromium. The fallback itself needs Playwright's Firefox or WebKit builds, which cannot be
installed on this machine (no download but the package registries): it is not run here."""

from __future__ import annotations

import asyncio
from pathlib import Path

from patchright.async_api import Browser as PatchrightBrowser
from playwright.async_api import Browser

import getgather_otel
from getgather_otel import activity, record_browser
from getgather_otel.demo.site import order_titles
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.recording.options import RecordingOptions
from tests.conftest import Sites, rows
from tests.test_recording import (
    PASSWORD,
    login,
    metas,
    settle,
    starts_with_snapshot,
    stored_text,
    streams,
    text_of,
    until_recorded,
)


async def test_playwright_context_records_navigation_iframes_and_popups(
    telemetry: Telemetry, pw_browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await pw_browser.new_context()  # recorded by configure(record_browsers=True), no call needed
    async with activity(name="read_orders", brand_id="fixture", kind="tool") as act:
        page = await context.new_page()
        await login(page, sites.main)  # type: ignore[arg-type]
        await page.click("#next")
        await page.wait_for_selector("text=page 2 of 3")
        await page.goto(f"{sites.main}/iframes.html")
        await page.evaluate(f"document.getElementById('cross').src = {sites.other!r} + '/other.html'")
        await page.frame_locator("#cross").locator("#other-text").wait_for()
        await page.frame_locator("#same").locator("#child-input").fill("in the child")
        await page.goto(f"{sites.main}/popup.html")
        await page.evaluate(f"document.body.dataset.other = {sites.other!r}")
        async with context.expect_page() as popup:
            await page.click("#cross")
        await (await popup.value).wait_for_selector("#other-text")
        await asyncio.sleep(0.5)
    await settle(telemetry)

    recorded = streams(db_path, act.activity_id)
    assert len(recorded) == 2, "the tab and its cross-origin popup"
    starts = {page: [(e["type"], e["data"].get("href")) for e in events[:3]] for page, events in recorded.items()}
    assert all(starts_with_snapshot(events) for events in recorded.values()), starts
    main_events = max(recorded.values(), key=len)
    main_text = text_of(main_events)
    assert order_titles(2)[0] in main_text
    assert "same-origin child frame" in main_text
    assert "cross-origin content" in main_text, "cross-origin iframe recorded (no Patchright routing here)"
    assert any(h.endswith("/other.html") for events in recorded.values() for h in metas(events))
    assert PASSWORD not in stored_text(db_path)
    [summary] = rows(db_path, "SELECT has_recording FROM activities WHERE activity_id = ?", [act.activity_id])
    assert summary["has_recording"] is True
    assert await record_browser(context) is await record_browser(context), "attaching twice is a no-op"

    async with activity(name="read_again", brand_id="fixture", kind="tool") as again:
        await page.goto(f"{sites.main}/orders?page=3")
        await page.wait_for_selector("text=page 3 of 3")
        await asyncio.sleep(0.3)
    await settle(telemetry)
    reused = streams(db_path, again.activity_id)
    assert reused and all(starts_with_snapshot(events) for events in reused.values()), "own recording, own snapshot"
    assert order_titles(3)[0] in text_of(max(reused.values(), key=len))
    first_again = streams(db_path, act.activity_id)
    assert order_titles(3)[0] not in text_of(list(first_again.values())), "the first recording ended with its activity"
    await context.close()


async def test_the_main_world_fallback_is_never_used_for_chromium(
    browser: PatchrightBrowser, sites: Sites, db_path: Path
) -> None:
    # world="main" is for browsers without CDP; a Chromium context is recorded from the
    # isolated world all the same: no binding in the page, and (under Patchright, where any
    # init script or binding would break them) cross-origin iframes still load.
    telemetry = getgather_otel.configure(duckdb_path=db_path, recording=RecordingOptions(world="main"))
    context = await browser.new_context()
    async with activity(name="fallback") as act:
        page = await context.new_page()
        await login(page, sites.main)
        await page.goto(f"{sites.main}/iframes.html")
        await page.evaluate(f"document.getElementById('cross').src = {sites.other!r} + '/other.html'")
        await page.frame_locator("#cross").locator("#other-text").wait_for(timeout=5000)
        seen = await page.evaluate("typeof window.__ggRec", isolated_context=False)
        await until_recorded(telemetry, db_path, act.activity_id, "cross-origin content")
    await settle(telemetry)
    text = text_of(list(streams(db_path, act.activity_id).values()))
    assert seen == "undefined", "no binding in the page: the isolated world recorded it"
    assert order_titles(1)[0] in text and PASSWORD not in stored_text(db_path)
    await context.close()
    telemetry.shutdown()
