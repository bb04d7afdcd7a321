"""Secret-looking values, whatever key they sit under (issue 15).

A list of key names cannot know every field a site names (`pan`, `x`, a path segment), so
values are judged too: Luhn-valid card numbers, JWTs, API-key and bearer-token shapes, and
long high-entropy strings. Ordinary values stay readable (`2`, `123`, `orders`,
`reset-password`, a UUID's 8-4-4-4-12 pieces, slugs of words), so stored URLs still say
where the browser was. Used by `recording/urls.py` (URLs) and by `scan` (kinds).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from typing import Any

from getgather_otel.capture import attributes as attr

__all__ = [
    "INLINE_TAGS",
    "KIND_CARD",
    "KIND_JWT",
    "KIND_TOKEN",
    "PATTERNS",
    "ascii_digits",
    "card_in",
    "inline_text_runs",
    "luhn_valid",
    "secret_kind",
    "secret_spans",
    "serialized_trees",
]

KIND_CARD = attr.REDACTION_CARD
KIND_JWT = attr.REDACTION_JWT
KIND_TOKEN = attr.REDACTION_TOKEN

# 13-19 digits, optionally grouped by spaces or dashes; checked with Luhn. Pages print card
# numbers grouped by no-break, figure and thin spaces too (`&nbsp;`, `&#8201;`), and put soft
# hyphens (`&shy;`, U+00AD: invisible, a line-break hint) between groups; and (a newcomer's
# break) a line break, two spaces, " - ", an en space (U+2002) or a zero-width space (U+200B,
# invisible) between groups. Dots and "/" only between card-like groups (4, then two of 4-6,
# then up to two more: `4111.1111.1111.1111`, `4111/1111/1111/1111`, Amex's
# `3782.822463.10005`), so a decimal, a timestamp with a fraction, a date (`12/25/2026`) or a
# numeric URL path (`/12345/67890/123`, which would pass Luhn one time in ten) is no card.
#
# Between card-like groups only (4 digits, then two of 4-6, then up to two of 1-4), so that a
# price (`1,234,567.89`), a time (`12:30:45`), a date or a phone number stays (a newcomer's
# break found these stored in clear): a run of up to 4 spaces of any width (tab, no-break,
# ideographic U+3000, ...), or one of `. , : ; + | _ / - – —` with up to 3 such spaces on either
# side (`4111. 1111. ...`, `4111 — 1111 — ...`).
_CARD_SPACE = r"[ \t\u00a0\u2002\u2007\u2009\u202f\u3000]"
_CARD_GROUP_SEPARATOR = rf"(?:{_CARD_SPACE}{{0,3}}[.,:;+|_/\u2013\u2014-]{_CARD_SPACE}{{0,3}}|{_CARD_SPACE}{{1,4}})"
_CARD = re.compile(
    r"(?<![0-9])(?:(?:[0-9](?: - |  |[ \n\u00a0\u2002\u2007\u2009\u202f\u200b\u00ad-])?){12,18}[0-9]"
    rf"|[0-9]{{4}}(?:{_CARD_GROUP_SEPARATOR}[0-9]{{4,6}}){{2}}(?:{_CARD_GROUP_SEPARATOR}[0-9]{{1,4}}){{0,2}})(?![0-9])"
)
# Shapes start where a token would: not inside a longer word (`task-list-...` is no `sk-` key,
# `desk_sk_...` no Stripe key, `...AeyJ...` inside base64 no JWT). Glued to a word by "-", "_"
# or "." they count, as file names hold them (`report-sk_live_....csv`, a download's suggested
# name: a newcomer's break); a JWT's dots never occur in base64url, where "-eyJ" may.
_START = r"(?<![A-Za-z0-9])"
_JWT = re.compile(_START + r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Well-known key shapes: Stripe, GitHub, Slack, AWS access keys, Google API keys, OpenAI-style.
_KEY_SHAPES = re.compile(
    _START + r"(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}|sk-[A-Za-z0-9_-]{20,})"
)
# Runs of token characters; long ones are judged by their pieces and their entropy.
_TOKENISH = re.compile(r"[A-Za-z0-9_\-+/=.~%]{16,}")
_PIECES = re.compile(r"[-_.~%/]+")

# Regular expressions by name, written to mean the same in Python and JavaScript: for
# `scan --pattern` and for masking recorded page text (`RecordingOptions.mask_text_patterns`,
# run in the page; a `card` match is masked only when it passes the Luhn check).
PATTERNS: dict[str, str] = {
    KIND_CARD: _CARD.pattern,
    KIND_JWT: _JWT.pattern,
    KIND_TOKEN: _KEY_SHAPES.pattern + r"|\b[Bb]earer\s+[A-Za-z0-9._~+/-]{16,}=*",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    # A phone number is written as one: with a country code (`+44 20 7946 0958`), or in
    # groups (`555-123-4567`, `(555) 123-4567`, `(020) 7946 0958`). A bare run of digits is an
    # order, tracking or ISBN number far more often than a phone (a newcomer's break: `scan
    # --pattern phone` reported `Order 123456789012` and `ISBN 978-3-16-148410-0`), and so is a
    # group inside a longer run of dashed or dotted numbers.
    "phone": r"(?<![\w+.-])(?:\+[0-9]{1,3}[ .-]?(?:\(?[0-9]{1,4}\)?[ .-]?){1,4}[0-9]{2,4}"
    r"|(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}"
    r"|\([0-9]{2,4}\) ?[0-9]{3,4}[ .-]?[0-9]{3,4})(?![\w]|[.-][0-9])",
}

# Elements texts meet through without a break in page text (lower case, as rrweb serialises tag
# names): a card number whose groups sit in such elements (`<span>4111</span> <span>1111</span>
# ...`, `<wbr>` between groups) is one card. Joined in the page (`js/privacy.js`, given these
# in its config) and by `scan`; any other element (a cell, a paragraph, `<br>`) ends a run.
INLINE_TAGS: tuple[str, ...] = (
    *("a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd", "label", "mark"),
    *("nobr", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr"),
)


_UNICODE_DIGIT = re.compile(r"[^\x00-\x7f]")


def ascii_digits(text: str) -> str:
    """`text` with every decimal digit of another script (full-width `４１１１`, Arabic-Indic
    `٤١١١`, Devanagari, ...) written as its ASCII digit, one character for one, so the card
    pattern (ASCII digits) finds them and positions stay those of `text`."""
    if text.isascii():
        return text
    return _UNICODE_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(), "")) or m.group(), text)


_INLINE = frozenset(INLINE_TAGS)


def serialized_trees(events: Any) -> Iterator[Any]:
    """The serialised rrweb trees a chunk's events hold: each full snapshot's node and each
    Mutation add's node (None where an event has none, which `inline_text_runs` passes over)."""
    if not isinstance(events, list):
        return
    for event in events:
        data = event.get("data") if isinstance(event, dict) else None
        if isinstance(data, dict):
            yield data.get("node")
            yield from (add.get("node") for add in data.get("adds") or [] if isinstance(add, dict))


def inline_text_runs(root: Any) -> Iterator[list[dict[str, Any]]]:
    """The text nodes of a serialised rrweb tree (a full snapshot's or an added subtree's), in
    runs that meet through inline elements only (`INLINE_TAGS`): any other element ends a run,
    and scripts' and styles' texts are in none. What `scan` joins to find split cards, and
    `capture/secrets.scrub_split` to find a registered value split the same way."""
    run: list[dict[str, Any]] = []
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if node is None:  # the end of a block
            if run:
                yield run
            run = []
        elif isinstance(node, dict):
            if node.get("type") == 3 and isinstance(node.get("textContent"), str) and not node.get("isStyle"):
                run.append(node)
                continue
            tag = node.get("tagName")
            if node.get("type") == 2 and tag not in _INLINE:
                if run:
                    yield run
                run = []
                stack.append(None)
            if tag not in ("script", "style") and isinstance(node.get("childNodes"), list):
                stack.extend(reversed(node["childNodes"]))
    if run:
        yield run


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a card number's digits (separators ignored)."""
    numbers = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(numbers) <= 19:
        return False
    total = 0
    for i, n in enumerate(reversed(numbers)):
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


_DIGIT_GROUP = re.compile(r"[0-9]+")


def card_in(run: str) -> tuple[int, int] | None:
    """Where a Luhn-valid card number sits in a run the card pattern matched, or None.

    The whole run, or else the longest stretch of its digit groups that passes: the pattern also
    takes in a number standing just before a card ("Qty 2 4111 1111 1111 1111": 17 digits, which
    fail the check). A run of digits without separators is taken whole or not at all.
    """
    if luhn_valid(run):
        return 0, len(run)
    groups = [match.span() for match in _DIGIT_GROUP.finditer(run)]
    best: tuple[int, int] | None = None
    for first in range(len(groups)):
        for last in range(first, len(groups)):
            start, end = groups[first][0], groups[last][1]
            longer = best is None or end - start > best[1] - best[0]
            if longer and (first, last) != (0, len(groups) - 1) and luhn_valid(run[start:end]):
                best = (start, end)
    return best


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _high_entropy(run: str) -> bool:
    """A long run of token characters that is not words or ids joined by separators."""
    pieces = [p for p in _PIECES.split(run) if p]
    longest = max((len(p) for p in pieces), default=0)
    if longest < 16:
        return False  # slugs, UUIDs, dates: pieces too short to be a token
    piece = max(pieces, key=len)
    digits = any(c.isdigit() for c in piece)
    lower = any(c.islower() for c in piece)
    upper = any(c.isupper() for c in piece)
    letters = lower or upper
    if piece.isdigit():
        return len(piece) >= 20
    if digits and letters:
        return _entropy(piece) >= 3.0
    return lower and upper and len(piece) >= 20 and _entropy(piece) >= 3.5


def secret_spans(text: str) -> list[tuple[int, int, str]]:
    """Where secret-looking values sit in `text`: (start, end, kind), in order, not overlapping."""
    found: list[tuple[int, int, str]] = []
    for match in _JWT.finditer(text):
        found.append((match.start(), match.end(), KIND_JWT))
    for match in _CARD.finditer(text):
        card = card_in(match.group())
        if card is not None:
            found.append((match.start() + card[0], match.start() + card[1], KIND_CARD))
    for match in _KEY_SHAPES.finditer(text):
        found.append((match.start(), match.end(), KIND_TOKEN))
    # Long high-entropy runs last, and only where no shape above was found: the shapes say more.
    shaped = list(found)
    for match in _TOKENISH.finditer(text):
        start, end = match.span()
        if any(s < end and start < e for s, e, _ in shaped):
            continue
        if _high_entropy(match.group()):
            found.append((start, end, KIND_TOKEN))
    found.sort()
    kept: list[tuple[int, int, str]] = []
    for span in found:
        if kept and span[0] < kept[-1][1]:
            if span[1] > kept[-1][1]:
                kept[-1] = (kept[-1][0], span[1], kept[-1][2])
            continue
        kept.append(span)
    return kept


def secret_kind(text: str) -> str | None:
    """The kind of the first secret-looking value in `text`, or None."""
    spans = secret_spans(text)
    return spans[0][2] if spans else None
