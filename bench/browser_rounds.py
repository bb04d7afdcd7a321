"""Interleaved rounds of one browser flow without recording, with our recording and with Playwright's tracing.

The three ways of running a flow get one browser context each on the same Chromium, so
they share the machine's state; rounds rotate which goes first, so a neighbour's burst of
CPU (this machine has 2 cores, shared) lands on all three alike, and the medians compare.
`tracing` is what an automation engineer turns on instead of a recorder:
`context.tracing.start(snapshots=True, screenshots=True)` before the flow and
`tracing.stop(path=...)` (which writes the trace zip) after it, both inside the timing.
Every round runs inside an activity, the way a tool call does, so the recorded context
records one recording per round.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
from patchright.async_api import Browser, BrowserContext, Page

from getgather_otel import activity, record_browser

UNRECORDED, RECORDED, TRACING = "unrecorded", "recorded", "tracing"
MODES = (UNRECORDED, RECORDED, TRACING)

Flow = Callable[[BrowserContext], Awaitable[None]]


async def heap_bytes(page: Page) -> int:
    """Bytes of the JavaScript heap of `page`'s renderer (every world), after a garbage collection.

    CDP `HeapProfiler.collectGarbage`, then `Runtime.getHeapUsage` `usedSize`.
    """
    session = await page.context.new_cdp_session(page)
    try:
        await session.send("HeapProfiler.collectGarbage")
        usage = await session.send("Runtime.getHeapUsage")
        return int(usage["usedSize"])
    finally:
        await session.detach()


@dataclass(frozen=True)
class Round:
    """One timed run of the flow: wall time in ms, and the activity it ran in (its recording's span id)."""

    mode: str
    ms: float
    activity_id: str
    trace_bytes: int = 0


async def mode_contexts(browser: Browser) -> dict[str, BrowserContext]:
    """A fresh context per mode on `browser`; the `recorded` one has `record_browser` attached."""
    contexts = {mode: await browser.new_context() for mode in MODES}
    await record_browser(contexts[RECORDED])
    return contexts


async def timed_round(context: BrowserContext, mode: str, flow: Flow, trace_path: Path, brand: str) -> Round:
    """Run `flow` once in an activity named after `mode`, tracing it when `mode` is `tracing`."""
    started = time.perf_counter()
    async with activity(name=f"bench_{mode}", brand_id=brand, kind="tool") as act:
        if mode == TRACING:
            await context.tracing.start(snapshots=True, screenshots=True)
        await flow(context)
        if mode == TRACING:
            await context.tracing.stop(path=trace_path)
    elapsed_ms = (time.perf_counter() - started) * 1000
    trace_bytes = trace_path.stat().st_size if mode == TRACING else 0
    return Round(mode, elapsed_ms, act.activity_id, trace_bytes)


async def interleaved_rounds(
    contexts: dict[str, BrowserContext],
    flow: Flow,
    rounds: int,
    trace_path: Path,
    *,
    brand: str = "bench",
    warm_up: Flow | None = None,
    after_round: Callable[[Round], Awaitable[None]] | None = None,
) -> list[Round]:
    """One untimed warm-up per mode (first navigation, code caches: `warm_up`, else `flow`
    itself), then `rounds` rounds, the order of the modes rotating each round. `after_round`
    runs outside the timing."""
    for mode in MODES:
        await timed_round(contexts[mode], mode, warm_up or flow, trace_path, brand)
    done: list[Round] = []
    for i in range(rounds):
        for mode in MODES[i % len(MODES) :] + MODES[: i % len(MODES)]:
            done.append(await timed_round(contexts[mode], mode, flow, trace_path, brand))
            if after_round is not None:
                await after_round(done[-1])
            print(f"  round {i + 1} {mode:>10}: {done[-1].ms:8.1f} ms", flush=True)
    return done


def of_mode(rounds: Sequence[Round], mode: str) -> list[Round]:
    return [r for r in rounds if r.mode == mode]


def median_ms(rounds: Sequence[Round], mode: str) -> float:
    return statistics.median(r.ms for r in of_mode(rounds, mode))


def paired_ratio(rounds: Sequence[Round], mode: str, resamples: int = 2000) -> tuple[float, float, float]:
    """The median over rounds of (`mode`'s time / the same round's unrecorded time), with a 95%
    bootstrap interval of that median: (median, low, high).

    Pairing by round takes out what a round shares (the machine's load at that moment), which
    the ratio of two medians keeps: on this 2-core machine those move the heavy flow's ratio by
    +-0.06x from run to run. Resampling is seeded, so one set of rounds gives one answer.
    """
    ratios = [r.ms / u.ms for r, u in zip(of_mode(rounds, mode), of_mode(rounds, UNRECORDED), strict=True)]
    draw = random.Random(0)
    medians = sorted(statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(resamples))
    return statistics.median(ratios), medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def print_rounds(rounds: Sequence[Round]) -> None:
    """Median and minimum wall time per mode (ms), each mode's median against the unrecorded one,
    and the per-round ratio with its interval (`paired_ratio`)."""
    base = median_ms(rounds, UNRECORDED)
    for mode in MODES:
        mine = of_mode(rounds, mode)
        line = f"{mode:>10}: {median_ms(rounds, mode):8.1f} ms median (min {min(r.ms for r in mine):8.1f})"
        if mode != UNRECORDED:
            ratio, low, high = paired_ratio(rounds, mode)
            line += f"  {median_ms(rounds, mode) / base:.2f}x unrecorded"
            line += f" (per round {ratio:.3f}x, 95% CI {low:.3f}-{high:.3f})"
        if mode == TRACING:
            line += f"; trace zip {statistics.median(r.trace_bytes for r in mine) / 1e6:.2f} MB"
        print(line)


def chunk_bytes(db: Path, span_ids: Sequence[str] | None = None) -> tuple[int, int, float]:
    """(raw rrweb JSON bytes, stored bytes, seconds of recording covered) over the chunks of the
    recordings of `span_ids` (every chunk when None)."""
    params = [span_ids is None, list(span_ids or ())]
    with duckdb.connect(str(db), read_only=True) as conn:
        row = conn.execute(
            "SELECT sum(raw_bytes), sum(stored_bytes), "
            "sum(date_diff('millisecond', first_event_time, last_event_time)) / 1000.0 "
            "FROM recording_chunks WHERE ? OR list_contains(?, span_id)",
            params,
        ).fetchone()
    assert row is not None
    return int(row[0] or 0), int(row[1] or 0), float(row[2] or 0)
