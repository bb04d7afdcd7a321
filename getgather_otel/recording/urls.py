"""The one place URLs are redacted before they are stored (issue 15).

Every stored URL goes through `UrlRedactor.redact`: span events (`url.full`), rrweb Meta
hrefs, chunk rows' `url`, and every URL-bearing attribute inside snapshots and mutations
(`recording/scrub.py`: href, src, srcset, action, formaction, poster, ping, CSS `url()`, ...).

By key: a GET form puts what was typed into the next URL (`/login?password=...`), and sites
put session tokens and OAuth codes in query strings; values of secret-looking keys are
replaced, keys stay. Key words are matched like `redaction.Redactor` matches argument names
(`auth_code`, `accessToken`). By value: a list of keys cannot know every field a site
names, so secret-looking values (`capture/secret_values.py`: Luhn-valid card numbers, JWTs,
key shapes, long high-entropy strings) are replaced wherever they sit: query values, path
segments (`/accounts/reset-password/<token>`), fragments, `user:password@`. Parameters after
`;` (`?q=1;session=...`, path parameters `/cart;jsessionid=...`) are keys like `&` ones. Ordinary values
(`?page=2`, `/orders/123`) stay readable, so a replay still says where the browser was.
Fragments are dropped whole by default: single-page apps and OAuth implicit flows keep tokens
there without any key to recognise. `blob:` URLs, base64 `data:` URLs and those of images,
fonts and media are left alone (what a replay needs to show the page); the text of other
`data:` URLs and of `javascript:` URLs has its secret-looking values replaced, like a path's.
CSS is searched for every way it writes a URL: `url()` in any letter case, `@import "..."`
and the strings of `image-set()`.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from getgather_otel.capture import attributes as attr
from getgather_otel.capture.redaction import REDACTED, Redactor
from getgather_otel.capture.secret_values import secret_spans

__all__ = [
    "KIND_FORM_FIELD",
    "KIND_FRAGMENT",
    "KIND_URL_KEY",
    "KIND_USERINFO",
    "MAX_FORM_URLS",
    "MAX_URL_CHARS",
    "UrlRedactor",
    "may_hold_css_url",
    "note_form_submission",
]

MAX_URL_CHARS = 2048
# URLs inside URLs (`?next=/reset?token=...`, OAuth `redirect_uri`) are redacted too, this deep;
# a deeper one is replaced whole.
MAX_NESTED_URLS = 4
_NESTED_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?/[^\s]*[?#]")
KIND_URL_KEY = attr.REDACTION_URL_KEY
KIND_FRAGMENT = attr.REDACTION_FRAGMENT
KIND_USERINFO = attr.REDACTION_USERINFO
KIND_FORM_FIELD = attr.REDACTION_FORM_FIELD
# URLs GET form submissions made, remembered (newest last) for every redactor of the process.
MAX_FORM_URLS = 256

_KEPT_SCHEMES = ("data:", "blob:", "javascript:", "about:")
# `data:` URLs whose payload a replay shows as it is (and which are rarely text): never searched.
_SHOWN_DATA = re.compile(r"data:\s*(?:(?:image|font|audio|video)/|application/(?:x-)?font|[^,]*;\s*base64\s*,)", re.I)
# What cannot hold anything to redact: no fragment, no user info, no run of 13 characters
# between URL delimiters (the shortest card number), no secret query key. Most URLs of a page
# (`/orders/123?page=2`) are that, and are returned as they are without parsing.
_LONG_RUN = re.compile(r"[^/?&=#;:,]{13,}")
# A query key, or a `;` parameter's (`?q=1;session=...`, `/cart;jsessionid=...`).
_QUERY_KEY = re.compile(r"[?&;]([^=&#;/]*)")
_AFTER_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
# A path segment naming a static file: build tools put content hashes in those names
# (`main.3f9a8b7c1d2e4f6a.css`), which look like tokens; a replay needs them to load styles
# and images. Tokens are not served with these extensions.
_ASSET_FILE = re.compile(
    r"\.(?:m?js|css|png|jpe?g|gif|svg|webp|avif|ico|bmp|woff2?|ttf|otf|eot|map|mp4|webm|mp3|ogg|wasm)$", re.IGNORECASE
)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE | re.DOTALL)
# CSS functions and at-rules are case-insensitive (`URL(`, `Url(`), and two of them take a URL
# as a plain string: `@import "..."` and `image-set("..." 1x)`.
_CSS_HINT = re.compile(r"url\(|image-set\(|@import", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""(@import\s*)(['"])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_CSS_IMAGE_SET = re.compile(r"""image-set\([^;{}]*""", re.IGNORECASE)
# A string inside image-set() that is not already a url()'s.
_CSS_STRING = re.compile(r"""(?<!url\()(['"])(.*?)\1""", re.IGNORECASE | re.DOTALL)


# A URL as it stands in free text: up to whitespace, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"\b(?:https?|wss?|file)://[^\s\"'<>]+")


def may_hold_css_url(text: str) -> bool:
    """Whether `text` may hold a CSS URL (`url()` in any case, `@import`, `image-set()`): two
    substring tests for most texts, a search only for those with a parenthesis or an at-sign."""
    return ("(" in text or "@" in text) and _CSS_HINT.search(text) is not None


_form_urls: OrderedDict[str, None] = OrderedDict()
_form_lock = threading.Lock()


def _form_key(url: str) -> str:
    return url.split("#", 1)[0]


def note_form_submission(url: str) -> None:
    """Every query value of `url` is a form field's: redact them all wherever the URL is stored.

    A GET form puts its fields into the next URL's query under names no list of secret words
    knows (`?s=<a select's choice>`, `?q=<typed text>`), while the recorder masks the same
    values in the page: every input kind, select choices, hidden inputs (a newcomer's break
    found a select's value in `url.full`, the Meta href, the chunk row and the replay). The URL
    does not say which value came from which field, nor whether the form had a checkbox, so all
    of its query values are replaced and its keys kept: the smallest rule that never lets a
    masked field through. Chromium says which navigations a GET form made (CDP
    `Page.frameRequestedNavigation`, reason `formSubmissionGet`, before the request is sent:
    `cdp_worlds.WorldSession`), for `form.submit()` by script too. Process-wide, so the Meta
    href, the chunk row, the span events and evidence all see it; the last `MAX_FORM_URLS` URLs
    (fragment aside) are remembered. Not followed through a server's redirect.
    """
    key = _form_key(url)
    if "?" not in key:
        return
    with _form_lock:
        _form_urls.pop(key, None)
        _form_urls[key] = None
        while len(_form_urls) > MAX_FORM_URLS:
            _form_urls.popitem(last=False)


def _from_form(url: str) -> bool:
    return bool(_form_urls) and _form_key(url) in _form_urls


def _replace_spans(text: str, counts: Counter[str] | None) -> str:
    spans = secret_spans(text)
    if not spans:
        return text
    out, last = [], 0
    for start, end, kind in spans:
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
        if counts is not None:
            counts[kind] += 1
    out.append(text[last:])
    return "".join(out)


class UrlRedactor:
    """Redacts secrets in URLs, by key and by value; never raises on bad input."""

    def __init__(self, secret_words: Iterable[str], *, redact_fragments: bool = True) -> None:
        self._keys = Redactor(secret_words)
        self._redact_fragments = redact_fragments
        self._secret_key: dict[str, bool] = {}

    def redact(self, url: str, counts: Counter[str] | None = None, *, _depth: int = 0) -> str:
        """`url` with its secrets replaced by `[REDACTED]`; `counts` gets one per redaction, by kind.

        `_depth` is how deep inside other URLs' query values this one sits (internal).
        """
        if not isinstance(url, str):
            return ""
        if url.lstrip()[:11].lower().startswith(_KEPT_SCHEMES):
            return self._kept_scheme(url.lstrip(), counts)
        from_form = _from_form(url)
        if not from_form and self._plain(url):
            return url[:MAX_URL_CHARS]
        try:
            parts = urlsplit(url[: MAX_URL_CHARS * 4])
        except ValueError:
            return REDACTED
        path = "/".join(self._segment(segment, counts) for segment in parts.path.split("/"))
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [
                    (k, self._form_value(v, counts) if from_form else self._query_value(k, v, counts, _depth))
                    for k, v in pairs
                ],
                safe="[]",
            )
        fragment = parts.fragment
        if fragment:
            if self._redact_fragments:
                fragment = REDACTED
                if counts is not None:
                    counts[KIND_FRAGMENT] += 1
            else:
                fragment = _replace_spans(unquote(fragment), counts)
        netloc = parts.netloc
        if "@" in netloc:  # user:password@host
            netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
            if counts is not None:
                counts[KIND_USERINFO] += 1
        redacted = urlunsplit((parts.scheme, netloc, path, query, fragment))
        return redacted[:MAX_URL_CHARS]

    def _kept_scheme(self, url: str, counts: Counter[str] | None) -> str:
        """A `data:`/`javascript:` URL's text with secret-looking values replaced (it carries a
        document or a script, not a location); shown media and `blob:`/`about:` URLs as they are."""
        scheme = url[:11].lower()
        if scheme.startswith(("blob:", "about:")) or _SHOWN_DATA.match(url):
            return url[:MAX_URL_CHARS]
        if len(url) < 13:
            return url
        decoded = unquote(url)
        redacted = _replace_spans(decoded, counts)
        return url[:MAX_URL_CHARS] if redacted == decoded else redacted[:MAX_URL_CHARS]

    def _plain(self, url: str) -> bool:
        if "#" in url or "@" in url or "%" in url:
            return False
        host = _AFTER_HOST.match(url)
        if _LONG_RUN.search(url, host.end() if host else 0):
            return False
        for key in _QUERY_KEY.findall(url):
            # The cache inline, not `is_secret_name`: most of a page's URLs come through here.
            secret = self._secret_key.get(key)
            if secret is None:
                secret = self.is_secret_name(key)
            if secret:
                return False
        return True

    def _segment(self, segment: str, counts: Counter[str] | None) -> str:
        if ";" in segment:
            # Path parameters (`/cart;jsessionid=...`): a secret-named one's value goes, like a query key's.
            head, *params = segment.split(";")
            kept = [self._segment(head, counts)]
            for param in params:
                key, is_pair, value = param.partition("=")
                if is_pair and self._keys.is_secret_key(unquote(key)):
                    if counts is not None and value:
                        counts[KIND_URL_KEY] += 1
                    kept.append(f"{key}={REDACTED}")
                else:
                    kept.append(self._segment(param, counts))
            return ";".join(kept)
        if len(segment) < 13 or _ASSET_FILE.search(segment):
            return segment
        decoded = unquote(segment)
        redacted = _replace_spans(decoded, counts)
        return segment if redacted == decoded else quote(redacted, safe="[]@:;,=+!$&'()*")

    @staticmethod
    def _form_value(value: str, counts: Counter[str] | None) -> str:
        """A value of a GET form's URL (`note_form_submission`): replaced unless empty."""
        if not value:
            return value
        if counts is not None:
            counts[KIND_FORM_FIELD] += 1
        return REDACTED

    def _query_value(self, key: str, value: str, counts: Counter[str] | None, depth: int) -> str:
        if ";" in value and not self._keys.is_secret_key(key):
            # `;` separates parameters too (`?q=1;session=...`, older servers and Java's): each
            # `;` parameter is redacted like an `&` one, the first value as `key`'s.
            first, *params = value.split(";")
            kept = [self._query_value(key, first, counts, depth)]
            for param in params:
                name, is_pair, rest = param.partition("=")
                kept.append(f"{name}={self._query_value(name, rest, counts, depth)}" if is_pair else param)
            return ";".join(kept)
        if self._keys.is_secret_key(key):
            if counts is not None and value:
                counts[KIND_URL_KEY] += 1
            return REDACTED
        if _NESTED_URL.match(value):  # a URL with a query or fragment of its own
            if depth >= MAX_NESTED_URLS:
                if counts is not None:
                    counts[KIND_URL_KEY] += 1
                return REDACTED
            return self.redact(value, counts, _depth=depth + 1)
        return _replace_spans(value, counts)

    def is_secret_name(self, name: str) -> bool:
        """Whether a key or attribute name is secret-looking (`data-api-key`'s `api-key`); cached."""
        secret = self._secret_key.get(name)
        if secret is None:
            secret = self._keys.is_secret_key(name)
            if len(self._secret_key) < 4096:
                self._secret_key[name] = secret
        return secret

    def redact_urls_in(self, text: str, counts: Counter[str] | None = None) -> str:
        """Every URL inside free text (an exception's message or stack trace: Playwright quotes the
        URL it failed on, query and all) passed through `redact`; the rest of the text kept."""
        return _URL_IN_TEXT.sub(lambda match: self.redact(match.group(0), counts), text) if "://" in text else text

    def redact_text(self, text: str, counts: Counter[str] | None = None) -> str:
        """Free text a page shows outside its DOM (a dialog's message, a download's file name)
        with secret-looking values replaced: card numbers, JWTs, key shapes, long high-entropy runs."""
        return _replace_spans(text, counts) if len(text) >= 13 else text

    def redact_list(self, value: str, counts: Counter[str] | None = None) -> str:
        """`srcset`-style lists ("url 2x, url 3x") and `ping`'s space-separated URLs."""
        if "," in value:
            items = []
            for item in value.split(","):
                words = item.strip().split()
                if words:
                    words[0] = self.redact(words[0], counts)
                items.append(" ".join(words))
            return ", ".join(items)
        return " ".join(self.redact(word, counts) for word in value.split())

    def redact_css(self, text: str, counts: Counter[str] | None = None) -> str:
        """CSS text with every URL redacted: `url(...)` (its letter case kept), `@import "..."`
        and the strings of `image-set(...)`."""
        if not may_hold_css_url(text):
            return text

        def quoted(quote: str, url: str) -> str:
            return quote + self.redact(url, counts) + quote

        text = _CSS_URL.sub(lambda m: m.group()[:4] + quoted(m.group(1), m.group(2)) + ")", text)
        text = _CSS_IMPORT.sub(lambda m: m.group(1) + quoted(m.group(2), m.group(3)), text)
        return _CSS_IMAGE_SET.sub(lambda m: _CSS_STRING.sub(lambda q: quoted(q.group(1), q.group(2)), m.group()), text)
