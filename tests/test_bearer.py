"""The bearer check `ui` and `collect` share (`getgather_otel/web/bearer.py`)."""

from __future__ import annotations

import pytest

from getgather_otel.web.bearer import bearer_allows, bearer_token


@pytest.mark.parametrize(
    ("authorization", "allowed"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        ("BEARER s3cret", True),
        ("Bearer wrong", False),
        ("Bearer  s3cret", False),
        ("Basic s3cret", False),
        ("s3cret", False),
        ("", False),
    ],
)
def test_a_token_is_required_once_set(authorization: str, allowed: bool) -> None:
    assert bearer_allows(authorization, "s3cret") is allowed


def test_without_a_token_everything_is_allowed() -> None:
    assert bearer_allows("", None) and bearer_allows("Bearer anything", None)


def test_the_token_is_what_follows_the_scheme() -> None:
    assert bearer_token("Bearer a b") == "a b"
    assert bearer_token("Basic a") is None
