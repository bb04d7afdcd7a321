"""Nothing private in any stored byte (issue 15): every input kind, editable text, select
choices, URLs by value and inside pages, the tool's own secrets; against tests/sites/privacy.html."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from patchright.async_api import Browser, Page

from getgather_otel import activity, record_browser
from getgather_otel.export.pipeline import Telemetry
from tests.conftest import Sites
from tests.test_recording import settle, stored_text, streams, text_of

MASK = "********"
# Typed, selected, set by script and appended by the fixture page: never stored.
INPUT_SECRETS = [
    "HIDDENCSRF-7c1f9a4e2b",
    "HIDDENSETBYSCRIPT-3d9e",
    "HIDDENAPPENDED-88aa",
    "SELECTSECRETA",
    "SELECTSECRETB",
    "SELECTLABELA",
    "SELECTLABELB",
    "SELECTSETBYSCRIPT",
    "EDITABLETYPED",
    "PLAINTYPED",
    "TYPEDNAME-long-value-xyz",
]


async def fill_privacy_page(page: Page, origin: str) -> None:
    await page.goto(f"{origin}/privacy.html")
    await page.fill("#name", "TYPEDNAME-long-value-xyz")
    await page.fill("#short", "ab")
    await page.select_option("#plan", "plan-gold-SELECTSECRETB")
    await page.click("#editable")
    await page.keyboard.type(" EDITABLETYPED")
    await page.click("#plain")
    await page.keyboard.type(" PLAINTYPED")
    await page.evaluate("addSecrets()", isolated_context=False)
    await asyncio.sleep(0.3)


def input_texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["text"] for e in events if e["type"] == 3 and e["data"].get("source") == 5]


async def test_every_input_kind_and_editable_text_is_masked_with_one_fixed_mask(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="privacy", brand_id="fixture") as act:
        page = await context.new_page()
        await fill_privacy_page(page, sites.main)
    await settle(telemetry)
    await context.close()

    events = [e for page_events in streams(db_path, act.activity_id).values() for e in page_events]
    recorded = text_of(events)
    assert "Privacy fixture" in recorded and "Your orders are below." in recorded, "the page itself is recorded"
    assert "appended done" in recorded, "later mutations are recorded"
    for secret in INPUT_SECRETS:
        assert secret not in recorded, f"{secret!r} in the recording"
        assert secret not in stored_text(db_path)
    # One mask whatever the length: a 24-character name, a 2-character one and a select's choice.
    texts = input_texts(events)
    assert texts and set(texts) <= {MASK, ""}, texts
    assert texts.count(MASK) >= 3
    assert json.dumps(MASK) in recorded
