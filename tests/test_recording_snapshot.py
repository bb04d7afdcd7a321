"""The fast full snapshot (recording/js/snapshot.js) serializes a page exactly as rrweb's own does (issue 13, point 4).

rrweb's serializer took 270-590 ms of the page's main thread for a 5,000-row table; the fast
one serializes plain elements and text itself and hands everything rrweb treats specially to
rrweb. Both run in the recorder's isolated world of the same document, on the same mirror
(so with the same ids), and must produce the same JSON for a page holding one of everything:
masked and blocked elements (by class and by selector), text patterns, form controls, a form
whose controls shadow its DOM properties, SVG, MathML, iframes, a shadow root, custom elements,
comments, scripts, whitespace, odd tag names, relative URLs in every attribute rrweb rewrites.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from patchright.async_api import Browser

from getgather_otel import activity, record_browser
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.recording.cdp_worlds import WORLD_NAME
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.world_script import api_call
from tests.conftest import Sites
from tests.test_recording import until_true

OPTIONS = {
    "defaults": RecordingOptions(),
    "selectors and patterns": RecordingOptions(
        block_selector=".blocked-by-selector",
        mask_text_selector=".masked-by-selector",
        mask_text_patterns=("email", "card"),
        mask_all_inputs=False,
    ),
}


def texts(node: dict[str, Any]) -> str:
    own = node.get("textContent", "") or ""
    return own + " ".join(texts(child) for child in node.get("childNodes", []))


@pytest.mark.parametrize("name", list(OPTIONS))
async def test_the_fast_snapshot_equals_rrwebs_own(
    quiet_telemetry: Telemetry, browser: Browser, sites: Sites, name: str
) -> None:
    options = OPTIONS[name]
    context = await browser.new_context()
    await record_browser(context, options=options)
    async with activity(name="snapshot"):
        page = await context.new_page()
        await page.goto(sites.main + "/snapshot.html")
        await until_true(page, "() => document.getElementById('sn-constructed').childNodes.length > 5")
        cdp = await context.new_cdp_session(page)
        frame_id = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
        world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": WORLD_NAME})
        serialized: dict[bool, Any] = {}
        for fast in (False, True):
            call = api_call(options.guard, f"serialized({str(fast).lower()})", "null")
            for _ in range(50):  # the world's first snapshot comes at DOMContentLoaded
                reply = await cdp.send(
                    "Runtime.evaluate",
                    {"expression": call, "contextId": world["executionContextId"], "returnByValue": True},
                )
                serialized[fast] = reply["result"].get("value")
                if serialized[fast] is not None:
                    break
                await page.wait_for_timeout(100)
        await cdp.detach()
    await context.close()

    assert isinstance(serialized[False], str) and isinstance(serialized[True], str)
    rrweb, ours = json.loads(serialized[False]), json.loads(serialized[True])
    assert ours == rrweb
    text = texts(ours)
    # The page really has what the comparison is about.
    assert "Snapshot fixture" in text and "an invalid tag name" in text and "light dom" in text
    assert "masked inside" not in text and "not masked" in text and "nested" not in text
    assert "secret" not in serialized[True], "a password is masked whatever the options say"
    if name == "defaults":
        assert "typed" not in serialized[True], "every input is masked by default"
    if name == "selectors and patterns":
        assert "ada.lovelace@example.com" not in text and "4111" not in text
        assert "masked by the selector" not in text and "blocked by the selector" not in text
    assert '"rr_scrollTop":100' in serialized[True], "the scrolled box keeps its offset"
