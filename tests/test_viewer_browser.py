"""The viewer in a real browser (Playwright driving Debian's Chromium) over loopback.

Screenshots go to test-artifacts/viewer/ (kept by CI as artifacts, and the source of the
README's picture).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Frame, Page, async_playwright

from collectors.receiver import build_app
from collectors.stores import ReceiverSettings
from getgather_otel.demo.browser import launch_options
from getgather_otel.export.duckdb_store import DuckDBStore
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.reads import FileReads
from getgather_otel.web.serving import serve_asgi
from tests.conftest import OtlpSender
from tests.test_client_traces import record_two_agents

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "viewer"


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser: Browser = await playwright.chromium.launch(**launch_options())
        tab = await browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        yield tab
        await browser.close()
        assert errors == [], "no script errors in the viewer or the replay"


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def _replay_frame(page: Page) -> Frame:
    for _ in range(200):
        frame = next((f for f in page.frames if re.search(r"/replay/[0-9a-f]{16}$", f.url)), None)
        if frame is not None:
            await frame.wait_for_function("() => window.replayer && window.replayer.getReplayer()")
            return frame
        await asyncio.sleep(0.05)
    raise AssertionError("the replay iframe never loaded")


async def _player_ms(frame: Frame) -> float:
    return float(await frame.evaluate("window.replayer.getReplayer().getCurrentTime()"))


async def test_filter_open_activity_see_waterfall_and_replay_then_seek(page: Page, demo_db: Path) -> None:
    app = build_viewer_app(FileReads(demo_db), ViewerSettings())
    async with serve_asgi(app) as url:
        await page.goto(url + "/#/?since=&live=0")
        await page.wait_for_selector("#activities tr.row")
        await page.select_option("select[name=brand]", "shop")
        await page.wait_for_function("() => location.hash.includes('brand=shop')")
        await page.wait_for_selector("#range >> text=of 4")
        brands = await page.locator("#activities tr.row td:nth-child(2)").all_inner_texts()
        assert brands == ["shop"] * 4
        await _shot(page, "1-activities-filtered")

        await page.click("#activities tr.row >> text=shop_get_orders")
        await page.wait_for_selector("#waterfall .wf-row")
        names = await page.locator("#waterfall .wf-name").all_inner_texts()
        assert "activity shop_get_orders" in names and len(names) >= 4, "the whole trace, MCP spans included"

        replay = await _replay_frame(page)
        assert replay.url.startswith(f"http://127.0.0.1:{app.state.replay.port}/"), "replays come from their own origin"
        [rebuilt] = replay.child_frames
        await rebuilt.wait_for_function("() => document.body && document.body.innerText.length > 0")
        shown = await rebuilt.evaluate("document.body.innerText")
        assert "Sign in to Fixture Brand" in shown or "Your orders" in shown, "the recorded page is rebuilt"
        reach = "(() => { try { return window.parent.document.title; } catch (e) { return 'blocked'; } })()"
        assert await replay.evaluate(reach) == "blocked", "the replay cannot reach the viewer's document"
        assert await rebuilt.evaluate("document.querySelectorAll('script').length") == 0
        await _shot(page, "2-activity-detail")

        navigations = page.locator("#waterfall .wf-event[data-event='browser.navigation']")
        assert await navigations.count() == 4  # /login, then orders pages 1, 2 and 3
        await navigations.nth(1).click()
        await page.wait_for_selector("#replay-status[data-offset-ms]")
        first = float(await page.get_attribute("#replay-status", "data-offset-ms") or "nan")
        assert first > 0 and abs(await _player_ms(replay) - first) < 50, "the player seeked to the event"
        await page.click("#waterfall .wf-event[data-event='browser.recording.stop']")
        await page.wait_for_function(
            f"() => Number(document.querySelector('#replay-status').dataset.offsetMs) > {first}"
        )
        later = float(await page.get_attribute("#replay-status", "data-offset-ms") or "nan")
        assert abs(await _player_ms(replay) - later) < 50
        await rebuilt.wait_for_function("() => document.body.innerText.includes('page 3 of 3')")
        await _shot(page, "3-replay-seeked")

        # shop_get_first_order reads the receipt in a second tab: the replay has two pages, and
        # clicking the receipt's navigation shows that tab at that moment.
        await page.go_back()
        await page.click("#activities tr.row >> text=shop_get_first_order")
        await page.wait_for_selector("#waterfall .wf-row")
        replay = await _replay_frame(page)
        tabs = await replay.locator("#tabs button").all_inner_texts()
        assert [t.split(" (")[0] for t in tabs] == ["Page 1", "Page 2"]
        navigations = page.locator("#waterfall .wf-row.selected .wf-event[data-event='browser.navigation']")
        await navigations.last.click()  # the receipt, opened last
        await page.wait_for_function(
            "() => (document.querySelector('#replay-status').textContent || '').includes('page 2')"
        )
        active = await replay.evaluate("document.querySelector('#tabs button.active').textContent")
        assert active.startswith("Page 2")
        await replay.child_frames[0].wait_for_function(
            "() => document.body && document.body.innerText.includes('Receipt for')"
        )
        await _shot(page, "4-second-tab")

        await page.goto(url + "/#/?brand=goodreads&status=error&since=&live=0")
        await page.click("#activities tr.row >> text=goodreads_get_shelf")
        error = await page.inner_text("#activity-error")
        assert "timed out waiting for #shelf" in error and error.startswith("TimeoutError")

        await page.click("header nav >> text=Brands")
        await page.wait_for_selector(".brand-card[data-brand='shop'] canvas")
        assert await page.locator(".brand-card").count() >= 4
        await _shot(page, "5-brands")


async def test_activities_refresh_live_while_collect_writes(page: Page, tmp_path: Path) -> None:
    app = build_app(DuckDBStore(tmp_path / "live.duckdb"), ReceiverSettings(), ViewerSettings(refresh_s=0.3))
    async with serve_asgi(app) as url:
        sender = OtlpSender(url, "fleet")
        await sender.activity("netflix_orders", "netflix")
        await page.goto(url + "/")
        await page.wait_for_selector("#activities >> text=netflix_orders")
        await sender.activity("amazon_orders", "amazon")
        await page.wait_for_selector("#activities >> text=amazon_orders", timeout=10_000)
        await sender.close()


async def test_filter_by_client_and_list_one_trace(quiet_telemetry: Telemetry, db_path: Path, page: Page) -> None:
    """Two agents' calls (tests/test_client_traces.py): the client column and filter, and one
    trace's activities from the list's trace link and from an activity's page."""
    agents = await record_two_agents(quiet_telemetry)
    async with serve_asgi(build_viewer_app(FileReads(db_path), ViewerSettings())) as url:
        await page.goto(url + "/#/?live=0")
        await page.wait_for_selector("#range >> text=of 6")
        await page.wait_for_selector("select[name=client] option[value=cursor]", state="attached")
        await page.select_option("select[name=client]", "cursor")
        await page.wait_for_function("() => location.hash.includes('client=cursor')")
        await page.wait_for_selector("#range >> text=of 3")
        assert await page.locator("#activities td.client").all_inner_texts() == ["cursor"] * 3
        await _shot(page, "6-activities-by-client")

        await page.select_option("select[name=client]", "")
        await page.wait_for_selector("#range >> text=of 6")
        await page.locator(f"#activities a.trace[href*='{agents.claude}']").first.click()
        await page.wait_for_selector("#range >> text=of 2")
        assert await page.input_value("input[name=trace]") == agents.claude
        assert await page.locator("#activities td.client").all_inner_texts() == ["claude-code"] * 2

        await page.goto(url + f"/#/?trace={agents.cursor}&status=error&since=&live=0")
        await page.click("#activities tr.row >> text=fail")
        await page.wait_for_selector("#activity-trace")
        assert "client cursor 1.7.0" in await page.inner_text("h1 + p")
        await page.click("#activity-trace")
        await page.wait_for_function(f"() => location.hash === '#/?trace={agents.cursor}&since='")
        await page.wait_for_selector("#range >> text=of 3")
        await _shot(page, "7-one-trace")

        await page.click("header nav >> text=Brands")
        await page.wait_for_selector("#clients")
        labels = await page.locator("#clients td:first-child").all_inner_texts()
        assert labels == ["claude-code 2.0.1", "cursor 1.7.0"]
        assert await page.locator("#clients td:nth-child(2)").all_inner_texts() == ["3", "3"]
        await page.click("#clients >> text=cursor 1.7.0")
        await page.wait_for_selector("#range >> text=of 3")
        assert await page.locator("#activities td.client").all_inner_texts() == ["cursor"] * 3
