"""Evidence of what went wrong in a recorded browser, captured out of the page's reach (issue 18).

One `EvidenceWatcher` per recorded context, on the recorder's CDP session of each page
(`ContextRecorder.page_session`: one session with `Page.enable` per page, not two, each of
which gets every `Page` event; a session of its own where the recorder has none), with
domains no page can observe: `Network.enable` (with no body buffers) and `Page.enable`;
never `Runtime.enable`.
The page's out-of-process (cross-site) iframes and its workers make requests the page's
target never reports: the session auto-attaches to them (`cdp_targets.py`) and enables
`Network` in each before it runs, so their requests are evidence of the page too, marked
with the target type and the frame's (or worker's) URL.
From them, for the root activity whose browser call last acted on the page (hooks.py calls
`drove` before each call; a popup inherits its opener's), else the one that owns the context
(`recorder.owner`): activities running at once on one context each get their own pages'
evidence, while the recordings keep the owner rule (segments.py):

- `Network.responseReceived` with status >= 400: `browser.http.error` (method, redacted URL,
  status, resource type, whether it is the page's main-frame document). Every main-frame
  document's status (any) is noted for the failure rules (`failures.note_document`).
- `Network.loadingFailed` (not cancelled): `browser.navigation.error` for the main frame's
  document, `browser.request.failed` for anything else (the browser's `net::` error text).
- `Network.requestWillBeSent` to a challenge provider's host: `browser.challenge` (once per
  provider and page).
- `Page.javascriptDialogOpening`: `browser.dialog`; `Page.downloadWillBegin`: `browser.download`.
- Playwright's `crash` event: the recorder's `browser.page.crashed` is the span event; the
  rules get it here.
- A browser call that raises inside an activity (hooks.py): `browser.call.failed` with the
  action, the selector and the error's first line (URLs and secret shapes in it redacted); one
  cancelled (the tool's `asyncio.wait_for` ran out) too, with `error.type` CancelledError.

When an async activity fails (`capture.activity.add_failure_hook`), before its span ends:
every recorded page gets a fresh full snapshot (`ContextRecorder.snapshot_pages`), so the
replay ends on the page as it was; each page is read from an isolated world of this
session (`Page.createIsolatedWorld`, `Runtime.evaluate`: challenge markers, a password
field or an identifier-first sign-in form, headings, the title and URL); a page that shows
no sign-in form of its own has each out-of-process (cross-site) iframe read the same way, in
a world of this module's own in the frame's process, through the recorder's session of that
frame (`ContextRecorder.out_of_process_frames`), and a form there counts when the frame's
owner element is shown (`DOM.getFrameOwner`, `DOM.resolveNode` in the parent's world; no
`DOM.enable`, no `Runtime.enable`); and a selector
that timed out is counted in the page (Playwright's own selector engine, `queryCount`):
`browser.element.missing` with `getgather.failure.selector_matches` and, of a match,
`getgather.failure.selector_visible`.

Tools usually close their page (or context, or browser) in a `finally`, before the failure
reaches the activity: a closed page cannot be read. So the same reads and checkpoint are
taken just before `Page.close`, `BrowserContext.close` or `Browser.close` (hooks.py calls
`before_close`) when the activity is failing there: an exception is on its way through the
`finally` or `except` that closes (`sys.exc_info()`), or a browser call raised and none
returned since. What they find is kept aside (`failures.note_read_before_close`) and is
evidence only if the activity then fails with no browser call returning normally after it.
Calls made while closing are no such call (`closing()`): a timeout before a `page.close()`
is still the timeout the tool failed on.

Every URL goes through the recording's `UrlRedactor`. Evidence is bounded per root activity
(`RecordingOptions.max_evidence_events`, then counted: `capture/failures.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry.util.types import AttributeValue

from getgather_otel._log import logger
from getgather_otel.capture import attributes as attr
from getgather_otel.capture import failures
from getgather_otel.capture.activity import Activity, add_failure_hook, current_activity
from getgather_otel.recording.cdp_events import on_event
from getgather_otel.recording.cdp_targets import ChildTarget, ChildTargets, EventHandler
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.recorder import NAVIGATIONS, ContextRecorder, internal_call
from getgather_otel.recording.tasks import BackgroundTasks
from getgather_otel.recording.urls import UrlRedactor

__all__ = [
    "CHILD_TARGETS",
    "EVIDENCE_WORLD",
    "MAX_ERROR_CHARS",
    "MAX_FRAMES",
    "MAX_IN_FLIGHT",
    "MAX_MESSAGE_CHARS",
    "NETWORK_ENABLE",
    "PROBE_TIMEOUT_S",
    "EvidenceWatcher",
    "before_close",
    "call_cancelled",
    "call_failed",
    "call_succeeded",
    "closing",
    "drove",
    "watch",
]

EVIDENCE_WORLD = "getgather_otel_evidence"
MAX_ERROR_CHARS = 300
MAX_MESSAGE_CHARS = 200
# Requests remembered between requestWillBeSent and their end (method and URL for a failure).
MAX_IN_FLIGHT = 4096
# Child frames' document URLs remembered per page (for `getgather.browser.frame.url`).
MAX_FRAMES = 256
# Statuses and errors only: no response bodies or post data kept for the evidence sessions.
NETWORK_ENABLE = {"maxTotalBufferSize": 0, "maxResourceBufferSize": 0, "maxPostDataSize": 0}
# The child targets whose requests are evidence of their page (CDP `TargetInfo.type`).
CHILD_TARGETS = frozenset({"iframe", "worker", "service_worker"})
# How long a failure's probe waits for each page read (its state, the timed-out selector's
# count). A failing tool's error returns that much later at most; 0.5 s ran out on a busy
# machine (the stress run), leaving a changed page and a slow one untold apart.
PROBE_TIMEOUT_S = 1.5
# A failing nested activity and its failing root probe once.
_PROBE_AGAIN_AFTER_S = 1.0

_watchers: weakref.WeakKeyDictionary[ContextRecorder, EvidenceWatcher] = weakref.WeakKeyDictionary()
_installed = False
# True while a page, context or browser closes (hooks.py): no call made then "returned normally".
_closing: ContextVar[bool] = ContextVar("getgather_otel_closing", default=False)


@contextlib.contextmanager
def closing() -> Iterator[None]:
    """Around a close (hooks.py): the calls it makes do not tell that the tool handled an earlier timeout."""
    token = _closing.set(True)
    try:
        yield
    finally:
        _closing.reset(token)


async def _nothing() -> None:
    return None


_PAGE_STATE_JS = """(() => {
  const selectors = SELECTORS;
  const widgets = WIDGETS;
  const titles = TITLES;
  const headingWords = HEADINGS;
  const providers = PROVIDERS;
  const least = MIN_PX;
  const gateMarker = GATE;
  let marker = "";
  for (const s of selectors) {
    try { if (document.querySelector(s)) { marker = s; break; } } catch (e) {}
  }
  // A widget or a provider's frame counts only shown, and large (the challenge covers the page), or
  // on screen in a page that asks for nothing else (a gate: a 304x78 reCAPTCHA checkbox or a 300x65
  // Turnstile box with a Continue button); not a contact form's or a sign-in form's checkbox, nor
  // the invisible reCAPTCHA badge. Layout read: at a failure only.
  const visible = (el) => {
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none" || Number(style.opacity) === 0) return null;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? r : null;
  };
  const large = (el) => {
    const r = visible(el);
    const area = (innerWidth || 1) * (innerHeight || 1);
    return !!r && ((r.width >= least && r.height >= least) || r.width * r.height >= area / 4);
  };
  const onScreen = (el) => {
    const r = visible(el);
    return !!r && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
  };
  const invisibleKind = (el) => !!el.closest(".grecaptcha-badge") || [el, ...el.querySelectorAll("iframe")]
    .some((f) => /[?&#]size=invisible(?:[&#]|$)/.test(String(f.getAttribute("src") || "")));
  const entry = "textarea, select, input:not([type=hidden]):not([type=submit]):not([type=button])" +
    ":not([type=reset]):not([type=image]):not([type=checkbox]):not([type=radio])";
  let asksNothingElse = null;
  const gate = (el) => {
    if (invisibleKind(el) || ![el, ...el.querySelectorAll("iframe")].some(onScreen)) return false;
    if (asksNothingElse === null) asksNothingElse = ![...document.querySelectorAll(entry)].some((f) => visible(f));
    return asksNothingElse;
  };
  const provided = (src) => {
    try {
      const u = new URL(src, location.href);
      const host = u.hostname.toLowerCase();
      if ((host === "google.com" || host.endsWith(".google.com")) && u.pathname.startsWith("/recaptcha/")) return true;
      return providers.some((d) => host === d || host.endsWith("." + d));
    } catch (e) { return false; }
  };
  if (!marker) {
    outer: for (const s of widgets) {
      try {
        for (const el of document.querySelectorAll(s)) {
          if (large(el) || [...el.querySelectorAll("iframe")].some(large)) { marker = s; break outer; }
          if (gate(el)) { marker = gateMarker + s; break outer; }
        }
      } catch (e) {}
    }
  }
  if (!marker) {
    const frames = [...document.querySelectorAll("iframe[src]")].filter((f) => provided(f.src));
    const large_ = frames.find(large);
    const frame = large_ || frames.find(gate);
    if (frame) marker = (large_ ? "" : gateMarker) + "frame: " + new URL(frame.src, location.href).hostname;
  }
  if (!marker) {
    // A bot wall's own heading, shown as the page's main heading ("Access Denied" on a 200 page whose
    // title is the site's, PerimeterX's "Press & Hold"): a short visible h1 that starts with one.
    for (const h of document.querySelectorAll("h1, [role=heading][aria-level='1']")) {
      const text = String(h.textContent || "").replace(/\\s+/g, " ").trim().toLowerCase();
      const hit = text.length <= 80 && headingWords.find((w) => text.startsWith(w));
      if (hit && visible(h)) { marker = "heading: " + hit; break; }
    }
  }
  const title = String(document.title || "").slice(0, 300);
  if (!marker) {
    const lower = title.toLowerCase();
    const hit = titles.find((w) => lower.includes(w));
    if (hit) marker = "title: " + hit;
  }
  const password = !!document.querySelector("input[type=password]");
  // Identifier first (failures.sign_in_form_kind): a field for the email or user name, with a
  // button in its form that is not a newsletter's. Attributes and text only: no layout read.
  let identifier = false;
  if (!password) {
    for (const input of document.querySelectorAll("input")) {
      const type = String(input.getAttribute("type") || "text").toLowerCase();
      if (!["text", "email", "tel"].includes(type) || input.disabled || input.readOnly || input.hidden) continue;
      const auto = String(input.getAttribute("autocomplete") || "").toLowerCase();
      const name = (String(input.getAttribute("name") || "") + " " + String(input.id || "")).toLowerCase();
      const named = /e-?mail|user|log[-_]?in|identifier/.test(name);
      if (type !== "email" && !/\b(username|email)\b/.test(auto) && !named) continue;
      const buttons = "button, input[type=submit], input[type=image], [role=button]";
      const controls = (input.form || document).querySelectorAll(buttons);
      const go = [...controls].find((b) => String(b.getAttribute("type") || "").toLowerCase() !== "reset");
      if (!go) continue;
      const label = [go.textContent, go.getAttribute("value"), go.getAttribute("aria-label")].join(" ").toLowerCase();
      if (/subscribe|newsletter/.test(label)) continue;
      identifier = true;
      break;
    }
  }
  const headings = [...document.querySelectorAll("h1, h2, [role=heading]")].slice(0, 10)
    .map((h) => String(h.textContent || "").trim().slice(0, 200));
  // A sign-in page whose only control signs in with another account ("Sign in with Google"):
  // the labels of its buttons and links, and the titles of frames (a provider's button is one).
  let controls = [];
  if (!password && !identifier) {
    const kinds = "button, a, [role=button], input[type=submit], input[type=button], iframe[title]";
    controls = [...document.querySelectorAll(kinds)].slice(0, 100).map((c) => [c.textContent, c.getAttribute("value"),
      c.getAttribute("aria-label"), c.getAttribute("title")].filter(Boolean).join(" ").trim().slice(0, 200));
  }
  // A session that ended ("Your session has expired. [Log in]"): said in the visible text (innerText:
  // not a hidden modal's template), matched here and never sent out of the page.
  const ended = controls.length > 0 && new RegExp(SESSION_ENDED, "i")
    .test(String((document.body && document.body.innerText) || "").slice(0, 200000));
  return { url: String(location.href), title, marker, password, identifier, headings, controls, ended,
    ready: String(document.readyState) };
})()"""
for _name, _value in (
    ("SELECTORS", list(failures.CHALLENGE_MARKERS["selectors"])),
    ("WIDGETS", list(failures.CHALLENGE_MARKERS["widgets"])),
    ("TITLES", list(failures.CHALLENGE_MARKERS["titles"])),
    ("HEADINGS", list(failures.CHALLENGE_MARKERS["headings"])),
    ("PROVIDERS", list(failures.CHALLENGE_PROVIDERS)),
    ("MIN_PX", failures.CHALLENGE_WIDGET_MIN_PX),
    ("GATE", failures.GATE_MARKER),
    ("SESSION_ENDED", failures.SESSION_ENDED_SAID.pattern),
):
    _PAGE_STATE_JS = _PAGE_STATE_JS.replace(_name, json.dumps(_value), 1)


def _timed_out(error: BaseException) -> bool:
    """Whether a browser call failed by running out of its timeout (Playwright's TimeoutError, or its message)."""
    return "timeout" in type(error).__name__.lower() or "timeout" in str(error)[:200].lower()


def _first_line(text: str, urls: UrlRedactor) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    # URLs by their rules, then what is left by the secret shapes a dialog's message is
    # scrubbed of (`Authorization: Bearer <JWT>` in a page's thrown error, a token in a selector).
    line = urls.redact_text(urls.redact_urls_in(line))
    return line[:MAX_ERROR_CHARS]


def _selector(selector: str, urls: UrlRedactor) -> str:
    """A selector as evidence keeps it: secret shapes replaced (`a[href='/reset?token=<JWT>']`), as in error text."""
    return urls.redact_text(selector)[:200]


class _Network:
    """The network evidence of one CDP target of a page: the page's own, or a child's (an out-of-process
    iframe, a worker) attached under the page's evidence session (`cdp_targets.py`).

    Request ids belong to a target, so each has its own table of requests in flight.
    """

    def __init__(self, watch: _PageWatch, child: ChildTarget | None = None) -> None:
        self.watch = watch
        self.child = child
        self._requests: OrderedDict[str, tuple[str, str, str, bool]] = OrderedDict()
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "Network.requestWillBeSent": self._request,
            "Network.responseReceived": self._response,
            "Network.loadingFinished": self._finished,
            "Network.loadingFailed": self._failed,
        }

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        """A child target's event (the page's own come through `cdp.on`)."""
        handler = self.handlers.get(method)
        if handler is not None:
            handler(params)

    def _where(self, frame_id: str) -> dict[str, AttributeValue]:
        """Where a request came from, when not from the page's main frame: the target type, the frame's URL.

        A worker's requests carry the worker's script URL; a frame's, its document's (seen
        by whichever session saw the frame's document request).
        """
        where: dict[str, AttributeValue] = {}
        url = ""
        child = self.child
        if child is not None:
            where[attr.BROWSER_TARGET_TYPE] = child.type
            if child.type != "iframe":
                url = child.url
        if not url and frame_id and frame_id != self.watch.main_frame_id:
            url = self.watch.frame_urls.get(frame_id, "")
        if url:
            where[attr.BROWSER_FRAME_URL] = self.watch.watcher.urls.redact(url)
        return where

    # --- CDP events (cheap: one dict operation for a request that goes well) ---

    def _request(self, event: dict[str, Any]) -> None:
        request = event.get("request") or {}
        url = request.get("url", "")
        redirected = "redirectResponse" in event
        frame_id = event.get("frameId", "")
        requests = self._requests
        requests[event["requestId"]] = (request.get("method", "GET"), url, frame_id, redirected)
        if len(requests) > MAX_IN_FLIGHT:
            requests.popitem(last=False)
        watch = self.watch
        if frame_id and event.get("type") == "Document" and frame_id != watch.main_frame_id:
            watch.note_frame(frame_id, url)
        provider = failures.challenge_provider(url) if url.startswith("http") else None
        if provider is not None and provider not in watch.providers:
            watch.providers.add(provider)
            watch.watcher.record(
                attr.EVENT_CHALLENGE,
                {
                    attr.BROWSER_CHALLENGE_PROVIDER: provider,
                    attr.URL_FULL: watch.watcher.urls.redact(url),
                    attr.BROWSER_RESOURCE_TYPE: str(event.get("type", "")),
                    **self._where(frame_id),
                },
                watch.page_id,
            )

    def _response(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        status = int(response.get("status") or 0)
        watch = self.watch
        frame_id = event.get("frameId", "")
        document = event.get("type") == "Document" and frame_id == watch.main_frame_id and self.child is None
        method, _url, _frame, redirected = self._requests.get(event["requestId"], ("GET", "", "", False))
        url = response.get("url", "")
        if status >= 400 and url.endswith("/favicon.ico") and event.get("type") == "Other":
            return  # the browser's own request, not the site's page
        urls = watch.watcher.urls
        if document:
            watch.navigation_error = None
            document_seen = failures.Document(watch.page_id, status, urls.redact(url), redirected=redirected)
            watch.watcher.note_document(document_seen)
        if status >= 400:
            watch.watcher.record(
                attr.EVENT_HTTP_ERROR,
                {
                    attr.HTTP_REQUEST_METHOD: method,
                    attr.URL_FULL: urls.redact(url),
                    attr.HTTP_RESPONSE_STATUS_CODE: status,
                    attr.BROWSER_RESOURCE_TYPE: str(event.get("type", "")),
                    attr.BROWSER_DOCUMENT: document,
                    **self._where(frame_id),
                },
                watch.page_id,
            )

    def _finished(self, event: dict[str, Any]) -> None:
        self._requests.pop(event["requestId"], None)

    def _failed(self, event: dict[str, Any]) -> None:
        method, url, frame_id, _redirected = self._requests.pop(event["requestId"], ("GET", "", "", False))
        if event.get("canceled"):
            return
        watch = self.watch
        document = event.get("type") == "Document" and frame_id == watch.main_frame_id and self.child is None
        error = str(event.get("errorText") or event.get("blockedReason") or "failed")[:MAX_ERROR_CHARS]
        if document:
            if watch.navigation_error == url:
                return  # the error page reloading itself, or the same URL tried again
            watch.navigation_error = url
        watch.watcher.record(
            attr.EVENT_NAVIGATION_ERROR if document else attr.EVENT_REQUEST_FAILED,
            {
                attr.HTTP_REQUEST_METHOD: method,
                attr.URL_FULL: watch.watcher.urls.redact(url),
                attr.BROWSER_ERROR: error,
                attr.BROWSER_RESOURCE_TYPE: str(event.get("type", "")),
                **self._where(frame_id),
            },
            watch.page_id,
        )


class _PageWatch:
    """One page's evidence session, and its child targets' (out-of-process iframes, workers)."""

    def __init__(self, watcher: EvidenceWatcher, page: Any, page_id: str) -> None:
        self.watcher = watcher
        self.page = page
        self.page_id = page_id
        self.cdp: Any = None
        self.children: ChildTargets | None = None
        self.main_frame_id = ""
        self.crashed = False
        self.closed = False
        # The URL of the main frame's last failed navigation, until a document loads: Chromium
        # reloads a network error page by itself (auto-reload: a refused URL failed 3 times in
        # 6 s here, the last as net::ERR_ABORTED), so one URL that fails is one event, however
        # often it is tried again (by the browser or by the tool).
        self.navigation_error: str | None = None
        self.ready: asyncio.Task[None] | None = None
        # Challenge providers met in this page (in any of its targets): one event each.
        self.providers: set[str] = set()
        # The document URL of each child frame whose document request was seen.
        self.frame_urls: OrderedDict[str, str] = OrderedDict()

    async def start(self) -> None:
        # The recorder's session of the page where there is one; a session of its own where the
        # recorder has none.
        shared = await self.watcher.recorder.page_session(self.page)
        cdp = shared if shared is not None else await self.watcher.context.new_cdp_session(self.page)
        self.cdp = cdp
        network = _Network(self)
        for method, handler in network.handlers.items():
            on_event(cdp, method, handler)
        on_event(cdp, "Page.javascriptDialogOpening", self._dialog)
        on_event(cdp, "Page.downloadWillBegin", self._download)
        tree = await cdp.send("Page.getFrameTree")
        self.main_frame_id = tree["frameTree"]["frame"]["id"]
        # No response bodies kept for this session: it only reads statuses and errors.
        await cdp.send("Network.enable", NETWORK_ENABLE)
        # Also on the recorder's session: the recorder's may not have been sent (its world set-up
        # failed after the session was made), and a second one adds no events (same 33 `Page`
        # events a sign-in round).
        await cdp.send("Page.enable")
        if self.watcher.options.evidence_children:
            self.children = ChildTargets(cdp, self._child_attached)
            await self.children.start()

    def _child_attached(self, child: ChildTarget) -> EventHandler | None:
        """Follow an out-of-process iframe's or a worker's requests (Network.enable before it runs).

        A service worker serves every page of its scope, and each page's session is attached
        to it: only the first page followed in the context follows it, so that one request
        is one piece of evidence.
        """
        if child.type not in CHILD_TARGETS or self.children is None:
            return None
        if child.type == "service_worker":
            following = self.watcher.service_workers.setdefault(child.target_id, self)
            if following is not self and not following.closed:
                return None
            self.watcher.service_workers[child.target_id] = self
        self.children.send(child, "Network.enable", NETWORK_ENABLE)
        return _Network(self, child).on_event

    def note_frame(self, frame_id: str, url: str) -> None:
        frames = self.frame_urls
        frames[frame_id] = url
        frames.move_to_end(frame_id)
        if len(frames) > MAX_FRAMES:
            frames.popitem(last=False)

    def _dialog(self, event: dict[str, Any]) -> None:
        self.watcher.record(
            attr.EVENT_DIALOG,
            {
                attr.BROWSER_DIALOG_TYPE: str(event.get("type", "")),
                # Page text, like what the recording masks: `alert("Charged 4111 ...")`.
                attr.BROWSER_DIALOG_MESSAGE: self.watcher.urls.redact_text(str(event.get("message", "")))[
                    :MAX_MESSAGE_CHARS
                ],
                attr.URL_FULL: self.watcher.urls.redact(str(event.get("url", ""))),
            },
            self.page_id,
        )

    def _download(self, event: dict[str, Any]) -> None:
        self.watcher.record(
            attr.EVENT_DOWNLOAD,
            {
                attr.URL_FULL: self.watcher.urls.redact(str(event.get("url", ""))),
                attr.BROWSER_DOWNLOAD_FILENAME: self.watcher.urls.redact_text(str(event.get("suggestedFilename", "")))[
                    :MAX_MESSAGE_CHARS
                ],
            },
            self.page_id,
        )

    def on_crash(self) -> None:
        self.crashed = True
        # The recorder writes the span event (browser.page.crashed); the rules need it too.
        self.watcher.record(attr.EVENT_PAGE_CRASHED, {}, self.page_id, emit=False)

    # --- at a failure ---

    async def read_state(self) -> failures.PageState | None:
        """What the page shows now, read from an isolated world of this session; a sign-in form the
        page does not have is looked for in the cross-site iframes it shows (`_frame_sign_in`)."""
        if self.cdp is None or self.crashed or self.closed:
            return None
        value = await _read_world(self.cdp, self.main_frame_id)
        if value is None:
            return None
        url, title = str(value.get("url", "")), str(value.get("title", ""))
        sign_in, frame_url = _sign_in_kind(value), ""
        if not sign_in:
            frames = self.watcher.recorder.out_of_process_frames(self.page_id)
            found = await asyncio.gather(*(_frame_sign_in(value, *frame) for frame in frames))
            sign_in, frame_url = next((f for f in found if f is not None), ("", ""))
        return failures.PageState(
            self.page_id,
            self.watcher.urls.redact(url),
            title,
            challenge_marker=str(value.get("marker") or ""),
            sign_in_form=bool(sign_in),
            sign_in_form_kind=sign_in,
            ready_state=str(value.get("ready") or ""),
            sign_in_frame_url=self.watcher.urls.redact(frame_url) if frame_url else "",
        )


async def _read_world(cdp: Any, frame_id: str) -> dict[str, Any] | None:
    """`_PAGE_STATE_JS` in the evidence world of frame `frame_id` of session `cdp` (no `Runtime.enable`)."""
    world = await cdp.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": EVIDENCE_WORLD})
    reply = await cdp.send(
        "Runtime.evaluate",
        {"expression": _PAGE_STATE_JS, "contextId": world["executionContextId"], "returnByValue": True},
    )
    value = (reply.get("result") or {}).get("value")
    return value if isinstance(value, dict) else None


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _sign_in_kind(value: Mapping[str, Any], page: Mapping[str, Any] | None = None) -> str:
    """The sign-in form a document's read shows (`failures.sign_in_form_kind`); for a frame's, what
    its own URL, title and headings say, else what its page's say (a widget without a title of its own)."""
    headings = _strings(value.get("headings"))

    def kind_on(where: Mapping[str, Any]) -> str:
        return failures.sign_in_form_kind(
            str(where.get("url", "")),
            str(where.get("title", "")),
            headings,
            password=bool(value.get("password")),
            identifier=bool(value.get("identifier")),
            controls=_strings(value.get("controls")),
            ended=bool(value.get("ended")),
        )

    kind = kind_on(value)
    if kind or page is None:
        return kind
    headings += _strings(page.get("headings"))
    return kind_on(page)


# Run on a cross-site iframe's owner element, in its parent's evidence world: is the frame shown?
_FRAME_SHOWN_JS = """function () {
  const style = getComputedStyle(this);
  if (style.visibility === "hidden" || style.display === "none" || Number(style.opacity) === 0) return false;
  const r = this.getBoundingClientRect();
  return r.width > 1 && r.height > 1;
}"""


async def _frame_sign_in(
    page: Mapping[str, Any], cdp: Any, frame_id: str, parent_cdp: Any, parent_frame_id: str
) -> tuple[str, str] | None:
    """(kind, URL) of the sign-in form a cross-site iframe shows, or None: read in a world of the
    evidence's own in the frame's process, through the recorder's session of that frame
    (`cdp_worlds.PageWorlds`); its owner element, in the parent's process, must be shown (a hidden
    frame's form, a silent sign-in's, is not what the page shows). Never raises."""
    try:
        value = await _read_world(cdp, frame_id)
        kind = _sign_in_kind(value, page) if value is not None else ""
        if not kind or value is None:
            return None
        world = await parent_cdp.send(
            "Page.createIsolatedWorld", {"frameId": parent_frame_id, "worldName": EVIDENCE_WORLD}
        )
        owner = await parent_cdp.send("DOM.getFrameOwner", {"frameId": frame_id})
        node = await parent_cdp.send(
            "DOM.resolveNode",
            {"backendNodeId": owner["backendNodeId"], "executionContextId": world["executionContextId"]},
        )
        object_id = node["object"]["objectId"]
        try:
            shown = await parent_cdp.send(
                "Runtime.callFunctionOn",
                {"objectId": object_id, "functionDeclaration": _FRAME_SHOWN_JS, "returnByValue": True},
            )
        finally:
            await parent_cdp.send("Runtime.releaseObject", {"objectId": object_id})
        return (kind, str(value.get("url", ""))) if (shown.get("result") or {}).get("value") is True else None
    except Exception as error:  # the frame navigated, detached or crashed meanwhile
        logger.debug("could not read a cross-site frame at a failure: %s", error)
        return None


class EvidenceWatcher:
    """The evidence sessions of one recorded context; see the module docstring."""

    def __init__(self, context: Any, recorder: ContextRecorder, options: RecordingOptions) -> None:
        self.context = context
        self.recorder = recorder
        self.options = options
        self.urls = UrlRedactor(options.url_secret_words, redact_fragments=options.redact_url_fragments)
        self._pages: dict[Any, _PageWatch] = {}
        self._tasks = BackgroundTasks()
        # The last selector a root's browser call waited for out of time: (selector, target, page id,
        # when); counted at the failure unless a call returned since (`failures.last_ok_call_for`).
        self._timeouts: dict[Activity, tuple[str, Any, str, float]] = {}
        self._probed: dict[Activity, float] = {}
        # Service worker target id -> the page whose session follows it (one page per worker).
        self.service_workers: dict[str, _PageWatch] = {}
        # Page id -> the root activity whose browser call last acted on the page (`drove`).
        self._drivers: dict[str, Activity] = {}

    async def attach(self) -> None:
        _watchers[self.recorder] = self
        self.context.on("page", self._on_page)
        for page in list(self.context.pages):
            self._on_page(page)
        pending = [w.ready for w in self._pages.values() if w.ready is not None and not w.ready.done()]
        if pending:
            await asyncio.wait(pending, timeout=5.0)

    def _on_page(self, page: Any) -> None:
        if page in self._pages:
            return
        watch = _PageWatch(self, page, self.recorder.page_id_of(page) or "")
        self._pages[page] = watch
        # A popup works for whoever drove the page that opened it (until a call acts on it).
        opener = getattr(getattr(page, "_impl_obj", page), "_opener", None)
        driver = self._drivers.get(self.page_of(opener)) if opener is not None else None
        if driver is not None and watch.page_id:
            self._drivers[watch.page_id] = driver
        page.on("crash", lambda _page: watch.on_crash())
        page.on("close", lambda _page: self._on_close(page, watch))
        watch.ready = self._tasks.spawn(self._start(watch))

    def _on_close(self, page: Any, watch: _PageWatch) -> None:
        watch.closed = True
        self._pages.pop(page, None)
        self._drivers.pop(watch.page_id, None)
        self.service_workers = {t: w for t, w in self.service_workers.items() if w is not watch}

    async def _start(self, watch: _PageWatch) -> None:
        with internal_call():
            try:
                await watch.start()
            except Exception as error:  # closed meanwhile, or a browser without CDP
                logger.debug("no evidence session for page %s: %s", watch.page_id, error)

    def owner(self) -> Activity | None:
        """The root activity that owns the context now, while it runs."""
        recording = self.recorder.owner
        if recording is None or recording.ended:
            return None
        return recording.activity

    def drove(self, activity: Activity, target: Any) -> None:
        """A browser call of `activity` is about to act on `target` (hooks.py): its page's evidence is
        `activity`'s root's from now on. Calls on the context itself (`new_page`, cookies) drive no page."""
        page_id = self.page_of(target)
        if page_id:
            self._drivers[page_id] = activity.root

    def activity_of(self, page_id: str) -> Activity | None:
        """Whose evidence a page's is: the running root activity that drove the page last, else the context's owner.

        Per page, not per context: activities running at once on one context (concurrent tool
        calls on a shared context) each drive their own tabs, and a 500 one of them met is not
        the other's. The owner stands in for a page no running activity has acted on (one the
        site opened, one whose driver ended).
        """
        driver = self._drivers.get(page_id)
        if driver is not None and driver.span.is_recording():
            return driver
        return self.owner()

    def _drives(self, root: Activity) -> set[str]:
        """The ids of the pages `root` drove last."""
        return {page_id for page_id, driver in self._drivers.items() if driver is root}

    def concerns(self, root: Activity) -> bool:
        """Whether a failure of `root` has pages of this context to read: it owns the context or drove a page of it."""
        return self.owner() is root or any(driver is root for driver in self._drivers.values())

    def record(self, kind: str, attributes: Mapping[str, AttributeValue], page_id: str, *, emit: bool = True) -> None:
        activity = self.activity_of(page_id)
        if activity is not None:
            cap = self.options.max_evidence_events
            failures.record(activity, kind, attributes, page_id=page_id, cap=cap, emit=emit)

    def note_document(self, document: failures.Document) -> None:
        activity = self.activity_of(document.page_id)
        if activity is not None:
            failures.note_document(activity, document)

    def page_of(self, target: Any) -> str:
        """The page id of the page a protocol object (frame, page, handle) belongs to."""
        return self.recorder.page_id_of(target) or ""

    def call_failed(self, target: Any, method: str, params: Any, error: BaseException) -> None:
        activity = current_activity()
        if activity is None:
            return
        error_text = _first_line(str(error), self.urls) or type(error).__name__
        at = time.perf_counter()
        event = self._call_event(
            activity, target, method, params, error_text, type(error).__name__, _timed_out(error), at
        )
        page_id = self.page_of(target)
        cap = self.options.max_evidence_events
        failures.record(activity, attr.EVENT_BROWSER_CALL_FAILED, event, page_id=page_id, cap=cap, error=error, at=at)
        if method in NAVIGATIONS and _timed_out(error) and getattr(target, "_parent_frame", None) is None:
            # A navigation of the main frame that timed out (a server that accepts and never
            # answers, a document that never finishes loading): the network reports no failure
            # (the request is still open), so this is the main frame's navigation error.
            navigation = {k: v for k, v in event.items() if k in (attr.BROWSER_ERROR, attr.URL_FULL)}
            navigation[attr.BROWSER_RESOURCE_TYPE] = "Document"
            failures.record(activity, attr.EVENT_NAVIGATION_ERROR, navigation, page_id=page_id, cap=cap)

    def call_cancelled(self, target: Any, method: str, params: Any, error: BaseException | None = None) -> None:
        """A browser call was cancelled (the tool's `asyncio.wait_for` ran out): `browser.call.failed`
        with `error.type` CancelledError; the rules count it as timed out if the activity fails with
        a TimeoutError (`failures.classify`), and a selector it waited for is counted at the failure."""
        activity = current_activity()
        if activity is None:
            return
        at = time.perf_counter()
        event = self._call_event(
            activity, target, method, params, "cancelled by the caller", failures.CANCELLED, True, at
        )
        if method in NAVIGATIONS and getattr(target, "_parent_frame", None) is None:
            event[attr.BROWSER_RESOURCE_TYPE] = "Document"  # the main frame's navigation
        cap = self.options.max_evidence_events
        page_id = self.page_of(target)
        failures.record(activity, attr.EVENT_BROWSER_CALL_FAILED, event, page_id=page_id, cap=cap, error=error, at=at)

    def _call_event(
        self,
        activity: Activity,
        target: Any,
        method: str,
        params: Any,
        error: str,
        error_type: str,
        waited: bool,
        at: float,
    ) -> dict[str, AttributeValue]:
        """A failed call's `browser.call.failed` attributes; a selector it `waited` for out of time is
        remembered for the failure's count (`probe`), with `at`, when the call failed."""
        event: dict[str, AttributeValue] = {
            attr.BROWSER_ACTION: method,
            attr.BROWSER_ERROR: error,
            attr.ERROR_TYPE: error_type,
        }
        selector = params.get("selector") if isinstance(params, dict) else None
        if isinstance(selector, str):
            event[attr.BROWSER_SELECTOR] = _selector(selector, self.urls)
            if waited:
                self._timeouts[activity.root] = (selector, target, self.page_of(target), at)
                while len(self._timeouts) > 64:
                    self._timeouts.pop(next(iter(self._timeouts)))
        url = params.get("url") if isinstance(params, dict) else None
        if isinstance(url, str):
            event[attr.URL_FULL] = self.urls.redact(url)
        return event

    def call_succeeded(self, activity: Activity, target: Any = None) -> None:
        """A browser call of `activity` returned normally (not while closing): a timeout before it was
        handled, unless the activity fails with that timeout's error (`failures.last_ok_call_for`)."""
        failures.note_call_succeeded(activity.root, self.page_of(target) if target is not None else "")

    def _open_watches(self) -> list[_PageWatch]:
        return [w for w in list(self._pages.values()) if w.cdp is not None and not w.closed]

    async def probe(self, failing: Activity) -> None:
        """The failure checkpoint: snapshots, page states and the timed-out selector (module docstring)."""
        root = failing.root
        now = time.perf_counter()
        if now - self._probed.get(root, -1e9) < _PROBE_AGAIN_AFTER_S:
            return
        self._probed = {a: t for a, t in self._probed.items() if now - t < 60}
        self._probed[root] = now
        # The pages the failing activity used (other tabs may show older trouble), else all. Those
        # it used and closed were read as they closed (`before_close`): no other page stands in.
        touched = failures.pages_touched(failing) or self._drives(root)
        watches = self._open_watches()
        snapshot: Collection[str] | None = ()
        if not touched and self.owner() is not root:
            return  # nothing of the failing activity's here: the pages are other activities'
        if touched:
            watches = [w for w in watches if w.page_id in touched]
            snapshot = touched if watches else None
        timed_out = self._timeouts.pop(root, None)
        if timed_out is not None and timed_out[3] <= failures.last_ok_call_for(failing):
            timed_out = None  # handled: a call returned after it, and the failure is not its error
        await self._read_pages(root, watches, snapshot, timed_out, before_close=False)

    async def before_close(self, page: Any | None, *, failing: bool, error: BaseException | None = None) -> None:
        """`page` (None: every page of the context) is about to close: read it now if the activity
        that closes it is failing (module docstring; `error`: the exception on its way); what it
        shows is kept aside."""
        activity = current_activity()
        if activity is None:
            return
        root = activity.root
        if not self.concerns(root) or not (failing or failures.trouble_pending(root)):
            return
        watches = self._open_watches()
        if page is not None:
            closing_page = getattr(page, "_impl_obj", page)
            watches = [w for w in watches if getattr(w.page, "_impl_obj", w.page) is closing_page]
        else:
            touched = failures.pages_touched(activity) | self._drives(root)
            mine = [w for w in watches if w.page_id in touched]
            watches = mine or (watches if self.owner() is root else [])
        if not watches:
            return
        ids = {w.page_id for w in watches}
        timed_out = self._timeouts.get(root)
        if timed_out is not None and timed_out[2] in ids:
            del self._timeouts[root]
            if timed_out[3] <= failures.last_ok_call_for(activity, error):
                timed_out = None  # handled (`probe`)
        else:
            timed_out = None
        await self._read_pages(root, watches, ids, timed_out, before_close=True)

    async def _read_pages(
        self,
        root: Activity,
        watches: list[_PageWatch],
        snapshot: Collection[str] | None,
        timed_out: tuple[str, Any, str, float] | None,
        *,
        before_close: bool,
    ) -> None:
        """Checkpoint the pages named in `snapshot` (all when empty, none when None), then read
        `watches` and count the timed-out selector; report what they show."""
        if snapshot is not None:
            await self.recorder.snapshot_pages(snapshot)
        # After the checkpoint, not beside it: the page's thread is busy with the snapshot, and
        # each read has PROBE_TIMEOUT_S of its own.
        count = self._matches(timed_out[1], timed_out[0]) if timed_out is not None else _nothing()
        states, matches = await asyncio.gather(asyncio.gather(*(self._read(w) for w in watches)), count)

        def report(kind: str, event: Mapping[str, AttributeValue], page_id: str) -> None:
            if before_close:
                evidence = failures.Evidence(kind, dict(event), page_id)
                failures.note_read_before_close(root, evidence, self.options.max_evidence_events)
            else:
                failures.record(root, kind, event, page_id=page_id, cap=self.options.max_evidence_events)

        for state in states:
            if state is None:
                continue
            failures.note_page_state(root, state)
            if state.challenge_marker:
                marker = {attr.BROWSER_CHALLENGE_PROVIDER: failures.PAGE_MARKER + state.challenge_marker}
                report(attr.EVENT_CHALLENGE, {**marker, attr.URL_FULL: state.url}, state.page_id)
            if state.sign_in_form:
                form = {attr.URL_FULL: state.url, attr.BROWSER_SIGN_IN_FORM: state.sign_in_form_kind}
                if state.sign_in_frame_url:
                    form[attr.BROWSER_FRAME_URL] = state.sign_in_frame_url
                report(attr.EVENT_SIGN_IN_FORM, form, state.page_id)
        if timed_out is not None:
            selector, _target, page_id, _at = timed_out
            event: dict[str, AttributeValue] = {attr.BROWSER_SELECTOR: _selector(selector, self.urls)}
            if matches is not None:
                event[attr.FAILURE_SELECTOR_MATCHES], event[attr.FAILURE_SELECTOR_VISIBLE] = matches
            ready = next((s.ready_state for s in states if s is not None and s.page_id == page_id), "")
            if ready and ready != "complete":  # still loading at the failure: the element may be on its way
                event[attr.FAILURE_DOCUMENT_READY_STATE] = ready
            report(attr.EVENT_ELEMENT_MISSING, event, page_id)

    async def _read(self, watch: _PageWatch) -> failures.PageState | None:
        try:
            return await asyncio.wait_for(watch.read_state(), PROBE_TIMEOUT_S)
        except Exception as error:
            logger.debug("could not read page %s at a failure: %s", watch.page_id, error)
            return None

    async def _matches(self, target: Any, selector: str) -> tuple[bool, bool] | None:
        """Whether `selector` matches in `target`'s frame now, and whether a match is visible; None if unknown.

        Both by Playwright's own selector engine, the one the timed-out call used: the count of
        `selector`, then of `selector >> visible=true` (Playwright's visibility: a non-empty box
        and not `visibility: hidden`; what `wait_for_selector(state="visible")` and actions wait
        for). An element that is there but hidden (a slow page about to show it, or one kept
        hidden for good) is told apart from one that is not there at all.
        """
        count = getattr(target, "_query_count", None)
        if count is None:
            return None
        with internal_call():
            try:
                # Both at once, within the one probe timeout: the failure hooks have 2 s in all.
                both = asyncio.gather(count(selector), count(f"{selector} >> visible=true"))
                matched, visible = await asyncio.wait_for(both, PROBE_TIMEOUT_S)
                return int(matched) > 0, int(visible) > 0
            except Exception as error:
                logger.debug("could not count %r at a failure: %s", selector, error)
                return None


async def _on_failure(failing: Activity) -> None:
    root = failing.root
    for watcher in list(_watchers.values()):
        if watcher.concerns(root):
            await watcher.probe(failing)


async def watch(context: Any, recorder: ContextRecorder, options: RecordingOptions) -> EvidenceWatcher | None:
    """Capture evidence in `context`'s pages (see the module docstring); None when `options.evidence` is off."""
    global _installed
    if not options.evidence:
        return None
    if not _installed:
        _installed = True
        failures.install()
        add_failure_hook(_on_failure)
    watcher = EvidenceWatcher(context, recorder, options)
    with internal_call():
        await watcher.attach()
    return watcher


def drove(recorder: ContextRecorder | None, activity: Activity, target: Any) -> None:
    """A browser call of `activity` is about to act on `target` (hooks.py): its page's evidence is the activity's."""
    watcher = _watchers.get(recorder) if recorder is not None else None
    if watcher is not None:
        with contextlib.suppress(Exception):
            watcher.drove(activity, target)


def call_succeeded(recorder: ContextRecorder | None, target: Any = None) -> None:
    """A browser call made inside an activity returned (hooks.py): an earlier timeout was handled by the tool.

    Not a call made while a page, context or browser closes: the tool's `finally` is no handling.
    """
    watcher = _watchers.get(recorder) if recorder is not None and not _closing.get() else None
    activity = current_activity() if watcher is not None else None
    if watcher is not None and activity is not None:
        watcher.call_succeeded(activity, target)


def call_cancelled(
    recorder: ContextRecorder | None, target: Any, method: str, params: Any, error: BaseException | None = None
) -> None:
    """A browser call made inside an activity was cancelled (hooks.py): evidence, never a second error."""
    watcher = _watchers.get(recorder) if recorder is not None else None
    if watcher is None:
        return
    with contextlib.suppress(Exception):
        watcher.call_cancelled(target, method, params, error)


def call_failed(recorder: ContextRecorder | None, target: Any, method: str, params: Any, error: BaseException) -> None:
    """A browser call made inside an activity raised (hooks.py): evidence, never a second error."""
    watcher = _watchers.get(recorder) if recorder is not None else None
    if watcher is None or isinstance(error, asyncio.CancelledError):
        return
    with contextlib.suppress(Exception):
        watcher.call_failed(target, method, params, error)


async def before_close(
    recorder: ContextRecorder | None, page: Any | None, *, failing: bool, error: BaseException | None = None
) -> None:
    """`page` (None: all of them) of `recorder`'s context is about to close (hooks.py); `failing`:
    an exception is on its way through the code that closes. Never raises."""
    watcher = _watchers.get(recorder) if recorder is not None else None
    if watcher is None:
        return
    with internal_call():
        try:
            await watcher.before_close(page, failing=failing, error=error)
        except Exception as error:
            logger.debug("could not read the pages before they closed: %s", error)
