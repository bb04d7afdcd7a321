"""`heavy`: what recording costs on a big page (issue 13), against no recording and Playwright's tracing.

The flow, per round: go to the heavy fixture (bench/heavy_site.py: an N-row order table
with CSS-in-JS rules, an adopted sheet, a shadow-root widget and a live clock), read the
table (its row count and the last row's text), click `#refresh` and wait for the DOM to
change. Rounds are interleaved over three contexts of one Chromium (bench/browser_rounds.py).

Then, all from outside the recorder:
- per document, from the stored chunks and the page's navigation timing: when the page's
  DOMContentLoaded handlers ran and how long (a main-world recorder snapshots inside
  them), how long rrweb took to build the snapshot, its size in nodes, rows and bytes;
- one more context records a few visits with every arriving batch cut into its own chunk
  (`max_chunk_bytes=1`), so a chunk sink sees when the snapshot reached Python (parsed and
  validated), and the chunk writer's counters say when it was in DuckDB; a 5 ms ticker
  on the event loop measures how long Python's loop was blocked meanwhile;
- bytes stored per minute while the page stays open (`--dwell-s`), and stored bytes
  against the raw rrweb JSON (the target is >= 8x smaller);
- whether each recording stored a full snapshot holding the whole table (the replay
  opens on it).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchright.async_api import Browser, BrowserContext, Page, async_playwright

from bench.browser_rounds import (
    RECORDED,
    Round,
    chunk_bytes,
    heap_bytes,
    interleaved_rounds,
    mode_contexts,
    of_mode,
    print_rounds,
)
from bench.heavy_site import PATH, heavy_site, order_text
from bench.stored_snapshots import StoredSnapshot, incremental_bytes, stored_recordings, stored_snapshots
from getgather_otel import activity, record_browser
from getgather_otel.demo.browser import launch_options
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.recording import rrweb_events
from getgather_otel.recording.chunks import Chunk
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.recordings import add_sink, remove_sink
from getgather_otel.web.serving import serve_asgi

# Epoch ms of the current document's milestones (the page's clock, the one rrweb stamps events with).
NAVIGATION_JS = """() => {
  const n = performance.getEntriesByType("navigation")[0], t = performance.timeOrigin;
  return {url: location.href, start: t, response_end: t + n.responseEnd,
          dcl_start: t + n.domContentLoadedEventStart, dcl_end: t + n.domContentLoadedEventEnd,
          load_end: t + n.loadEventEnd};
}"""
ROWS_JS = "() => document.querySelector('#orders tbody').rows.length"
ARRIVAL_TIMEOUT_S = 30.0
# A recorded 20,000-row page took 30-40 s to load on this machine under load: Playwright's 30 s default fails it.
PAGE_TIMEOUT_MS = 180_000
# The warm-up's page: enough to warm caches, without a minute of 20,000-row rounds that are not timed.
WARM_UP_ROWS = 500
LOOP_TICK_S = 0.005


def heavy_url(origin: str, rows: int) -> str:
    return f"{origin}{PATH}?rows={rows}"


async def heavy_flow(context: BrowserContext, origin: str, rows: int) -> None:
    """Open the page, read the table, one click that changes the DOM.

    The row count is read with one evaluate (Patchright: in an isolated world): a locator's
    `count()` over 5,000 rows took ~57 s here, which would measure Patchright, not recording.
    """
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto(heavy_url(origin, rows))
    assert await page.evaluate(ROWS_JS) == rows
    last = await page.locator("#orders tbody tr:last-child td").first.inner_text()
    assert last == order_text(rows), last
    await page.click("#refresh")
    await page.wait_for_selector("#notice")


async def navigation(page: Page) -> dict[str, Any]:
    timing: dict[str, Any] = await page.evaluate(NAVIGATION_JS)
    return timing


class ArrivalProbe:
    """A chunk sink that notes when (epoch ms) each full snapshot reached the recording's streams."""

    def __init__(self) -> None:
        # FullSnapshot timestamp -> (its Meta's timestamp, arrival)
        self.arrived: dict[float, tuple[float, float]] = {}
        self._meta_ms = 0.0  # the last Meta seen: a snapshot over the page's batch size comes on its own

    def submit(self, chunk: Chunk) -> None:
        now = time.time() * 1000
        for event in chunk.events:
            if event["type"] == rrweb_events.META:
                self._meta_ms = event["timestamp"]
            elif event["type"] == rrweb_events.FULL_SNAPSHOT:
                self.arrived.setdefault(event["timestamp"], (self._meta_ms or event["timestamp"], now))

    def first_since(self, start_ms: float) -> tuple[float, float, float] | None:
        """(Meta, FullSnapshot, arrival) of the first snapshot taken after `start_ms`, if one arrived."""
        taken = [(meta, snapshot, arrived) for snapshot, (meta, arrived) in self.arrived.items() if meta >= start_ms]
        return min(taken, default=None)


class LoopStalls:
    """How long the asyncio loop could not run a 5 ms ticker: Python's own busy time on the loop."""

    def __init__(self) -> None:
        self.stalls: list[tuple[float, float]] = []  # (epoch ms when it ended, ms blocked)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(LOOP_TICK_S)
            late_ms = (time.perf_counter() - started - LOOP_TICK_S) * 1000
            if late_ms > 2:
                self.stalls.append((time.time() * 1000, late_ms))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def blocked_ms(self, start_ms: float, end_ms: float) -> float:
        """Blocked time overlapping [start_ms, end_ms] (epoch ms)."""
        return sum(max(0.0, min(ended, end_ms) - max(ended - ms, start_ms)) for ended, ms in self.stalls)


@dataclass(frozen=True)
class Arrival:
    """One visit's snapshot on its way out (epoch ms): DOMContentLoaded, rrweb's Meta and
    FullSnapshot events, in Python (None: never arrived), in DuckDB; Python's loop blocked (ms)."""

    dcl_ms: float
    meta_ms: float = 0.0
    snapshot_ms: float = 0.0
    arrived_ms: float | None = None
    stored_ms: float | None = None
    loop_blocked_ms: float = 0.0


async def written(telemetry: Telemetry, timeout_s: float) -> float | None:
    """Epoch ms at which the chunk writer had nothing pending (None: still pending at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = telemetry.stats().recordings
        if stats is not None and stats.pending == 0:
            return time.time() * 1000
        await asyncio.sleep(0.005)
    return None


async def arrivals(browser: Browser, telemetry: Telemetry, origin: str, rows: int, visits: int) -> list[Arrival]:
    """`visits` recorded visits on a fresh context whose every batch becomes its own chunk."""
    context = await browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    await record_browser(context, options=RecordingOptions(max_chunk_bytes=1))
    probe, loop = ArrivalProbe(), LoopStalls()
    add_sink(probe)
    loop.start()
    found: list[Arrival] = []
    try:
        for _ in range(visits):
            async with activity(name="bench_arrival", brand_id="bench", kind="tool"):
                await heavy_flow(context, origin, rows)
                nav = await navigation(context.pages[0])
                deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
                while time.monotonic() < deadline and probe.first_since(nav["start"]) is None:
                    await asyncio.sleep(0.01)
            seen = probe.first_since(nav["start"])
            if seen is None:
                found.append(Arrival(nav["dcl_start"]))
                continue
            meta_ms, snapshot_ms, arrived_ms = seen
            stored_ms = await written(telemetry, ARRIVAL_TIMEOUT_S)
            blocked = loop.blocked_ms(snapshot_ms, arrived_ms)
            found.append(Arrival(nav["dcl_start"], meta_ms, snapshot_ms, arrived_ms, stored_ms, blocked))
    finally:
        loop.stop()
        remove_sink(probe)
        await context.close()
    return found


async def dwell(context: BrowserContext, origin: str, rows: int, seconds: float) -> str:
    """One recording of the page left open `seconds` (its clock ticking); returns its span id."""
    async with activity(name="bench_dwell", brand_id="bench", kind="tool") as act:
        page = context.pages[0] if context.pages else await context.new_page()
        await page.goto(heavy_url(origin, rows))
        await asyncio.sleep(seconds)
    return act.activity_id


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):7.1f}" if values else "      -"


def print_documents(snapshots: Sequence[StoredSnapshot], navs: dict[str, dict[str, Any]], rows: int) -> None:
    """Per recorded round: the snapshots it stored, split into the new document's and the claim's
    checkpoint of the page the round started on (taken before the navigation)."""
    new = [s for s in snapshots if s.span_id in navs and s.meta_ms >= navs[s.span_id]["start"]]
    old = [s for s in snapshots if s not in new]
    for label, group in (("new document", new), ("checkpoint of the previous document", old)):
        if not group:
            print(f"  {label}: no full snapshot stored")
            continue
        print(
            f"  {label} ({len(group)} snapshots): build (Meta->FullSnapshot) {_median([s.build_ms for s in group])} ms,"
            f" FullSnapshot->next event {_median([s.after_emit_ms for s in group if s.after_emit_ms is not None])} ms,"
            f" {statistics.median(s.json_bytes for s in group) / 1e6:.2f} MB JSON,"
            f" {statistics.median(s.nodes for s in group):,.0f} nodes, table rows {min(s.table_rows for s in group)}"
            f"-{max(s.table_rows for s in group)} of {rows}"
        )
    if new:
        dcl_to_meta = [s.meta_ms - navs[s.span_id]["dcl_start"] for s in new]
        print(f"  new document: DOMContentLoaded start -> Meta {_median(dcl_to_meta)} ms (median)")


def print_navigation(navs_by_mode: dict[str, list[dict[str, Any]]]) -> None:
    """Median page milestones per mode (ms from navigation start), and the DOMContentLoaded handlers' time."""
    for mode, navs in navs_by_mode.items():
        dcl = [n["dcl_end"] - n["dcl_start"] for n in navs]
        to_dcl = [n["dcl_start"] - n["start"] for n in navs]
        to_load = [n["load_end"] - n["start"] for n in navs]
        print(
            f"  {mode:>10}: DOMContentLoaded at {_median(to_dcl)} ms, its handlers {_median(dcl)} ms,"
            f" load event done at {_median(to_load)} ms",
            flush=True,
        )


def print_arrivals(found: Sequence[Arrival]) -> None:
    for i, a in enumerate(found, 1):
        if a.arrived_ms is None:
            print(f"  visit {i}: no full snapshot reached Python within {ARRIVAL_TIMEOUT_S:.0f} s")
            continue
        stored = f"{a.stored_ms - a.arrived_ms:.0f} ms later" if a.stored_ms is not None else "not within the timeout"
        print(
            f"  visit {i}: DOMContentLoaded -> Meta {a.meta_ms - a.dcl_ms:.0f} ms; snapshot built in"
            f" {a.snapshot_ms - a.meta_ms:.0f} ms; emitted -> in Python (parsed, validated)"
            f" {a.arrived_ms - a.snapshot_ms:.0f} ms, of which Python's loop was blocked {a.loop_blocked_ms:.0f} ms;"
            f" in DuckDB {stored}"
        )


async def heavy(rows: int, rounds: int, visits: int, dwell_s: float, db: Path, telemetry: Telemetry) -> None:
    navs_by_mode: dict[str, list[dict[str, Any]]] = {}
    recorded_navs: dict[str, dict[str, Any]] = {}

    async with serve_asgi(heavy_site()) as origin, async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch_options())
        contexts = await mode_contexts(browser)
        for context in contexts.values():
            context.set_default_timeout(PAGE_TIMEOUT_MS)

        async def note_navigation(done: Round) -> None:
            nav = await navigation(contexts[done.mode].pages[0])
            navs_by_mode.setdefault(done.mode, []).append(nav)
            if done.mode == RECORDED:
                recorded_navs[done.activity_id] = nav

        done = await interleaved_rounds(
            contexts,
            lambda c: heavy_flow(c, origin, rows),
            rounds,
            Path(str(db) + ".trace.zip"),
            warm_up=lambda c: heavy_flow(c, origin, min(rows, WARM_UP_ROWS)),
            after_round=note_navigation,
        )
        print(f"\n{rounds} interleaved rounds on {rows:,} rows: goto, read the table, one click (ms, wall time)")
        print_rounds(done)
        print("page milestones (navigation timing of the flow's document, median):")
        print_navigation(navs_by_mode)
        heaps = {mode: await heap_bytes(context.pages[0]) for mode, context in contexts.items()}
        print(
            "JavaScript heap of the page after its last round, every world, garbage collected: "
            + ", ".join(f"{mode} {size / 1e6:.1f} MB" for mode, size in heaps.items())
        )
        found = await arrivals(browser, telemetry, origin, rows, visits)
        dwelled = await dwell(contexts[RECORDED], origin, rows, dwell_s) if dwell_s > 0 else None
        await browser.close()
    telemetry.shutdown()

    recorded = [r.activity_id for r in of_mode(done, RECORDED)]
    print("full snapshots stored by the recorded rounds:")
    print_documents(stored_snapshots(db, recorded), recorded_navs, rows)
    print("one snapshot's way out (a separate recorded context, each batch its own chunk):")
    print_arrivals(found)
    print("what the recorded rounds stored:")
    for rec in stored_recordings(db, recorded):
        print(
            f"  {rec.span_id}: {rec.chunks} chunks ({rec.snapshot_chunks} start with a full snapshot),"
            f" {rec.events} events, {rec.raw_bytes / 1e6:.2f} MB raw -> {rec.stored_bytes / 1e6:.3f} MB stored,"
            f" {rec.dropped_events} events dropped"
        )
    raw, stored, _ = chunk_bytes(db, recorded)
    print(f"  all rounds: {stored:,} bytes stored for {raw:,} bytes of rrweb JSON: {raw / max(stored, 1):.1f}x smaller")
    if dwelled is not None:
        raw, stored, covered_s = chunk_bytes(db, [dwelled])
        minutes = max(covered_s, dwell_s) / 60
        print(
            f"page left open {dwell_s:.0f} s (clock ticking every 100 ms): {stored / minutes / 1024:.0f} KiB stored"
            f" per minute ({raw / minutes / 1024:.0f} KiB raw, {raw / max(stored, 1):.1f}x smaller),"
            " first snapshot included"
        )
        raw, stored, covered_s = incremental_bytes(db, dwelled)
        minutes = max(covered_s, 1.0) / 60
        print(
            f"  its incremental events alone: {stored / minutes / 1024:.1f} KiB per minute compressed as a chunk"
            f" ({raw / minutes / 1024:.0f} KiB raw) over {covered_s:.0f} s"
        )
