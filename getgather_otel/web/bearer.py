"""The optional shared secret of `ui` and `collect`: `Authorization: Bearer TOKEN`.

Compared in constant time. The scheme is read in any case (RFC 7235: "bearer" and
"Bearer" are the same scheme).
"""

from __future__ import annotations

import hmac

__all__ = ["bearer_allows", "bearer_token", "same_token"]

_SCHEME = "bearer "


def bearer_token(authorization: str) -> str | None:
    """The token in an `Authorization` value, or None when it is not a bearer one."""
    return authorization[len(_SCHEME) :] if authorization[: len(_SCHEME)].lower() == _SCHEME else None


def same_token(given: str, token: str) -> bool:
    """Whether `given` is `token` (constant time)."""
    return hmac.compare_digest(given.encode(), token.encode())


def bearer_allows(authorization: str, token: str | None) -> bool:
    """Whether a request with this `Authorization` value may in: always without a token."""
    if token is None:
        return True
    given = bearer_token(authorization)
    return given is not None and same_token(given, token)
