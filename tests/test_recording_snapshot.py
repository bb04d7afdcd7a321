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
from pathlib import Path
from typing import Any

import pytest
from patchright.async_api import Browser

import getgather_otel
from getgather_otel import activity, record_browser
from getgather_otel.capture import attributes as attr
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.recording import rrweb_events
from getgather_otel.recording.cdp_worlds import WORLD_NAME
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.snapshot_parts import assembled, snapshot_parts
from getgather_otel.recording.world_script import api_call
from tests.conftest import Sites, rows
from tests.test_recording import STAGE, open_replay, streams, until_true

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


async def test_a_big_snapshot_is_sent_in_parts_that_rebuild_every_row(
    browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    # 1,500 rows are ~300 KB of snapshot JSON: over a 20 KB part size, the snapshot goes as an
    # outline plus Mutation adds (js/world.js snapshotParts), sized by an estimate; rows full of
    # characters JSON escapes make some parts several times their estimate, which must be split
    # again rather than dropped.
    # configure() records every new context with these options (as the hostile-page test does).
    telemetry = getgather_otel.configure(duckdb_path=db_path, recording=RecordingOptions(max_event_bytes=20_000))
    context = await browser.new_context()
    async with activity(name="rows") as act:
        page = await context.new_page()
        await page.goto(sites.main + "/rows.html")
        await until_true(page, "() => document.querySelectorAll('#rows tr').length === 1500")
    await context.close()
    telemetry.flush()

    [events] = streams(db_path, act.activity_id).values()
    meta = next(i for i, e in enumerate(events) if e["type"] == rrweb_events.META and "rows.html" in e["data"]["href"])
    first = next(i for i in range(meta, len(events)) if events[i]["type"] == rrweb_events.FULL_SNAPSHOT)
    parts = snapshot_parts(events, first)
    assert len(parts) > 10, "the snapshot went in parts"
    assert parts[-1]["data"]["tag"] == "getgather.snapshot.parts"
    assert all(len(json.dumps(p, separators=(",", ":"), ensure_ascii=False)) <= 20_000 for p in parts), "each fits"
    text = texts(assembled(parts))
    assert all(f"row {n} of 1500" in text for n in range(1, 1501)), "every row is in the rebuilt snapshot"
    assert text.count('"\\\u0001' * 400) == 150, "the rows of escaped characters are all there"
    [span] = rows(db_path, 'SELECT "SpanAttributes" AS a FROM otel_traces WHERE "SpanId" = ?', [act.activity_id])
    assert dict(span["a"]).get(attr.RECORDING_DROPPED_EVENTS, "0") == "0"

    # The replay opens on the whole table: rrweb's player builds an added node without its
    # children, so the parts are joined into one full snapshot before it plays them.
    viewer, _ = await open_replay(browser, db_path, act.activity_id, tmp_path, [])
    await until_true(viewer, f"() => {STAGE}.querySelectorAll('#rows td').length === 3000")
    shown = await viewer.evaluate(f"() => {STAGE}.body.textContent", isolated_context=False)
    assert all(f"row {n} of 1500" in shown for n in (1, 750, 1500)), "the rows' text is in the first frame"
    await viewer.context.close()
    telemetry.shutdown()


# Counts, in the world `Runtime.queryObjects` was given the prototype of, the objects that are
# serialized `<td>` elements of an rrweb snapshot.
SERIALIZED_CELLS = """function () {
  let cells = 0;
  for (const o of this) {
    try {
      if (o.type === 2 && o.tagName === "td" && Array.isArray(o.childNodes)) cells++;
    } catch (error) {
      /* an object whose getter throws is no serialized node */
    }
  }
  return cells;
}"""


@pytest.mark.parametrize("max_event_bytes", [None, 20_000], ids=["whole", "in parts"])
async def test_a_sent_snapshots_tree_is_not_held_by_the_page(
    quiet_telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, max_event_bytes: int | None
) -> None:
    # rrweb's mirror held every serialized node of the fast snapshot for the document's life, and
    # rrweb its last full snapshot event: a 20,000-row page's world kept ~10 MB of tree it had
    # sent already. Once queued, nothing in the world refers to the tree (js/snapshot.js,
    # js/world.js `letGo`), whether it went whole or in parts.
    options = RecordingOptions() if max_event_bytes is None else RecordingOptions(max_event_bytes=max_event_bytes)
    context = await browser.new_context()
    await record_browser(context, options=options)
    async with activity(name="rows") as act:
        page = await context.new_page()
        await page.goto(sites.main + "/rows.html")
        await until_true(page, "() => document.querySelectorAll('#rows tr').length === 1500")
        await page.click("#rows tr:last-child td")  # the recording goes on after the snapshot
        cdp = await context.new_cdp_session(page)
        frame_id = (await cdp.send("Page.getFrameTree"))["frameTree"]["frame"]["id"]
        world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": WORLD_NAME})
        prototype = await cdp.send(
            "Runtime.evaluate", {"expression": "Object.prototype", "contextId": world["executionContextId"]}
        )
        # queryObjects collects garbage first, then lists every object of that prototype.
        found = await cdp.send("Runtime.queryObjects", {"prototypeObjectId": prototype["result"]["objectId"]})
        reply = await cdp.send(
            "Runtime.callFunctionOn",
            {"functionDeclaration": SERIALIZED_CELLS, "objectId": found["objects"]["objectId"], "returnByValue": True},
        )
        await cdp.detach()
    await context.close()
    quiet_telemetry.flush()

    assert "exceptionDetails" not in reply, reply
    assert reply["result"]["value"] == 0, "no serialized cell of the page's snapshot is left in its world"
    [events] = streams(db_path, act.activity_id).values()
    meta = next(i for i, e in enumerate(events) if e["type"] == rrweb_events.META and "rows.html" in e["data"]["href"])
    first = next(i for i in range(meta, len(events)) if events[i]["type"] == rrweb_events.FULL_SNAPSHOT)
    text = texts(assembled(snapshot_parts(events, first)))
    assert all(f"row {n} of 1500" in text for n in range(1, 1501)), "the snapshot was sent, every row in it"
    assert any(e["type"] == rrweb_events.INCREMENTAL_SNAPSHOT for e in events[first + 1 :]), "recording went on"
