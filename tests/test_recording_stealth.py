"""A recorded page cannot tell it is recorded: the detection fixture reads the same as unrecorded.

Evidence capture (issue 18: a CDP session of its own per page with Network and Page enabled)
is on in the recorded run, as by default; the reports must still be identical.

tests/sites/detect.js probes for a recorder the way a site's bot detection would (hooked setters
and methods, globals, own properties of `document`, stack frames through setters, built-ins called
by code that is not the page's, the navigation entry, messages from its iframes, storage). Each
test runs the same flow twice in one browser, in a context that is not recorded and in one that is,
over three documents (a cross-origin iframe on the same site, then on another site, then a strict
CSP page), and requires identical reports. The recorded run must also hold the pages (text, a later
change, the typed input, masked), so a recorder that records nothing cannot pass.

The drivers leave traces of their own: Patchright's and Playwright's selector engine runs in the
main world (`wait_for_selector`, `fill`), so an unrecorded page already counts ~180 foreign calls
to its wrapped built-ins. They are the same on every run of the same flow, so they are part of the
baseline; only what recording adds differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from patchright.async_api import Browser
from patchright.async_api import Page as PatchrightPage
from playwright.async_api import Browser as PlaywrightBrowser
from playwright.async_api import Page as PlaywrightPage

from getgather_otel import activity, record_browser
from getgather_otel.export.pipeline import Telemetry
from tests.conftest import Sites, rows
from tests.test_recording import PASSWORD, stored_text, streams, text_of, until_recorded

TYPED_NAME = "Grace Hopper typed this"
LATER_CHANGE = "a later change by the page in "


def documents(sites: Sites) -> list[str]:
    """The three documents probed, in one tab: a same-site cross-origin iframe, a cross-site one, strict CSP."""
    return [
        f"{sites.main}/detect.html?doc=1&other={quote(sites.other, safe='')}",
        f"{sites.main}/detect.html?doc=2&other={quote(sites.far, safe='')}",
        f"{sites.main}/detect-csp.html",
    ]


async def probe(page: PatchrightPage | PlaywrightPage, sites: Sites) -> list[dict[str, Any]]:
    """Visit each document, type, let the page change itself, and take its own report of what it saw.

    Only the page's own script reads the page: the test acts and reads through the driver
    (whose scripts run in a world of their own), never by evaluating in the main world.
    """
    reports = []
    for url in documents(sites):
        await page.goto(url)
        await page.wait_for_selector("#status:has-text('ready')")
        await page.fill("#name", TYPED_NAME)
        await page.fill("#secret", PASSWORD)
        await page.click("#change")
        await page.wait_for_selector(f"text={LATER_CHANGE}")
        await page.click("#probe")
        await page.wait_for_selector("#report:not(:empty)")
        reports.append(json.loads(await page.text_content("#report") or ""))
    return reports


def differences(unrecorded: dict[str, Any], recorded: dict[str, Any], where: str = "") -> list[str]:
    """What differs between two reports, one line per leaf (lists of names as what was added and removed)."""
    found = []
    for key in sorted(set(unrecorded) | set(recorded)):
        a, b = unrecorded.get(key), recorded.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += differences(a, b, f"{where}{key}.")
        elif isinstance(a, list) and isinstance(b, list) and all(isinstance(x, str) for x in a + b):
            found.append(f"{where}{key}: added {sorted(set(b) - set(a))}, removed {sorted(set(a) - set(b))}")
        else:
            found.append(f"{where}{key}: unrecorded {a!r}, recorded {b!r}")
    return found


async def check_recording_is_invisible(
    telemetry: Telemetry, browser: Browser | PlaywrightBrowser, sites: Sites, db_path: Path
) -> None:
    plain = await browser.new_context()
    async with activity(name="unrecorded") as control:
        unrecorded = await probe(await plain.new_page(), sites)
    await plain.close()
    context = await browser.new_context()
    await record_browser(context)  # evidence capture (issue 18) is on by default: it must stay unseen too
    async with activity(name="recorded") as act:
        page = await context.new_page()
        recorded = await probe(page, sites)
        await page.goto(f"{sites.main}/no-such-page.html")  # after the reports: evidence that capture was on
    for report in unrecorded:
        await until_recorded(telemetry, db_path, act.activity_id, LATER_CHANGE + report["document"])
    await context.close()

    assert not rows(db_path, "SELECT 1 FROM recording_chunks WHERE span_id = ?", [control.activity_id]), (
        "the control run really was unrecorded"
    )
    assert [r["messages"]["hellos"] for r in unrecorded] == [["cross", "same"], ["cross", "same"], ["same"]], (
        "unrecorded, every child frame of the fixture loads"
    )
    found = [
        f"{u['document']}: {line}" for u, r in zip(unrecorded, recorded, strict=True) for line in differences(u, r)
    ]
    assert not found, "the page can tell it is recorded:\n" + "\n".join(found)

    [events] = streams(db_path, act.activity_id).values()
    text = text_of(events)
    assert "Detection fixture page" in text and "detection child frame" in text
    assert all(LATER_CHANGE + report["document"] in text for report in unrecorded)
    masked = [e for e in events if e["type"] == 3 and e["data"].get("source") == 5 and e["data"].get("text")]
    # One fixed-width mask, whatever was typed (issue 15: a mask as long as the value told its length).
    assert sum(e["data"]["text"] == "********" for e in masked) >= len(unrecorded), "typing is recorded"
    stored = stored_text(db_path)
    assert TYPED_NAME not in stored and PASSWORD not in stored, "typed text is masked"
    [span] = rows(db_path, 'SELECT "Events.Name" AS names FROM otel_traces WHERE "SpanId" = ?', [act.activity_id])
    assert "browser.http.error" in span["names"], "evidence capture ran beside the recording"


async def test_patchright_page_cannot_tell_it_is_recorded(
    quiet_telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    await check_recording_is_invisible(quiet_telemetry, browser, sites, db_path)


async def test_playwright_page_cannot_tell_it_is_recorded(
    quiet_telemetry: Telemetry, pw_browser: PlaywrightBrowser, sites: Sites, db_path: Path
) -> None:
    await check_recording_is_invisible(quiet_telemetry, pw_browser, sites, db_path)
