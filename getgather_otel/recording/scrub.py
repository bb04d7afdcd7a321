"""URLs inside recorded pages, redacted in Python before anything is stored (issue 15).

rrweb keeps every attribute as the page has it: `<a href="/account/confirm?session=...">`,
`<form action="...?token=...">`, an image's `src`/`srcset`, a video's `poster`, a link's
`ping`, CSS URLs (`url()` in any case, `@import`, `image-set()`) in `style` attributes,
`<style>` text and inlined stylesheets (and card numbers in all that CSS: `_css`), an
iframe's `srcdoc` (a whole document, whose URLs and
text no attribute rule can sort out: emptied, the replay never loads it), and `data-*`
attributes named like a secret (`data-api-key`, `data-csrf`, `data-session-id`: replaced
whatever they hold, as a query value under a secret key is), URL-looking values of other
`data-*` attributes (`data-url`, which Chromium's net error page fills with the failed URL)
and absolute URLs in any other attribute (`<meta content>`). Each goes
through `urls.UrlRedactor` like a navigation URL does, wherever an event carries it: full
snapshots, Mutation adds, attribute changes and text changes, stylesheet rule events. This
runs on what arrives, not in the page: the page is untrusted (and in the main-world fallback
could replace the in-page script).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from getgather_otel.capture import attributes as attr
from getgather_otel.capture.redaction import REDACTED
from getgather_otel.capture.secret_values import KIND_CARD, PATTERNS, card_in
from getgather_otel.recording import rrweb_events
from getgather_otel.recording.urls import UrlRedactor, may_hold_css_url

__all__ = ["KIND_INPUT", "LIST_ATTRIBUTES", "MASK", "URL_ATTRIBUTES", "scrub_urls"]

# The fixed-width mask `js/privacy.js` puts in place of every masked value.
MASK = "********"
# Typed values the page masked (Input events carrying the mask), for the audit.
KIND_INPUT = attr.REDACTION_INPUT

# Attributes holding one URL (rrweb calls an iframe's kept src `rr_src`).
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "poster",
        "data",
        "background",
        "cite",
        "longdesc",
        "xlink:href",
        "manifest",
        "codebase",
        "rr_src",
        "itemid",
    }
)
# Attributes holding several.
LIST_ATTRIBUTES = frozenset({"srcset", "imagesrcset", "ping", "archive"})
# An iframe's inline document: dropped (rrweb records the document itself, masked, and its
# player never sets `srcdoc`).
SRCDOC = "srcdoc"


# `data-*` names that hold secrets. Narrower than the URL key words: `data-key`, `data-row-key`,
# `data-code` and `data-pin` are ids and states that pages style on and a replay needs.
_SECRET_DATA_NAME = re.compile(
    r"(?:^|[-_])(?:token|secret|password|passwd|passphrase|csrf|xsrf|api[-_]?key|access[-_]?key|private[-_]?key"
    r"|session(?:[-_]?id)?|credentials?|otp|ssn|cvv|cvc|authorization)(?:$|[-_])",
    re.IGNORECASE,
)
# What an attribute's name alone says, cached per name (a page uses few): PLAIN (only a CSS
# URL or an absolute URL in its value could matter), DATA_SECRET (a secret-named `data-*`),
# DATA (another `data-*`: a URL-looking value is a URL), or LOOK (a URL attribute, `srcdoc`,
# or a name to lowercase first: `_attribute` decides).
_PLAIN, _DATA_SECRET, _LOOK, _DATA = 0, 1, 2, 3
_names: dict[str, int] = {}
# A value that is a URL by its look, whatever the attribute's name. Pages keep URLs in `data-*`
# attributes for their scripts (Chromium's own net error page keeps the failed URL, query and
# all, in `data-url`: a newcomer's break), so there a path (`/reset?...`), a query or any
# `scheme:` value without spaces is one; in other attributes (`<meta content>`, `title`) only
# an absolute `scheme://` URL is. `UrlRedactor.redact` keeps ordinary URLs as they are.
_DATA_URL = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.-]*:|/|\?)\S*\s*\Z")
_DATA_URL_STARTS = frozenset("/? \t\n\r\f")  # what a URL-looking value without a scheme starts with
_ABSOLUTE_URL = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://\S*\s*\Z")


# CSS is no page text for rrweb's masking: a `<style>`'s `content: "4035 1111 1111 1114"`,
# an inlined sheet's `_cssText`, a custom property in a `style` attribute were stored in clear
# (a newcomer's break). Luhn-valid card numbers in CSS become the mask here, in Python (no
# page time), counted as page text's `text_card`. A replay's CSS needs no card number.
_CARD = re.compile(PATTERNS[KIND_CARD])
_TEXT_CARD = attr.REDACTION_TEXT_PREFIX + KIND_CARD
_CSS_ATTRIBUTES = frozenset({"style", "_cssText"})


def _mask_css_cards(text: str, counts: Counter[str]) -> str:
    """`text` (CSS) with its Luhn-valid card numbers replaced by the mask."""
    out: list[str] = []
    last = 0
    for match in _CARD.finditer(text):
        card = card_in(match.group())
        if card is None:
            continue
        out.append(text[last : match.start() + card[0]])
        out.append(MASK)
        last = match.start() + card[1]
        counts[_TEXT_CARD] += 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _css(urls: UrlRedactor, text: str, counts: Counter[str]) -> str:
    """CSS text without secret URLs (`urls.redact_css`) and card numbers."""
    if may_hold_css_url(text):
        text = urls.redact_css(text, counts)
    return _mask_css_cards(text, counts)


def _name_kind(name: str) -> int:
    kind = _names.get(name)
    if kind is None:
        if name in URL_ATTRIBUTES or name in LIST_ATTRIBUTES or name == SRCDOC or not name.islower():
            kind = _LOOK
        elif name.startswith("data-"):
            kind = _DATA_SECRET if _SECRET_DATA_NAME.search(name[5:]) else _DATA
        else:
            kind = _PLAIN
        if len(_names) < 4096:
            _names[name] = kind
    return kind


def _secret_data_name(name: str) -> bool:
    """Whether a `data-*` attribute is named like a secret (`data-api-key`, `data-csrf`)."""
    return name.startswith("data-") and _SECRET_DATA_NAME.search(name[5:]) is not None


def _attribute(urls: UrlRedactor, name: str, value: Any, counts: Counter[str]) -> Any:
    if isinstance(value, dict):  # rrweb's style diff: {property: value or [value, priority] or false}
        return {k: _attribute(urls, "style", v, counts) for k, v in value.items()}
    if isinstance(value, list):
        return [_attribute(urls, name, v, counts) for v in value]
    if not isinstance(value, str) or not value:
        return value
    key = name.lower()
    if key in URL_ATTRIBUTES:
        return urls.redact(value, counts)
    if key in LIST_ATTRIBUTES:
        return urls.redact_list(value, counts)
    if key == SRCDOC:
        counts[attr.REDACTION_SRCDOC] += 1
        return ""
    if key.startswith("data-") and _secret_data_name(key):
        counts[attr.REDACTION_ATTRIBUTE] += 1
        return REDACTED
    if (_DATA_URL if key.startswith("data-") else _ABSOLUTE_URL).match(value):
        return urls.redact(value, counts)
    if name in _CSS_ATTRIBUTES:
        return _css(urls, value, counts)
    if may_hold_css_url(value):
        return urls.redact_css(value, counts)
    return value


def _attributes(urls: UrlRedactor, attributes: Any, counts: Counter[str]) -> None:
    if not isinstance(attributes, dict):
        return
    names = _names
    for name, value in attributes.items():
        # Most attributes (class, id, aria-*) hold no URL: one cached lookup by name, and for
        # values with a parenthesis (`calc(`, `rgba(`) or an at-sign, a search for CSS URLs.
        kind = names.get(name)
        if kind is None:
            kind = _name_kind(str(name))
        if kind == _PLAIN:
            if (
                type(value) is str
                and not ("://" in value and _ABSOLUTE_URL.match(value))
                and not (("(" in value or "@" in value) and may_hold_css_url(value))
                and not (name == "style" and _CARD.search(value))
            ):
                continue
        elif kind == _DATA:
            # Ids and states (`data-row="12"`) mostly: two character tests before any search.
            if (
                type(value) is str
                and not ((":" in value or value[:1] in _DATA_URL_STARTS) and _DATA_URL.match(value))
                and not (("(" in value or "@" in value) and may_hold_css_url(value))
            ):
                continue
        elif kind == _DATA_SECRET:
            if value and type(value) is str:
                attributes[name] = REDACTED
                counts[attr.REDACTION_ATTRIBUTE] += 1
            continue
        redacted = _attribute(urls, str(name), value, counts)
        if redacted is not value:
            attributes[name] = redacted


def _tree(urls: UrlRedactor, root: Any, counts: Counter[str]) -> None:
    stack = [root]
    pop, extend = stack.pop, stack.extend
    while stack:
        node = pop()
        if type(node) is not dict:
            continue
        attributes = node.get("attributes")
        if attributes:
            _attributes(urls, attributes, counts)
        else:
            # A <style>'s text (rrweb marks it) is CSS, written any way CSS may be; elsewhere
            # a text is page text, searched only for the usual `url(`.
            text = node.get("textContent")
            if text and type(text) is str:
                if node.get("isStyle"):
                    css = _css(urls, text, counts)
                    if css is not text:
                        node["textContent"] = css
                elif "url(" in text or "URL(" in text:
                    node["textContent"] = urls.redact_css(text, counts)
        children = node.get("childNodes")
        if children and type(children) is list:
            extend(children)


def _rules(urls: UrlRedactor, rules: Any, counts: Counter[str]) -> None:
    if isinstance(rules, list):
        for rule in rules:
            if isinstance(rule, dict) and isinstance(rule.get("rule"), str):
                rule["rule"] = _css(urls, rule["rule"], counts)


def scrub_urls(urls: UrlRedactor, events: list[dict[str, Any]], counts: Counter[str] | None = None) -> Counter[str]:
    """Redact every URL the events carry, in place; returns the redactions by kind (and the
    typed values the page masked, `input`; the page's other masks arrive counted, in the
    payload's `masked` field)."""
    counts = Counter() if counts is None else counts
    for event in events:
        kind, data = event["type"], event.get("data")
        if not isinstance(data, dict):
            continue
        if kind == rrweb_events.META:
            data["href"] = urls.redact(data.get("href", ""), counts)
        elif kind == rrweb_events.INCREMENTAL_SNAPSHOT and data.get("source") == rrweb_events.SOURCE_INPUT:
            if data.get("text") == MASK:
                counts[KIND_INPUT] += 1
        elif kind == rrweb_events.FULL_SNAPSHOT:
            _tree(urls, data.get("node"), counts)
        elif kind == rrweb_events.INCREMENTAL_SNAPSHOT:
            source = data.get("source")
            if source == rrweb_events.SOURCE_MUTATION:
                for add in data.get("adds") or []:
                    if isinstance(add, dict):
                        _tree(urls, add.get("node"), counts)
                for change in data.get("attributes") or []:
                    if isinstance(change, dict):
                        _attributes(urls, change.get("attributes"), counts)
                for text in data.get("texts") or []:
                    value = text.get("value") if isinstance(text, dict) else None
                    if not isinstance(value, str):
                        continue
                    # A `<style>`'s text changed after the snapshot (`js/privacy.js` marks it): CSS.
                    if text.get("isStyle"):
                        text["value"] = _css(urls, value, counts)
                    elif may_hold_css_url(value):
                        text["value"] = urls.redact_css(value, counts)
            elif source == rrweb_events.SOURCE_STYLE_SHEET_RULE:
                _rules(urls, data.get("adds"), counts)
            elif source == rrweb_events.SOURCE_STYLE_DECLARATION:
                declaration = data.get("set")
                if isinstance(declaration, dict) and isinstance(declaration.get("value"), str):
                    declaration["value"] = _css(urls, declaration["value"], counts)
            elif source == rrweb_events.SOURCE_ADOPTED_STYLE_SHEET:
                for style in data.get("styles") or []:
                    if isinstance(style, dict):
                        _rules(urls, style.get("rules"), counts)
    return counts
