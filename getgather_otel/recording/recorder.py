"""`ContextRecorder`: records every page of one Patchright/Playwright `BrowserContext` with rrweb.

Mechanics (the reasons are measured facts in docs/architecture.md):
- rrweb plus our in-page recorder go in as a context init script, and events come back
  through a context binding as they happen; a page where the init script did not run
  (about:blank popups, documents written by script, pages open before attaching) gets
  the same script injected into its main world once its DOM is ready.
- Attribution: the context has one owner at a time, the root activity that uses it
  (`claim`). Which page called the binding is known from Patchright, never from the
  payload, so a page can only add to its own stream, and contexts never share streams.
- A new owner gets its own segment: every open page is asked for a checkpoint (a
  `getgather.segment` marker, then a fresh full snapshot), and events move to the new
  owner's stream exactly at that marker (or at the next new document), so each
  recording replays on its own.
- Shared context rule: while its owner activity runs, a context is not taken over; another
  root activity using it meanwhile gets a `browser.context.shared` span event naming the
  owner's recording. After the owner ends, late events still go to its recording for
  `grace_s`, and the next activity to use the context becomes the owner at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import time
import weakref
from collections import deque
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from typing import Any

from getgather_otel import attributes as attr
from getgather_otel._log import logger
from getgather_otel.activities import Activity
from getgather_otel.recording import assets
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.payloads import Payload, PayloadRejectedError, parse, segment_marker
from getgather_otel.recording.recordings import PageStream, Recording, recording_for
from getgather_otel.recording.urls import UrlRedactor

RECORDER_ATTRIBUTE = "_getgather_otel_recorder"
CHECKPOINT_TIMEOUT_S = 0.5
DRAIN_TIMEOUT_S = 0.5
# How often Python takes a document's events by evaluate until its binding has answered.
UNANSWERED_POLL_S = 0.5
SEEN_IDS = 4096
INJECT_TIMEOUT_MS = 10_000
MAX_SELECTOR_CHARS = 200

# Protocol methods that are user-visible browser actions: each becomes a span event.
ACTIONS = frozenset(
    {
        "goto",
        "reload",
        "goBack",
        "goForward",
        "click",
        "dblclick",
        "tap",
        "fill",
        "type",
        "press",
        "check",
        "uncheck",
        "selectOption",
        "setInputFiles",
        "hover",
        "dragAndDrop",
        "keyboardType",
        "keyboardPress",
        "keyboardInsertText",
        "mouseClick",
    }
)

_CHECK_SCRIPT = """([guard]) => {
  const api = document[Symbol.for(guard)];
  if (api) return "present";
  const blank = location.href === "about:blank" && !(document.body && document.body.childElementCount);
  return blank ? "blank" : "missing";
}"""
_DRAIN_SCRIPT = """([guard]) => {
  const api = document[Symbol.for(guard)];
  return api && !api.child && api.drain ? api.drain() : [];
}"""
_TAKE_UNANSWERED_SCRIPT = """([guard]) => {
  const api = document[Symbol.for(guard)];
  return api && !api.child && api.takeUnanswered ? api.takeUnanswered() : null;
}"""
_CHECKPOINT_SCRIPT = """([guard, segment]) => {
  const api = document[Symbol.for(guard)];
  return api && !api.child ? api.checkpoint(segment) : false;
}"""

# Set while getgather-otel itself talks to the browser, so its own calls claim nothing.
_internal: ContextVar[bool] = ContextVar("getgather_otel_recorder_internal", default=False)
_ids = itertools.count(1)
live_recorders: weakref.WeakSet[ContextRecorder] = weakref.WeakSet()


@functools.cache
def _has_isolated_context(page_class: Any) -> bool:
    return "isolated_context" in inspect.signature(page_class.evaluate).parameters


def in_internal_call() -> bool:
    return _internal.get()


@contextlib.contextmanager
def _internal_call() -> Iterator[None]:
    token = _internal.set(True)
    try:
        yield
    finally:
        _internal.reset(token)


def init_script(options: RecordingOptions, segment: int | None = None) -> str:
    """rrweb and the in-page recorder, wrapped so neither leaks a global into the page."""
    return (
        "(function (rrwebRecord, config) {\n"
        + assets.recorder_script()
        + "\n})((function () { var module = { exports: {} }; var exports = module.exports; var define;\n"
        + assets.load("rrweb-record.js")
        + "\n;return module.exports.record; })(), "
        + options.page_config(segment)
        + ");"
    )


class _RateLimit:
    """Token bucket on binding calls: a flooding page loses its own events, nothing else."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class _PageState:
    """What the recorder knows about one page: its id, stream and pending segment switch."""

    __slots__ = ("closed", "doc", "limit", "page", "page_id", "pending", "ready", "seen", "seen_order", "stream", "url")

    def __init__(self, page: Any, page_id: str, limit: _RateLimit) -> None:
        self.page = page
        self.page_id = page_id
        self.limit = limit
        self.stream: PageStream | None = None
        # (segment, recording, claim time in ms): the switch the page's next events make.
        self.pending: tuple[int, Recording, float] | None = None
        self.doc = ""
        self.url = ""
        self.closed = False
        self.ready: asyncio.Task[None] | None = None
        # Payload ids already routed (a payload can come twice: see recorder.js, "acknowledged delivery").
        self.seen: set[str] = set()
        self.seen_order: deque[str] = deque()

    def first_time(self, payload_id: str | None) -> bool:
        """False for a payload id routed before; remembers the last SEEN_IDS ids."""
        if payload_id is None:
            return True
        if payload_id in self.seen:
            return False
        self.seen.add(payload_id)
        self.seen_order.append(payload_id)
        if len(self.seen_order) > SEEN_IDS:
            self.seen.discard(self.seen_order.popleft())
        return True


class ContextRecorder:
    """Records the pages of one browser context; see the module docstring for the rules."""

    def __init__(self, context: Any, options: RecordingOptions) -> None:
        self.context = context
        self.options = options
        self.rejected_payloads = 0
        self.unowned_events = 0
        self._id = next(_ids)
        self._urls = UrlRedactor(options.url_secret_words, redact_fragments=options.redact_url_fragments)
        self._pages: dict[Any, _PageState] = {}
        self._page_ids = itertools.count(1)
        self._owner: Recording | None = None
        self._segments = itertools.count(1)
        self._shared_noted: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._rejection_logged = False
        self._script = ""
        self._context_scripts = False
        self._context_scripts_lock = asyncio.Lock()

    @property
    def owner(self) -> Recording | None:
        return self._owner

    async def attach(self) -> None:
        script = init_script(self.options)  # a missing bundle fails here, before anything is attached
        self._loop = asyncio.get_running_loop()
        setattr(getattr(self.context, "_impl_obj", self.context), RECORDER_ATTRIBUTE, self)
        live_recorders.add(self)
        self._script = script
        with _internal_call():
            await self._attach_context_scripts()
        self.context.on("page", self._on_page)
        self.context.on("close", lambda _context: self.close())
        for page in list(self.context.pages):
            self._on_page(page)
        await self.pages_ready()

    async def pages_ready(self) -> None:
        """Wait (briefly) until every known page has its binding and init script."""
        pending = [state.ready for state in self._pages.values() if state.ready is not None and not state.ready.done()]
        if pending:
            await asyncio.wait(pending, timeout=CHECKPOINT_TIMEOUT_S)

    async def _attach_page(self, state: _PageState) -> None:
        """Make sure the context's binding and init script are in place, then check this page."""
        with _internal_call():
            try:
                await self._attach_context_scripts()
            except Exception as error:  # the context closed meanwhile: nothing to record
                logger.debug("could not attach the recorder for page %s: %s", state.page_id, error)
                return
        await self._ensure_recorder(state)

    async def _attach_context_scripts(self) -> None:
        """The context-level binding and init script, once.

        Patchright implements both by routing every document request to inject script
        tags (so they also work under a strict CSP); a known cost, measured here, is that
        any init script at all leaves cross-origin iframes on chrome-error:// under
        Patchright 1.64 (see docs/architecture.md). A CDP-level binding would avoid the
        route but needs Runtime.enable, which Patchright avoids because sites detect it.
        """
        async with self._context_scripts_lock:
            if self._context_scripts:
                return
            await self.context.expose_binding(self.options.binding, self._on_binding)
            await self.context.add_init_script(script=self._script)
            self._context_scripts = True

    # --- ownership ---

    async def on_use(self, activity: Activity, method: str, params: object) -> None:
        """Called before each browser API call made inside an activity (see hooks.py)."""
        await self.pages_ready()
        await self.claim(activity)
        if method in ACTIONS:
            event: dict[str, str] = {attr.BROWSER_ACTION: method}
            if isinstance(params, dict):
                selector = params.get("selector")
                if isinstance(selector, str):
                    event[attr.BROWSER_SELECTOR] = selector[:MAX_SELECTOR_CHARS]
                url = params.get("url")
                if isinstance(url, str):
                    event[attr.URL_FULL] = self._urls.redact(url)
            activity.add_event(attr.EVENT_ACTION, event)

    async def claim(self, activity: Activity) -> None:
        """Make `activity`'s root the owner of this context, unless another live activity owns it."""
        root = activity.root
        owner = self._owner
        if owner is not None and owner.activity is root:
            return
        if owner is not None and not owner.ended:
            if root.activity_id not in self._shared_noted:
                self._shared_noted.add(root.activity_id)
                root.add_event(attr.EVENT_CONTEXT_SHARED, {attr.RECORDING_ID: owner.recording_id})
            return
        recording = recording_for(root)
        recording.on_finish(self._owner_finished)
        self._owner = recording
        self._shared_noted.clear()
        segment = next(self._segments)
        claimed_ms = time.time() * 1000
        states = [state for state in self._pages.values() if not state.closed]
        for state in states:
            state.pending = (segment, recording, claimed_ms)
        if states:
            checkpoints = asyncio.gather(*(self._checkpoint(state, segment) for state in states))
            try:
                await asyncio.wait_for(checkpoints, CHECKPOINT_TIMEOUT_S)
            except TimeoutError:
                logger.debug("a page did not answer the recording checkpoint within %ss", CHECKPOINT_TIMEOUT_S)

    def _owner_finished(self, recording: Recording) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self._release(recording)
            return
        # Events a page still holds (its binding late, or never added by the driver) are
        # taken now, within the grace period, instead of waiting for a navigation or close.
        loop.call_soon_threadsafe(self._drain_in_background)
        loop.call_soon_threadsafe(loop.call_later, self.options.grace_s, self._release, recording)

    def _drain_in_background(self) -> None:
        self._spawn(self.drain())

    def _release(self, recording: Recording) -> None:
        """End of the grace period: the recording gets no more events from this context."""
        if self._owner is recording:
            self._owner = None
        for state in self._pages.values():
            if state.stream is not None and state.stream.recording is recording:
                state.stream.cut()
                state.stream = None
        recording.cut_all()

    # --- pages ---

    def _on_page(self, page: Any) -> None:
        if page in self._pages:
            return
        state = _PageState(
            page,
            f"c{self._id}p{next(self._page_ids)}",
            _RateLimit(self.options.max_calls_per_s, self.options.max_calls_burst),
        )
        self._pages[page] = state
        owner = self._owner
        if owner is not None:
            state.stream = self._new_stream(owner, state)
        page.on("framenavigated", lambda frame: self._on_navigated(state, frame))
        page.on("domcontentloaded", lambda _page: self._spawn(self._ensure_recorder(state)))
        page.on("close", lambda _page: self._on_page_gone(state, attr.EVENT_PAGE_CLOSED))
        page.on("crash", lambda _page: self._on_page_gone(state, attr.EVENT_PAGE_CRASHED))
        state.ready = self._spawn(self._attach_page(state))

    def _new_stream(self, recording: Recording, state: _PageState) -> PageStream:
        return recording.new_stream(
            state.page_id,
            state.url,
            interval_s=self.options.chunk_interval_s,
            max_chunk_bytes=self.options.max_chunk_bytes,
            loop=self._loop,
        )

    def _on_navigated(self, state: _PageState, frame: Any) -> None:
        if frame != state.page.main_frame:
            return
        state.url = self._urls.redact(frame.url)
        if state.stream is not None:
            state.stream.url = state.url
        owner = self._owner
        if owner is not None and not owner.ended:
            owner.activity.add_event(
                attr.EVENT_NAVIGATION, {attr.URL_FULL: state.url, attr.RECORDING_PAGE_ID: state.page_id}
            )

    def _on_page_gone(self, state: _PageState, event_name: str) -> None:
        """Close or crash: keep what was recorded (cut it now) and say so on the owner's span."""
        if state.closed:
            return
        state.closed = True
        owner = self._owner
        if owner is not None and not owner.ended:
            owner.activity.add_event(event_name, {attr.RECORDING_PAGE_ID: state.page_id, attr.URL_FULL: state.url})
        if state.stream is not None:
            state.stream.cut()
        self._pages.pop(state.page, None)

    async def _ensure_recorder(self, state: _PageState) -> None:
        """Inject the recorder into the page's main world if its init script did not run."""
        page = state.page
        with _internal_call():
            try:
                await page.wait_for_load_state("domcontentloaded", timeout=INJECT_TIMEOUT_MS)
                status = await self._evaluate(page, _CHECK_SCRIPT, [self.options.guard])
                if status == "missing":
                    pending = state.pending
                    await self._evaluate(page, init_script(self.options, pending[0] if pending else None))
            except Exception as error:  # closed, crashed or navigating away: nothing to record
                logger.debug("could not check the recorder in page %s: %s", state.page_id, error)
                return
        await self._take_until_answered(state)

    async def _take_until_answered(self, state: _PageState) -> None:
        """Until the document's binding has answered once, take its events by evaluate as well.

        The driver adds the binding late, under load sometimes never, and sometimes adds one
        whose calls never arrive (measured with Patchright 1.64: 2 to 5 first pages of 40
        new contexts, with three busy processes on this 2-core machine). For such a document
        this poll is the transport, for as long as it lives; for the others it ends at the
        first poll after their first answer.
        """
        doc = None
        while not state.closed:
            await asyncio.sleep(UNANSWERED_POLL_S)
            with _internal_call():
                try:
                    taken = await self._evaluate(state.page, _TAKE_UNANSWERED_SCRIPT, [self.options.guard])
                except Exception:  # navigating or closed: the next document is polled on its own
                    return
            if not isinstance(taken, dict):
                return
            payloads = taken.get("payloads")
            for payload in payloads if isinstance(payloads, list) else []:
                self._accept(state, payload)
            doc = doc or taken.get("doc")
            if taken.get("doc") != doc:  # a later document, which its own DOMContentLoaded polls
                return

    async def _checkpoint(self, state: _PageState, segment: int) -> None:
        with _internal_call():
            try:
                done = await self._evaluate(state.page, _CHECKPOINT_SCRIPT, [self.options.guard, segment])
                if not done:
                    await self._evaluate(state.page, init_script(self.options, segment))
            except Exception as error:
                logger.debug("recording checkpoint failed in page %s: %s", state.page_id, error)

    async def _evaluate(self, page: Any, script: str, arg: Any = None) -> Any:
        """Evaluate in the page's main world (Patchright defaults to an isolated one)."""
        page_class: Any = type(page)
        if _has_isolated_context(page_class):
            return await page.evaluate(script, arg, isolated_context=False)
        return await page.evaluate(script, arg)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- events from pages ---

    def _on_binding(self, source: dict[str, Any], raw: object = None, *_extra: object) -> None:
        page = source.get("page")
        if page is None:
            return
        state = self._pages.get(page)
        if state is None:
            self._on_page(page)
            state = self._pages.get(page)
            if state is None:
                return
        if source.get("frame") != page.main_frame:
            self._reject(state, "called from a child frame")
            return
        self._accept(state, raw)

    def _accept(self, state: _PageState, raw: object) -> None:
        """One call of the binding by a page: rate-limited, validated, routed to the page's stream."""
        if not state.limit.take():
            self._count_dropped(state, 1)
            return
        try:
            payload = parse(
                raw,
                max_payload_bytes=self.options.max_payload_bytes,
                max_event_bytes=self.options.max_event_bytes,
                urls=self._urls,
            )
        except PayloadRejectedError as error:
            self._reject(state, str(error))
            return
        if state.first_time(payload.id):
            self._route(state, payload)

    def _route(self, state: _PageState, payload: Payload) -> None:
        events = payload.events
        new_doc = payload.doc != state.doc
        state.doc = payload.doc
        batch: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            pending = state.pending
            if pending is not None:
                marker = segment_marker(event)
                # A document that began after the claim never saw the checkpoint: it starts the
                # new segment by itself. One from before (sent late, or again after a
                # hand-over) still belongs to the previous owner.
                began_after_claim = new_doc and index == 0 and event.get("timestamp", 0) >= pending[2]
                if marker == pending[0] or began_after_claim:
                    self._deliver(state, batch, payload)
                    batch = []
                    if state.stream is not None:
                        state.stream.cut()
                    state.stream = self._new_stream(pending[1], state)
                    state.pending = None
                    if marker is not None:
                        continue
            batch.append(event)
        self._deliver(state, batch, payload)
        if payload.dropped_in_page:
            self._count_dropped(state, payload.dropped_in_page)

    def _deliver(self, state: _PageState, events: list[dict[str, Any]], payload: Payload) -> None:
        if not events:
            return
        stream = state.stream
        if stream is None:
            self.unowned_events += len(events)
            return
        approx_bytes = payload.size * len(events) // max(len(payload.events), 1)
        if stream.bytes + approx_bytes > self.options.max_bytes_per_page:
            stream.recording.count_dropped(len(events))
            return
        stream.add(events, approx_bytes)

    def _count_dropped(self, state: _PageState, events: int) -> None:
        if state.stream is not None:
            state.stream.recording.count_dropped(events)

    def _reject(self, state: _PageState, reason: str) -> None:
        """Count a bad binding call; the first one per context is logged (a page can send millions)."""
        self.rejected_payloads += 1
        if not self._rejection_logged:
            self._rejection_logged = True
            logger.warning(
                "page %s sent the recorder a call it rejected (%s); further ones are counted", state.page_id, reason
            )

    # --- lifecycle ---

    def cut_all(self) -> None:
        """Chunk everything received so far (flush); thread-safe."""
        for state in list(self._pages.values()):
            stream = state.stream
            if stream is not None:
                stream.cut()

    async def drain(self, page: Any | None = None) -> None:
        """Take what `page` (or every page) still holds in its queue, just before it closes.

        A document whose binding has not appeared yet (Patchright adds it 15-25 ms, under
        load far more, after the document starts) would otherwise lose those events when
        the page or context closes. Bounded by DRAIN_TIMEOUT_S; a failure only logs.
        """
        target = getattr(page, "_impl_obj", page)
        states = [
            state
            for state in self._pages.values()
            if not state.closed and (page is None or getattr(state.page, "_impl_obj", state.page) is target)
        ]

        async def one(state: _PageState) -> None:
            with _internal_call():
                try:
                    payloads = await self._evaluate(state.page, _DRAIN_SCRIPT, [self.options.guard])
                except Exception as error:
                    logger.debug("could not drain page %s before closing: %s", state.page_id, error)
                    return
            for payload in payloads if isinstance(payloads, list) else []:
                self._accept(state, payload)

        if states:
            try:
                await asyncio.wait_for(asyncio.gather(*(one(state) for state in states)), DRAIN_TIMEOUT_S)
            except TimeoutError:
                logger.debug("pages did not hand over their queued events within %ss", DRAIN_TIMEOUT_S)

    def close(self) -> None:
        for state in list(self._pages.values()):
            self._on_page_gone(state, attr.EVENT_PAGE_CLOSED)
        live_recorders.discard(self)


def flush_open_streams() -> None:
    """Cut the open chunk of every recorded page in this process (before a flush or shutdown)."""
    for recorder in list(live_recorders):
        recorder.cut_all()
