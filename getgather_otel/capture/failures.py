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

1. `browser_crash`: a page crashed (or the error says the target crashed).
2. `bot_challenge`: a known challenge provider's frame or script was requested
   (`CHALLENGE_PROVIDERS`), the document answered 403 or 429, or a page at the failure
   shows challenge markers (`CHALLENGE_MARKERS`, read by `recording/evidence.py`).
3. `signed_out`: a response answered 401, or a page at the failure shows a sign-in form
   (`sign_in_form_kind`): a password field on a page whose URL or title says sign in /
   log in (`SIGN_IN_WORDS`) or whose heading does (`SIGN_IN_SAID`); or, identifier first
   (Google, Amazon, Microsoft: the email now, the password on the next step), an identifier
   field (`autocomplete` username or email, `type=email`, or a name or id with email, user,
   login or identifier in it) with a button in its form (not one that says subscribe or
   newsletter) on a page whose URL's host or path (not its query: `?from=signin`), title or
   heading says sign in / log in (`SIGN_IN_SAID`); or, single sign-on, no field at all but a
   button, link or frame titled to sign in with another account (`SSO_SAID`: "Sign in with
   Google", "Continue with Apple") on such a page. An email box alone, a newsletter's, is
   not, nor is a "Sign in with Google" button on a page that does not say sign in.
4. `site_error`: the document answered 5xx.
5. `navigation_error`: the main frame's document failed to load (refused, DNS, TLS,
   aborted by the network), a navigation call raised with a `net::` error, or a navigation
   call of the main frame (goto, reload, back, forward) timed out: a server that accepts and
   never answers fails nothing on the network, the request just stays open.
6. `element_missing`: a browser call waiting for a selector timed out, and no browser call
   returned normally after it (a timeout the tool caught and moved on from does not count;
   the page loaded: rules 2-5 did not match). `browser.element.missing` names the selector and whether it
   matches in the page at the failure checkpoint, or just before the page closed
   (`getgather.failure.selector_matches`), and whether a match is visible
   (`getgather.failure.selector_visible`: there but hidden, or there and shown).
7. `tool_error`: the activity failed with no browser evidence of failure: none at all, or
   only sub-resource responses with a 4xx status (a missing image on a page that worked).
8. `unknown`: browser evidence of failure, but none of the rules above.

Page states (and what was read from them) count only when read after the last browser call
that returned normally: a page read as it closed, after which the tool went on and used
another page successfully, is not what the activity failed on.

A user classifier (`set_failure_classifier`) sees the same `FailureContext`, including the
class these rules chose (`default`), and returns a class (`CLASS_NAME`), or None to keep the
default; anything else, or no answer within `CLASSIFIER_BUDGET_S`, keeps the default too.

Evidence of a page is its driver's: the root activity whose browser call last acted on it
(`recording/evidence.py`), so activities running at once on one context each get their own.
"""

from __future__ import annotations

import contextvars
import inspect
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from getgather_otel._log import logger
from getgather_otel.capture import activity as activities
from getgather_otel.capture import attributes as attr
from getgather_otel.capture.activity import Activity

__all__ = [
    "BOT_CHALLENGE",
    "BROWSER_CRASH",
    "CHALLENGE_MARKERS",
    "CHALLENGE_PROVIDERS",
    "CLASSIFIER_BUDGET_S",
    "CLASS_NAME",
    "DEFAULT_CAP",
    "ELEMENT_MISSING",
    "FAILURE_CLASSES",
    "MAX_KEPT",
    "MAX_LATE_CLASSIFIER_CALLS",
    "NAVIGATION_ERROR",
    "SIGNED_OUT",
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
# Read in a page when an activity fails (recording/evidence.py): selectors, then title patterns.
CHALLENGE_MARKERS: dict[str, tuple[str, ...]] = {
    "selectors": (
        "#challenge-form",
        "#challenge-running",
        "#cf-challenge-running",
        ".cf-turnstile",
        "#px-captcha",
        ".g-recaptcha",
        ".h-captcha",
        "iframe[src*='captcha']",
        "iframe[src*='challenge']",
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
}
# In a URL or a title, beside a password field: the page is a sign-in page.
SIGN_IN_WORDS = re.compile(r"sign[\s_-]?in|log[\s_-]?in|logon|auth|session/new|account/access", re.IGNORECASE)
# Narrower, for what says less on its own: a heading, and an identifier-only form's page (its
# URL's host and path, title, heading). Whole words, so an /authors/ page or "designing" is not one.
SIGN_IN_SAID = re.compile(
    r"(?:sign|log)[\s_-]?(?:in|on)\b|\bauth(?:enticate|orize)?\b|session/new|account/access", re.IGNORECASE
)
# A control (button, link, the title of a provider's button frame) that signs in through another
# account: "Sign in with Google", "Continue with Apple", "Log in using SSO".
SSO_SAID = re.compile(
    r"\b(?:sign|log)[\s_-]?(?:in|on)\s+(?:with|using|via|through)\b"
    r"|\bcontinue\s+with\s+(?:google|apple|microsoft|facebook|github|gitlab|amazon|linkedin|twitter|x|okta|sso|saml"
    r"|email|phone)\b|\bsingle\s+sign[\s-]?on\b|\bsso\b",
    re.IGNORECASE,
)
_NET_ERROR = re.compile(r"net::ERR_[A-Z_]+")
_CRASHED = re.compile(r"target crashed|page crashed", re.IGNORECASE)


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


def sign_in_form_kind(
    url: str,
    title: str,
    headings: Sequence[str] = (),
    *,
    password: bool = False,
    identifier: bool = False,
    controls: Sequence[str] = (),
) -> str:
    """The sign-in form a page shows (rule 3): "password", "identifier" (identifier first), "sso"
    (only a button to sign in with another account), or "".

    Args:
        url: the page's URL (unredacted: only matched, never kept).
        title: the document's title.
        headings: the texts of its headings (h1, h2, role=heading).
        password: the page has a password field.
        identifier: it has an identifier field with a button in its form (read in the page).
        controls: the labels of its buttons and links (text, value, aria-label, title), and
            the titles of its frames (a provider's button is often a frame of its own); only
            matched against `SSO_SAID`, never kept.
    """
    heading = any(SIGN_IN_SAID.search(text) for text in headings)
    if password and (heading or SIGN_IN_WORDS.search(url + " " + title)):
        return "password"
    if not identifier and not any(SSO_SAID.search(label) for label in controls):
        return ""
    # Fields and buttons like these are common on ordinary pages (a newsletter box, a header's
    # "Sign in with Google"): the page itself has to say it is a sign-in page.
    try:
        parts = urlsplit(url)
        where = f"{parts.hostname or ''}{parts.path}"
    except ValueError:
        where = ""
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
# Calls of the user classifier still running past their budget: at this many, it is not
# called at all (the rules decide) until one returns, so a hung classifier holds no more threads.
MAX_LATE_CLASSIFIER_CALLS = 4
# What a class a user classifier returns may be: a short name, as the built-in ones are
# (it is a span attribute, a column and a filter value).
CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_late_calls = 0
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
) -> None:
    """Evidence met by `activity`'s root: a span event (up to `cap` per root, then counted) and input to the rules."""
    root = activity.root
    if not root.span.is_recording():  # ended (a late event): nothing to attach it to
        return
    _keep(root, ledger_of(root), Evidence(kind, dict(attributes), page_id), cap, emit=emit)


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


def note_call_succeeded(activity: Activity) -> None:
    """A browser call of `activity` returned normally (cheap: only a root that already met evidence notes it)."""
    ledger = _ledgers.get(activity.root)
    if ledger is not None:
        ledger.last_ok_call = time.perf_counter()


def started_at(activity: Activity) -> float:
    """When `activity` started, on `time.perf_counter()`'s clock."""
    return time.perf_counter() - activity.elapsed_s


def _document_status(context: FailureContext) -> int:
    document = context.document()
    return document.status if document is not None else 0


def classify(context: FailureContext) -> str:
    """The built-in rules, first match wins (module docstring)."""
    evidence = context.evidence
    kinds = {e.kind for e in evidence}
    if attr.EVENT_PAGE_CRASHED in kinds or _CRASHED.search(context.message):
        return BROWSER_CRASH
    status = _document_status(context)
    # What the pages showed, read after the last browser call that returned (module docstring).
    pages = [p for p in context.pages if p.at >= context.last_ok_call]
    if attr.EVENT_CHALLENGE in kinds or status in (403, 429) or any(p.challenge_marker for p in pages):
        return BOT_CHALLENGE
    statuses = {e.attributes.get(attr.HTTP_RESPONSE_STATUS_CODE) for e in evidence if e.kind == attr.EVENT_HTTP_ERROR}
    if 401 in statuses or status == 401 or any(p.sign_in_form for p in pages):
        return SIGNED_OUT
    if 500 <= status < 600:
        return SITE_ERROR
    if attr.EVENT_NAVIGATION_ERROR in kinds or any(
        e.kind == attr.EVENT_BROWSER_CALL_FAILED and _NET_ERROR.search(str(e.attributes.get(attr.BROWSER_ERROR, "")))
        for e in evidence
    ):
        return NAVIGATION_ERROR
    if attr.EVENT_ELEMENT_MISSING in kinds or any(
        e.kind == attr.EVENT_BROWSER_CALL_FAILED
        and attr.BROWSER_SELECTOR in e.attributes
        and _timed_out(e)
        and e.at > context.last_ok_call
        for e in evidence
    ):
        return ELEMENT_MISSING
    return UNKNOWN if any(_tells_of_failure(e) for e in evidence) else TOOL_ERROR


def _tells_of_failure(evidence: Evidence) -> bool:
    """Whether a piece of evidence could be why the activity failed (rules 7 and 8): all but a
    sub-resource's 4xx (a missing image, a tracker's 403), which good pages are full of."""
    if evidence.kind != attr.EVENT_HTTP_ERROR or evidence.attributes.get(attr.BROWSER_DOCUMENT):
        return True
    status = evidence.attributes.get(attr.HTTP_RESPONSE_STATUS_CODE)
    return not (isinstance(status, int) and 400 <= status < 500)


def _timed_out(evidence: Evidence) -> bool:
    return "timeout" in str(evidence.attributes.get(attr.BROWSER_ERROR, "")).lower()


def _report_before_close(ending: Activity) -> None:
    """`ending` failed: what its pages showed just before they closed becomes evidence, unless a
    browser call returned normally after it was read (then the tool went on; it is dropped)."""
    root = ending.root
    ledger = _ledgers.get(root)
    if ledger is None or not ledger.before_close or not root.span.is_recording():
        return
    with _lock:
        kept, ledger.before_close = ledger.before_close, []
    for evidence, cap in kept:
        if evidence.at >= ledger.last_ok_call:
            _keep(root, ledger, evidence, cap)


def _context_for(ending: Activity) -> FailureContext:
    ledger = ledger_of(ending)
    since = started_at(ending)
    with _lock:
        evidence = tuple(e for e in ledger.evidence if e.at >= since)
        documents = tuple(d for d in ledger.documents if d.at >= since)
        pages = tuple(p for p in ledger.pages if p.at >= since and p.at >= ledger.last_ok_call)
    status = getattr(ending.span, "status", None)
    message = str(getattr(status, "description", "") or "")
    return FailureContext(
        ending, ending.error_type or "", message, evidence, documents, pages, last_ok_call=ledger.last_ok_call
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


def _ask(classifier: FailureClassifier, context: FailureContext) -> object:
    """The classifier's answer within `CLASSIFIER_BUDGET_S`, else `_LATE` (or `_SKIPPED`, `_RAISED`).

    In a thread of its own, with the caller's context variables: a classifier is user code
    that may block (a lookup, a lock), and the span, so the tool's answer, waits on it.
    """
    global _late_calls
    with _lock:
        if _late_calls >= MAX_LATE_CLASSIFIER_CALLS:
            return _SKIPPED
    answer: list[object] = []
    finished = threading.Event()
    late = threading.Event()

    def run() -> None:
        global _late_calls
        try:
            answer.append(classifier(context))
        except Exception:
            answer.append(_RAISED)
            log = logger.warning if _first_time(classifier, "raised") else logger.debug
            log(
                "the failure classifier raised for activity %r; the rules' class is used (said once)",
                context.activity.name,
                exc_info=True,
            )
        finally:
            with _lock:
                finished.set()
                if late.is_set():
                    _late_calls -= 1

    variables = contextvars.copy_context()
    threading.Thread(target=variables.run, args=(run,), name="getgather-otel-failure-classifier", daemon=True).start()
    finished.wait(CLASSIFIER_BUDGET_S)
    with _lock:
        if not finished.is_set():
            late.set()
            _late_calls += 1
            return _LATE
    return answer[0]


def _decide(ending: Activity) -> str:
    """The rules' class, or the user classifier's when it gives a valid one in time (`set_failure_classifier`)."""
    context = _context_for(ending)
    default = classify(context)
    classifier = _user_classifier
    if classifier is None:
        return default
    chosen = _ask(classifier, FailureContext(**{**context.__dict__, "default": default}))
    if chosen is None or chosen == "":
        return default
    if isinstance(chosen, str) and CLASS_NAME.fullmatch(chosen):
        return str(chosen)
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
    if ending.error_type is not None:
        _report_before_close(ending)
        ending.set_attribute(attr.FAILURE_CLASS, _decide(ending))
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
