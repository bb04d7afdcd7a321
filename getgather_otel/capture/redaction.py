"""Redaction of secrets in tool arguments and results before they become attributes.

Keys are split into words (snake_case, kebab-case, camelCase) and a key is secret when
any word is a sensitive one, so `auth_code` and `accessToken` are caught while `zipcode`
or `country` are not. Names run together in one word (`passcode`, `cardnumber`,
`clientsecret`: a newcomer's break) are caught by fragments: the key lower-cased, without
separators, holding `password`, `passcode`, `cardnumber`, `secret`, `token`, ... Fragments
are only ones no ordinary word holds (`pin`, `otp` and `pass` stand as words only: `spinner`,
`footprint` and `passenger` stay). Over-redacting is the safe failure: a value we hide by mistake
costs a debugging minute, a password we keep is a breach.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_SECRET_FRAGMENTS", "DEFAULT_SECRET_WORDS", "REDACTED", "Redactor"]

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
        "pass",
        "pw",
        "creds",
        "pan",
        "cvv2",
        "totp",
        "hotp",
        "mfa",
        "2fa",
    }
)
# Pieces of a key (lower-cased, separators removed) that make it secret wherever they sit.
DEFAULT_SECRET_FRAGMENTS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "passcode",
        "passphrase",
        "passkey",
        "secret",
        "token",
        "apikey",
        "accesskey",
        "privatekey",
        "cardnumber",
        "cardnum",
        "cardno",
        "creditcard",
        "ccnumber",
        "ccnum",
        "cvv",
        "cvc",
        "securitycode",
        "pincode",
        "otpcode",
        "onetimecode",
        "sessionid",
        "credential",
        "authorization",
        "socialsecurity",
    }
)
_WORD_SPLIT = re.compile(r"[^0-9a-zA-Z]+|(?<=[a-z0-9])(?=[A-Z])")


class Redactor:
    """Replaces the values of secret-looking keys, recursively, and caps the JSON size."""

    def __init__(
        self,
        secret_words: Iterable[str] | None = None,
        max_chars: int = 4096,
        secret_fragments: Iterable[str] | None = None,
    ) -> None:
        # A single string is one word (`redact_keys="password"`), not its letters: those would
        # replace the default words with one-letter ones and leave `password` in clear.
        if isinstance(secret_words, str):
            secret_words = (secret_words,)
        if isinstance(secret_fragments, str):
            secret_fragments = (secret_fragments,)
        self.secret_words = frozenset(
            w.lower() for w in (secret_words if secret_words is not None else DEFAULT_SECRET_WORDS)
        )
        # Own words bring no default fragments: `UrlRedactor` and `redact_keys` say exactly what counts.
        if secret_fragments is None:
            secret_fragments = DEFAULT_SECRET_FRAGMENTS if secret_words is None else ()
        self.secret_fragments = frozenset(f.lower() for f in secret_fragments)
        self.max_chars = max_chars

    def is_secret_key(self, key: str) -> bool:
        """A key naming a secret: one of its words is a secret word, or its letters and digits
        run together hold a secret fragment (`passcode`, `card-number`, `userPassword2`)."""
        words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
        # A plural is the word (`pins`, `backup_codes`, `api_keys`: a newcomer's break).
        if any(w in self.secret_words or w.removesuffix("s") in self.secret_words for w in words):
            return True
        if key.lower() in self.secret_words:
            return True
        joined = "".join(words)
        return any(fragment in joined for fragment in self.secret_fragments)

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
