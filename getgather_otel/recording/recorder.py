"""`ContextRecorder`: records every page of one Patchright/Playwright `BrowserContext` with rrweb.

Mechanics (the reasons are measured facts in docs/architecture.md):
- Chromium: rrweb runs in a CDP isolated world of every document of every page and
  out-of-process iframe (`cdp_worlds.PageWorlds`), out of the page's reach, and events come
  back through that world's binding as they happen. Other browsers are recorded only with
  `RecordingOptions(world="main")` (`main_world.py`), which sites can detect.
- Attribution and segments (who owns the context, which recording each page's events go
  to) are `segments.Ownership`'s; this module asks the pages for the checkpoints a new owner
  needs. A page the claiming call is about to navigate skips the checkpoint: its next
  document starts the segment by itself.
- Out of the world's sight: page scripts that set input values, insert CSS rules, adopt
  stylesheets or attach shadow roots change what rrweb in the world cannot hook; after each
  browser action and when the activity ends, `settle` takes a fresh snapshot if they did.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import weakref
from collections.abc import Collection, Iterator
from contextvars import ContextVar
from typing import Any

from getgather_otel._log import logger
from getgather_otel.capture import attributes as attr
from getgather_otel.capture.activity import Activity
from getgather_otel.recording import main_world
from getgather_otel.recording.cdp_blobs import RejectedBlob
from getgather_otel.recording.cdp_events import on_event
from getgather_otel.recording.cdp_worlds import FrameInfo, PageWorlds, WorldGoneError
from getgather_otel.recording.main_world import MainWorldPage
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.payloads import Payload, PayloadRejectedError, parse
from getgather_otel.recording.recordings import Recording
from getgather_otel.recording.rrweb_events import FULL_SNAPSHOT
from getgather_otel.recording.segments import Ownership, PageRoute
from getgather_otel.recording.tasks import BackgroundTasks
from getgather_otel.recording.urls import UrlRedactor
from getgather_otel.recording.world_script import api_call, world_script

__all__ = [
    "ACTIONS",
    "ATTACH_TIMEOUT_S",
    "CHECKPOINT_TIMEOUT_S",
    "DRAIN_TIMEOUT_S",
    "MAX_SELECTOR_CHARS",
    "NAVIGATIONS",
    "RECORDER_ATTRIBUTE",
    "UNANSWERED_POLLS",
    "UNANSWERED_POLL_S",
    "ContextRecorder",
    "browser_name",
    "flush_open_streams",
    "in_internal_call",
    "internal_call",
    "live_recorders",
]

RECORDER_ATTRIBUTE = "_getgather_otel_recorder"
CHECKPOINT_TIMEOUT_S = 0.5
# How long a browser call inside an activity waits for a new page's worlds (a handful of
# CDP calls, ~20 ms; far longer on a busy machine): a document loaded before them is
# recorded late, from its state then, and one that ends before them not at all.
ATTACH_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 0.5
# A new top document that has not called its binding this long after it started is
# polled: its binding is added again and its queue taken by evaluate, up to UNANSWERED_POLLS times.
UNANSWERED_POLL_S = 0.5
UNANSWERED_POLLS = 20
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
# Actions that replace the page's document: its checkpoint would snapshot a page about to go.
NAVIGATIONS = frozenset({"goto", "reload", "goBack", "goForward"})

# Set while getgather-otel itself talks to the browser, so its own calls claim nothing.
_internal: ContextVar[bool] = ContextVar("getgather_otel_recorder_internal", default=False)
_ids = itertools.count(1)
live_recorders: weakref.WeakSet[ContextRecorder] = weakref.WeakSet()
_unsupported_noted: set[str] = set()


def browser_name(context: Any) -> str | None:
    """ "chromium", "firefox" or "webkit" for a Patchright/Playwright context (persistent ones too), else None.

    Read from the client's object tree: a context's browser has its browser type, and a
    persistent context's parent is the browser type itself.
    """
    owner = getattr(context, "_impl_obj", context)
    for _ in range(4):
        if owner is None:
            return None
        browser_type = owner if type(owner).__name__ == "BrowserType" else getattr(owner, "_browser_type", None)
        name = getattr(browser_type, "name", None)
        if isinstance(name, str):
            return name
        owner = getattr(owner, "_parent", None)
    return None


def in_internal_call() -> bool:
    return _internal.get()


@contextlib.contextmanager
def _internal_call() -> Iterator[None]:
    token = _internal.set(True)
    try:
        yield
    finally:
        _internal.reset(token)


internal_call = _internal_call  # getgather-otel's own browser calls (evidence.py too) claim nothing


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


class _PageState(PageRoute):
    """What the recorder knows about one page: its route, rate limit and worlds."""

    def __init__(self, page: Any, page_id: str, limit: _RateLimit) -> None:
        super().__init__(page_id)
        self.page = page
        self.limit = limit
        self.closed = False
        self.ready: asyncio.Task[None] | None = None
        self.worlds: PageWorlds | MainWorldPage | None = None
        # The page's CDP session (`page_session`), None where it could not be made.
        self.session: asyncio.Future[Any | None] = asyncio.get_running_loop().create_future()

    def session_made(self, cdp: Any | None) -> None:
        """Settle `session` once: a page that closed before its session was made settled it with None."""
        if not self.session.done():
            self.session.set_result(cdp)


class ContextRecorder:
    """Records the pages of one browser context; see the module docstring for the rules."""

    def __init__(self, context: Any, options: RecordingOptions) -> None:
        self.context = context
        self.options = options
        self.rejected_payloads = 0
        self._id = next(_ids)
        self._urls = UrlRedactor(options.url_secret_words, redact_fragments=options.redact_url_fragments)
        self._pages: dict[Any, _PageState] = {}
        # Closed pages whose last calls are still being routed (`_finish_page`): a flush cuts them too.
        self._finishing: set[_PageState] = set()
        self._closed = False
        self._page_ids = itertools.count(1)
        self._ownership = Ownership(options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks = BackgroundTasks()
        self._rejection_logged = False
        # The main-world fallback is for browsers without CDP only: a Chromium page is
        # always recorded from an isolated world, whatever the options ask.
        self._isolated = options.world == "isolated" or browser_name(context) == "chromium"
        self._script = ""
        g = options.guard
        self._checkpoint_call = api_call(g, "checkpoint(%d)", "'missing'")
        self._settle_call = api_call(g, "settle()", "false")
        self._drain_call = api_call(g, "drain()", "null")
        self._snapshot_call = api_call(g, "snapshot()", "false")
        self._poll_call = api_call(g, "poll()", "null")

    @property
    def owner(self) -> Recording | None:
        return self._ownership.owner

    @property
    def unowned_events(self) -> int:
        """Events that arrived while no activity owned the context (not stored)."""
        return self._ownership.unowned_events

    async def attach(self) -> None:
        if self.options.world == "main" and self._isolated:
            logger.info(
                "RecordingOptions(world='main') is for browsers without CDP: Chromium records from an isolated world"
            )
        # A missing bundle fails here, before anything is attached.
        self._script = world_script(self.options, isolated=self._isolated)
        self._loop = self._ownership.loop = asyncio.get_running_loop()
        setattr(getattr(self.context, "_impl_obj", self.context), RECORDER_ATTRIBUTE, self)
        live_recorders.add(self)
        if not self._isolated:
            with _internal_call():
                await main_world.attach_context(self.context, self._script, self.options.binding, self._on_main_binding)
        self.context.on("page", self._on_page)
        self.context.on("close", lambda _context: self.close())
        for page in list(self.context.pages):
            self._on_page(page)
        await self.pages_ready()

    async def pages_ready(self) -> None:
        """Wait (at most ATTACH_TIMEOUT_S) until every known page has its worlds attached."""
        pending = [state.ready for state in self._pages.values() if state.ready is not None and not state.ready.done()]
        if pending:
            await asyncio.wait(pending, timeout=ATTACH_TIMEOUT_S)

    async def _attach_page(self, state: _PageState) -> None:
        with _internal_call():
            if not self._isolated:
                guard_check = api_call(self.options.guard, "doc", "null")
                state.worlds = MainWorldPage(state.page, self._fallback_script(state), guard_check)
                await state.worlds.start()
                return
            worlds = PageWorlds(
                self.context,
                state.page,
                script=self._script,
                binding=self.options.binding,
                guard=self.options.guard,
                on_top=lambda raw: self._accept(state, raw),
                parse_child=lambda raw: self._parse_child(state, raw),
                on_top_navigated=lambda frame: self._watch_in_background(state, frame),
                # A payload is at most max_payload_bytes characters, up to 3 UTF-8 bytes each.
                blob_limit=3 * self.options.max_payload_bytes,
            )
            try:
                cdp = await self.context.new_cdp_session(state.page)
            except Exception as error:
                state.session_made(None)
                self._not_attached(state, error)
                return
            state.session_made(cdp)
            try:
                await worlds.start(cdp)
            except Exception as error:
                self._not_attached(state, error)
                return
            state.worlds = worlds
            top = worlds.top_frame()
            if top is not None:
                self._watch_in_background(state, top)

    def _not_attached(self, state: _PageState, error: Exception) -> None:
        """No CDP session for the page: closed meanwhile, or a browser without CDP (said once per browser)."""
        if state.closed or state.page.is_closed():
            logger.debug("page %s closed before its recorder attached: %s", state.page_id, error)
            return
        name = browser_name(self.context) or "this browser"
        if name not in _unsupported_noted:
            _unsupported_noted.add(name)
            logger.warning(
                "pages of %s are not recorded: recording runs rrweb in a Chrome DevTools Protocol isolated world "
                "(%s). RecordingOptions(world='main') records them from the page's own world, which sites can detect.",
                name,
                error,
            )

    def _fallback_script(self, state: _PageState) -> Any:
        def script() -> str:
            pending = state.pending
            return world_script(self.options, isolated=False, segment=pending[0] if pending else None)

        return script

    # --- ownership ---

    async def on_use(self, activity: Activity, method: str, params: object, target: object = None) -> None:
        """Called before each browser API call made inside an activity (see hooks.py)."""
        await self.pages_ready()
        navigating = self._state_of(target) if method in NAVIGATIONS else None
        await self.claim(activity, navigating=navigating)
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

    async def after_use(self, method: str, target: object) -> None:
        """Called after a browser action inside an activity returned: settle the page it acted on.

        The settle runs in the background: the action returns without waiting for its CDP
        round trip (~20 ms an action here, most of what recording cost the sign-in flow). Its
        `Runtime.evaluate` is written before this returns (the task's first step sends it, and
        one pass of the event loop runs that step), so the page runs it before anything the
        tool asks next: a checkpoint it takes still carries a time before the tool's next call.
        """
        if method not in ACTIONS or method in NAVIGATIONS:
            return
        state = self._state_of(target)
        if state is not None:
            self._tasks.spawn(self._settle(state))
            await asyncio.sleep(0)

    async def page_session(self, page: Any) -> Any | None:
        """The recorder's CDP session of `page` (its top document's world is there), for evidence.py to share.

        One session per page for both: each session with `Page.enable` gets every `Page`
        event of the page (33 a round of the demo's sign-in flow). None when the page has no
        session of the recorder's (not seen, closed, a browser without CDP, the main-world
        fallback) or none within ATTACH_TIMEOUT_S.
        """
        state = self._pages.get(page)
        if state is None or not self._isolated:
            return None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(state.session), ATTACH_TIMEOUT_S)
        return None

    def page_id_of(self, page: Any) -> str | None:
        """The recording page id of `page` (API or protocol object), None for a page not recorded."""
        state = self._pages.get(page) or self._state_of(getattr(page, "_impl_obj", page))
        return None if state is None else state.page_id

    def out_of_process_frames(self, page_id: str) -> list[tuple[Any, str, Any, str]]:
        """The out-of-process iframes of page `page_id` (`PageWorlds.out_of_process_frames`); none
        for a page recorded from its main world, or not recorded."""
        for state in self._pages.values():
            if state.page_id == page_id and not state.closed and isinstance(state.worlds, PageWorlds):
                return state.worlds.out_of_process_frames()
        return []

    async def snapshot_pages(self, page_ids: Collection[str] = ()) -> None:
        """A fresh full snapshot of the open pages named (all when none are), so a failed activity's replay
        ends on the page as it was."""
        states = [s for s in self._pages.values() if not s.closed and s.worlds is not None]
        states = [s for s in states if s.page_id in page_ids] or states

        async def one(state: _PageState) -> None:
            with _internal_call(), contextlib.suppress(Exception):
                await state.worlds.evaluate_top(self._snapshot_call)  # type: ignore[union-attr]

        if states:
            await asyncio.wait([asyncio.ensure_future(one(s)) for s in states], timeout=CHECKPOINT_TIMEOUT_S)

    def _state_of(self, target: object) -> _PageState | None:
        """The page a protocol object (page, frame, element handle) belongs to."""
        owner: Any = target
        for _ in range(8):
            if owner is None:
                return None
            for state in self._pages.values():
                if getattr(state.page, "_impl_obj", state.page) is owner:
                    return state
            owner = getattr(owner, "_parent", None)
        return None

    async def claim(self, activity: Activity, *, navigating: _PageState | None = None) -> None:
        """Make `activity`'s root the owner of this context (see segments.py); checkpoint its pages."""
        states = [state for state in self._pages.values() if not state.closed]
        claimed = self._ownership.claim(activity, list(states))
        if claimed is None:
            return
        segment, recording = claimed
        recording.on_finish(self._owner_finished)
        checkpoints = [self._checkpoint(state, segment) for state in states if state is not navigating]
        if checkpoints:
            try:
                await asyncio.wait_for(asyncio.gather(*checkpoints), CHECKPOINT_TIMEOUT_S)
            except TimeoutError:
                logger.debug("a page did not answer the recording checkpoint within %ss", CHECKPOINT_TIMEOUT_S)

    def _owner_finished(self, recording: Recording) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self._release(recording)
            return
        # The last frame of the activity shows the page as it was (settle), and events a
        # page still holds are taken now, within the grace period.
        loop.call_soon_threadsafe(self._spawn_settle_and_drain)
        loop.call_soon_threadsafe(loop.call_later, self.options.grace_s, self._release, recording)

    def _spawn_settle_and_drain(self) -> None:
        async def settle_and_drain() -> None:
            states = [state for state in self._pages.values() if not state.closed]
            if states:
                await asyncio.wait([asyncio.ensure_future(self._settle(s)) for s in states], timeout=DRAIN_TIMEOUT_S)
            await self.drain()

        self._tasks.spawn(settle_and_drain())

    def _release(self, recording: Recording) -> None:
        self._ownership.release(recording, list(self._pages.values()))

    # --- pages ---

    def _on_page(self, page: Any) -> None:
        if page in self._pages:
            return
        state = _PageState(
            page,
            f"c{self._id}p{next(self._page_ids)}",
            _RateLimit(self.options.max_calls_per_s, self.options.max_calls_burst),
        )
        # A popup (window.open, target=_blank) is reported with its first document already
        # committed: no `framenavigated` follows for it, so its URL is read here.
        url = str(getattr(page, "url", "") or "")
        if url and url != "about:blank":
            state.url = self._urls.redact(url)
        self._pages[page] = state
        self._ownership.open_page(state)
        on_event(page, "framenavigated", lambda frame: self._on_navigated(state, frame))
        page.on("close", lambda _page: self._on_page_gone(state, attr.EVENT_PAGE_CLOSED))
        page.on("crash", lambda _page: self._on_page_gone(state, attr.EVENT_PAGE_CRASHED))
        if not self._isolated:
            page.on("domcontentloaded", lambda _page: self._tasks.spawn(self._attach_page(state)))
        state.ready = self._tasks.spawn(self._attach_page(state))

    def _on_navigated(self, state: _PageState, frame: Any) -> None:
        if frame is not getattr(state.page, "_impl_obj", state.page).main_frame:
            return
        state.url = self._urls.redact(frame.url)
        if state.stream is not None:
            state.stream.url = state.url
        owner = self._ownership.owner
        if owner is not None and not owner.ended:
            owner.activity.add_event(
                attr.EVENT_NAVIGATION, {attr.URL_FULL: state.url, attr.RECORDING_PAGE_ID: state.page_id}
            )

    def _on_page_gone(self, state: _PageState, event_name: str) -> None:
        """Close or crash: keep what was recorded (cut it now) and say so on the owner's span."""
        if state.closed:
            return
        state.closed = True
        state.session_made(None)  # if it had none yet: nobody waits for one
        owner = self._ownership.owner
        if owner is not None and not owner.ended:
            owner.activity.add_event(event_name, {attr.RECORDING_PAGE_ID: state.page_id, attr.URL_FULL: state.url})
        self._pages.pop(state.page, None)
        worlds = state.worlds
        if worlds is not None and self._loop is not None and not self._loop.is_closed():
            self._finishing.add(state)
            self._tasks.spawn(self._finish_page(state, worlds))
        elif state.stream is not None:
            state.stream.cut()

    async def _finish_page(self, state: _PageState, worlds: PageWorlds | MainWorldPage) -> None:
        """A closed page's last binding calls are routed (the ones queued behind Blob reads, and
        what its document sent as it went), at most DRAIN_TIMEOUT_S; then its stream is cut."""
        try:
            if isinstance(worlds, PageWorlds):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(worlds.handled(), DRAIN_TIMEOUT_S)
            if state.stream is not None:
                state.stream.cut()
        finally:
            self._finishing.discard(state)
            if self._closed and not self._finishing:
                live_recorders.discard(self)
        await worlds.close()

    def _watch_in_background(self, state: _PageState, frame: FrameInfo) -> None:
        self._tasks.spawn(self._watch_document(state, frame))

    async def _watch_document(self, state: _PageState, frame: FrameInfo) -> None:
        """Until a new top document has called its binding, add the binding again and take its queue.

        The binding is added by world name after each navigation; should that race with the
        document, or a call get lost, the document's events still arrive by evaluate. For
        the others this ends at the first poll after their first call; a document whose
        binding works but whose call Python has not handled yet keeps its queue (`poll()`).
        """
        worlds = state.worlds
        for _ in range(UNANSWERED_POLLS):
            await asyncio.sleep(UNANSWERED_POLL_S)
            if state.closed or frame.calls or worlds is None or not isinstance(worlds, PageWorlds):
                return
            if worlds.top_frame() is not frame:
                return
            with _internal_call():
                try:
                    taken = await worlds.evaluate_top(self._poll_call)
                    if taken is None:
                        await worlds.reinstall_top()
                    else:
                        await worlds.hand_over_top(taken)
                except WorldGoneError:
                    return

    async def _checkpoint(self, state: _PageState, segment: int) -> None:
        worlds = state.worlds
        if worlds is None:
            return
        with _internal_call():
            try:
                done = await worlds.evaluate_top(self._checkpoint_call % segment)
                if done == "missing":
                    await worlds.reinstall_top()
                    await worlds.evaluate_top(self._checkpoint_call % segment)
            except Exception as error:
                logger.debug("recording checkpoint failed in page %s: %s", state.page_id, error)

    async def _settle(self, state: _PageState) -> None:
        worlds = state.worlds
        if worlds is None:
            return
        with _internal_call():
            try:
                # A timeout scope, not wait_for: no task in between, so the first step sends.
                async with asyncio.timeout(CHECKPOINT_TIMEOUT_S):
                    await worlds.evaluate_top(self._settle_call)
            except Exception as error:
                logger.debug("recording settle failed in page %s: %s", state.page_id, error)

    # --- events from pages ---

    def _on_main_binding(self, source: dict[str, Any], raw: object = None, *_extra: object) -> None:
        """The main-world fallback's context binding: any script of the page can call it."""
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

    def _parse(self, state: _PageState, raw: object) -> Payload | None:
        """Rate-limited, validated payload, or None (counted)."""
        if not state.limit.take():
            self._ownership.count_dropped(state, 1)
            return None
        if isinstance(raw, RejectedBlob):
            self._reject(state, raw.reason)
            return None
        try:
            return parse(
                raw,
                max_payload_bytes=self.options.max_payload_bytes,
                max_event_bytes=self.options.max_event_bytes,
                urls=self._urls,
            )
        except PayloadRejectedError as error:
            self._reject(state, str(error))
            return None

    def _accept(self, state: _PageState, raw: object) -> bool:
        """One payload of a page's top document, routed to its stream; True when it holds a full snapshot."""
        payload = self._parse(state, raw)
        if payload is None or payload.messages is not None or not state.first_time(payload.id):
            return False
        self._ownership.route(state, payload)
        return any(event["type"] == FULL_SNAPSHOT for event in payload.events)

    def _parse_child(self, state: _PageState, raw: object) -> list[dict[str, Any]] | None:
        """The rrweb messages of one child frame's payload, for its parent's world."""
        payload = self._parse(state, raw)
        # A child document's ids are unique too: one sent again as its document went away (a
        # Blob Python had read, js/world.js `resendBlobs`) is delivered once.
        if payload is None or payload.messages is None or not state.first_time(payload.id):
            return None
        if payload.dropped_in_page:
            self._ownership.count_dropped(state, payload.dropped_in_page)
        if payload.masked:
            self._ownership.count_redactions(state, payload.masked)
        if payload.typed:
            self._ownership.register_typed(state, payload.typed)
        return payload.messages

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
        """Chunk everything received so far (flush), closed pages still finishing included; thread-safe.

        A page closed just before a flush is finished on the event loop (`_finish_page`), which
        a synchronous flush holds: without it here, its last chunk waited for the next flush.
        """
        for state in [*self._pages.values(), *self._finishing]:
            stream = state.stream
            if stream is not None:
                stream.cut()

    async def drain(self, page: Any | None = None) -> None:
        """Take what `page` (or every page) still holds in its queue, just before it closes.

        Events wait up to `batch_ms` in the document (and until the binding appears in a new
        one, 12-100 ms): closing would lose them. The caller waits at most DRAIN_TIMEOUT_S; a
        reply that comes later is still routed; a failure only logs.
        """
        target = getattr(page, "_impl_obj", page)
        states = [
            state
            for state in self._pages.values()
            if not state.closed and (page is None or getattr(state.page, "_impl_obj", state.page) is target)
        ]

        async def one(state: _PageState) -> None:
            worlds = state.worlds
            if worlds is None:
                return
            with _internal_call():
                try:
                    payloads = await worlds.evaluate_top(self._drain_call)
                    if isinstance(worlds, PageWorlds):
                        # After the binding calls already on their way, in the order they left.
                        await worlds.hand_over_top(payloads)
                        return
                except Exception as error:
                    logger.debug("could not drain page %s before closing: %s", state.page_id, error)
                    return
            for payload in payloads if isinstance(payloads, list) else []:
                self._accept(state, payload)

        if states:
            # Waited for, never cancelled: `drain()` empties the document's queue as it runs, so
            # a reply cancelled after the page ran it would lose those events (a busy machine
            # answers later than DRAIN_TIMEOUT_S). A late reply is still routed when it comes.
            tasks = [self._tasks.spawn(one(state)) for state in states]
            _done, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
            if pending:
                logger.debug("pages did not hand over their queued events within %ss", DRAIN_TIMEOUT_S)

    def close(self) -> None:
        """The context closed: its pages are finished; the recorder leaves `live_recorders` (which
        flushes cut) once the last of them is."""
        self._closed = True
        for state in list(self._pages.values()):
            self._on_page_gone(state, attr.EVENT_PAGE_CLOSED)
        if not self._finishing:
            live_recorders.discard(self)


def flush_open_streams() -> None:
    """Cut the open chunk of every recorded page in this process (before a flush or shutdown)."""
    for recorder in list(live_recorders):
        recorder.cut_all()
