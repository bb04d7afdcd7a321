"""Why an activity failed: the evidence it met, and the failure class decided from it (issue 18).

Evidence is what a recorded browser showed while the activity ran, captured out of the
page's reach by `recording/evidence.py`: responses >= 400, failed requests, main-frame
navigation errors, dialogs, downloads, crashes, known challenge providers, browser calls
that raised, and, when the activity fails, what its pages showed at that moment
(`PageState`). Each piece is a span event on the root activity, at most `cap` per root
activity; more are counted (`getgather.evidence.dropped`), and all of them still count
for the rules below (up to `MAX_KEPT` a root).

A page the tool closes while it is failing (in a `finally`, an `except`, or with a browser
call failed and none returned since) is read just before it closes, since it cannot be
read at the failure: `note_page_state` and `note_read_before_close` keep what it showed
aside, and the activity gets it only if it fails with no browser call returning normally
after the read. Closing a page, a context or a browser is no such call.

Every failed activity gets `getgather.failure.class`. The rules, first match wins (evidence
since the failing activity started; "the document" is the last main-frame document a page
loaded in that time, the failing page's when a browser call failed, else the latest):

1. `browser_crash`: a page crashed, or the error says the target crashed and a browser call
   failed with its page or browser gone (a `TargetClosedError`, or the same words): the
   message alone is the tool's own text, not the browser's.
2. `bot_challenge`: the challenge is what the page shows, not a script it carries: a page at
   the failure shows a bot wall's marker (`CHALLENGE_MARKERS["selectors"]`: Cloudflare's
   challenge form, PerimeterX's `#px-captcha`; a visible main heading, `"headings"`: "Access
   Denied" on a 200 page titled as the site, "Press & Hold"; or a title), or a
   provider's widget or frame shown and large (`CHALLENGE_MARKERS["widgets"]`, an iframe of a
   `CHALLENGE_PROVIDERS` host: at least `CHALLENGE_WIDGET_MIN_PX` square, or a quarter of the
   viewport), or shown on screen, of any size, in a page that asks for nothing else (no visible
   text field, text area or select: a gate with a 304x78 reCAPTCHA checkbox or a 300x65
   Turnstile box and a Continue button; not a contact or sign-in form's checkbox, nor the
   invisible reCAPTCHA badge, `.grecaptcha-badge` or `size=invisible`; such a gate counts only
   where a browser call failed on the page, or where the tool was waiting by itself when its
   own timeout ran out (it failed with the builtin TimeoutError, `asyncio.wait_for` around a
   loop polling `query_selector`, and the last browser call before it, which returned, acted on
   the page): an ordinary page may carry a lone checkbox, and a
   tool that raised after its browser work went there is no blocked tool), or a provider's frame
   document answered 403 or 429 (a cross-site frame's, which the page's reads cannot enter);
   or the document answered 403 or 429 (with no sign-in form shown: rule 3), or 403, 429 or
   503 with a provider's script or frame requested; or the page's own XHR or fetch to its own
   site (as in rule 3) answered 429 before a browser call failed on that page (an SPA's data
   call rate-limited, then the awaited element missing; with no sign-in form shown). Not an
   API's 403 (a permission or CSRF check as often as a wall), nor a 429 after good browser
   work (rule 8 then: `unknown`). A provider requested on its own (invisible
   reCAPTCHA v3 on every page, a contact form's checkbox) is a `browser.challenge` event, and
   no evidence of failure.
3. `signed_out`: the document answered 401, or the page's own XHR or fetch to its own site did
   (the same registrable domain by the Public Suffix List: `api.shop.co.uk` is `www.shop.co.uk`'s,
   `beacons.co.uk` and `mallory.github.io` are third parties; not an image's), or a page
   at the failure shows a sign-in form (`sign_in_form_kind`; a 403 document showing one, with
   no challenge seen, is this rule's; in the page, or in a cross-site iframe it shows, a sign-in
   widget of another site, read the same way with that frame's URL, title and headings, else
   the page's): a password field on a page whose URL's host or path (not
   its query: `/register?next=/login` is a sign-up page) or title says sign in / log in
   (`SIGN_IN_WORDS`: "auth" as a word, not `/authors/`; besides English, a short list of
   other languages' words, `SIGN_IN_ELSEWHERE`, and German "anmelden") or whose heading does
   (`SIGN_IN_SAID`);
   or, identifier first
   (Google, Amazon, Microsoft: the email now, the password on the next step), an identifier
   field (`autocomplete` username or email, `type=email`, or a name or id with email, user,
   login or identifier in it) with a button in its form (not one that says subscribe or
   newsletter) on a page whose URL's host or path (not its query: `?from=signin`), title or
   heading says sign in / log in (`SIGN_IN_SAID`); or, single sign-on, no field at all but a
   button, link or frame titled to sign in with another account (`SSO_SAID`: "Sign in with
   Google", "Continue with Apple") on such a page; or, a session that ended, no form but a
   button or link saying sign in / log in (`SIGN_IN_SAID`) on a page whose visible text (not a
   hidden modal's) says the session expired or the visitor was signed out
   (`SESSION_ENDED_SAID`: "Your session has expired. [Log in]"). An email box alone, a newsletter's, is
   not, nor is a "Sign in with Google" button on a page that does not say sign in.
4. `site_error`: the document answered 5xx, or the page's own XHR or fetch to its own site
   (as in rule 3) answered 5xx before a browser call failed on that page: an SPA whose data
   call failed, then the awaited element missing ("Something went wrong" in place of the
   orders). A 5xx API before good browser work, or a third party's, is not.
5. `navigation_error`: the main frame's document failed to load (refused, DNS, TLS,
   aborted by the network), a navigation call raised with a `net::` error, or a navigation
   call of the main frame (goto, reload, back, forward) timed out: a server that accepts and
   never answers fails nothing on the network, the request just stays open. Timed out here
   also means cancelled by the tool's own timeout (`asyncio.wait_for(page.goto(...), 5)`: the
   call is cancelled and the activity fails with a TimeoutError), and a Playwright wait for a
   navigation that is no protocol call (`wait_for_url`, `wait_for_load_state`) timing out
   through the activity in a page that loaded a document.
6. `element_missing`: a browser call waiting for a selector, or for a condition in the page
   (`wait_for_function`, no selector then), timed out (or was cancelled by the
   tool's own timeout, the activity failing with a TimeoutError), and no browser call
   returned normally after it (a timeout the tool caught and moved on from does not count;
   the page loaded: rules 2-5 did not match). `browser.element.missing` names the selector and whether it
   matches in the page at the failure checkpoint, or just before the page closed
   (`getgather.failure.selector_matches`), and whether a match is visible
   (`getgather.failure.selector_visible`: there but hidden, or there and shown), and, when
   the page's document had not finished loading (`goto(wait_until="commit")` on a page still
   streaming), its `document.readyState` (`getgather.failure.document.ready_state`).
7. `tool_error`: the activity failed with no browser evidence of failure: none at all, or
   only sub-resources' error responses and failed requests, of any status or error (a
   missing image, a 502 tracking pixel, a refused analytics script, a cross-site fetch failing
   `net::ERR_FAILED` on a page that worked), unless the document's or the page's own XHR or
   fetch to its own site (as for 401, rule 3); challenge providers requested (rule 2), dialogs
   and downloads (a page's ordinary work). They stay span events.
8. `unknown`: browser evidence of failure, but none of the rules above: a Playwright wait
   for an event that never came (`expect_response`, `wait_for_event("popup")`) timed out
   through the activity with no protocol call failing, a cancelled call of another kind.

When a browser call failed (and none returned normally since), only the evidence and page
states of the page it acted on count (and evidence of no page): another tab showing a
challenge is not why a selector timed out on this one.

Page states (and what was read from them) count only when read after the last browser call
that returned normally: a page read as it closed, after which the tool went on and used
another page successfully, is not what the activity failed on.

"Returned normally" has one exception: when the exception the activity fails with is a
failed browser call's error, or chains to it (`__cause__`, `__context__`: `raise`, `raise
X from error`, or a new error raised while handling it), calls that returned after that call
do not count (`last_ok_call_for`): a tool that catches a selector timeout, takes a
screenshot or reads the title, and re-raises failed on the timeout, not after handling it.

A user classifier (`set_failure_classifier`) sees the same `FailureContext`, including the
class these rules chose (`default`), and returns a class (`CLASS_NAME`), or None to keep the
default; anything else, or no answer within `CLASSIFIER_BUDGET_S`, keeps the default too.

Evidence of a page is its driver's: the root activity whose browser call last acted on it
(`recording/evidence.py`), so activities running at once on one context each get their own.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue
from publicsuffixlist import PublicSuffixList

from getgather_otel._log import logger
from getgather_otel.capture import activity as activities
from getgather_otel.capture import attributes as attr
from getgather_otel.capture.activity import Activity

__all__ = [
    "BOT_CHALLENGE",
    "BROWSER_CRASH",
    "CANCELLED",
    "CHALLENGE_MARKERS",
    "CHALLENGE_PROVIDERS",
    "CHALLENGE_WIDGET_MIN_PX",
    "CLASSIFIER_BUDGET_S",
    "CLASS_NAME",
    "DEFAULT_CAP",
    "ELEMENT_MISSING",
    "FAILURE_CLASSES",
    "GATE_MARKER",
    "MAX_KEPT",
    "MAX_LATE_CLASSIFIER_CALLS",
    "NAVIGATION_ERROR",
    "PAGE_MARKER",
    "SESSION_ENDED_SAID",
    "SIGNED_OUT",
    "SIGN_IN_ELSEWHERE",
    "SIGN_IN_SAID",
    "SIGN_IN_WORDS",
    "SITE_ERROR",
    "SSO_SAID",
    "TOOL_ERROR",
    "UNKNOWN",
    "Document",
    "Evidence",
    "FailureClassifier",
    "FailureContext",
    "PageState",
    "challenge_provider",
    "classify",
    "default_failure_classifier",
    "install",
    "last_ok_call_for",
    "ledger_of",
    "note_call_succeeded",
    "note_document",
    "note_page_state",
    "note_read_before_close",
    "pages_touched",
    "record",
    "set_failure_classifier",
    "sign_in_form_kind",
    "started_at",
    "trouble_pending",
]

BOT_CHALLENGE = "bot_challenge"
SIGNED_OUT = "signed_out"
ELEMENT_MISSING = "element_missing"
NAVIGATION_ERROR = "navigation_error"
SITE_ERROR = "site_error"
BROWSER_CRASH = "browser_crash"
TOOL_ERROR = "tool_error"
UNKNOWN = "unknown"
FAILURE_CLASSES = (
    BOT_CHALLENGE,
    SIGNED_OUT,
    ELEMENT_MISSING,
    NAVIGATION_ERROR,
    SITE_ERROR,
    BROWSER_CRASH,
    TOOL_ERROR,
    UNKNOWN,
)

# Span events per root activity; what is over it is counted, not emitted.
DEFAULT_CAP = 50
# Evidence kept in memory per root activity for the rules (the first ones: the cause comes first).
MAX_KEPT = 500

# Hosts (and their subdomains) of challenge providers: a request to one is a challenge shown.
CHALLENGE_PROVIDERS: dict[str, str] = {
    "challenges.cloudflare.com": "cloudflare",
    "hcaptcha.com": "hcaptcha",
    "recaptcha.net": "recaptcha",
    "arkoselabs.com": "arkose",
    "funcaptcha.com": "arkose",
    "captcha-delivery.com": "datadome",
    "px-captcha.com": "perimeterx",
    "perimeterx.net": "perimeterx",
    "geetest.com": "geetest",
    "kasada.io": "kasada",
}
# google.com serves reCAPTCHA under a path, not a host of its own.
_RECAPTCHA_PATH = re.compile(r"^/recaptcha/")
# Read in a page when an activity fails (recording/evidence.py): "selectors" are bot walls'
# own pages (present: the page is the challenge); "widgets" are a provider's widget or frame,
# which ordinary pages carry too (a contact form's reCAPTCHA checkbox, an invisible reCAPTCHA
# v3 badge): they count only when shown and large (`CHALLENGE_WIDGET_MIN_PX`, or a quarter of
# the viewport), as a challenge that covers the page is, or on screen in a page that asks for
# nothing else (a gate: rule 2); then the main headings and the titles.
CHALLENGE_MARKERS: dict[str, tuple[str, ...]] = {
    "selectors": (
        "#challenge-form",
        "#challenge-running",
        "#cf-challenge-running",
        "#px-captcha",
        "#px-captcha-wrapper",
    ),
    "widgets": (
        ".cf-turnstile",
        ".g-recaptcha",
        ".h-captcha",
        "iframe[src*='captcha']",
        "iframe[src*='challenges.cloudflare.com']",
        "[data-sitekey]",
    ),
    "titles": (
        "just a moment",
        "attention required",
        "are you a robot",
        "verify you are human",
        "access denied",
        "pardon our interruption",
        "security check",
        "captcha",
    ),
    # A bot wall's own main heading, where the title is the site's: a visible h1 (or a level-1
    # role=heading) of at most 80 characters that starts with one of these.
    "headings": (
        "access denied",
        "press & hold",
        "press and hold",
        "checking your browser",
        "verify you are human",
        "are you a robot",
        "pardon our interruption",
        "just a moment",
    ),
}
# Width and height (CSS px) from which a shown challenge widget is the page's challenge, not a form's.
CHALLENGE_WIDGET_MIN_PX = 300
# In a URL's host and path or a title, beside a password field: the page is a sign-in page.
# "auth" as a word (`/auth/`, `oauth2/authorize`), not inside one (`/authors/`).
# Besides English, a short list (no more: each word is a false positive somewhere): Dutch, French,
# Spanish, Italian, Portuguese, Japanese, Chinese (`SIGN_IN_ELSEWHERE`); German "anmelden" only
# beside a password field (`SIGN_IN_WORDS`): "Zum Newsletter anmelden" is a newsletter box's heading.
SIGN_IN_ELSEWHERE = (
    r"\beinloggen\b|\binloggen\b|\bse[\s_-]connecter\b|\bconnexion\b|\biniciar[\s_-]sesi[oó]n\b|\baccedi\b"
    r"|\biniciar[\s_-]sess[aã]o\b|ログイン|登录|登入"
)
SIGN_IN_WORDS = re.compile(
    r"sign[\s_-]?in|log[\s_-]?in|logon|\bauth(?:enticate|orize|entication|orization)?\b|session/new|account/access"
    r"|\banmelden\b|" + SIGN_IN_ELSEWHERE,
    re.IGNORECASE,
)
# Narrower, for what says less on its own: a heading, and an identifier-only form's page (its
# URL's host and path, title, heading). Whole words, so an /authors/ page or "designing" is not one.
SIGN_IN_SAID = re.compile(
    r"(?:sign|log)[\s_-]?(?:in|on)\b|\bauth(?:enticate|orize)?\b|session/new|account/access|" + SIGN_IN_ELSEWHERE,
    re.IGNORECASE,
)
# A control (button, link, the title of a provider's button frame) that signs in through another
# account: "Sign in with Google", "Continue with Apple", "Log in using SSO".
SSO_SAID = re.compile(
    r"\b(?:sign|log)[\s_-]?(?:in|on)\s+(?:with|using|via|through)\b"
    r"|\bcontinue\s+with\s+(?:google|apple|microsoft|facebook|github|gitlab|amazon|linkedin|twitter|x|okta|sso|saml"
    r"|email|phone)\b|\bsingle\s+sign[\s-]?on\b|\bsso\b",
    re.IGNORECASE,
)
# Visible text saying the visitor's session ended ("Your session has expired", "You have been
# signed out"): with a button or link saying sign in / log in, a sign-in page with no form (rule 3).
# Written for Python's `re` and JavaScript's RegExp alike (the page matches it, `recording/evidence.py`).
SESSION_ENDED_SAID = re.compile(
    r"\bsession\s+(?:has\s+|is\s+|was\s+)?(?:expired|timed[\s-]?out|ended)\b"
    r"|\b(?:you(?:['\u2019]ve|\s+have)\s+been|you\s+were|you\s+are\s+(?:now\s+)?)\s*(?:signed|logged)[\s-]?(?:out|off)\b",
    re.IGNORECASE,
)
_NET_ERROR = re.compile(r"net::ERR_[A-Z_]+")
# `error.type` of a browser call cancelled by the tool's own timeout (`asyncio.wait_for`).
CANCELLED = "CancelledError"
# Playwright's TimeoutError text, raised by its client-side waits (no protocol call timed out):
# `wait_for_url`, `expect_response`, `wait_for_event("popup")`.
_PLAYWRIGHT_TIMEOUT = re.compile(r"\bTimeout \d+ms exceeded")
_NAVIGATION_WAIT = re.compile(r"waiting for navigation|wait_for_url|wait_for_load_state|expect_navigation")
_CRASHED = re.compile(r"target crashed|page crashed", re.IGNORECASE)
# Document statuses a bot wall answers with: 403 and 429 by themselves, 503 (Cloudflare's
# "Just a moment") only with a challenge provider or marker beside it (else a site error).
_BLOCKED = (403, 429)
# Where a page marker's challenge event comes from (recording/evidence.py), not the network.
PAGE_MARKER = "page marker: "
# A page marker of a small widget shown in a page that asks for nothing else (rule 2): the page's
# challenge only where a browser call failed on it (the tool was held there), since an ordinary
# page may carry a lone checkbox too.
GATE_MARKER = "gate: "


def challenge_provider(url: str) -> str | None:
    """The challenge provider a request URL belongs to, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    for domain, provider in CHALLENGE_PROVIDERS.items():
        if host == domain or host.endswith("." + domain):
            return provider
    if (host == "google.com" or host.endswith(".google.com")) and _RECAPTCHA_PATH.match(parts.path):
        return "recaptcha"
    return None


@dataclass(frozen=True)
class Evidence:
    """One thing a browser showed: `kind` is its span event's name, `at` is `time.perf_counter()`."""

    kind: str
    attributes: Mapping[str, AttributeValue]
    page_id: str = ""
    at: float = field(default_factory=time.perf_counter)
    # A failed browser call's exception (never stored): an activity failing with it, or with an
    # exception chained to it, failed on that call (`last_ok_call_for`).
    error: BaseException | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Document:
    """The last main-frame document a page loaded: its status, URL (redacted), and whether a redirect led there."""

    page_id: str
    status: int
    url: str
    redirected: bool = False
    at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class PageState:
    """What a page showed when the activity failed (read from out of the page's reach)."""

    page_id: str
    url: str
    title: str = ""
    challenge_marker: str = ""
    sign_in_form: bool = False
    at: float = field(default_factory=time.perf_counter)
    # Which sign-in form (`sign_in_form_kind`): "password", "identifier" or "sso"; "" for none.
    sign_in_form_kind: str = ""
    # `document.readyState` ("loading", "interactive", "complete"; "" unread).
    ready_state: str = ""
    # The sign-in form is in a cross-site iframe the page shows: that frame's URL (redacted).
    sign_in_frame_url: str = ""


def sign_in_form_kind(
    url: str,
    title: str,
    headings: Sequence[str] = (),
    *,
    password: bool = False,
    identifier: bool = False,
    controls: Sequence[str] = (),
    ended: bool = False,
) -> str:
    """The sign-in form a page shows (rule 3): "password", "identifier" (identifier first), "sso"
    (only a button to sign in with another account), "session_ended" (no form: text saying the
    session ended and a control to sign in again), or "".

    Args:
        url: the page's URL (unredacted: only matched, never kept).
        title: the document's title.
        headings: the texts of its headings (h1, h2, role=heading).
        password: the page has a password field.
        identifier: it has an identifier field with a button in its form (read in the page).
        controls: the labels of its buttons and links (text, value, aria-label, title), and
            the titles of its frames (a provider's button is often a frame of its own); only
            matched against `SSO_SAID` and `SIGN_IN_SAID`, never kept.
        ended: the page's visible text says the session ended (`SESSION_ENDED_SAID`, matched in the page).
    """
    heading = any(SIGN_IN_SAID.search(text) for text in headings)
    # The URL's host and path, not its query: `/register?next=/login` is a sign-up page that
    # goes to sign-in after, `?from=signin` where the visitor came from.
    try:
        parts = urlsplit(url)
        where = f"{parts.hostname or ''}{parts.path}"
    except ValueError:
        where = ""
    if password and (heading or SIGN_IN_WORDS.search(where + " " + title)):
        return "password"
    if ended and not identifier and any(SIGN_IN_SAID.search(label) for label in controls):
        return "session_ended"
    if not identifier and not any(SSO_SAID.search(label) for label in controls):
        return ""
    # Fields and buttons like these are common on ordinary pages (a newsletter box, a header's
    # "Sign in with Google"): the page itself has to say it is a sign-in page.
    if heading or SIGN_IN_SAID.search(where) or SIGN_IN_SAID.search(title):
        return "identifier" if identifier else "sso"
    return ""


@dataclass
class _Ledger:
    """Everything one root activity met (see the module docstring for the bounds)."""

    evidence: list[Evidence] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    pages: list[PageState] = field(default_factory=list)
    seen: int = 0
    emitted: int = 0
    dropped: int = 0
    # When a browser call last returned normally (`time.perf_counter()`): a timeout before it was handled.
    last_ok_call: float = 0.0
    # The page that call acted on ("" unknown): the page a tool polling by itself was waiting on.
    last_ok_page: str = ""
    # Read from a page just before it closed (and its span event cap): reported if the activity fails.
    before_close: list[tuple[Evidence, int]] = field(default_factory=list)


@dataclass(frozen=True)
class FailureContext:
    """What the rules (and a user classifier) decide from."""

    activity: Activity
    error_type: str
    message: str
    evidence: tuple[Evidence, ...]
    documents: tuple[Document, ...]
    pages: tuple[PageState, ...]
    default: str = UNKNOWN
    # When a browser call last returned normally: a selector timeout before it was caught and handled.
    last_ok_call: float = 0.0
    # The page that call acted on ("" unknown).
    last_ok_page: str = ""

    def document(self) -> Document | None:
        """The document that counts: the failing page's last one (the page of the last failed call), else the latest."""
        failed_pages = [e.page_id for e in self.evidence if e.kind == attr.EVENT_BROWSER_CALL_FAILED and e.page_id]
        if failed_pages:
            mine = [d for d in self.documents if d.page_id == failed_pages[-1]]
            if mine:
                return mine[-1]
        return self.documents[-1] if self.documents else None


FailureClassifier = Callable[[FailureContext], "str | None"]

_ledgers: dict[Activity, _Ledger] = {}
_lock = threading.Lock()
_user_classifier: FailureClassifier | None = None

# How long a failed activity's span waits for the user classifier: it runs in a thread of its
# own, and one slower than this is not waited for (its answer is dropped, the rules' class
# kept), so a slow classifier never holds the tool's answer more than this. Half a second, so
# a quick classifier still answers in time on a loaded machine (the suite runs beside two CPU
# burners: its thread's start and its call share two cores with everything else).
CLASSIFIER_BUDGET_S = 0.5
# Calls of a user classifier still running past their budget: at this many, it is not called
# at all (the rules decide) until one returns, so a hung classifier holds no more threads.
# Counted per classifier: one set in its place starts with a fresh budget.
MAX_LATE_CLASSIFIER_CALLS = 4
# What a class a user classifier returns may be: a short name, as the built-in ones are
# (it is a span attribute, a column and a filter value).
CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
# Late calls still running, by the id of the classifier they called (kept alive by its threads).
_late_calls: dict[int, int] = {}
# (classifier id, what it did wrong) already warned about: one warning each.
_warned: set[tuple[int, str]] = set()


def set_failure_classifier(classifier: FailureClassifier | None) -> None:
    """Decide failure classes with `classifier` first, for every activity of this process.

    Args:
        classifier: called once per failed activity, just before its span ends, with a
            `FailureContext` (the activity, its `error.type` and message, the evidence, the
            main-frame documents and page states met since it started, and `default`, the
            class the built-in rules chose); returns a class name (`CLASS_NAME`: a short
            name such as `quota_exceeded`), or None to keep `default`. One that raises, or
            returns anything else (a number, a long text, a coroutine: it must be a plain
            function), gets one warning and `default` is used. It runs in a thread of its own
            and is waited for at most `CLASSIFIER_BUDGET_S` (500 ms): one slower than that
            gets one warning and `default` is used, so it never delays the tool's answer
            more. None: the built-in rules only.
    """
    global _user_classifier
    _user_classifier = classifier
    with _lock:
        _warned.clear()


def default_failure_classifier(context: FailureContext) -> str:
    """The built-in rules (module docstring), in order."""
    return classify(context)


def ledger_of(activity: Activity) -> _Ledger:
    root = activity.root
    with _lock:
        ledger = _ledgers.get(root)
        if ledger is None:
            ledger = _ledgers[root] = _Ledger()
        return ledger


def record(
    activity: Activity,
    kind: str,
    attributes: Mapping[str, AttributeValue],
    *,
    page_id: str = "",
    cap: int = DEFAULT_CAP,
    emit: bool = True,
    error: BaseException | None = None,
    at: float | None = None,
) -> None:
    """Evidence met by `activity`'s root: a span event (up to `cap` per root, then counted) and input to
    the rules; `error`: the exception of a failed browser call; `at`: when (default: now)."""
    root = activity.root
    if not root.span.is_recording():  # ended (a late event): nothing to attach it to
        return
    met = Evidence(kind, dict(attributes), page_id, at=time.perf_counter() if at is None else at, error=error)
    _keep(root, ledger_of(root), met, cap, emit=emit)


def _keep(root: Activity, ledger: _Ledger, evidence: Evidence, cap: int, *, emit: bool = True) -> None:
    """Count `evidence` and keep it for the rules; a span event on `root` at the time it was met, up to `cap`."""
    with _lock:
        ledger.seen += 1
        if len(ledger.evidence) < MAX_KEPT:
            ledger.evidence.append(evidence)
        if not emit:
            return
        if ledger.emitted >= cap:
            ledger.dropped += 1
            return
        ledger.emitted += 1
    event = dict(evidence.attributes)
    if evidence.page_id:
        event[attr.RECORDING_PAGE_ID] = evidence.page_id
    # When it was met: evidence read before a page closed is reported later, in its place in time.
    timestamp = time.time_ns() - int((time.perf_counter() - evidence.at) * 1e9)
    root.span.add_event(evidence.kind, event, timestamp=timestamp)


def note_document(activity: Activity, document: Document) -> None:
    """A page's main-frame document answered (any status): the rules read the last one."""
    ledger = ledger_of(activity)
    with _lock:
        ledger.documents.append(document)
        if len(ledger.documents) > MAX_KEPT:
            del ledger.documents[0]


def note_page_state(activity: Activity, state: PageState) -> None:
    """What a page showed at a failure, or just before it closed (the rules read it: module docstring)."""
    ledger = ledger_of(activity)
    with _lock:
        ledger.pages.append(state)
        if len(ledger.pages) > MAX_KEPT:
            del ledger.pages[0]


def note_read_before_close(activity: Activity, evidence: Evidence, cap: int = DEFAULT_CAP) -> None:
    """Evidence read from a page just before it closed: kept aside, and evidence (a span event
    at the time it was read, input to the rules) only if the activity fails with no browser
    call returning normally after it (`_report_before_close`)."""
    ledger = ledger_of(activity)
    with _lock:
        if len(ledger.before_close) < MAX_KEPT:
            ledger.before_close.append((evidence, cap))


def trouble_pending(activity: Activity) -> bool:
    """Whether a browser call of `activity`'s root raised and none returned normally since."""
    ledger = _ledgers.get(activity.root)
    if ledger is None:
        return False
    with _lock:
        return any(e.kind == attr.EVENT_BROWSER_CALL_FAILED and e.at > ledger.last_ok_call for e in ledger.evidence)


def pages_touched(activity: Activity) -> set[str]:
    """Page ids `activity` loaded a document in or met evidence in since it started."""
    ledger = ledger_of(activity)
    since = started_at(activity)
    with _lock:
        return {d.page_id for d in ledger.documents if d.at >= since} | {
            e.page_id for e in ledger.evidence if e.at >= since and e.page_id
        }


def note_call_succeeded(activity: Activity, page_id: str = "") -> None:
    """A browser call of `activity` returned normally, on page `page_id` ("" unknown) (cheap: only a
    root that already met evidence or a document notes it)."""
    ledger = _ledgers.get(activity.root)
    if ledger is not None:
        ledger.last_ok_call = time.perf_counter()
        ledger.last_ok_page = page_id


def _chain(error: BaseException | None) -> list[BaseException]:
    """`error` and the exceptions it chains to (`__cause__`, `__context__`: Playwright re-raises a
    call's error as a new one `from None`, whose context is the original), at most 32."""
    found: list[BaseException] = []
    todo = [error]
    while todo and len(found) < 32:
        current = todo.pop()
        if current is None or any(current is f for f in found):
            continue
        found.append(current)
        todo += [current.__context__, current.__cause__]
    return found


def _last_ok_for(ledger: _Ledger, error: BaseException | None) -> float:
    """`ledger.last_ok_call`, or just before the failed browser call whose exception `error` is or
    chains to, when that call came first: calls made while handling it (a screenshot, a title) are
    no handling of it, since the failure goes on through the tool (module docstring)."""
    chain = _chain(error)
    carried = [e.at for e in ledger.evidence if e.error is not None and any(e.error is c for c in chain)]
    if carried and carried[-1] <= ledger.last_ok_call:
        return carried[-1] - 1e-6
    return ledger.last_ok_call


def last_ok_call_for(activity: Activity, error: BaseException | None = None) -> float:
    """When a browser call of `activity`'s root last returned normally, as the rules of a failure with
    `error` (default: the exception `activity` failed with) see it (`_last_ok_for`)."""
    ledger = _ledgers.get(activity.root)
    if ledger is None:
        return 0.0
    with _lock:
        return _last_ok_for(ledger, error if error is not None else activity.error)


def started_at(activity: Activity) -> float:
    """When `activity` started, on `time.perf_counter()`'s clock."""
    return time.perf_counter() - activity.elapsed_s


def _document_status(context: FailureContext) -> int:
    document = context.document()
    return document.status if document is not None else 0


def classify(context: FailureContext) -> str:
    """The built-in rules, first match wins (module docstring)."""
    # What the pages showed, read after the last browser call that returned (module docstring).
    pages = [p for p in context.pages if p.at >= context.last_ok_call]
    evidence: Sequence[Evidence] = context.evidence
    failing = _failing_page(context) or _polled_page(context)
    if failing:
        # The page the failing call acted on: another tab's trouble is not this failure's.
        evidence = [e for e in evidence if not e.page_id or e.page_id == failing]
        pages = [p for p in pages if p.page_id == failing]
    kinds = {e.kind for e in evidence}
    crash_said = _CRASHED.search(context.message) and any(_crashed_call(e) for e in evidence)
    if attr.EVENT_PAGE_CRASHED in kinds or crash_said:
        return BROWSER_CRASH
    status = _document_status(context)
    # A gate's lone widget counts only where a browser call failed on the page (rule 2).
    held = bool(failing)
    shown = any(_marker_counts(p.challenge_marker, held) for p in pages) or any(
        _challenge_shown(e, held) for e in evidence
    )
    # A provider's script or frame was loaded: on its own, any page with a form may do that.
    loaded = attr.EVENT_CHALLENGE in kinds
    signed_out_form = any(p.sign_in_form for p in pages)
    api = _api_statuses_before_failure(evidence, context, failing)
    blocked = status in _BLOCKED or 429 in api
    if shown or (loaded and status in (*_BLOCKED, 503)) or (blocked and not signed_out_form):
        return BOT_CHALLENGE
    if signed_out_form or status == 401 or any(_unauthorized(e, context) for e in evidence):
        return SIGNED_OUT
    if 500 <= status < 600 or any(500 <= s < 600 for s in api):
        return SITE_ERROR
    # The tool's own timeout (`asyncio.wait_for`) cancelled a browser call: that call timed out.
    timed_out = context.error_type == "TimeoutError"
    cancelled = [
        e
        for e in evidence
        if timed_out
        and e.kind == attr.EVENT_BROWSER_CALL_FAILED
        and e.attributes.get(attr.ERROR_TYPE) == CANCELLED
        and e.at > context.last_ok_call
    ]
    # Playwright's TimeoutError from a wait that is no protocol call (none failed), in an activity
    # that used a browser (a document loaded).
    waited = (
        timed_out
        and bool(context.documents)
        and _PLAYWRIGHT_TIMEOUT.search(context.message) is not None
        and not any(e.kind == attr.EVENT_BROWSER_CALL_FAILED and e.at > context.last_ok_call for e in evidence)
    )
    if any(e.attributes.get(attr.BROWSER_RESOURCE_TYPE) == "Document" for e in cancelled) or (
        waited and _NAVIGATION_WAIT.search(context.message)
    ):
        return NAVIGATION_ERROR
    if attr.EVENT_NAVIGATION_ERROR in kinds or any(
        e.kind == attr.EVENT_BROWSER_CALL_FAILED and _NET_ERROR.search(str(e.attributes.get(attr.BROWSER_ERROR, "")))
        for e in evidence
    ):
        return NAVIGATION_ERROR
    if (
        attr.EVENT_ELEMENT_MISSING in kinds
        or any(
            e.kind == attr.EVENT_BROWSER_CALL_FAILED
            and _waited_for_the_page(e)
            and _timed_out(e)
            and e.at > context.last_ok_call
            for e in evidence
        )
        or any(_waited_for_the_page(e) for e in cancelled)
    ):
        return ELEMENT_MISSING
    if waited or cancelled:
        return UNKNOWN  # the browser did not do what was waited for (a response, a popup)
    return UNKNOWN if any(_tells_of_failure(e, context) for e in evidence) else TOOL_ERROR


def _api_statuses_before_failure(evidence: Sequence[Evidence], context: FailureContext, failing: str) -> set[int]:
    """The statuses >= 400 the failing page's own XHR or fetch to its own site answered before the
    failing browser call failed (rules 2 and 4): an SPA's data call answering 429 or 5xx, then the
    awaited element missing. None without a failed browser call: after good browser work, the
    tool's own error is not explained by an API's answer."""
    if not failing:
        return set()
    failed_at = max(
        (e.at for e in evidence if e.kind == attr.EVENT_BROWSER_CALL_FAILED and e.at > context.last_ok_call),
        default=0.0,
    )
    found: set[int] = set()
    for e in evidence:
        status = e.attributes.get(attr.HTTP_RESPONSE_STATUS_CODE)
        if (
            e.kind == attr.EVENT_HTTP_ERROR
            and e.page_id == failing
            and e.at < failed_at
            and isinstance(status, int)
            and not e.attributes.get(attr.BROWSER_DOCUMENT)
            and _own_api(e, context)
        ):
            found.add(status)
    return found


def _polled_page(context: FailureContext) -> str:
    """The page a tool was waiting on by itself when its own timeout ran out ("" when none): the
    activity fails with the builtin TimeoutError (`asyncio.wait_for`, `asyncio.timeout`; not
    Playwright's, which is no builtin one) with no browser call failed since the last one that
    returned, which acted on this page (a loop polling `query_selector` cancelled in its sleep)."""
    if not context.last_ok_page or not any(isinstance(e, TimeoutError) for e in _chain(context.activity.error)):
        return ""
    return context.last_ok_page


def _failing_page(context: FailureContext) -> str:
    """The page the last unhandled failed browser call acted on ("" when none is known)."""
    failed = [
        e.page_id
        for e in context.evidence
        if e.kind == attr.EVENT_BROWSER_CALL_FAILED and e.page_id and e.at > context.last_ok_call
    ]
    return failed[-1] if failed else ""


def _crashed_call(evidence: Evidence) -> bool:
    """A browser call that failed because its page or browser went away (a crash the message names is
    the browser's only with such a call: a tool's own RuntimeError saying "page crashed" is not)."""
    if evidence.kind != attr.EVENT_BROWSER_CALL_FAILED:
        return False
    error_type = str(evidence.attributes.get(attr.ERROR_TYPE, ""))
    return "TargetClosed" in error_type or bool(_CRASHED.search(str(evidence.attributes.get(attr.BROWSER_ERROR, ""))))


def _marker_counts(marker: str, held: bool) -> bool:
    """Whether a page's challenge marker is its challenge: any but a gate's, which counts only `held`
    (a browser call failed on the page)."""
    return bool(marker) and (held or not marker.startswith(GATE_MARKER))


def _challenge_shown(evidence: Evidence, held: bool) -> bool:
    """Evidence that a challenge is what the page shows: a page marker read at the failure (a gate's
    only `held`), or a provider's frame document answering 403 or 429 (seen only by the network when
    it is in a cross-site frame the page's own reads cannot enter)."""
    if evidence.kind == attr.EVENT_CHALLENGE:
        provider = str(evidence.attributes.get(attr.BROWSER_CHALLENGE_PROVIDER, ""))
        return provider.startswith(PAGE_MARKER) and _marker_counts(provider.removeprefix(PAGE_MARKER), held)
    return (
        evidence.kind == attr.EVENT_HTTP_ERROR
        and evidence.attributes.get(attr.BROWSER_RESOURCE_TYPE) == "Document"
        and evidence.attributes.get(attr.HTTP_RESPONSE_STATUS_CODE) in _BLOCKED
        and challenge_provider(str(evidence.attributes.get(attr.URL_FULL, ""))) is not None
    )


def _unauthorized(evidence: Evidence, context: FailureContext) -> bool:
    """A 401 that says the visitor is signed out: the document's, or the page's own XHR or fetch to
    its own site. Not an image's, nor a third party's (a beacon, a widget's API)."""
    if evidence.kind != attr.EVENT_HTTP_ERROR or evidence.attributes.get(attr.HTTP_RESPONSE_STATUS_CODE) != 401:
        return False
    return bool(evidence.attributes.get(attr.BROWSER_DOCUMENT)) or _own_api(evidence, context)


def _own_api(evidence: Evidence, context: FailureContext) -> bool:
    """Whether `evidence` is of the page's own XHR or fetch to its own site (the same registrable
    domain as its page's last document): not an image's or a script's, nor a third party's."""
    if evidence.attributes.get(attr.BROWSER_RESOURCE_TYPE) not in ("XHR", "Fetch"):
        return False
    documents = [d for d in context.documents if d.page_id == evidence.page_id] or list(context.documents)
    return bool(documents) and _same_site(str(evidence.attributes.get(attr.URL_FULL, "")), documents[-1].url)


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List as `publicsuffixlist` bundles it (ICANN and private sections); never
    fetched; built once, on the first 401 of an XHR or fetch in a failed activity (0.19 s here, load 11)."""
    return PublicSuffixList()


def _site(host: str) -> str:
    """A host's registrable domain by the Public Suffix List (`api.shop.co.uk` -> `shop.co.uk`,
    `alice.github.io` whole); an IP address, `localhost` or a bare suffix stands for itself."""
    if host.replace(".", "").isdigit() or ":" in host:
        return host
    return _public_suffixes().privatesuffix(host) or host


def _same_site(url: str, other: str) -> bool:
    """Whether two URLs' hosts are one site: the same registrable domain (`api.shop.co.uk` and
    `www.shop.co.uk`, not `beacons.co.uk`; `alice.github.io`, not `mallory.github.io`)."""
    try:
        one, two = (urlsplit(u).hostname or "" for u in (url, other))
    except ValueError:
        return False
    if not one or not two:
        return False
    return _site(one.lower().rstrip(".")) == _site(two.lower().rstrip("."))


def _tells_of_failure(evidence: Evidence, context: FailureContext) -> bool:
    """Whether a piece of evidence could be why the activity failed (rules 7 and 8): all but a
    sub-resource's error response or failed request of any status or error (a missing image, a
    tracker's 403, a 502 pixel, a refused analytics script, a cross-site fetch's net::ERR_FAILED),
    which good pages are full of, unless it is the document's or the page's own XHR or fetch to
    its own site (`_own_api`); a challenge provider's script or frame loaded (a form's widget,
    reCAPTCHA v3 on every page); a dialog or a download, which pages show in their ordinary work."""
    if evidence.kind in (attr.EVENT_DIALOG, attr.EVENT_DOWNLOAD):
        return False
    if evidence.kind == attr.EVENT_CHALLENGE:
        return _challenge_shown(evidence, held=False)
    if evidence.kind == attr.EVENT_REQUEST_FAILED:
        return _own_api(evidence, context)
    if evidence.kind != attr.EVENT_HTTP_ERROR or evidence.attributes.get(attr.BROWSER_DOCUMENT):
        return True
    return _own_api(evidence, context)


def _timed_out(evidence: Evidence) -> bool:
    return "timeout" in str(evidence.attributes.get(attr.BROWSER_ERROR, "")).lower()


# Protocol calls that wait for the page to reach a state the tool describes in code, not by a
# selector: `page.wait_for_function` (rule 6).
_PAGE_STATE_WAITS = frozenset({"waitForFunction"})


def _waited_for_the_page(evidence: Evidence) -> bool:
    """A failed call that waited for something in the page: a selector, or a condition (rule 6)."""
    return (
        attr.BROWSER_SELECTOR in evidence.attributes
        or evidence.attributes.get(attr.BROWSER_ACTION) in _PAGE_STATE_WAITS
    )


def _report_before_close(ending: Activity) -> None:
    """`ending` failed: what its pages showed just before they closed becomes evidence, unless a
    browser call returned normally after it was read (then the tool went on; it is dropped)."""
    root = ending.root
    ledger = _ledgers.get(root)
    if ledger is None or not ledger.before_close or not root.span.is_recording():
        return
    with _lock:
        kept, ledger.before_close = ledger.before_close, []
    last_ok = last_ok_call_for(ending)
    for evidence, cap in kept:
        if evidence.at >= last_ok:
            _keep(root, ledger, evidence, cap)


def _context_for(ending: Activity) -> FailureContext:
    ledger = ledger_of(ending)
    since = started_at(ending)
    with _lock:
        last_ok = _last_ok_for(ledger, ending.error)
        evidence = tuple(e for e in ledger.evidence if e.at >= since)
        documents = tuple(d for d in ledger.documents if d.at >= since)
        pages = tuple(p for p in ledger.pages if p.at >= since and p.at >= last_ok)
        last_ok_page = ledger.last_ok_page if ledger.last_ok_call >= since else ""
    status = getattr(ending.span, "status", None)
    message = str(getattr(status, "description", "") or "")
    return FailureContext(
        ending,
        ending.error_type or "",
        message,
        evidence,
        documents,
        pages,
        last_ok_call=last_ok,
        last_ok_page=last_ok_page,
    )


def _first_time(classifier: FailureClassifier, fault: str) -> bool:
    """Whether `classifier` shows `fault` for the first time: it runs for every failed activity,
    and one warning a fault is enough."""
    key = (id(classifier), fault)
    with _lock:
        if key in _warned:
            return False
        _warned.add(key)
        return True


def _warn_once(classifier: FailureClassifier, fault: str, message: str, *args: object) -> None:
    if _first_time(classifier, fault):
        logger.warning(message + " (said once)", *args)


# What `_ask` returns when the classifier gave no answer to use.
_RAISED, _LATE, _SKIPPED = object(), object(), object()


class _ClassifierCall:
    """One call of the user classifier, in a thread of its own with the caller's context
    variables: a classifier is user code that may block (a lookup, a lock), and the span, so
    the tool's answer, waits on it. `outcome` after waiting for `finished` at most
    `CLASSIFIER_BUDGET_S`: the answer, else `_LATE` (or `_RAISED`)."""

    def __init__(self, classifier: FailureClassifier, context: FailureContext) -> None:
        self.key = id(classifier)
        self.answer: list[object] = []
        self.finished = threading.Event()
        self.late = threading.Event()
        self._classifier = classifier
        self._context = context
        variables = contextvars.copy_context()
        threading.Thread(
            target=variables.run, args=(self._run,), name="getgather-otel-failure-classifier", daemon=True
        ).start()

    @classmethod
    def start(cls, classifier: FailureClassifier, context: FailureContext) -> _ClassifierCall | None:
        """None when the classifier has `MAX_LATE_CLASSIFIER_CALLS` calls still running late."""
        with _lock:
            if _late_calls.get(id(classifier), 0) >= MAX_LATE_CLASSIFIER_CALLS:
                return None
        return cls(classifier, context)

    def _run(self) -> None:
        try:
            self.answer.append(self._classifier(self._context))
        except BaseException:  # a classifier calling sys.exit() is user code failing too
            self.answer.append(_RAISED)
            log = logger.warning if _first_time(self._classifier, "raised") else logger.debug
            log(
                "the failure classifier raised for activity %r; the rules' class is used (said once)",
                self._context.activity.name,
                exc_info=True,
            )
        finally:
            with _lock:
                self.finished.set()
                if self.late.is_set():
                    left = _late_calls.get(self.key, 1) - 1
                    if left > 0:
                        _late_calls[self.key] = left
                    else:
                        _late_calls.pop(self.key, None)

    def outcome(self) -> object:
        with _lock:
            if not self.finished.is_set():
                self.late.set()
                _late_calls[self.key] = _late_calls.get(self.key, 0) + 1
                return _LATE
        return self.answer[0]


def _ask(classifier: FailureClassifier, context: FailureContext) -> object:
    """The classifier's answer within `CLASSIFIER_BUDGET_S`, waited for in this thread (an
    activity that is no `async with`), else `_LATE` (or `_SKIPPED`, `_RAISED`)."""
    call = _ClassifierCall.start(classifier, context)
    if call is None:
        return _SKIPPED
    call.finished.wait(CLASSIFIER_BUDGET_S)
    return call.outcome()


async def _ask_async(classifier: FailureClassifier, context: FailureContext) -> object:
    """As `_ask`, waited for without holding the event loop: a slow classifier delays the failed
    call's answer, never the server's other requests (a newcomer's break: three failing calls
    beside forty fast ones stalled the loop 1.6 s)."""
    call = _ClassifierCall.start(classifier, context)
    if call is None:
        return _SKIPPED
    await asyncio.to_thread(call.finished.wait, CLASSIFIER_BUDGET_S)
    return call.outcome()


def _context_and_default(ending: Activity) -> tuple[FailureContext, str]:
    """What a classifier is shown, with `default`, the rules' class, filled in."""
    _report_before_close(ending)
    context = _context_for(ending)
    default = classify(context)
    return FailureContext(**{**context.__dict__, "default": default}), default


def _decide(ending: Activity) -> str:
    """The rules' class, or the user classifier's when it gives a valid one in time (`set_failure_classifier`)."""
    classifier = _user_classifier
    context, default = _context_and_default(ending)
    if classifier is None:
        return default
    return _choice(classifier, _ask(classifier, context), default)


async def _decide_ahead(ending: Activity) -> None:
    """A failed `async with` activity's class, when a user classifier is set: decided after the
    other failure hooks gathered their evidence, just before the span ends (`_on_end` takes it)."""
    classifier = _user_classifier
    if classifier is None or ending.error_type is None:
        return
    context, default = _context_and_default(ending)
    chosen = _choice(classifier, await _ask_async(classifier, context), default)
    with _lock:
        _decided[ending] = chosen


# Classes decided ahead by `_decide_ahead`, until their activity's span ends.
_decided: dict[Activity, str] = {}


def _choice(classifier: FailureClassifier, chosen: object, default: str) -> str:
    """The class to store: the classifier's answer when it is a valid class name, else `default`
    (with one warning for each way a classifier gets it wrong)."""
    if chosen is None:
        return default
    if isinstance(chosen, str):
        # A str subclass may print otherwise than it compares: what is checked is what is stored.
        name = str.__str__(chosen)
        if name == "":
            return default
        if CLASS_NAME.fullmatch(name):
            return name
    if chosen is _LATE or chosen is _SKIPPED:
        _warn_once(
            classifier,
            "late",
            "the failure classifier took longer than %s s; its answer is not waited for and the built-in rules' "
            "class is used meanwhile",
            CLASSIFIER_BUDGET_S,
        )
    elif chosen is _RAISED:
        pass  # warned in its thread, with the traceback
    elif inspect.iscoroutine(chosen):
        chosen.close()  # never awaited: no "never awaited" warning besides ours
        _warn_once(classifier, "async", "the failure classifier must be a plain function, not async; using %s", default)
    else:
        _warn_once(
            classifier,
            "invalid",
            "the failure classifier returned %s, not a class name (a str matching %s) or None; using %s",
            type(chosen).__name__,
            CLASS_NAME.pattern,
            default,
        )
    return default


def _on_end(ending: Activity) -> None:
    with _lock:
        decided = _decided.pop(ending, None)
    if ending.error_type is not None:
        ending.set_attribute(attr.FAILURE_CLASS, decided if decided is not None else _decide(ending))
    if ending.parent is not None:
        return
    with _lock:
        ledger = _ledgers.pop(ending, None)
    if ledger is not None and ledger.seen:
        ending.set_attributes({attr.EVIDENCE_EVENTS: ledger.seen, attr.EVIDENCE_DROPPED: ledger.dropped})


def _on_start(_started: Activity) -> None:
    return None


def install() -> None:
    """Classify every failed activity from now on (idempotent; `configure()` calls it)."""
    activities.add_lifecycle_hooks(_on_start, _on_end)
    activities.add_failure_hook(_decide_ahead, last=True)
