"""Big payloads leave the recorder's world as Blobs read over CDP (recording/cdp_blobs.py, issue 13 point 4).

A binding call copies its string on the page's main thread; a Blob is read by Python from the
browser process instead. These tests watch the real reads (the real `read_blob`, counted) and
check that nothing is lost: every row of a 1,500-row page arrives, also when the document goes
away while its Blobs wait for Python (the world then sends their payloads through the binding).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from patchright.async_api import Browser

import getgather_otel
from getgather_otel import activity
from getgather_otel.capture import attributes as attr
from getgather_otel.recording import cdp_blobs, cdp_worlds, rrweb_events
from getgather_otel.recording.snapshot_parts import assembled, snapshot_parts
from tests.conftest import Sites, rows
from tests.test_recording import streams
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
