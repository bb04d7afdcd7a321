"""Big payloads leave the recorder's world as Blobs read over CDP (recording/cdp_blobs.py, issue 13 point 4).

A binding call copies its string on the page's main thread; a Blob is read by Python from the
browser process instead. These tests watch the real reads (the real `read_blob`, counted) and
check that nothing is lost: every row of a 1,500-row page arrives, also when the document goes
away while its Blobs wait for Python (the world then sends their payloads through the binding).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from patchright.async_api import Browser

import getgather_otel
from getgather_otel import activity
from getgather_otel.capture import attributes as attr
from getgather_otel.recording import cdp_blobs, cdp_worlds, rrweb_events
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.recorder import RECORDER_ATTRIBUTE
from getgather_otel.recording.snapshot_parts import assembled, snapshot_parts
from tests.conftest import Sites, rows
from tests.test_recording import STAGE, open_replay, streams, until_true
from tests.test_recording_snapshot import texts


class CountedReads:
    """The real `read_blob`, each call's outcome noted: the payload's length, None, or the error's type."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay_s: float = 0.0) -> None:
        self.outcomes: list[int | str | None] = []
        self.started = 0
        self._delay_s = delay_s
        monkeypatch.setattr(cdp_worlds, "read_blob", self.read)

    async def read(self, *args: Any) -> str | None:
        self.started += 1
        await asyncio.sleep(self._delay_s)
        try:
            payload = await cdp_blobs.read_blob(*args)
        except Exception as error:
            self.outcomes.append(type(error).__name__)
            raise
        self.outcomes.append(None if payload is None else len(payload))
        return payload


def every_row_recorded(db_path: Path, activity_id: str) -> None:
    [events] = streams(db_path, activity_id).values()
    meta = next(i for i, e in enumerate(events) if e["type"] == rrweb_events.META and "rows.html" in e["data"]["href"])
    first = next(i for i in range(meta, len(events)) if events[i]["type"] == rrweb_events.FULL_SNAPSHOT)
    text = texts(assembled(snapshot_parts(events, first)))
    assert all(f"row {n} of 1500" in text for n in range(1, 1501)), "every row is in the recording"
    [span] = rows(db_path, 'SELECT "SpanAttributes" AS a FROM otel_traces WHERE "SpanId" = ?', [activity_id])
    assert dict(span["a"]).get(attr.RECORDING_DROPPED_EVENTS, "0") == "0"


async def test_big_payloads_arrive_as_blobs(
    browser: Browser, sites: Sites, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rows.html's snapshot is ~700 KB of JSON: payloads of up to 256 K characters, each a Blob.
    reads = CountedReads(monkeypatch)
    telemetry = getgather_otel.configure(duckdb_path=db_path)
    context = await browser.new_context()
    async with activity(name="rows") as act:
        page = await context.new_page()
        await page.goto(sites.main + "/rows.html")
        await page.wait_for_timeout(500)
    await context.close()
    telemetry.flush()
    delivered = [n for n in reads.outcomes if isinstance(n, int)]
    assert len(delivered) >= 2, f"the snapshot's payloads came as Blobs: {reads.outcomes}"
    assert all(n >= 64 * 1024 for n in delivered), "only payloads from 64 K characters on go as Blobs"
    every_row_recorded(db_path, act.activity_id)
    telemetry.shutdown()


async def test_blobs_not_yet_read_when_the_document_goes_come_through_the_binding(
    browser: Browser, sites: Sites, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python takes each Blob a second late; the page navigates away meanwhile. The world sends
    # the payloads of its unread Blobs through the binding as the navigation starts, and the late
    # reads find nothing (their Blobs went with the document): every row is still recorded once.
    reads = CountedReads(monkeypatch, delay_s=1.0)
    telemetry = getgather_otel.configure(duckdb_path=db_path)
    context = await browser.new_context()
    async with activity(name="rows") as act:
        page = await context.new_page()
        await page.goto(sites.main + "/rows.html")
        for _ in range(100):
            if reads.started:
                break
            await asyncio.sleep(0.02)
        assert reads.started, "a Blob was announced"
        await page.goto(sites.main + "/ordinary.html")
        for _ in range(200):
            if len(reads.outcomes) >= reads.started:
                break
            await asyncio.sleep(0.05)
    await context.close()
    telemetry.flush()
    assert reads.outcomes and not any(isinstance(n, int) for n in reads.outcomes), (
        f"no late read found its Blob: {reads.outcomes}"
    )
    every_row_recorded(db_path, act.activity_id)
    telemetry.shutdown()


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ('{"blob":7}', 7),
        ('{"blob":7} ', None),
        ('{"blob":-7}', None),
        ('{"blob":"7"}', None),
        ('{"v":1}', None),
        (7, None),
    ],
)
def test_only_a_blob_announcement_names_a_blob(payload: object, key: int | None) -> None:
    assert cdp_blobs.blob_key(payload) == key


async def test_payloads_keep_their_order_when_the_activity_ends_while_blobs_are_read(
    browser: Browser, sites: Sites, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small parts go through the binding, big ones as Blobs that Python reads 0.2 s late each;
    # the activity ends meanwhile, and its drain hands over what the document still holds. Every
    # row is stored and replayed once, in the page's order (the drain's Blobs are routed at their
    # announcements' turn, after the calls before them).
    CountedReads(monkeypatch, delay_s=0.2)
    telemetry = getgather_otel.configure(duckdb_path=db_path, recording=RecordingOptions(max_event_bytes=100_000))
    context = await browser.new_context()
    async with activity(name="mixed") as act:
        page = await context.new_page()
        await page.goto(sites.main + "/mixed-payloads.html")
        await asyncio.sleep(0.15)
    await asyncio.sleep(RecordingOptions().grace_s + 2)
    await context.close()
    telemetry.flush()
    [events] = streams(db_path, act.activity_id).values()
    stored = [int(n) for n in re.findall(r'"row (\d+)"', json.dumps(events))]
    assert stored == list(range(1, 2251)), "every row stored once, in the page's order"
    viewer, _ = await open_replay(browser, db_path, act.activity_id, tmp_path, [])
    await until_true(viewer, f"() => {STAGE}.querySelectorAll('#rows tr').length === 2256")
    shown = await viewer.evaluate(
        f"() => Array.from({STAGE}.querySelectorAll('#rows td:first-child'), (td) => td.textContent)",
        isolated_context=False,
    )
    assert [int(t.split()[1]) for t in shown if t.startswith("row ")] == list(range(1, 2251)), "replayed in order"
    await viewer.context.close()
    telemetry.shutdown()


async def test_a_blob_over_the_payload_limit_is_refused_and_counted(
    browser: Browser, sites: Sites, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a binding call over `max_payload_bytes` is: rejected, counted, and said once.
    reads = CountedReads(monkeypatch)
    telemetry = getgather_otel.configure(duckdb_path=db_path, recording=RecordingOptions(max_payload_bytes=100_000))
    context = await browser.new_context()
    async with activity(name="big text"):
        page = await context.new_page()
        await page.goto(sites.main + "/big-text.html")
        await until_true(page, "() => document.title === 'added'")
        recorder = getattr(context._impl_obj, RECORDER_ATTRIBUTE)
        for _ in range(100):
            if recorder.rejected_payloads:
                break
            await asyncio.sleep(0.05)
    assert "BlobRejectedError" in reads.outcomes, f"the Blob was read and refused: {reads.outcomes}"
    assert recorder.rejected_payloads == 1
    await context.close()
    telemetry.shutdown()
