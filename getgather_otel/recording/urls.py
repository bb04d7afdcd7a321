"""Redaction of URLs before they are stored anywhere (span events, rrweb Meta events, chunk rows).

A GET form puts what was typed into the next URL (`/login?user=a&password=...`), and sites
put session tokens and OAuth codes in query strings and fragments. Values of secret-looking
keys are replaced; keys stay, so the URL still says what kind of page it was. Key words are
matched like `redaction.Redactor` matches argument names (`auth_code`, `accessToken`).
Fragments are dropped whole by default: single-page apps and OAuth implicit flows keep
tokens there without any key to recognise.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from getgather_otel.capture.redaction import REDACTED, Redactor

__all__ = ["MAX_URL_CHARS", "UrlRedactor"]

MAX_URL_CHARS = 2048


class UrlRedactor:
    """Redacts secret query values (and fragments) of URLs; never raises on bad input."""

    def __init__(self, secret_words: Iterable[str], *, redact_fragments: bool = True) -> None:
        self._keys = Redactor(secret_words)
        self._redact_fragments = redact_fragments

    def redact(self, url: str) -> str:
        if not isinstance(url, str):
            return ""
        try:
            parts = urlsplit(url[: MAX_URL_CHARS * 4])
        except ValueError:
            return REDACTED
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, REDACTED if self._keys.is_secret_key(k) else v) for k, v in pairs], safe="[]")
        fragment = parts.fragment
        if fragment and self._redact_fragments:
            fragment = REDACTED
        netloc = parts.netloc
        if "@" in netloc:  # user:password@host
            netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
        redacted = urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
        return redacted[:MAX_URL_CHARS]
