"""What a recording may keep (privacy) and how much a page may send (limits).

Defaults are the private ones: every input kind masked with one fixed-width mask (hidden
inputs, editable regions and select choices included; password fields whatever the options
say), cards and token shapes masked in page text, `rr-block` elements not recorded, `rr-mask`
text masked, URLs redacted by key and by value (`urls.py`). Emails and phones are opt-in.
A page is untrusted, so every limit here is enforced in Python on what arrives, not only by
the in-page script the page could replace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from getgather_otel.capture import attributes as attr
from getgather_otel.capture.secret_values import INLINE_TAGS, PATTERNS
from getgather_otel.recording.scrub import LIST_ATTRIBUTES, URL_ATTRIBUTES

__all__ = [
    "DEFAULT_TEXT_PATTERNS",
    "DEFAULT_URL_SECRET_WORDS",
    "PAGE_MASK_KINDS",
    "PART_CHARS",
    "PATTERN_KEPT_ATTRIBUTES",
    "TEXT_PATTERNS",
    "RecordingOptions",
]

# Named text patterns for `mask_text_patterns` (regular expressions, run in the page):
# "card" (Luhn-checked), "jwt", "token" (API-key and bearer-token shapes), "email", "phone".
TEXT_PATTERNS: dict[str, str] = dict(PATTERNS)
# Masked in recorded page text unless the options say otherwise; emails and phones are opt-in.
DEFAULT_TEXT_PATTERNS: tuple[str, ...] = ("card", "jwt", "token")
# The audit kinds the recorder's world counts (`js/privacy.js`, a payload's `masked` field):
# a payload naming any other is not one `js/world.js` built, and is rejected.
PAGE_MASK_KINDS: frozenset[str] = frozenset(
    {attr.REDACTION_INPUT_VALUE, attr.REDACTION_SELECT, attr.REDACTION_EDITABLE, attr.REDACTION_TEXT_CLASS}
    | {attr.REDACTION_TEXT_PREFIX + name for name in TEXT_PATTERNS}
    | {attr.REDACTION_TEXT_PATTERN}
)

# Attributes whose values the text patterns leave alone (`js/privacy.js`): every other
# attribute's value is masked like page text (a card number in a button input's `value`, in
# `<meta content>`, in `data-*`). These a replay needs as they are (ids and the attributes that
# refer to them, classes, styles, SVG geometry, subresource integrity), or Python redacts as
# URLs (`scrub.py`), counted by URL kind. rrweb's own (`rr_*`, `_cssText`) are left alone too.
PATTERN_KEPT_ATTRIBUTES: frozenset[str] = (
    URL_ATTRIBUTES
    | LIST_ATTRIBUTES
    | {"id", "class", "style", "srcdoc", "name", "for", "form", "list", "headers", "usemap", "integrity", "nonce"}
    | {"aria-labelledby", "aria-describedby", "aria-controls", "aria-owns", "aria-activedescendant"}
    | {"aria-details", "aria-errormessage", "aria-flowto"}
    | {"d", "points", "viewBox", "viewbox", "transform", "gradientTransform", "patternTransform", "path"}
    | {"values", "keyTimes", "keySplines", "keyPoints", "stroke-dasharray"}
)

# Size of one full-snapshot part and of one payload (characters of JSON).
PART_CHARS = 1024 * 1024
# A payload this big costs the page ~1 ms through the binding, the size where a Blob's extra
# round trips to Python pay (bench/payload_transfer.py).
BLOB_CHARS = 64 * 1024

# Query keys (and `data-*` attribute names) whose values are replaced whatever they look like:
# words matched as `redaction.Redactor` matches argument names. Besides the obvious ones, what
# sites put short secrets under (`pin`, `cvv`, `ssn`, `apikey`, `Authorization`), session ids
# spelled as one word (`PHPSESSID`, `JSESSIONID`), and signed URLs' parts (`X-Amz-Signature`,
# `X-Amz-Credential`).
DEFAULT_URL_SECRET_WORDS: frozenset[str] = frozenset(
    {"password", "passwd", "pwd", "pass", "passphrase", "token", "code", "secret", "session", "sid", "auth"}
    | {"authorization", "key", "apikey", "otp", "sig", "signature", "credential", "credentials", "pin", "cvv"}
    | {"cvc", "ssn", "csrf", "xsrf", "sessid", "sessionid", "phpsessid", "jsessionid"}
)


@dataclass(frozen=True)
class RecordingOptions:
    """Privacy and limits for browser recordings; the defaults are the safe ones."""

    mask_all_inputs: bool = True
    mask_text_class: str = "rr-mask"
    mask_text_selector: str | None = None
    # Names from TEXT_PATTERNS ("card", "jwt", "token", "email", "phone") or JavaScript regular
    # expressions; cards and token shapes by default, () for none.
    mask_text_patterns: tuple[str, ...] = DEFAULT_TEXT_PATTERNS
    block_class: str = "rr-block"
    block_selector: str | None = None
    url_secret_words: frozenset[str] = DEFAULT_URL_SECRET_WORDS
    redact_url_fragments: bool = True
    # Chunks are cut at every full snapshot and at least this often.
    chunk_interval_s: float = 10.0
    max_chunk_bytes: int = 4 * 1024 * 1024
    # Limits per page (what a hostile page can cost us).
    max_event_bytes: int = 8 * 1024 * 1024
    max_payload_bytes: int = 16 * 1024 * 1024
    max_bytes_per_page: int = 64 * 1024 * 1024
    max_calls_per_s: float = 200.0
    max_calls_burst: int = 1000
    # How long a recording keeps collecting late events after its activity ended.
    grace_s: float = 2.0
    # In-page delivery.
    batch_ms: int = 100
    binding: str = "__ggRec"
    guard: str = "getgather_otel.recorder"
    # Where rrweb runs on browsers without CDP (Playwright's Firefox and WebKit). "isolated":
    # they are not recorded, with a warning. "main": the page's own world through an init
    # script and an exposed binding, which sites can detect. Chromium is always recorded from
    # a CDP isolated world, out of the page's reach, whatever this says.
    world: str = "isolated"
    # Evidence of what went wrong (recording/evidence.py, issue 18): HTTP errors, failed
    # requests, navigation errors, dialogs, downloads, crashes, from a CDP session of its
    # own per page; at most this many span events per root activity, the rest counted.
    evidence: bool = True
    max_evidence_events: int = 50
    # Evidence from a page's out-of-process (cross-site) iframes and workers too: their
    # requests belong to targets of their own, attached under the page's evidence session
    # (recording/cdp_targets.py), which holds such an iframe's first load for one round trip.
    evidence_children: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.mask_text_patterns, str):
            raise TypeError("mask_text_patterns is a tuple of names or regular expressions, not one string")
        if self.chunk_interval_s <= 0 or self.max_chunk_bytes <= 0:
            raise ValueError("chunk_interval_s and max_chunk_bytes must be positive")
        if self.world not in ("isolated", "main"):
            raise ValueError(f"world is 'isolated' or 'main', not {self.world!r}")

    def page_config(self, segment: int | None = None, *, isolated: bool = True) -> str:
        """The JSON configuration `js/world.js` starts with."""
        # [source, Luhn-checked, audit kind]: a "card" match is masked only when it is a valid
        # card number; each match counts as `text_<name>` (`text_pattern` for the caller's own).
        patterns = [
            [
                TEXT_PATTERNS.get(pattern, pattern),
                pattern == "card",
                attr.REDACTION_TEXT_PREFIX + pattern if pattern in TEXT_PATTERNS else attr.REDACTION_TEXT_PATTERN,
            ]
            for pattern in self.mask_text_patterns
        ]
        return json.dumps(
            {
                "binding": self.binding,
                "guard": self.guard,
                "maskAllInputs": self.mask_all_inputs,
                "maskTextClass": self.mask_text_class,
                "maskTextSelector": self.mask_text_selector,
                "maskTextPatterns": patterns,
                "keptAttributes": sorted(PATTERN_KEPT_ATTRIBUTES),
                "inlineTags": list(INLINE_TAGS),
                "blockClass": self.block_class,
                "blockSelector": self.block_selector,
                "batchMs": self.batch_ms,
                "bindingRetries": 500,
                "bindingRetryMs": 10,
                # Bigger full snapshots are sent in parts, smaller payloads are parsed in
                # slices: Python's event loop, which the tool's own browser calls wait on,
                # is never held for a whole big page at once.
                "maxEventChars": self.max_event_bytes,
                "partChars": min(self.max_event_bytes, PART_CHARS),
                "maxPayloadChars": min(self.max_payload_bytes, PART_CHARS),
                # What one task of the page sends while the document stays (js/world.js flush).
                "sliceChars": min(self.max_payload_bytes, PART_CHARS) // 4,
                # Payloads from this size on leave an isolated world as Blobs (js/world.js sendPayload).
                "blobChars": BLOB_CHARS if isolated else 0,
                "maxQueuedChars": self.max_payload_bytes * 4,
                "segment": segment,
                "isolated": isolated,
            }
        )
