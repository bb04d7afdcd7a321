"""Redaction of secrets in tool arguments and results before they become attributes.

Keys are split into words (snake_case, kebab-case, camelCase) and a key is secret when
any word is a sensitive one, so `auth_code` and `accessToken` are caught while `zipcode`
or `country` are not. Over-redacting is the safe failure: a value we hide by mistake
costs a debugging minute, a password we keep is a breach.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_SECRET_WORDS", "REDACTED", "Redactor"]

REDACTED = "[REDACTED]"
DEFAULT_SECRET_WORDS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "authorization",
        "auth",
        "cookie",
        "cookies",
        "otp",
        "code",
        "apikey",
        "key",
        "pin",
        "cvv",
        "cvc",
        "credential",
        "credentials",
        "session",
        "ssn",
        "card",
    }
)
_WORD_SPLIT = re.compile(r"[^0-9a-zA-Z]+|(?<=[a-z0-9])(?=[A-Z])")


class Redactor:
    """Replaces the values of secret-looking keys, recursively, and caps the JSON size."""

    def __init__(self, secret_words: Iterable[str] | None = None, max_chars: int = 4096) -> None:
        self.secret_words = frozenset(
            w.lower() for w in (secret_words if secret_words is not None else DEFAULT_SECRET_WORDS)
        )
        self.max_chars = max_chars

    def is_secret_key(self, key: str) -> bool:
        words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
        return any(w in self.secret_words for w in words) or key.lower() in self.secret_words

    def redact(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): REDACTED if self.is_secret_key(str(k)) else self.redact(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact(v) for v in value]
        return value

    def secret_values(self, value: Any) -> list[Any]:
        """The values `redact` would hide: everything under a secret-looking key, as leaves."""
        found: list[Any] = []

        def leaves(item: Any) -> None:
            if isinstance(item, Mapping):
                for v in item.values():
                    leaves(v)
            elif isinstance(item, (list, tuple)):
                for v in item:
                    leaves(v)
            else:
                found.append(item)

        def walk(item: Any) -> None:
            if isinstance(item, Mapping):
                for k, v in item.items():
                    (leaves if self.is_secret_key(str(k)) else walk)(v)
            elif isinstance(item, (list, tuple)):
                for v in item:
                    walk(v)

        walk(value)
        return found

    def to_json(self, value: Any) -> str:
        """Redacted JSON, truncated to `max_chars` with a marker saying how much was cut."""
        return self.cap(json.dumps(self.redact(value), default=str, ensure_ascii=False))

    def cap(self, text: str) -> str:
        """`text` truncated to `max_chars` with a marker saying how much was cut."""
        if len(text) <= self.max_chars:
            return text
        return text[: self.max_chars] + f"...[truncated {len(text) - self.max_chars} chars]"
