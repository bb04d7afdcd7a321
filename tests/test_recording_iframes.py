"""Every kind of iframe loads and is recorded under Patchright, and the replay shows it.

tests/sites/frames-all.html holds a same-origin frame, one on the same site on another port, one
on another site (127.0.0.2: an out-of-process frame, which has an iframe of its own), and one on
another site that navigates to a third site (127.0.0.3). Chromium's default site isolation (no
`--site-per-process` flag needed, headless included) puts the other-site frames in processes of
their own; the tests check that through the browser's CDP targets, so the fixture really holds
out-of-process frames. The unrecorded run is the control: the fixture itself works.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from patchright.async_api import Browser, Frame, Page

from getgather_otel import activity, record_browser
from getgather_otel.export.pipeline import Telemetry
from tests.conftest import Sites, flushed
from tests.test_recording import (
    STAGE,
    open_replay,
    seek_to_end,
    stored_text,
    streams,
    text_of,
    until_recorded,
    until_true,
)

# Each frame: the iframe elements that lead to it from the top page.
FRAME_PATHS = {
    "same": ("#same",),
    "port": ("#port",),
    "far": ("#far",),
    "nested": ("#far", "#nested"),
    "third": ("#hop",),
}
OUT_OF_PROCESS = ("far", "third")
# Typed into each frame: different lengths, so each frame's masked input is found in the recording.
TYPED = {name: f"typed in the {name} frame " + "#" * i for i, name in enumerate(FRAME_PATHS)}
# Every text of the replay, nested iframes included (the replayer rebuilds each frame as an iframe).
REPLAY_TEXT = f"""() => {{
  const texts = [];
  const walk = (doc) => {{
    if (!doc) return;
    texts.push(doc.documentElement ? doc.documentElement.textContent : "");
    for (const frame of doc.querySelectorAll("iframe")) walk(frame.contentDocument);
  }};
  walk({STAGE});
  return texts.join("\\n");
}}"""


def origins(sites: Sites) -> dict[str, str]:
    return {"same": sites.main, "port": sites.other, "far": sites.far, "nested": sites.far, "third": sites.third}


async def frame_at(page: Page, path: tuple[str, ...]) -> Frame:
    frame = page.main_frame
    for selector in path:
        handle = await frame.wait_for_selector(selector, state="attached", timeout=5000)
        assert handle is not None
        child = await handle.content_frame()
        assert child is not None, f"{selector} has no frame"
        frame = child
    return frame


async def open_every_kind_of_iframe(page: Page, sites: Sites) -> dict[str, Frame]:
    """Load the fixture, send #hop on to the third site, and return each frame by name once it shows its
    own text; a frame that did not load fails here, saying where it ended (chrome-error:// for one)."""
    query = urlencode({"other": sites.other, "far": sites.far, "third": sites.third})
    await page.goto(f"{sites.main}/frames-all.html?{query}")
    expected = {"same": sites.main, "port": sites.other, "far": sites.far, "hop": sites.far}
    loaded = {name: (await frame_at(page, (f"#{name}",))).url for name in expected}
    assert all(url.startswith(expected[name] + "/") for name, url in loaded.items()), f"frames ended on {loaded}"
    await page.frame_locator("#hop").locator("#go").click(timeout=5000)
    await page.frame_locator("#hop").locator("text=frame third text").wait_for(timeout=5000)
    frames = {name: await frame_at(page, path) for name, path in FRAME_PATHS.items()}
    for name, frame in frames.items():
        assert frame.url.startswith(origins(sites)[name] + "/"), f"{name} frame at {frame.url}"
        assert await frame.text_content("#frame-text") == f"frame {name} text"
    return frames


async def out_of_process_frame_urls(browser: Browser) -> list[str]:
    """The URLs of the browser's out-of-process iframes (CDP targets of type iframe)."""
    cdp = await browser.new_browser_cdp_session()
    targets = (await cdp.send("Target.getTargets"))["targetInfos"]
    await cdp.detach()
    return [target["url"] for target in targets if target["type"] == "iframe"]


async def check_out_of_process(browser: Browser, frames: dict[str, Frame]) -> None:
    separate = await out_of_process_frame_urls(browser)
    assert {name for name, frame in frames.items() if frame.url in separate} == set(OUT_OF_PROCESS), separate


async def test_every_kind_of_iframe_loads_unrecorded(
    quiet_telemetry: Telemetry, browser: Browser, sites: Sites
) -> None:
    context = await browser.new_context()
    frames = await open_every_kind_of_iframe(await context.new_page(), sites)
    await check_out_of_process(browser, frames)
    await context.close()


async def test_every_kind_of_iframe_is_recorded_masked_and_replayed(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="frames") as act:
        page = await context.new_page()
        frames = await open_every_kind_of_iframe(page, sites)
        await check_out_of_process(browser, frames)
        for name, frame in frames.items():
            await frame.fill("#frame-input", TYPED[name])
            await frame.click("#frame-change")
            await frame.wait_for_selector(f"text=frame {name} changed later")
    for name in frames:
        await until_recorded(telemetry, db_path, act.activity_id, f"frame {name} changed later")
    await context.close()

    [events] = streams(db_path, act.activity_id).values()
    text = text_of(events)
    for name in frames:
        assert f"frame {name} text" in text, f"the {name} frame's text is recorded"
    inputs = [e["data"] for e in events if e["type"] == 3 and e["data"].get("source") == 5]
    # One fixed-width mask whatever was typed (issue 15): each frame's field has its own node id.
    typed_into = {data["id"] for data in inputs if data["text"] == "********"}
    assert len(typed_into) >= len(TYPED), f"typing in every frame is recorded: {inputs}"
    stored = stored_text(db_path)
    assert not [typed for typed in TYPED.values() if typed in stored], "typed text is masked"

    viewer, _ = await open_replay(browser, db_path, act.activity_id, tmp_path, [])
    await seek_to_end(viewer)
    shown = " && ".join(f"/frame {name} changed later/.test(text)" for name in frames)
    await until_true(viewer, f"() => {{ const text = ({REPLAY_TEXT})(); return {shown}; }}")
    replayed = await viewer.evaluate(REPLAY_TEXT, isolated_context=False)
    assert all(f"frame {name} text" in replayed for name in frames), replayed


async def test_an_iframe_back_on_the_pages_site_then_on_another_is_recorded_again(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    # Another site (out of process), the page's own site (in process), another site again: the
    # out-of-process target's id is its frame's, and the first one's session, gone with its
    # process, must not pass for the frame's live session (the last document went unrecorded).
    context = await browser.new_context()
    await record_browser(context)
    hops = {"far": sites.far, "back": sites.main, "again": sites.third}
    async with activity(name="hops") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/ordinary.html")
        await page.evaluate(
            "() => { const f = document.createElement('iframe'); f.id = 'hop'; document.body.append(f); }",
            isolated_context=False,
        )
        for name, origin in hops.items():
            # Waited for from the page: a locator in the frame ends with it as it changes process.
            await page.evaluate(
                "(src) => new Promise((loaded) => { const f = document.getElementById('hop');"
                " f.addEventListener('load', loaded, { once: true }); f.src = src; })",
                f"{origin}/frame.html?name={name}",
            )
            await until_recorded(telemetry, db_path, act.activity_id, f"frame {name} text")
        await page.frame_locator("#hop").locator("#frame-change").click()
        await until_recorded(telemetry, db_path, act.activity_id, "frame again changed later")
    await context.close()
    flushed(telemetry)
    text = text_of(list(streams(db_path, act.activity_id).values()))
    assert all(f"frame {name} text" in text for name in hops), "each of the iframe's documents is in its stream"
