"""How long the tool's own secrets protect their trace, and what may crowd them out (issue 15).

A newcomer's break: a secret stopped protecting an activity that was still running once 4,096
other traces had registered one, or once 15 minutes had passed (a sign-in waiting for its second
factor); past 256 values in a trace the earliest, shortest one (the password) was dropped and
each `add_secret` rebuilt everything (300 calls: 7.2 s); and a plain string given as `secrets=`
or `redact_keys=` was split into letters, which turned the protection off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path

import pytest
from fastmcp import Client, FastMCP

from getgather_otel import activity, configure, instrument_mcp
from getgather_otel.capture import secrets
from getgather_otel.export.pipeline import Telemetry
from tests.conftest import rows


def stored(db: Path) -> str:
    """Every span's name, status message and attributes, as one string."""
    found = rows(db, 'SELECT "SpanName", "StatusMessage", CAST("SpanAttributes" AS VARCHAR) AS a FROM otel_traces')
    return " ".join(f"{r['SpanName']} {r['StatusMessage']} {r['a']}" for r in found)


async def test_a_running_activitys_secret_outlives_other_traces_and_time(
    telemetry: Telemetry, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secrets, "MAX_TRACES", 50)
    monkeypatch.setattr(secrets, "KEEP_S", 0.2)

    def other_traces() -> None:  # a thread of its own (no context copied): each activity a root
        for n in range(200):
            with activity(name="other", secrets=[f"other-secret-{n}"]):
                pass

    others = threading.Thread(target=other_traces)

    with pytest.raises(ValueError):
        async with activity(name="sign_in", brand_id="shop", secrets=["S3cretPassw0rd"]):
            # Other traces, each with a secret of its own, push the oldest out...
            others.start()
            await asyncio.to_thread(others.join)
            await asyncio.sleep(0.5)  # ...and the values' time runs out
            raise ValueError("login failed for password S3cretPassw0rd")
    telemetry.flush()
    text = stored(db_path)
    assert "login failed for password [REDACTED]" in text
    assert "S3cretPassw0rd" not in text
    # Ended traces are still bounded: the running one was kept instead of them, not beside them all.
    assert len(secrets._traces) <= secrets.MAX_TRACES


def test_values_code_registers_are_never_crowded_out_and_pages_are_capped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trace = "crowded-trace"
    secrets.register(trace, ["Pw0rd!xy"])
    for n in range(300):
        secrets.register(trace, [f"a-much-longer-value-{n:04d}-registered-later"])
    assert secrets.scrub_text(trace, "login failed for password Pw0rd!xy")[0] == "login failed for password [REDACTED]"
    with caplog.at_level(logging.WARNING, logger="getgather_otel"):
        for n in range(40):  # a hostile page (main-world fallback) hands over values without end
            secrets.register(trace, [f"page-value-{n}-{k:02d}" for k in range(16)], from_page=True)
    assert secrets._traces[trace].page_values == secrets.MAX_PAGE_SECRETS_PER_TRACE + 1
    kept = [v for v in secrets._traces[trace].values if v.startswith("page-value-")]
    assert len(kept) == secrets.MAX_PAGE_SECRETS_PER_TRACE
    assert len([r for r in caplog.records if "typed secrets" in r.getMessage()]) == 1, "said once"
    assert secrets.scrub_text(trace, "Pw0rd!xy and a-much-longer-value-0299-registered-later")[0] == (
        "[REDACTED] and [REDACTED]"
    )


def test_a_single_string_is_one_secret_not_its_characters(telemetry: Telemetry, db_path: Path) -> None:
    with pytest.raises(RuntimeError), activity(name="sign_in", secrets="Hunter2Pass!"):
        raise RuntimeError("login failed with Hunter2Pass!")
    telemetry.flush()
    text = stored(db_path)
    assert "login failed with [REDACTED]" in text and "Hunter2Pass!" not in text


async def test_redact_keys_given_as_one_string_is_that_key(db_path: Path) -> None:
    telemetry = configure(service_name="redact-keys", duckdb_path=db_path)
    server = FastMCP("keys")

    @server.tool
    def sign_in(user: str, password: str) -> str:
        return "ok"

    instrument_mcp(server, capture_arguments=True, redact_keys="password")
    async with Client(server) as client:
        await client.call_tool("sign_in", {"user": "ada", "password": "Tr0ub4dor&3"})
    telemetry.flush()
    text = stored(db_path)
    assert "ada" in text, "arguments are captured"
    assert "Tr0ub4dor&3" not in text
    telemetry.shutdown()


def test_a_secret_that_is_not_unicode_is_kept_out_and_never_fails_the_tool(telemetry: Telemetry, db_path: Path) -> None:
    # A newcomer's break: a value with an unpaired surrogate (bytes that are not UTF-8, through
    # os.fsdecode) made `quote` raise inside the tool; the activity's span was never ended.
    secret = os.fsdecode(b"Hunter\xff2Pass")
    with pytest.raises(RuntimeError), activity(name="sign_in", secrets=[secret]) as act:
        act.add_secret(os.fsdecode(b"Other\xfeSecret"))
        raise RuntimeError(f"login failed with {secret} and {os.fsdecode(b'Other')}")
    telemetry.flush()
    text = stored(db_path)
    assert "login failed with [REDACTED] and Other" in text, text
    assert "Hunter" not in text
