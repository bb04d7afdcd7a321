"""Nothing private in any stored byte (issue 15): every input kind, editable text, select
choices, URLs by value and inside pages, the tool's own secrets; against tests/sites/privacy.html."""

from __future__ import annotations

import asyncio
import base64
import html
import io
import json
import os
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import duckdb
import pytest
import zstandard
from fastmcp import Client, FastMCP
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanContext, TraceFlags
from patchright.async_api import Browser, Page

from getgather_otel import Activity, activity, configure, current_activity, instrument_mcp, record_browser
from getgather_otel.capture import attributes as attr
from getgather_otel.capture.activity import use_tracer_provider
from getgather_otel.capture.secret_values import secret_spans
from getgather_otel.capture.secrets import MIN_SECRET_CHARS, forms, register, scrub_value
from getgather_otel.cli import main as cli_main
from getgather_otel.export.chunk_rows import chunks_to_arrow
from getgather_otel.export.duckdb_spans import DuckDBSpanExporter
from getgather_otel.export.duckdb_store import DuckDBStore, StoreLimits
from getgather_otel.export.otlp_recordings import OtlpChunkSink
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.export.scan import scan as scan_file
from getgather_otel.recording.chunk_codec import decompress_json
from getgather_otel.recording.chunks import Chunk
from getgather_otel.recording.options import DEFAULT_URL_SECRET_WORDS, RecordingOptions
from getgather_otel.recording.payloads import PayloadRejectedError, parse
from getgather_otel.recording.scrub import scrub_urls
from getgather_otel.recording.urls import UrlRedactor
from getgather_otel.store.tables import METRIC_TABLES, OTEL_TRACES, RECORDING_CHUNKS, RECORDING_PRUNES
from tests.conftest import Collector, Sites, flushed, rows
from tests.test_failures import refused_origin
from tests.test_recording import settle, stored_text, streams, text_of

MASK = "********"
LIMITS = {"max_payload_bytes": 1 << 20, "max_event_bytes": 1 << 20}
# Typed, selected, set by script and appended by the fixture page: never stored.
INPUT_SECRETS = [
    "HIDDENCSRF-7c1f9a4e2b",
    "HIDDENSETBYSCRIPT-3d9e",
    "HIDDENAPPENDED-88aa",
    "SELECTSECRETA",
    "SELECTSECRETB",
    "SELECTLABELA",
    "SELECTLABELB",
    "SELECTSETBYSCRIPT",
    "EDITABLETYPED",
    "PLAINTYPED",
    "TYPEDNAME-long-value-xyz",
    "CLASSMASKEDTEXT",
]
# What the fixture page holds, by audit kind (`getgather.privacy.redactions.<kind>`): every masking
# site counts, in the page's world and in Python.
FIXTURE_KINDS = {
    "input": "typed values (Input events)",
    "input_value": "the hidden input's value in the snapshot, and the ones set or appended by script",
    "select": "the select's choice, its options' values, labels and text",
    "editable": "text in the contenteditable regions",
    "text_class": "the rr-mask paragraph",
    "text_card": "the card number in page text",
    "text_jwt": "the JWT in page text",
    "text_token": "the sk_live_ key in page text",
    "url_key": "?session= and ?token= in links and the form's action",
    "token": "the reset link's path token, the image's and srcset's high-entropy values",
    "jwt": "the ping attribute's JWT",
    "fragment": "the poster's fragment",
    "card": "the formaction's card number",
}


async def fill_privacy_page(page: Page, origin: str) -> None:
    await page.goto(f"{origin}/privacy.html")
    await page.fill("#name", "TYPEDNAME-long-value-xyz")
    await page.fill("#short", "ab")
    await page.select_option("#plan", "plan-gold-SELECTSECRETB")
    await page.click("#editable")
    await page.keyboard.type(" EDITABLETYPED")
    await page.click("#plain")
    await page.keyboard.type(" PLAINTYPED")
    await page.evaluate("addSecrets()", isolated_context=False)
    await asyncio.sleep(0.3)


def input_texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["text"] for e in events if e["type"] == 3 and e["data"].get("source") == 5]


async def test_every_input_kind_and_editable_text_is_masked_with_one_fixed_mask(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="privacy", brand_id="fixture") as act:
        page = await context.new_page()
        await fill_privacy_page(page, sites.main)
    await settle(telemetry)
    await context.close()

    events = [e for page_events in streams(db_path, act.activity_id).values() for e in page_events]
    recorded = text_of(events)
    assert "Privacy fixture" in recorded and "Your orders are below." in recorded, "the page itself is recorded"
    assert "appended done" in recorded, "later mutations are recorded"
    # The text the editable regions hold from the start, in the document's first snapshot
    # (at DOMContentLoaded, where the attributes decide what is editable).
    assert "edit here" not in recorded and "plain here" not in recorded, "an editable region's text is masked"
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    for secret in INPUT_SECRETS:
        for form in forms(secret):
            for where, text in stored.items():
                assert form not in text, f"{secret!r} as {form!r} in {where}"
    # One mask whatever the length: a 24-character name, a 2-character one and a select's choice.
    texts = input_texts(events)
    assert texts and set(texts) <= {MASK, ""}, texts
    assert texts.count(MASK) >= 3
    audit = redactions_of(db_path, act.activity_id)
    assert audit.get("input", 0) >= 3, "the audit counts masked typing"
    for kind, what in FIXTURE_KINDS.items():
        assert audit.get(kind, 0) >= 1, f"the audit did not count {kind} ({what}): {audit}"
    assert set(audit) == set(FIXTURE_KINDS), f"kinds the fixture does not hold: {audit}"
    assert json.dumps(MASK) in recorded


def redactions_of(db: Path, activity_id: str) -> dict[str, int]:
    """The activity's privacy audit: `getgather.privacy.redactions.<kind>` by kind."""
    [span] = rows(db, "SELECT SpanAttributes FROM otel_traces WHERE SpanId = ?", [activity_id])
    prefix = "getgather.privacy.redactions."
    return {k.removeprefix(prefix): int(v) for k, v in span["SpanAttributes"].items() if k.startswith(prefix)}


async def test_an_activity_with_nothing_secret_reports_no_redactions(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="ordinary", brand_id="fixture") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/ordinary.html")
        await page.click("#agree")
        await page.evaluate("document.getElementById('later').append('more text, page 2')", isolated_context=False)
        await page.goto(f"{sites.main}/ordinary.html?page=2")
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()
    recorded = stored_text(db_path)
    assert "Ordinary page" in recorded and "more text, page 2" in recorded, "the pages are recorded"
    assert redactions_of(db_path, act.activity_id) == {}


def test_a_payload_naming_an_unknown_audit_kind_is_rejected() -> None:
    urls = UrlRedactor(DEFAULT_URL_SECRET_WORDS)
    body = {"v": 1, "doc": "d", "id": "d.1", "dropped": 0, "events": []}
    ok = parse(json.dumps({**body, "masked": {"select": 2, "text_card": 1}}), urls=urls, **LIMITS)
    assert ok.redactions == Counter({"select": 2, "text_card": 1}) and ok.masked == ok.redactions
    for masked in ({"getgather.other": 1}, {"select": -1}, {"select": "2"}, ["select"]):
        with pytest.raises(PayloadRejectedError):
            parse(json.dumps({**body, "masked": masked}), urls=urls, **LIMITS)


PATH_TOKEN = "Zm9vYmFyYmF6cXV4UGF0aFRva2VuMTIzNDU2Nzg5"
CARD_TYPED = "4111 1111 1111 1111"
PLANTED = "planted-by-the-test-0451"
# In URLs: the next document's query, a path, links, forms, images, styles, set and appended later.
URL_SECRETS = [
    "4111111111111111",
    "4111+1111+1111+1111",
    "4111%201111",
    "LINKSESSIONSECRET42",
    PATH_TOKEN,
    "eyJwaW5nIjoxfQ",
    "FORMACTIONSECRET77",
    "4242424242424242",
    "IMGSRCSECRET",
    "SRCSETSECRET",
    "POSTERSECRET",
    "STYLEURLSECRET",
    "CSSURLSECRET",
    "APPENDEDLINKSECRET99",
    "MUTATEDHREFSECRET55",
]


def everything_stored(db: Path, tmp_path: Path, activity_id: str) -> dict[str, str]:
    """Every place a secret could be: the file's bytes, decompressed chunks, spans, chunk rows, the replay page."""
    replay = tmp_path / "replay.html"
    assert cli_main(["replay", activity_id[:8], "--db", str(db), "-o", str(replay)], out=io.StringIO()) == 0
    return {
        "file": db.read_bytes().decode("latin-1"),
        "chunks": stored_text(db),
        "spans": json.dumps(rows(db, "SELECT * FROM otel_traces"), default=str),
        "chunk rows": json.dumps(rows(db, "SELECT * EXCLUDE (data) FROM recording_chunks"), default=str),
        "replay": replay.read_text(encoding="utf-8"),
    }


def assert_none_stored(secrets: dict[str, str], stored: dict[str, str]) -> None:
    """None of `secrets` (value: where the page holds it) in any of `everything_stored`'s places."""
    leaks = [f"{s} ({what}) in {where}" for s, what in secrets.items() for where, text in stored.items() if s in text]
    assert not leaks, "\n".join(leaks)


async def test_urls_are_redacted_by_value_everywhere_they_are_stored(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="urls", brand_id="fixture") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/privacy.html")
        await page.fill("#card", CARD_TYPED)
        await page.click("#go")  # GET: the card number lands in the next URL
        await page.wait_for_url("**pan=**")
        await page.evaluate("addSecrets()", isolated_context=False)
        # Not a secret the recorder can know: for `scan` to find.
        await page.evaluate(f"document.getElementById('later').append(' {PLANTED}')", isolated_context=False)
        act.add_event("planted", {"note": PLANTED})
        await asyncio.sleep(0.3)
        await page.goto(f"{sites.main}/accounts/reset-password/{PATH_TOKEN}")
        await page.goto(f"{sites.main}/privacy.html?page=2")
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    for where, text in stored.items():
        for secret in URL_SECRETS:
            assert secret not in text, f"{secret!r} in {where}"
    recorded = stored["chunks"]
    assert "Privacy fixture" in recorded and "Order 123" in recorded, "the pages themselves are recorded"
    assert "/orders/123?page=2" in recorded, "ordinary URLs stay readable"
    assert "/accounts/reset-password/[REDACTED]" in recorded
    assert "privacy.html?page=2" in stored["chunk rows"]

    # The audit: what the defaults caught, by kind, on the activity.
    [span] = rows(db_path, "SELECT SpanAttributes FROM otel_traces WHERE SpanId = ?", [act.activity_id])
    audit = {k: int(v) for k, v in span["SpanAttributes"].items() if k.startswith("getgather.privacy.redactions.")}
    for kind in ("card", "token", "url_key", "fragment"):
        assert audit.get(f"getgather.privacy.redactions.{kind}", 0) >= 1, audit

    # scan: nothing left that looks like a card or a JWT; a planted value is found, where it is.
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--pattern", "card", "--pattern", "jwt"], out=out) == 0, (
        out.getvalue()
    )
    assert "nothing found" in out.getvalue()
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--secret", "LINKSESSIONSECRET42"], out=out) == 0
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--secret", PLANTED], out=out) == 1
    said = out.getvalue()
    assert f"otel_traces trace={act.trace_id} span={act.activity_id} Events.Attributes" in said, said
    assert f"recording_chunks span={act.activity_id}" in said and "--secret #1" in said and PLANTED not in said


# tests/sites/hostile.html: what a hostile reviewer tried (issue 15), each secret with where it sits.
HOSTILE_SECRETS = {
    "METAREFRESHSECRET1": "<meta http-equiv=refresh content=...url=...?token=>",
    "METALATERSECRET1": "the same, appended later",
    "STYLEMIXEDCASE1": "Url(...) in a style attribute (CSS functions are case-insensitive)",
    "STYLEMUTATED1": "uRL(...) in a style attribute set later",
    "STYLETEXTCHANGED1": "URL(...) in a <style>'s text replaced later",
    "LATERSTYLESECRET1": "url(...) in a <style> appended later",
    "IMPORTSECRET1": '@import "..." (a URL without url()) in a <style> appended later',
    "IMAGESETSECRET1": 'image-set("...") in a style attribute (a URL without url())',
    "SRCSETKEYSECRET1": "a srcset of one URL with a secret key",
    "eyJkYXRhIjoxfQ": "a JWT in a data: URL",
    "5105105105105100": "a card number in a data: URL",
    "JSURLSECRET": "a key shape in a javascript: URL",
    "FORMACTIONSESSION2": "formaction's ?session=",
    "PINGSIDSECRET1": "ping's ?sid=",
    "BUTTONVALUESECRET1": "a <button>'s value (sent with its form, never shown)",
    "TEXTAREADEFAULT1": "a textarea's text",
    "TEXTAREATYPED1": "typed into a textarea",
    "prefilled.email.secret": "an email input's value attribute",
    "typed.email.secret": "typed into an email input",
    "5550001234": "typed into a tel input",
    "987654321": "typed into a number input",
    "2031-07-19": "chosen in a date input",
    "5555 5555 5555 4444": "a card number in a title attribute",
    "4000 0566 5566 5556": "a card number in a title attribute set later",
    "BUTTONVALUELATER1": "a <button>'s value set later",
    "ALTATTRSECRET": "a key shape in an alt attribute",
    "eyJwbGFjZSI6MX0": "a JWT in a placeholder",
    "SRCDOCSECRET1": "a URL inside an iframe's srcdoc",
    "CSRFMETA": "<meta name=csrf-token content=...> (Rails, Laravel)",
    "DATAAPIKEYSECRET1": "a data-api-key attribute",
    "DATACSRFSECRET1": "a data-csrf attribute",
    "4012\u00a08888": "a card number grouped by no-break spaces in page text",
    "822463": "a card number grouped by thin spaces in page text",
    "SHADOWTYPED1": "typed into a contenteditable inside a shadow root",
    "SHADOWINPUT1": "typed into an input inside a shadow root",
    "SHADOWHIDDEN1": "a hidden input inside a shadow root",
    "IFRAMEHIDDEN1": "hidden inputs in same-origin and cross-origin iframes",
    "IFRAMESAMETYPED1": "typed into a same-origin iframe's input",
    "IFRAMESAMEEDIT1": "typed into a same-origin iframe's contenteditable",
    "IFRAMECROSSTYPED1": "typed into a cross-origin iframe's input",
    "IFRAMECROSSEDIT1": "typed into a cross-origin iframe's contenteditable",
    "HASHCHANGESECRET1": "location.hash set to access_token=...",
    "DIALOGSECRET": "a key shape in an alert's message (the dialog's span event)",
    "4111 1111 1111 1111": "a card number in an alert's message",
    "UHVzaFN0YXRlUGF0aFRva2VuOTg3NjU0": "a token in a path set by history.pushState",
}


async def test_a_hostile_page_stores_none_of_its_secrets(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="hostile", brand_id="fixture") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/hostile.html")
        cross_src = f"{sites.far}/hostile-child.html?f=cross"
        await page.evaluate(f"document.getElementById('cross').src = {json.dumps(cross_src)}", isolated_context=False)
        cross = page.frame_locator("#cross")
        await cross.locator("#cin").wait_for()
        for selector, value in [
            ("#ta", "TEXTAREATYPED1"),
            ("#em", "typed.email.secret@example.com"),
            ("#tel", "5550001234"),
            ("#num", "987654321"),
            ("#dt", "2031-07-19"),
            ("#host >> #sin", "SHADOWINPUT1"),
        ]:
            await page.fill(selector, value)
        await page.click("#host >> #sce")
        await page.keyboard.type(" SHADOWTYPED1")
        same = page.frame_locator("#same")
        await same.locator("#cin").fill("IFRAMESAMETYPED1")
        await same.locator("#cce").click()
        await page.keyboard.type(" IFRAMESAMEEDIT1")
        await cross.locator("#cin").fill("IFRAMECROSSTYPED1")
        await cross.locator("#cce").click()
        await page.keyboard.type(" IFRAMECROSSEDIT1")
        await page.evaluate("later()", isolated_context=False)
        alert = "setTimeout(() => alert('Charged 4111 1111 1111 1111, key sk_live_DIALOGSECRET0123456789'), 0)"
        await page.evaluate(alert, isolated_context=False)
        await page.evaluate("location.hash = 'access_token=HASHCHANGESECRET1'", isolated_context=False)
        await asyncio.sleep(0.3)
        await page.evaluate(
            "history.pushState({}, '', '/reset/UHVzaFN0YXRlUGF0aFRva2VuOTg3NjU0')", isolated_context=False
        )
        await asyncio.sleep(0.5)
    await settle(telemetry, 1.0)
    await context.close()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    recorded = stored["chunks"]
    for shown in ("Hostile fixture", "Hostile child", "in srcdoc", "later.png", "imp.css"):
        assert shown in recorded, f"{shown!r}: the page, its frames and its later styles are recorded"
    assert_none_stored(HOSTILE_SECRETS, stored)
    assert "Charged [REDACTED], key [REDACTED]" in stored["spans"], "the dialog is evidence, without its secrets"
    audit = redactions_of(db_path, act.activity_id)
    for kind in (
        "srcdoc",
        "attribute",
        "text_card",
        "text_jwt",
        "text_token",
        "input_value",
        "editable",
        "url_key",
        "card",
    ):
        assert audit.get(kind, 0) >= 1, f"the audit did not count {kind}: {audit}"


def test_css_and_script_urls_are_redacted_however_they_are_written() -> None:
    urls = UrlRedactor(DEFAULT_URL_SECRET_WORDS)
    counts: Counter[str] = Counter()
    assert urls.redact_css("b:Url('/s.png?token=A1');c:uRL(/t.png?sid=B2)", counts) == (
        "b:Url('/s.png?token=[REDACTED]');c:uRL(/t.png?sid=[REDACTED])"
    )
    assert urls.redact_css("@import \"/i.css?token=C3\"; @import '/j.css?code=D4' screen;", counts) == (
        "@import \"/i.css?token=[REDACTED]\"; @import '/j.css?code=[REDACTED]' screen;"
    )
    assert urls.redact_css("x:image-set(\"/a.png?token=E5\" 1x, '/b.png?sig=F6' 2x)", counts) == (
        "x:image-set(\"/a.png?token=[REDACTED]\" 1x, '/b.png?sig=[REDACTED]' 2x)"
    )
    assert counts == Counter({"url_key": 6})
    assert urls.redact_css('p::after { content: "a, b?" }') == 'p::after { content: "a, b?" }', "other strings stay"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJkYXRhIjoxfQ.ZGF0YXNpZ25hdHVyZTEy"
    assert urls.redact(f"data:text/plain,see {jwt}", counts) == "data:text/plain,see [REDACTED]"
    assert urls.redact("data:text/plain,5105105105105100", counts) == "data:text/plain,[REDACTED]"
    assert urls.redact("javascript:void('sk_live_JSURLSECRET0123456789')") == "javascript:void('[REDACTED]')"
    assert urls.redact("javascript:go(2)") == "javascript:go(2)"


def test_url_keys_sites_use_for_secrets_and_urls_inside_urls_are_redacted() -> None:
    urls = UrlRedactor(DEFAULT_URL_SECRET_WORDS)
    keys = ["apikey", "pin", "cvv", "cvc", "ssn", "Authorization", "X-Amz-Signature", "X-Amz-Credential", "PHPSESSID"]
    keys += ["JSESSIONID", "sessionid", "passphrase"]
    for key in keys:
        assert urls.redact(f"/a?{key}=v4lue&page=2") == f"/a?{key}=[REDACTED]&page=2", key
    # A URL carried in another's query (redirects, OAuth callbacks), encoded or not.
    assert urls.redact("/login?next=%2Freset%3Ftoken%3Dabc123&page=2") == (
        "/login?next=%2Freset%3Ftoken%3D[REDACTED]&page=2"
    )
    assert urls.redact("/a?redirect_uri=https://x.com/cb?code=abc123") == (
        "/a?redirect_uri=https%3A%2F%2Fx.com%2Fcb%3Fcode%3D[REDACTED]"
    )
    assert urls.redact("/a?next=/orders/123?page=2") == "/a?next=/orders/123?page=2", "ordinary ones stay"
    nested = "/r?token=abc123"
    for _ in range(8):  # encoded again at each level
        nested = "/n?next=" + quote(nested, safe="")
    redacted = urls.redact(nested)
    assert "abc123" not in redacted and redacted.startswith("/n?next="), "deep nesting is bounded, and redacted"
    # Cards grouped by no-break and thin spaces, as pages print them.
    for card in ("4012\u00a08888\u00a08888\u00a01881", "3782\u2009822463\u200910005"):
        assert [kind for *_, kind in secret_spans(card)] == ["card"], card
        assert urls.redact("/a?x=" + quote(card)) == "/a?x=[REDACTED]"
    # A number just before a card is taken in by the pattern, and the whole run fails the check:
    # the card within it is found all the same, and a longer unseparated number is no card.
    for text, card in (
        ("Qty 2 4111 1111 1111 1111", "4111 1111 1111 1111"),
        ("ref 12 5555-5555-5555-4444 x", "5555-5555-5555-4444"),
    ):
        assert [text[a:b] for a, b, _ in secret_spans(text)] == [card], text
    assert secret_spans("order 24111111111111111") == []


def test_url_redaction_by_key_and_by_value() -> None:
    urls = UrlRedactor(DEFAULT_URL_SECRET_WORDS)
    counts: Counter[str] = Counter()
    keep = [
        "https://shop.example.com/orders/123?page=2",
        "/orders/550e8400-e29b-41d4-a716-446655440000",
        "/blog/my-long-title-in-words",
        "/static/css/main.3f9a8b7c1d2e4f6a9b8c.css",  # content hashes in asset names: a replay loads them
        "/img/logo.5f4dcc3b5aa765d61d8327deb882cf99.png?v=2",
    ]
    for url in keep:
        assert urls.redact(url, counts) == url
    assert not counts
    assert urls.redact("/a?x=1&password=hunter2") == "/a?x=1&password=[REDACTED]"
    assert urls.redact(f"/r/{PATH_TOKEN}?n=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIzNDU2", counts) == (
        "/r/[REDACTED]?n=[REDACTED]"
    )
    assert urls.redact("/pay?pan=4111+1111+1111+1111&sk=sk_live_abcdefghij12345", counts) == (
        "/pay?pan=[REDACTED]&sk=[REDACTED]"
    )
    assert urls.redact("https://ada:pw@host/#t") == "https://[REDACTED]@host/#[REDACTED]"
    assert counts == Counter({"token": 2, "jwt": 1, "card": 1})
    assert urls.redact_list("/b.png?sig=s 2x, /c.png 3x") == "/b.png?sig=[REDACTED] 2x, /c.png 3x"
    assert urls.redact_css("a{b:url('/i.png?k=STYLEURLSECRET0123456789abcdefgh')}") == "a{b:url('/i.png?k=[REDACTED]')}"
    data_url = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kg"
    assert urls.redact(data_url) == data_url


# The tool's own secrets: an argument named like a secret, and values code registers.
ARG_SECRET = "Sw0rd&fish<42> x"
# Characters JavaScript's encodeURIComponent leaves as they are and a browser's form encoding
# treats its own way (`*` kept, `~` encoded): forms Python's quote functions never produce.
ARG_TOKEN = "T0k!en*(pa ss)~'z"
REGISTERED = "reg1stered-value"
ADDED = "added/secret value"


async def test_the_tools_own_secrets_are_never_stored_in_any_encoding(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    server = FastMCP("privacy")
    instrument_mcp(server, capture_arguments=True)

    @server.tool
    async def sign_in(username: str, password: str, token: str) -> str:
        act = current_activity()
        assert act is not None
        act.add_secret(ADDED)
        async with activity(name="inner", secrets=[REGISTERED]):
            page = await context.new_page()
            # The secrets where a site would echo them: the URL (not a secret key, short pieces),
            # page text plain and HTML-escaped, an attribute, and span events.
            await page.goto(f"{sites.main}/privacy.html?q={quote(password)}&r={quote_plus(ADDED)}#{REGISTERED}")
            await page.evaluate(
                "([a, b, c]) => { document.getElementById('readable').textContent = 'echo ' + a + ' ' + b;"
                " document.getElementById('title').setAttribute('title', c); }",
                [password, html.escape(password), REGISTERED + " " + ADDED],
                isolated_context=False,
            )
            act.add_event("note", {"said": f"password {password} / {ADDED} / {REGISTERED}"})
            await asyncio.sleep(0.3)
            # A site's script puts the token in a path (encodeURIComponent); a GET form sends it.
            await page.fill("#name", token)
            await page.click("#go")
            await page.wait_for_url("**q=**")
            await page.evaluate(
                "t => { location.href = '/u/' + encodeURIComponent(t); }", token, isolated_context=False
            )
            await page.wait_for_url("**/u/**")
            await asyncio.sleep(0.3)
        return f"signed in as {username}"

    async with Client(server) as client:
        result = await client.call_tool("sign_in", {"username": "ada", "password": ARG_SECRET, "token": ARG_TOKEN})
    assert "signed in as ada" in str(result)
    await settle(telemetry, 2.5)  # past the recording's grace period
    await context.close()
    [tool_activity] = rows(db_path, "SELECT activity_id FROM activities WHERE name = 'sign_in'")
    [span] = rows(db_path, "SELECT SpanAttributes FROM otel_traces WHERE SpanId = ?", [tool_activity["activity_id"]])
    assert int(span["SpanAttributes"]["getgather.privacy.redactions.secret"]) >= 1, "the audit counts them"
    secret_scan = ["scan", "--db", str(db_path), "--secret", ARG_SECRET, "--secret", REGISTERED, "--secret", ADDED]
    assert cli_main(secret_scan, out=io.StringIO()) == 0

    stored = everything_stored(db_path, tmp_path, tool_activity["activity_id"])
    assert "Privacy fixture" in stored["chunks"] and "echo " in stored["chunks"], "the page is recorded"
    assert "note" in stored["spans"] and "ada" in stored["spans"]
    # What encodeURIComponent and a browser's form encoding make of the token, too.
    browser_forms = {quote(ARG_TOKEN, safe="!*'()~"), quote_plus(ARG_TOKEN, safe="*").replace("~", "%7E")}
    for secret in (ARG_SECRET, REGISTERED, ADDED, ARG_TOKEN):
        for form in forms(secret) | (browser_forms if secret == ARG_TOKEN else set()):
            for where, text in stored.items():
                assert form not in text, f"{secret!r} as {form!r} in {where}"


async def test_cards_and_token_shapes_are_masked_in_page_text_by_default(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="text", brand_id="fixture"):
        page = await context.new_page()
        await page.goto(f"{sites.main}/privacy.html")
        await page.evaluate(
            "document.getElementById('later').textContent = 'later card 4242-4242-4242-4242 and "
            "Bearer dGhpc2lzYWJlYXJlcnRva2VuMTIz'",
            isolated_context=False,
        )
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    recorded = stored_text(db_path)
    assert "Card on file" in recorded and "expires soon" in recorded and "later card" in recorded
    for secret in ["4111 1111 1111 1111", "4242-4242-4242-4242", "c2lnbmF0dXJlVGV4dEpXVHNpZw", "TEXTKEYSECRET"]:
        assert secret not in recorded, f"{secret!r} in the recording"
    assert "dGhpc2lzYWJlYXJlcnRva2VuMTIz" not in recorded
    # Not a card (Luhn), and emails are opt-in: both stay readable by default.
    assert "Tracking 4111 1111 1111 1112, contact ada@example.com" in recorded


def test_urls_in_span_attributes_and_events_are_redacted_whoever_set_them(telemetry: Telemetry, db_path: Path) -> None:
    with activity(name="http") as act:
        act.set_attribute("url.full", "https://shop.example.com/pay?pan=4111+1111+1111+1111&page=2")
        act.set_attribute("url.query", "session=abc123&page=2")
        act.add_event("fetch", {"http.url": f"https://api.example.com/reset/{PATH_TOKEN}"})
    flushed(telemetry)
    [span] = rows(
        db_path,
        'SELECT SpanAttributes, "Events.Attributes" AS events FROM otel_traces WHERE SpanId = ?',
        [act.activity_id],
    )
    attributes = span["SpanAttributes"]
    assert attributes["url.full"] == "https://shop.example.com/pay?pan=[REDACTED]&page=2"
    assert attributes["url.query"] == "session=[REDACTED]&page=2"
    assert span["events"][0]["http.url"] == "https://api.example.com/reset/[REDACTED]"
    assert attributes["getgather.privacy.redactions.card"] == "1"
    assert attributes["getgather.privacy.redactions.token"] == "1"


def test_a_short_numeric_secret_is_scrubbed_from_strings_never_from_numbers() -> None:
    trace_id = "ab" * 16
    register(trace_id, ["2468"])
    text: dict[str, Any] = {"id": 7, "value": "pin 2468"}
    events: list[dict[str, Any]] = [{"type": 3, "timestamp": 1764532468123, "data": {"source": 0, "texts": [text]}}]
    chunk = Chunk(trace_id, "cd" * 8, "r" * 32, "page", 0, events, 100, "https://x.example/?p=2468")
    [row] = chunks_to_arrow([chunk]).to_pylist()
    stored = json.loads(decompress_json(row["data"], row["compression"]))
    assert stored[0]["timestamp"] == 1764532468123, "numbers are left alone"
    assert stored[0]["data"]["texts"][0]["value"] == "pin [REDACTED]"
    assert row["url"] == "https://x.example/?p=[REDACTED]"
    assert text["value"] == "pin 2468", "the chunk itself is not changed (other sinks)"


def test_secret_shapes_start_where_a_token_would() -> None:
    assert secret_spans("task-list-item-container-wrapper") == [], "no sk- key inside a word"
    assert [kind for *_, kind in secret_spans("key sk-abcdefghijklmnopqrstuvwxyz12")] == ["token"]
    assert [kind for *_, kind in secret_spans("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")] == ["jwt"]
    assert [kind for *_, kind in secret_spans("4111 1111 1111 1111 / 4111 1111 1111 1112")] == ["card"]
    assert secret_spans("order 550e8400-e29b-41d4-a716-446655440000, page 2, 2026-11-30") == []


# A uuid whose digit run is a Luhn-valid card number: ~1 recording id in 200 looks like this.
CARD_SHAPED_ID = "4111111111111111" + "abcdef0123456789"
CARD_IN_TEXT = "5555 5555 5555 4444"


def test_scan_patterns_skip_our_own_ids_but_find_cards_anywhere(telemetry: Telemetry, db_path: Path) -> None:
    with activity(name="ids") as act:
        act.set_attribute(attr.RECORDING_ID, CARD_SHAPED_ID)
        act.add_event(attr.EVENT_RECORDING_START, {attr.RECORDING_ID: CARD_SHAPED_ID})
        act.add_event("evidence", {attr.RECORDING_PAGE_ID: "c1p1"})
    marker_id = "4111111111111111"  # a span id whose hex happens to be all digits
    events: list[dict[str, Any]] = [
        {"type": 5, "timestamp": 1, "data": {"tag": attr.TAG_ACTIVITY_START, "payload": {"activity_id": marker_id}}},
        {"type": 3, "timestamp": 2, "data": {"source": 0, "texts": [{"id": 7, "value": "plain text"}]}},
    ]
    assert telemetry.store is not None
    telemetry.store.submit(Chunk(act.trace_id, act.activity_id, CARD_SHAPED_ID, "c1p1", 0, events, 100, "https://x/"))
    flushed(telemetry)

    def scan(*args: str) -> tuple[int, str]:
        out = io.StringIO()
        return cli_main(["scan", "--db", str(db_path), *args], out=out), out.getvalue()

    code, said = scan("--pattern", "card", "--pattern", "jwt")
    assert code == 0 and "nothing found" in said, said
    # The explicit value is still found in those fields, wherever it is.
    code, said = scan("--secret", CARD_SHAPED_ID)
    assert code == 1 and "recording_id" in said and "SpanAttributes" in said and "Events.Attributes" in said, said
    # A card in a text field, or under our own keys but not shaped like our ids, is still a card.
    with activity(name="card") as other:
        other.add_event("note", {"said": f"paid with {CARD_IN_TEXT}"})
        other.set_attribute(attr.RECORDING_ID, CARD_IN_TEXT)
    texts: list[dict[str, Any]] = [
        {"type": 3, "timestamp": 3, "data": {"source": 0, "texts": [{"id": 7, "value": f"card {CARD_IN_TEXT}"}]}},
        {"type": 5, "timestamp": 4, "data": {"tag": attr.TAG_SEGMENT, "payload": {"activity_id": CARD_IN_TEXT}}},
    ]
    for sequence, event in enumerate(texts):  # one hit per kind per chunk is reported
        chunk = Chunk(other.trace_id, other.activity_id, "r" * 32, "c1p2", sequence, [event], 100, "https://x/")
        telemetry.store.submit(chunk)
    flushed(telemetry)
    code, said = scan("--pattern", "card")
    assert code == 1, said
    hits = said.splitlines()
    # The event's text is masked before it is stored; our id's key is not (a card under it is found).
    assert not any(f"span={other.activity_id} Events.Attributes" in h for h in hits), said
    assert any(f"span={other.activity_id} SpanAttributes['{attr.RECORDING_ID}']" in h for h in hits), said
    assert any(f"span={other.activity_id} page=c1p2 sequence=0 events[0].data.texts" in h for h in hits), said
    assert any(f"span={other.activity_id} page=c1p2 sequence=1 events[0].data.payload" in h for h in hits), said
    assert not any(act.activity_id in h for h in hits), said


# Registered values a server or a page writes percent-encoded with lower-case hex, or with `+`
# and `%20` mixed: no form Python, `encodeURIComponent` or a browser's form encoding produces.
UMLAUT = "pässwörd"
SPACED = "my sécret value"
ANY_CASE = {
    UMLAUT: ["p%c3%a4ssw%c3%b6rd", "p%C3%a4ssw%c3%B6rd"],
    SPACED: ["my+s%c3%a9cret%20value", "my%20s%c3%a9cret+value"],
}


async def test_registered_secrets_percent_encoded_in_any_case_are_redacted_and_scanned(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    lower, mixed = ANY_CASE[UMLAUT]
    spaced_lower, spaced_mixed = ANY_CASE[SPACED]
    async with activity(name="encoded", secrets=[UMLAUT, SPACED]) as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/privacy.html?q={lower}&r={spaced_lower}")
        await page.evaluate(
            "([a, b]) => { const link = document.createElement('a'); link.href = '/orders/1?q=' + a + '&r=' + b;"
            " link.textContent = 'sent q=' + a + ' r=' + b; document.getElementById('later').appendChild(link); }",
            [mixed, spaced_mixed],
            isolated_context=False,
        )
        act.add_event("note", {"said": f"sent {lower} and {spaced_mixed}"})
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert "Privacy fixture" in stored["chunks"] and "sent q=" in stored["chunks"], "the page is recorded"
    for secret, written in ANY_CASE.items():
        for form in written + [w.upper() for w in written]:
            for where, text in stored.items():
                assert form not in text, f"{secret!r} as {form!r} in {where}"
    assert "privacy.html?q=[REDACTED]&r=[REDACTED]" in stored["chunk rows"]
    scan = ["scan", "--db", str(db_path), "--secret", UMLAUT, "--secret", SPACED]
    out = io.StringIO()
    assert cli_main(scan, out=out) == 0, out.getvalue()

    # Stored by a trace that never registered them: scan finds every spelling.
    with activity(name="unregistered") as other:
        other.add_event("note", {"said": f"sent {mixed}"})
        other.set_attribute("note", f"sent {spaced_mixed}")
    flushed(telemetry)
    out = io.StringIO()
    assert cli_main(scan, out=out) == 1
    said = out.getvalue()
    assert f"span={other.activity_id} Events.Attributes[0]['said']: --secret #1" in said, said
    assert f"span={other.activity_id} SpanAttributes['note']: --secret #2" in said, said
    assert act.activity_id not in said and UMLAUT not in said and mixed not in said


# tests/sites/card-attributes.html: Luhn-valid card numbers in attribute values.
ATTRIBUTE_CARDS = {
    "4000 0566 5566 5556": "<meta content=...> grouped by spaces",
    "4111 1111 1111 1111": "an <input type=button>'s value (its label)",
    "4111111111111111": "a data-number attribute",
    "4012888888881881": "a data-number attribute set later",
    "3782 822463 10005": "a button input's value set later",
    "6011111111111117": "a <meta content> appended later",
    "5105 1051 0510 5100": "a button input appended later",
    "5555 5555 5555 4444": "page text with a number just before the card (the pattern took both in)",
}


async def test_card_numbers_in_any_attribute_value_are_masked_and_ordinary_attributes_kept(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    act = await visit(telemetry, browser, f"{sites.main}/card-attributes.html", "later()")
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert "later done" in stored["chunks"] and "Pay now" in stored["chunks"], "the page and its mutations"
    assert_none_stored(ATTRIBUTE_CARDS, stored)
    assert redactions_of(db_path, act.activity_id).get("text_card", 0) >= 4, "the audit counts them"
    # Ids, classes, styles, URLs, SVG geometry and numbers that are no card keep their values.
    events = [e for page_events in streams(db_path, act.activity_id).values() for e in page_events]
    kept = {
        "id": "order-row-1",
        "class": "order paid",
        "style": "color: red; width: 120px",
        "data-order": "123456",
        "data-tracking": "4111111111111112",
        "title": "Order 123456",
    }
    rows_kept = [n["attributes"] for n in nodes_of(events) if n.get("attributes", {}).get("id") == "order-row-1"]
    assert rows_kept and all({k: row.get(k) for k in kept} == kept for row in rows_kept), rows_kept
    attributes = [n.get("attributes", {}) for n in nodes_of(events)]
    links = [a.get("href") for a in attributes if a.get("id") == "order-link"]
    assert links and all(href == f"{sites.main}/orders/123?page=2" for href in links), links  # rrweb makes it absolute
    assert any(a.get("d") == "M1 2 3 4 5 6 7 8 9 1 2 3 3" for a in attributes), "SVG geometry is not a card"
    assert any(a.get("id") == "number" and a.get("data-number") == MASK for a in attributes)


async def visit(
    telemetry: Telemetry,
    browser: Browser,
    url: str,
    *scripts: str,
    steps: Callable[[Page], Awaitable[None]] | None = None,
) -> Activity:
    """One recorded activity: open `url`, run `scripts` in the page (or `steps` on it), store everything."""
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="visit", brand_id="fixture") as act:
        page = await context.new_page()
        await page.goto(url)
        for script in scripts:
            await page.evaluate(script, isolated_context=False)
        if steps is not None:
            await steps(page)
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()
    return act


def nodes_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every serialised node of full snapshots and Mutation adds."""
    found: list[dict[str, Any]] = []
    stack: list[Any] = [e["data"].get("node") for e in events if e["type"] == 2]
    stack += [add.get("node") for e in events if e["type"] == 3 for add in e["data"].get("adds") or []]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.append(node)
            stack.extend(node.get("childNodes") or [])
    return found


LATE = "L4te-registered value&x"


def file_frames_text(db: Path) -> str:
    """Every zstd frame anywhere in the file's bytes, live or in a freed block, decompressed."""
    data = db.read_bytes()
    texts = []
    start = data.find(b"\x28\xb5\x2f\xfd")
    while start >= 0:
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data[start:]))
            texts.append(reader.read(64 << 20).decode("utf-8", "replace"))
        except zstandard.ZstdError:
            pass
        start = data.find(b"\x28\xb5\x2f\xfd", start + 1)
    return "".join(texts)


async def test_a_secret_registered_late_reaches_what_its_activity_already_cut_and_flushed(
    browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    telemetry = configure(duckdb_path=db_path, recording=RecordingOptions(chunk_interval_s=0.3))
    context = await browser.new_context()
    try:
        async with activity(name="late", brand_id="fixture") as act:
            page = await context.new_page()
            # The page shows it (text, an attribute, the URL), a nested activity quotes it.
            await page.goto(f"{sites.main}/privacy.html?q={quote_plus(LATE)}")
            await page.evaluate(
                "v => { document.getElementById('readable').textContent = 'shown ' + v;"
                " document.getElementById('title').setAttribute('data-said', v); }",
                LATE,
                isolated_context=False,
            )
            async with activity(name="inner") as inner:
                inner.add_event("note", {"said": f"typed {LATE}"})
            await asyncio.sleep(1.0)  # past the chunk interval: a chunk holding it is cut
            await page.goto(f"{sites.main}/ordinary.html")  # and another at the next snapshot
            await asyncio.sleep(1.0)  # and handed to the writer (which wrote them at once until now)
            act.add_secret(LATE)
            await page.goto(f"{sites.main}/ordinary.html?page=2")
            await asyncio.sleep(0.3)
        await settle(telemetry, 1.0)
    finally:
        await context.close()
        telemetry.shutdown()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    stored["zstd frames in the file"] = file_frames_text(db_path)
    for form in forms(LATE):
        for where, text in stored.items():
            assert form not in text, f"{LATE!r} as {form!r} in {where}"
    assert "shown [REDACTED]" in stored["chunks"] and "Ordinary page" in stored["chunks"], "the pages are recorded"
    sequences = rows(db_path, "SELECT sequence FROM recording_chunks WHERE span_id = ?", [act.activity_id])
    assert len(sequences) >= 3, "the recording was cut into chunks as it ran"
    assert "typed [REDACTED]" in stored["spans"], "the nested activity's span is kept, without it"
    assert not db_path.with_name(db_path.name + ".wal").exists()


def test_what_waits_for_a_running_activity_is_bounded(telemetry: Telemetry, tmp_path: Path) -> None:
    """Past `max_held_recording_bytes` the oldest rows are written before their activity ends, and counted."""
    db = tmp_path / "held.duckdb"
    store = DuckDBStore(db, limits=StoreLimits(max_held_recording_bytes=40_000))
    store.record_browsers()

    def chunk(act: Activity, sequence: int) -> Chunk:
        text = os.urandom(6000).hex()  # ~6 KB compressed: zstd cannot shrink it much
        events: list[dict[str, Any]] = [{"type": 3, "timestamp": sequence, "data": {"source": 0, "text": text}}]
        return Chunk(act.trace_id, act.activity_id, "r" * 32, "c1p1", sequence, events, len(text), "https://x/")

    def stored(act: Activity) -> int:
        return len(rows(db, "SELECT sequence FROM recording_chunks WHERE span_id = ?", [act.activity_id]))

    def written() -> None:  # the writer took everything queued (what it holds is not queued)
        for _ in range(200):
            if store.stats.recordings.pending == 0:
                return
            time.sleep(0.05)
        raise AssertionError(store.stats)

    try:
        with activity(name="long") as act:
            for sequence in range(20):
                store.submit(chunk(act, sequence))
            written()
            early = store.stats.recording_rows_written_early
            assert 0 < stored(act) == early < 20, "the oldest went early, the rest wait"
            assert 0 < store.stats.recordings_held_bytes <= 40_000
        assert store.flush(10)
        assert stored(act) == 20 and store.stats.recordings_held_bytes == 0, "the rest are written when it ends"
        with activity(name="flushed") as flushed_early:
            store.submit(chunk(flushed_early, 0))
            written()
            assert stored(flushed_early) == 0
            assert store.flush(10) and stored(flushed_early) == 1, "an explicit flush writes what is held"
        with activity(name="cut short") as running:
            store.submit(chunk(running, 0))
            written()
            assert stored(running) == 0
            store.shutdown()  # a process ending mid-activity writes what it held
            assert stored(running) == 1
    finally:
        store.shutdown()


def test_the_zero_code_exporter_holds_spans_of_a_running_activity(tmp_path: Path) -> None:
    db = tmp_path / "zero.duckdb"
    exporter = DuckDBSpanExporter(db, hold_spans=True)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    try:
        with activity(name="tool") as act:
            with activity(name="inner") as inner:
                inner.add_event("note", {"said": f"typed {LATE}"})
            taken = exporter.store.stats.spans
            assert taken.written + taken.pending == 0, "held while the tool runs"
            act.add_secret(LATE)
        assert exporter.force_flush()
        spans = json.dumps(rows(db, 'SELECT SpanName, "Events.Attributes" FROM otel_traces'), default=str)
        assert "activity inner" in spans and "typed [REDACTED]" in spans and LATE not in spans
    finally:
        use_tracer_provider(None)
        provider.shutdown()


def test_recordings_sent_over_otlp_wait_for_their_activity_too(telemetry: Telemetry) -> None:
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    sink = OtlpChunkSink(exporter, Resource.create({}))
    try:
        with activity(name="sent") as act:
            text: dict[str, Any] = {"id": 7, "value": f"shown {LATE}"}
            events: list[dict[str, Any]] = [{"type": 3, "timestamp": 1, "data": {"source": 0, "texts": [text]}}]
            sink.submit(Chunk(act.trace_id, act.activity_id, "r" * 32, "c1p1", 0, events, 100, "https://x/"))
            for _ in range(200):  # the sink's thread took it
                if sink.stats.pending == 0:
                    break
                time.sleep(0.05)
            assert sink.stats.pending == 0 and exporter.get_finished_logs() == (), "held while the activity runs"
            act.add_secret(LATE)
        assert sink.flush(10)
        [record] = exporter.get_finished_logs()
        body = decompress_json(record.log_record.body, "zstd").decode()  # type: ignore[arg-type]
        assert "shown [REDACTED]" in body and LATE not in body
    finally:
        sink.shutdown(5)


MIRRORED = "Qz7wPmXr4tKv"


async def type_keystrokes(page: Page, selector: str, text: str) -> None:
    """Type `text` into `selector` one key at a time, pausing after each: one mutation of a
    page's echo per keystroke, as a person typing makes."""
    await page.click(selector)
    for char in text:
        await page.keyboard.type(char)
        await asyncio.sleep(0.05)


async def test_prefixes_of_a_secret_mirrored_as_it_is_typed_are_redacted(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="mirror", brand_id="fixture", secrets=[MIRRORED]):
        page = await context.new_page()
        await page.goto(f"{sites.main}/mirror.html")
        await type_keystrokes(page, "#pw", MIRRORED)
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    recorded = stored_text(db_path)
    events = events_of(recorded)
    echoed = [n.get("textContent") for n in nodes_of(events) if n.get("type") == 3]
    echoed += [t["value"] for e in events if e["type"] == 3 for t in e["data"].get("texts") or []]
    assert echoed.count("[REDACTED]") >= len(MIRRORED) - MIN_SECRET_CHARS, "each keystroke's echo is recorded"
    texts = [t for t in echoed if t and not t.startswith("Qz7wPabc")]  # the fixture's own words aside
    for length in range(MIN_SECRET_CHARS, len(MIRRORED) + 1):
        assert not [t for t in texts if MIRRORED[:length] in t], f"the typed prefix {MIRRORED[:length]!r} is stored"
    # Shorter prefixes stay (values that short are not registered either), and words that only
    # begin like one.
    assert MIRRORED[: MIN_SECRET_CHARS - 1] in echoed
    assert "Qz7wPabc only begins like it; [REDACTED] is a prefix standing as a word." in recorded


def test_a_half_typed_value_registered_before_the_whole_leaves_none_of_the_rest() -> None:
    # A password's value is registered as it stands at each of the page's batches: a value typed
    # half-way is a secret of its own, and was replaced first, leaving the rest of a longer prefix.
    register("half-typed", ["Zq8xtypedPw", "Zq8xt", "Zq8xtyp"])
    echoes = ["typed Zq8xty", "typed Zq8xtyped", "typed Zq8xt", "typed Zq8xtyp", "typed Zq8xtypedPw"]
    scrubbed, count = scrub_value("half-typed", echoes)
    assert scrubbed == ["typed [REDACTED]"] * len(echoes) and count == len(echoes)
    # Within a longer word, a registered value is still replaced (not a typed prefix there).
    assert scrub_value("half-typed", ["aZq8xtb"])[0] == ["a[REDACTED]b"]


async def test_a_password_mirrored_as_it_is_typed_leaves_none_of_its_characters(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    # A newcomer's break: a sign-in page that echoes its password field ("typed Zq8!ty") kept the
    # characters after a half-typed value the recorder had registered ("typed [REDACTED]y").
    password = "Zq8!typedPw"
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="echo", brand_id="fixture"):
        page = await context.new_page()
        await page.goto(f"{sites.main}/mirror.html")
        # The first five characters in batches of their own ("Zq8!t" registered as it stood),
        # the rest faster than the page's batches (only the whole value registered after them).
        await type_keystrokes(page, "#secret", password[:5])
        await asyncio.sleep(0.5)
        await page.keyboard.type(password[5:], delay=15)
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    events = events_of(stored_text(db_path))
    echoed = [n.get("textContent") or "" for n in nodes_of(events) if n.get("type") == 3]
    echoed += [t["value"] or "" for e in events if e["type"] == 3 for t in e["data"].get("texts") or []]
    typed = [text for text in echoed if text.startswith("typed ")]
    assert len(typed) >= len(password) - MIN_SECRET_CHARS, "each keystroke's echo is recorded"
    for text in typed:
        shown = text.removeprefix("typed ")
        assert shown == "[REDACTED]" or (len(shown) < MIN_SECRET_CHARS and password.startswith(shown)), text


def events_of(recorded: str) -> list[dict[str, Any]]:
    """The events of `stored_text`'s concatenated JSON arrays."""
    decoder = json.JSONDecoder()
    events, at = [], 0
    while at < len(recorded):
        chunk, at = decoder.raw_decode(recorded, at)
        events.extend(chunk)
    return events


SEARCHED = "Vx8kQm2RtZp7Lw"


async def test_a_registered_secret_is_kept_out_of_chunk_urls_written_while_its_activity_runs(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """A newcomer's break: a search-as-you-type page puts each typed prefix in its URL, and a
    flush while the activity runs cuts the page's chunk at a prefix. The events' Meta href lost
    the prefix, the chunk row's `url` column (and so the replay's page URL) and the navigation
    events' `url.full` kept it."""
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="search", brand_id="fixture", secrets=[SEARCHED]) as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/search.html")
        await page.click("#q")
        await page.keyboard.type(SEARCHED[:9])
        await asyncio.sleep(0.3)
        flushed(telemetry)  # a flush while the activity runs writes its recording so far
        written = rows(db_path, "SELECT url FROM recording_chunks")
        assert any("search.html?q=" in row["url"] for row in written), written
        await page.keyboard.type(SEARCHED[9:])
        await page.keyboard.press("Backspace")  # the URL ends at a prefix again
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert "search.html?q=[REDACTED]" in stored["chunk rows"] and "Search" in stored["chunks"]
    for length in range(MIN_SECRET_CHARS + 1, len(SEARCHED) + 1):
        for where, text in stored.items():
            assert SEARCHED[:length] not in text, f"the typed prefix {SEARCHED[:length]!r} in {where}"


GLUED_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"


def test_token_shapes_glued_to_a_word_in_file_names_are_found_and_ordinary_names_kept() -> None:
    """A key joined to a word by "-", "_" or "." in a file name is still a key shape; a letter or
    digit before it still keeps a word (`task-list-...`, `desk_sk_...`) from being one."""
    urls = UrlRedactor(DEFAULT_URL_SECRET_WORDS)
    for name in (f"report-{GLUED_KEY}.csv", f"report_{GLUED_KEY}.csv", f"export.{GLUED_KEY}", f"x-{PATH_TOKEN}.pdf"):
        assert GLUED_KEY not in urls.redact_text(name) and PATH_TOKEN not in urls.redact_text(name), name
    # Too short to be a long high-entropy run: only the key's shape finds it.
    assert urls.redact_text("report-sk_live_51Hx9Kq2Lm.csv") == "report-[REDACTED].csv"
    glued_jwt = "report-eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl.csv"
    assert urls.redact_text(glued_jwt) == "report-[REDACTED].csv"
    assert urls.redact_text(f"report-{GLUED_KEY}.csv") == "report-[REDACTED].csv"
    for kept in (
        "report-2026-11-30_invoice-12345.csv",
        "task-list-export-2026.csv",
        "desk_sk_live_stuff_notes.txt",
        "main.3f9a8b7c.css",
        "photo_2026-11-30_14-03-22.jpg",
    ):
        assert urls.redact_text(kept) == kept, kept


async def test_a_downloads_file_name_and_download_attribute_lose_a_glued_key(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    context = await browser.new_context(accept_downloads=True)
    await record_browser(context)
    async with activity(name="download", brand_id="fixture") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/download.html")
        for link in ("#dl", "#plain"):
            async with page.expect_download() as download:
                await page.click(link)
            await (await download.value).path()
        await asyncio.sleep(0.5)
    await settle(telemetry)
    await context.close()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert_none_stored({GLUED_KEY: "a download's suggested file name, and its <a download>"}, stored)
    assert "report-[REDACTED].csv" in stored["spans"], "the download is evidence, its name kept readable"
    assert "report-2026-11-30_invoice-12345.csv" in stored["spans"] and "plain report" in stored["chunks"]


ERROR_PAGE_SECRET = "ErrPageSecret7Qm2Vx9Lk4Tz"


async def test_the_error_page_of_a_refused_url_keeps_no_secret_of_it(
    telemetry: Telemetry, browser: Browser, db_path: Path, tmp_path: Path
) -> None:
    """A newcomer's break: Chromium's net error page (chrome-error://) holds the failed URL in a
    `data-url` attribute, which the snapshot kept as it was, while every URL attribute is redacted."""
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="refused", brand_id="fixture") as act:
        page = await context.new_page()
        with pytest.raises(Exception, match="ERR_CONNECTION_REFUSED"):
            await page.goto(f"{refused_origin()}/reset?session=ERRSESSIONSECRET1&u={ERROR_PAGE_SECRET}&page=2")
        await asyncio.sleep(1.0)
    await settle(telemetry)
    await context.close()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    events = events_of(stored["chunks"])
    data_urls = [n["attributes"]["data-url"] for n in nodes_of(events) if "data-url" in n.get("attributes", {})]
    assert data_urls, "the error page is recorded, with its data-url"
    assert all(url.endswith("/reset?session=[REDACTED]&u=[REDACTED]&page=2") for url in data_urls), data_urls
    assert_none_stored({"ERRSESSIONSECRET1": "?session=", ERROR_PAGE_SECRET: "a token-looking value"}, stored)


def test_url_looking_values_of_data_attributes_and_absolute_urls_anywhere_are_redacted() -> None:
    urls = UrlRedactor(DEFAULT_URL_SECRET_WORDS)
    attributes = {
        "data-url": "http://127.0.0.1:9/reset?session=S1SECRETVALUE&page=2",
        "data-next": "/account/confirm?token=S2SECRETVALUE",
        "data-query": "?code=S3SECRETVALUE",
        "data-Href": f"/accounts/reset-password/{PATH_TOKEN}",
        "content": "https://shop.example/?sid=S4SECRETVALUE",
        "data-row": "12",
        "data-label": "Order 12: shipped",
        "title": "See https://shop.example/help?page=2 for help",
        "xmlns": "http://www.w3.org/2000/svg",
    }
    got = dict(attributes)
    node: dict[str, Any] = {"type": 2, "id": 1, "tagName": "div", "attributes": got, "childNodes": []}
    counts = scrub_urls(urls, [{"type": 2, "timestamp": 1, "data": {"node": node}}])
    assert got["data-url"] == "http://127.0.0.1:9/reset?session=[REDACTED]&page=2"
    assert got["data-next"] == "/account/confirm?token=[REDACTED]" and got["data-query"] == "?code=[REDACTED]"
    assert got["data-Href"] == "/accounts/reset-password/[REDACTED]"
    assert got["content"] == "https://shop.example/?sid=[REDACTED]"
    for kept in ("data-row", "data-label", "title", "xmlns"):
        assert got[kept] == attributes[kept], kept
    assert counts == Counter({"url_key": 4, "token": 1})


async def test_a_get_forms_fields_are_redacted_from_the_url_it_makes(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """A newcomer's break: a select's choice (masked in the page) went into the next URL under a
    key no secret word names (`?s=OPT-SECRET-VALUE-B`), and from there into `url.full`, the Meta
    href, the chunk row and the replay. Every query value of a URL a GET form made is redacted,
    submitted by a click or by the page's script; other URLs keep theirs."""
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="form", brand_id="fixture") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/form-get.html")
        await page.select_option("#s", "OPT-SECRET-VALUE-B")
        await page.fill("#q", "TYPEDFORMWORDS")
        await page.click("#go")
        await page.wait_for_url("**s=**")
        await page.select_option("#s", "OPT-SECRET-VALUE-A")
        await page.evaluate("document.getElementById('filter').submit()", isolated_context=False)
        await page.wait_for_url("**VALUE-A**")
        await page.click("#next")
        await page.wait_for_url("**page=2")
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    secrets = {"OPT-SECRET-VALUE-A": "chosen, then submit() by script", "OPT-SECRET-VALUE-B": "chosen, then a click"}
    assert_none_stored({**secrets, "TYPEDFORMWORDS": "typed into the form's text input"}, stored)
    for where in ("chunk rows", "spans", "chunks"):
        assert "form-get.html?s=[REDACTED]&q=[REDACTED]" in stored[where], where
    assert "form-get.html?page=2" in stored["chunk rows"] and "form-get.html?page=2" in stored["spans"]
    assert redactions_of(db_path, act.activity_id).get("form_field", 0) >= 3


TYPED_CARD = "4111 1111 1111 1111"


async def test_a_card_number_echoed_as_it_is_typed_is_masked_at_every_keystroke(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    """A newcomer's break: a page that shows what is typed stored "You typed: 4111 1111 1111 111",
    15 of 16 digits, which no Luhn check calls a card. Page text repeating 8 or more digits typed
    into a masked input is masked (js/privacy.js); numbers nobody typed stay readable."""
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="echo", brand_id="fixture") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/mirror.html")
        await type_keystrokes(page, "#pw", TYPED_CARD)
        await page.keyboard.press("Backspace")  # the input ends at 15 digits
        await page.evaluate(
            "v => document.getElementById('words').textContent = 'Qty 2 ' + v.slice(0, 14) +"
            " '; order 12345678901, call 555 010 1234, total 1.234.567,00'",
            TYPED_CARD,
            isolated_context=False,
        )
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    recorded = stored_text(db_path)
    digits = TYPED_CARD.replace(" ", "")
    runs = [t for t in _digit_runs(recorded) if len(t) >= 8 and digits.startswith(t)]
    assert not runs, f"typed digits stored: {runs}"
    assert "order 12345678901, call 555 010 1234, total 1.234.567,00" in recorded, "numbers nobody typed stay"
    assert "Qty 2 ********;" in recorded and "4111 111" in recorded, "7 digits of an echo stay, as the issuer's"
    assert redactions_of(db_path, act.activity_id).get("text_card", 0) >= len(TYPED_CARD) - 9


def _digit_runs(text: str) -> list[str]:
    """The digits of every run of digits grouped by spaces (as the mirror page echoes them)."""
    return [run.replace(" ", "") for run in re.findall(r"[0-9](?:[0-9 ]*[0-9])?", text)]


DOTTED_CARD = "4111.1111.1111.1111"
SHY_CARD = "5555\u00ad5555\u00ad5555\u00ad4444"


def test_card_numbers_grouped_by_dots_or_soft_hyphens_are_cards_and_decimals_are_not() -> None:
    for text in (DOTTED_CARD, SHY_CARD, "3782.822463.10005", "card 4111.1111.1111.1111.5"):
        assert [kind for *_, kind in secret_spans(text)] == ["card"], text
    for text in ("t=1764567890.123456", "total 1.234.567,00", "v 2026.11.30.1234", "ip 192.168.100.200"):
        assert secret_spans(text) == [], text


async def test_card_numbers_grouped_by_dots_or_soft_hyphens_are_masked_in_page_text(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    script = f"document.getElementById('later').textContent = 'dotted {DOTTED_CARD}, shy {SHY_CARD}, sum 1.234.567,00'"
    await visit(telemetry, browser, f"{sites.main}/privacy.html", script)
    recorded = json.dumps(events_of(stored_text(db_path)), ensure_ascii=False)
    assert "dotted ********, shy ********, sum 1.234.567,00" in recorded
    assert DOTTED_CARD not in recorded and SHY_CARD not in recorded


CASED = "Mix3dCase-Secret"


async def test_a_registered_secret_upper_or_lower_cased_or_inside_base64_is_never_stored(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """A newcomer's break asked for these: a page that shows a value with `toUpperCase()`, and
    Basic-auth-like base64 (`btoa("ada:" + value)`, the value at any offset of the encoding)."""
    basic = base64.b64encode(f"ada:{CASED}".encode()).decode()
    wrapped = base64.urlsafe_b64encode(f'{{"u":"ada","p":"{CASED}"}}'.encode()).decode()
    async with activity(name="cased", brand_id="fixture", secrets=[CASED]) as act:
        context = await browser.new_context()
        await record_browser(context)
        page = await context.new_page()
        await page.goto(f"{sites.main}/privacy.html")
        await page.evaluate(
            "v => { document.getElementById('readable').textContent = 'shown ' + v.toUpperCase() + ' / ' +"
            " v.toLowerCase() + ' / ' + btoa('ada:' + v);"
            " document.getElementById('title').setAttribute('data-auth', 'Basic ' + btoa('ada:' + v)); }",
            CASED,
            isolated_context=False,
        )
        act.add_event("note", {"header": f"Authorization: Basic {basic}", "blob": wrapped})
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()

    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert "shown [REDACTED] / [REDACTED] / " in stored["chunks"], "the page is recorded"
    assert_none_stored({basic: "btoa('ada:' + value)", wrapped: "urlsafe base64 of JSON holding it"}, stored)
    for form in forms(CASED) | {CASED.upper(), CASED.lower()}:
        for where, text in stored.items():
            assert form not in text, f"{CASED!r} as {form!r} in {where}"


def test_semicolon_parameters_are_redacted_like_ampersand_ones() -> None:
    """A newcomer's break: `?q=1;session=...` and `/cart;jsessionid=...` kept their secrets.

    Ordinary `;` values stay as they are."""
    urls = UrlRedactor(DEFAULT_URL_SECRET_WORDS)
    assert (
        urls.redact("https://shop.example/s?q=1;session=hunter2") == "https://shop.example/s?q=1%3Bsession%3D[REDACTED]"
    )
    assert urls.redact("https://shop.example/cart;jsessionid=hunter2?x=1") == (
        "https://shop.example/cart;jsessionid=[REDACTED]?x=1"
    )
    for plain in ("https://shop.example/s?q=1;page=2", "https://shop.example/cart;color=red/items"):
        assert urls.redact(plain) == plain


KEYED_SECRET = "KeyedSecret-Orca-41"


def test_a_registered_secret_in_attribute_keys_and_event_names_is_scrubbed_and_scanned(
    telemetry: Telemetry, db_path: Path
) -> None:
    """Code names attributes and events after values too (a newcomer's break): keys and names
    were stored in clear, and `scan --secret` looked at values only."""
    with activity(name="keys", secrets=[KEYED_SECRET]) as act:
        act.set_attribute(f"login.{KEYED_SECRET}", "ok")
        act.set_attribute("plain.key", "kept")
        act.add_event(f"typed {KEYED_SECRET}", {f"field.{KEYED_SECRET}": "x", "step": "two"})
    flushed(telemetry)
    [span] = rows(
        db_path,
        'SELECT SpanAttributes, "Events.Name" AS names, "Events.Attributes" AS events FROM otel_traces '
        "WHERE SpanId = ?",
        [act.activity_id],
    )
    stored = json.dumps(rows(db_path, "SELECT * FROM otel_traces"), default=str)
    assert KEYED_SECRET not in stored and KEYED_SECRET.lower() not in stored
    assert span["SpanAttributes"]["login.[REDACTED]"] == "ok" and span["SpanAttributes"]["plain.key"] == "kept"
    assert span["names"] == ["typed [REDACTED]"]
    assert span["events"] == [{"field.[REDACTED]": "x", "step": "two"}]
    assert int(span["SpanAttributes"]["getgather.privacy.redactions.secret"]) == 3
    # A key holding a value nobody registered is stored; scan finds it there.
    with activity(name="unregistered") as other:
        other.set_attribute(f"user.{KEYED_SECRET}x", "v")
        other.add_event("e", {f"k.{KEYED_SECRET}y": "v"})
    flushed(telemetry)
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--secret", KEYED_SECRET], out=out) == 1
    said = out.getvalue()
    assert f"span={other.activity_id} SpanAttributes key" in said, said
    assert f"span={other.activity_id} Events.Attributes[0] key" in said, said


async def test_secret_arguments_named_in_one_word_or_nested_are_redacted_and_kept_off_the_page(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """`passcode`, `cardnumber` and `creds={"pw": ...}` passed the key words (a newcomer's
    break): stored in the captured arguments and, echoed by the page, in the recording."""
    values = {"passcode": "PassCode-Zebra-9931", "cardnumber": "Kq7-CARDNUM-arg", "pw": "NestedPw-Falcon-12"}
    context = await browser.new_context()
    await record_browser(context)
    server = FastMCP("one-word")
    instrument_mcp(server, capture_arguments=True)

    @server.tool
    async def sign_in(username: str, passcode: str, cardnumber: str, creds: dict[str, str], note: str) -> str:
        page = await context.new_page()
        await page.goto(f"{sites.main}/privacy.html")
        await page.evaluate(
            "v => { document.getElementById('readable').textContent = 'echo ' + v.join(' | '); }",
            [passcode, cardnumber, creds["pw"], note],
            isolated_context=False,
        )
        await asyncio.sleep(0.3)
        return f"signed in as {username}"

    arguments = {
        "username": "ada",
        "passcode": values["passcode"],
        "cardnumber": values["cardnumber"],
        "creds": {"user": "ada", "pw": values["pw"]},
        "note": "deliver to the passenger desk",
    }
    async with Client(server) as client:
        await client.call_tool("sign_in", arguments)
    await settle(telemetry, 2.5)
    await context.close()
    [tool_activity] = rows(db_path, "SELECT activity_id FROM activities WHERE name = 'sign_in'")
    stored = everything_stored(db_path, tmp_path, tool_activity["activity_id"])
    assert_none_stored({v: k for k, v in values.items()}, stored)
    # Ordinary arguments and the page's own text stay readable.
    assert "deliver to the passenger desk" in stored["spans"] and "deliver to the passenger desk" in stored["chunks"]
    assert "echo " in stored["chunks"] and '\\"username\\": \\"ada\\"' in stored["spans"], stored["spans"][:2000]


async def test_card_numbers_and_key_shapes_in_span_text_are_masked_and_ordinary_numbers_kept(
    telemetry: Telemetry, db_path: Path
) -> None:
    """An exception message, its stack trace, the status and event values quoting a card or a
    key were stored in clear (a newcomer's break): only URLs inside were redacted."""
    card, key = "4091 1111 1111 1115", "sk_live_" + "a1B2c3D4e5F6g7H8"
    with pytest.raises(ValueError), activity(name="pay") as act:
        act.add_event("charge", {"said": f"charging {card} with {key}", "order": "order 123456789012"})
        act.set_attribute("note", "paid 4111-1111-1111-1111 on 2026-12-01, 1733040000000 ms")
        raise ValueError(f"declined {card}; see http://127.0.0.1/x?token=EXCtok42")
    flushed(telemetry)
    stored = json.dumps(rows(db_path, "SELECT * FROM otel_traces"), default=str)
    stored += json.dumps(rows(db_path, "SELECT * FROM activities"), default=str)
    for secret in (card, key, "4111-1111-1111-1111", "EXCtok42"):
        assert secret not in stored, secret
    [row] = rows(db_path, "SELECT error FROM activities WHERE activity_id = ?", [act.activity_id])
    assert "declined [REDACTED]" in row["error"], row
    assert "order 123456789012" in stored and "2026-12-01, 1733040000000 ms" in stored
    counts = redactions_of(db_path, act.activity_id)
    assert counts.get("text_card", 0) >= 4 and counts.get("text_token", 0) == 1, counts


TYPED_PASSWORD = "Tr0ub4dor-Horse-77"


def assert_typed_value_not_stored(value: str, stored: dict[str, str], *prefix_lengths: int) -> None:
    """Neither `value` (plain or URL-encoded) nor its prefixes of `prefix_lengths` anywhere stored."""
    for length in (len(value), *prefix_lengths):
        assert_none_stored({value[:length]: f"typed, {length} characters"}, stored)
    assert_none_stored({quote(value, safe=""): "URL-encoded"}, stored)


async def test_a_password_typed_into_the_page_is_kept_out_of_urls_its_script_makes(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """A page's script, not a form, put a typed password into URLs (`pushState`, `location =`)
    and showed it back whole (a newcomer's break): stored in span URLs, chunk rows, the Meta
    href. The world tells Python the values typed into password inputs; they are the activity's
    secrets from then on."""

    async def steps(page: Page) -> None:
        await page.fill("#user", "ada")
        await type_keystrokes(page, "#pw", TYPED_PASSWORD)
        await page.click("#push")
        await asyncio.sleep(0.3)
        await page.click("#go")
        await page.wait_for_url("**/ordinary.html?**")

    act = await visit(telemetry, browser, f"{sites.main}/typed-url.html", steps=steps)
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert_typed_value_not_stored(TYPED_PASSWORD, stored, 8, 5)
    # What else the page and its URLs say stays readable.
    assert "user=ada&p=[REDACTED]" in stored["spans"], "the other query values are kept"
    assert "Strength of" in stored["chunks"]
    assert "Sign in" in stored["chunks"]


CSS_CARDS = {
    "4035 1111 1111 1114": "a <style>'s content",
    "5105 1051 0510 5100": "an inline style's custom property",
    "4242 4242 4242 4242": "a rule inserted by script",
    "4035111111111114": "a declaration set by script",
}


async def test_card_numbers_in_css_are_masked_and_ordinary_css_numbers_kept(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """rrweb masks page text, not CSS: cards in `<style>` text (`_cssText`), custom properties
    and script-made rules were stored in clear (a newcomer's break)."""
    act = await visit(telemetry, browser, f"{sites.main}/css-cards.html", "later()")
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert "Card on file" in stored["chunks"], "the page is recorded"
    assert_none_stored(CSS_CARDS, stored)
    assert "width: 1234px" in stored["chunks"] and "20261201" in stored["chunks"], "ordinary CSS numbers stay"
    assert "color: red" in stored["chunks"]
    # The audit counts what was masked until the activity ended (`Recording.finish`). The rule
    # inserted by script is not seen by the isolated world's hooks: only the checkpoint the page
    # takes as the activity ends holds it (masked), and that checkpoint's counts arrive after the
    # span has its attributes, so 3 of the 4 places count (the snapshot's two, the declaration).
    events = events_of(stored["chunks"])
    end = next(i for i, e in enumerate(events) if e["type"] == 5 and e["data"]["tag"] == attr.TAG_ACTIVITY_END)
    before_end = json.dumps(events[:end]).count(MASK)
    assert "4242" not in json.dumps(events[:end]) and ".later::before" in json.dumps(events[end:])
    assert redactions_of(db_path, act.activity_id).get("text_card", 0) == before_end == 3, "the audit counts them"


def test_scan_for_phones_finds_phones_and_not_order_tracking_or_isbn_numbers(
    telemetry: Telemetry, db_path: Path
) -> None:
    """`scan --pattern phone` reported order, tracking and ISBN numbers (a newcomer's break): a
    phone is written with a country code or in groups; a bare run of digits is not one."""
    with activity(name="numbers") as numbers:
        numbers.add_event(
            "order",
            {
                "order": "Order 123456789012",
                "ref": "order #1234567890",
                "isbn": "ISBN 978-3-16-148410-0",
                "isbn13": "ISBN 9780306406157",
                "tracking": "tracking 940011189922",
                "invoice": "invoice 2024-0001-2345",
                "when": "2026-12-01 10:00",
            },
        )
    with activity(name="phones") as phones:
        phones.add_event("contact", {"us": "call (555) 123-4567", "uk": "or +44 20 7946 0958"})
    flushed(telemetry)
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--pattern", "phone"], out=out) == 1
    hits = out.getvalue().splitlines()
    assert not [h for h in hits if numbers.activity_id in h], hits
    found = {h.split("Events.Attributes[0]")[1].split("]")[0] for h in hits if phones.activity_id in h}
    assert found == {"['us'", "['uk'"}, hits


ENCODED_SECRET = "pä ss:w/rd-42"


def test_a_registered_secret_encoded_twice_or_as_hex_is_scrubbed_and_scanned(
    telemetry: Telemetry, db_path: Path
) -> None:
    """A URL inside another URL's query encodes a value twice, and code writes bytes as hex:
    both were stored in clear and missed by `scan --secret` (a newcomer's break)."""
    twice = quote(quote(ENCODED_SECRET, safe=""), safe="")
    hexed = ENCODED_SECRET.encode().hex()
    said = {"next": f"/login?next=%2Fhome%3Fp%3D{twice}", "hex": f"blob {hexed} / {hexed.upper()}", "page": "2"}
    with activity(name="encoded", secrets=[ENCODED_SECRET]) as act:
        act.add_event("note", said)
    with activity(name="unregistered") as other:
        other.add_event("note", said)
    flushed(telemetry)
    [span] = rows(db_path, 'SELECT "Events.Attributes" AS events FROM otel_traces WHERE SpanId = ?', [act.activity_id])
    stored = json.dumps(span["events"])
    for form in (twice, hexed, hexed.upper()):
        assert form not in stored, form
    assert span["events"][0]["page"] == "2" and "/login?next=%2Fhome%3Fp%3D" in stored
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--secret", ENCODED_SECRET], out=out) == 1
    hits = out.getvalue().splitlines()
    assert {h.split("[0]")[1].split(":")[0] for h in hits if other.activity_id in h} == {"['next']", "['hex']"}, hits
    assert not [h for h in hits if act.activity_id in h], hits


SEPARATED_CARDS = {
    "4035\n1111\n1111\n1114": "groups on their own lines",
    "4035  1111  1111  1114": "two spaces",
    "4242\u200b4242\u200b4242\u200b4242": "zero-width spaces",
    "5105\u20021051\u20020510\u20025100": "en spaces",
    "4035 - 1111 - 1111 - 1114": "' - '",
}


async def test_card_numbers_grouped_by_line_breaks_wide_or_invisible_spaces_are_masked(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """Groups separated by a line break, two spaces, U+200B, U+2002 or " - " were no card
    (a newcomer's break): stored in clear in page text."""
    act = await visit(telemetry, browser, f"{sites.main}/card-separators.html")
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    recorded = json.loads(json.dumps(events_of(stored["chunks"])))
    texts = [n.get("textContent") or "" for n in nodes_of(recorded)]
    assert any("Order 123456789012, 2026-12-01 10:00, price 12  345  678" in t for t in texts), "ordinary text stays"
    for card, how in SEPARATED_CARDS.items():
        assert not [t for t in texts if card in t], how
    assert redactions_of(db_path, act.activity_id).get("text_card", 0) >= len(SEPARATED_CARDS)


SPLIT_CARDS = {
    "4532 9012 1495 0790": "one <span> per group",
    "4916 4488 9696 7565": "groups split by <wbr>",
    "5425 5681 9938 1411": "groups split by '/'",
    "6011 5850 2510 5663": "one <b>/<i> per group, appended later",
}


def _texts_of(events: list[dict[str, Any]]) -> list[str]:
    """Every recorded text: text nodes of snapshots and adds, and text mutations' values."""
    texts = [n.get("textContent") or "" for n in nodes_of(events) if n.get("type") == 3]
    return texts + [t.get("value") or "" for e in events if e["type"] == 3 for t in e["data"].get("texts") or []]


async def test_card_numbers_split_over_elements_wbr_or_slashes_are_masked_and_scanned(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """A card whose digit groups sit in separate text nodes (a `<span>` each, `<wbr>` between)
    or are split by "/" was stored in clear (a newcomer's break): no single text held a card.
    Groups joined through inline elements count; cells of a table and dates do not."""
    act = await visit(telemetry, browser, f"{sites.main}/card-split.html", "later()")
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    texts = _texts_of(events_of(stored["chunks"]))
    assert "Split cards" in texts, "the page is recorded"
    for card, how in SPLIT_CARDS.items():
        leaked = [g for g in card.split() if g != "9012" and any(g in t for t in texts)]
        assert not leaked, f"{how}: {leaked}"
    for kept in ("1234", "5678", "9012", "3452", "42"):
        assert kept in texts, f"the table cell or count {kept} stays"
    assert any("Due 12/25/2026, filed 2026/11/30, " in t for t in texts), "dates stay"
    assert redactions_of(db_path, act.activity_id).get("text_card", 0) >= len(SPLIT_CARDS)

    # `scan --pattern card` finds such a card planted in a file, and not the table's cells.
    def element(tag: str, node_id: int, *children: dict[str, Any]) -> dict[str, Any]:
        return {"type": 2, "tagName": tag, "attributes": {}, "childNodes": list(children), "id": node_id}

    def text(value: str, node_id: int) -> dict[str, Any]:
        return {"type": 3, "textContent": value, "id": node_id}

    cells = element(
        "tr", 20, *(element("td", 21 + i, text(g, 30 + i)) for i, g in enumerate(["1234", "5678", "9012", "3452"]))
    )
    split = element(
        "p", 2, text("Card: ", 3), *(element("span", 4 + i, text(g, 10 + i)) for i, g in enumerate(CARD_TYPED.split()))
    )
    with activity(name="planted") as planted:
        pass
    assert telemetry.store is not None
    for sequence, node in enumerate((cells, split)):
        snapshot = {"type": 2, "timestamp": 1, "data": {"node": node, "initialOffset": {"left": 0, "top": 0}}}
        chunk = Chunk(planted.trace_id, planted.activity_id, "r" * 32, "c9p9", sequence, [snapshot], 100, "https://x/")
        telemetry.store.submit(chunk)
    flushed(telemetry)
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--pattern", "card"], out=out) == 1
    hits = [h for h in out.getvalue().splitlines() if planted.activity_id in h]
    assert len(hits) == 1 and "sequence=1" in hits[0], hits


async def test_card_numbers_in_style_text_changed_after_the_snapshot_are_masked(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """A `<style>`'s text changed by a script after the snapshot arrives as a text mutation (or
    a new text node): stored in clear (a newcomer's break), though the snapshot's CSS was masked."""
    act = await visit(telemetry, browser, f"{sites.main}/css-cards.html", "restyle()", "restyle_again()")
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert ".gone::after" in stored["chunks"] and ".again::after" in stored["chunks"], "the new CSS is recorded"
    replaced = {"5425 5681 9938 1411": "a style's text replaced", "6011 5850 2510 5663": "then changed in place"}
    assert_none_stored(replaced, stored)
    # The snapshot's card, the replaced text's and the changed text's.
    assert redactions_of(db_path, act.activity_id).get("text_card", 0) >= 3


TYPED_SSN = "524-71-9036"
SEARCH_WORDS = "umbrella weather"


async def test_a_value_typed_into_a_field_named_like_a_secret_is_kept_like_a_password(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """A text input named for a social security number, echoed by the page as it is typed,
    stored every prefix of the value (a newcomer's break): only password inputs' typed values
    were the activity's secrets. Fields whose name, id or autocomplete names a secret count
    too; a search box's words stay readable where the page shows them, and in its URL."""

    async def steps(page: Page) -> None:
        await type_keystrokes(page, "#ssn", TYPED_SSN)
        await type_keystrokes(page, "#q", SEARCH_WORDS)
        await page.click("#go")

    act = await visit(telemetry, browser, f"{sites.main}/ssn.html", steps=steps)
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert_typed_value_not_stored(TYPED_SSN, stored, 8, 6)
    assert "Results for " in stored["chunks"] and SEARCH_WORDS in stored["chunks"], "search words stay"
    assert "q=umbrella+weather&n=[REDACTED]" in stored["spans"], "and so does the search URL"


SHOWN_SECRET = "Reg1stered-Sh0wn-Value"


async def test_typed_passwords_and_registered_secrets_stay_out_of_otel_logs_sent_to_a_collector(
    collector: Collector, browser: Browser, sites: Sites
) -> None:
    """Recordings sent over OTLP as log records (`otel_logs`, what an OTel Collector's ClickHouse
    exporter writes, and `getgather-otel collect` serves): the typed-password rule and the
    activity's registered secrets hold there as in a local file, URLs and bodies alike."""
    telemetry = configure(service_name="privacy-otlp", duckdb_path=False, otlp=collector.url, otlp_recordings=True)
    try:
        context = await browser.new_context()
        await record_browser(context)
        async with activity(name="sent", brand_id="fixture", secrets=[SHOWN_SECRET]):
            page = await context.new_page()
            await page.goto(f"{sites.main}/typed-url.html")
            await page.evaluate(
                "v => document.querySelector('h1').textContent = 'Sign in as ' + v",
                SHOWN_SECRET,
                isolated_context=False,
            )
            await page.fill("#user", "ada")
            await type_keystrokes(page, "#pw", TYPED_PASSWORD)
            await page.click("#push")
            await asyncio.sleep(0.3)
        await context.close()
        assert await asyncio.to_thread(telemetry.flush, 30)
    finally:
        await asyncio.to_thread(telemetry.shutdown)
    collector.settle()
    logs = rows(collector.db, 'SELECT "Body" AS body, "LogAttributes" AS attributes FROM otel_logs')
    assert logs, "the recording went over OTLP"
    bodies = "".join(decompress_json(base64.b64decode(r["body"]), "zstd").decode() for r in logs)
    attributes = json.dumps([r["attributes"] for r in logs], default=str)
    spans = json.dumps(rows(collector.db, "SELECT * FROM otel_traces"), default=str)
    assert "Sign in as [REDACTED]" in bodies and "Strength of" in bodies, "the page is recorded"
    stored = {"otel_logs bodies": bodies, "otel_logs attributes": attributes, "spans": spans}
    secrets = {TYPED_PASSWORD: "typed", TYPED_PASSWORD[:8]: "typed prefix", SHOWN_SECRET: "registered"}
    assert_none_stored(secrets, stored)
    assert "step=2&p=[REDACTED]" in spans, "the URL the script made is redacted"


LINKED_SECRET = "LinkSecret9Q-Orca"


def test_span_links_and_scope_version_lose_secrets_and_shapes(telemetry: Telemetry, db_path: Path) -> None:
    """A link's attributes were passed on as given (a newcomer's break): a registered secret and
    a card number in them, and a card in the tracer's version, were stored in clear."""
    assert telemetry.tracer_provider is not None
    tracer = telemetry.tracer_provider.get_tracer("probe.scope", "v-4111111111111111")
    other = SpanContext(trace_id=0x1234, span_id=0x5678, is_remote=True, trace_flags=TraceFlags(1))
    note = f"{LINKED_SECRET} 5555555555554444"
    link_attributes: dict[str, str | int] = {
        "note": note,
        f"k.{LINKED_SECRET}": "v",
        "n": 3,
        "url.full": "http://127.0.0.1/x?token=LinkTok42",
    }
    with (
        activity(name="links", secrets=[LINKED_SECRET]) as act,
        tracer.start_as_current_span("child", links=[Link(other, link_attributes)]),
    ):
        pass
    flushed(telemetry)
    [span] = rows(
        db_path,
        'SELECT "Links.Attributes" AS links, ScopeVersion FROM otel_traces WHERE TraceId = ? AND SpanName = ?',
        [act.trace_id, "child"],
    )
    stored = json.dumps(rows(db_path, "SELECT * FROM otel_traces"), default=str)
    for secret in (LINKED_SECRET, "5555555555554444", "4111111111111111", "LinkTok42"):
        assert secret not in stored, secret
    [link] = span["links"]
    assert link["n"] == "3" and link["k.[REDACTED]"] == "v" and link["note"] == "[REDACTED] [REDACTED]", link
    assert link["url.full"].startswith("http://127.0.0.1/x?token="), link
    assert span["ScopeVersion"] == "v-[REDACTED]"


def _literal(sql_type: str, value: str) -> str:
    """A DuckDB literal of `sql_type` (a column's type as `store/tables.py` writes it) holding `value`
    wherever it holds text."""
    kind = sql_type.split(" NOT NULL")[0].split(" DEFAULT")[0].strip()
    text = "'" + value.replace("'", "''") + "'"
    literals = {
        "VARCHAR": text,
        "VARCHAR[]": f"[{text}]",
        "MAP(VARCHAR, VARCHAR)": f"MAP {{'k': {text}}}",
        "MAP(VARCHAR, VARCHAR)[]": f"[MAP {{'k': {text}}}]",
        "TIMESTAMP": "TIMESTAMP '2026-01-01'",
        "BOOLEAN": "false",
        "BLOB": "''::BLOB",
    }
    return literals.get(kind, "[]" if kind.endswith("[]") else "0")


def test_scan_reads_every_string_bearing_column_of_every_table(tmp_path: Path) -> None:
    """A "clean" scan must mean clean: `Links.*`, `ScopeVersion`, `TraceState`, the metric
    tables and the prunes were never read (a newcomer's break)."""
    planted = "Planted-Value-77 4111 1111 1111 1111"
    conn = duckdb.connect(str(tmp_path / "every.duckdb"))
    conn.execute(RECORDING_CHUNKS.create_statement())
    expected: set[tuple[str, str]] = set()
    for table in (OTEL_TRACES, RECORDING_PRUNES, *METRIC_TABLES.values()):
        conn.execute(table.create_statement())
        for column in table.columns:
            if "VARCHAR" not in column.sql:
                continue
            expected.add((table.name, column.name))
            values = ", ".join(_literal(c.sql, planted if c.name == column.name else "plain") for c in table.columns)
            conn.execute(f"INSERT INTO {table.name} VALUES ({values})")
    hits = scan_file(conn, ["Planted-Value-77"], ["card"])
    found = {(hit.where.split()[0], hit.field.split("[")[0].removesuffix(" key")) for hit in hits}
    assert expected - found == set(), sorted(expected - found)
    cards = {(h.where.split()[0], h.field.split("[")[0]) for h in hits if h.what == "card"}
    assert ("otel_traces", "ScopeVersion") in cards and ("otel_traces", "Links.Attributes") in cards
    conn.close()


SHOWN_PASSWORD = "Kq7-Pw-4417"
SHORT_PASSWORD = "Zx9-Named-8830"
TOGGLED_PASSWORD = "Vb3mAbcd9876"


@pytest.mark.parametrize("mask_all_inputs", [True, False])
async def test_values_typed_into_password_fields_that_are_not_type_password_are_kept_like_passwords(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path, mask_all_inputs: bool
) -> None:
    """A text input named `password` (a "show password" toggle on) or `pwd`, and a password input
    switched to text half-way through typing, echoed as typed and put into a URL: stored in clear
    from the fifth character on (a newcomer's break), as only type=password and a few secret names
    counted. Their values are the activity's secrets and masked in Input events even when other
    inputs are not (`mask_all_inputs=False`); a search box's words stay readable."""
    context = await browser.new_context()
    await record_browser(context, options=RecordingOptions(mask_all_inputs=mask_all_inputs))
    async with activity(name="show", brand_id="fixture") as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/show-password.html")
        await type_keystrokes(page, "#shown", SHOWN_PASSWORD)
        await type_keystrokes(page, "#short", SHORT_PASSWORD)
        await type_keystrokes(page, "#toggled", TOGGLED_PASSWORD[:4])
        await page.click("#eye")
        await type_keystrokes(page, "#toggled", TOGGLED_PASSWORD[4:])
        await type_keystrokes(page, "#q", SEARCH_WORDS)
        await page.click("#go")
        await asyncio.sleep(0.3)
    await settle(telemetry)
    await context.close()
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    for value in (SHOWN_PASSWORD, SHORT_PASSWORD, TOGGLED_PASSWORD):
        assert_typed_value_not_stored(value, stored, 8, 6)
    assert_none_stored({TOGGLED_PASSWORD[4:]: "typed after the toggle"}, stored)
    assert "Results for " in stored["chunks"] and SEARCH_WORDS in stored["chunks"], "search words stay"
    assert "q=umbrella+weather&shown=[REDACTED]&short=[REDACTED]&toggled=[REDACTED]" in stored["spans"], (
        "and so does the search URL"
    )
    # Every keystroke's Input event is one mask, the first three characters too (which no
    # registered secret covers), whether or not inputs are all masked.
    typed = input_texts(events_of(stored["chunks"]))
    for value in (SHOWN_PASSWORD, SHORT_PASSWORD, TOGGLED_PASSWORD):
        assert not any(text.startswith(value[:3]) for text in typed), (value, typed)
    assert typed, "the typing is recorded"


PUNCTUATED_CARDS = {
    "4012–8888–8888–1881": "en dash",
    "6011 — 1111 — 1111 — 1117": "em dash with spaces",
    "5105\t1051\t0510\t5100": "tab",
    "4242_4242_4242_4242": "underscore",
    "4000|0566|5566|5556": "pipe",
    "5200. 8282. 8282. 8210": "dot and space",
    "6011,0009,9013,9424": "comma",
    "3566:0020:2036:0505": "colon",
    "5555+5555+5555+4444": "plus",
    "4917\xa0\xa0\xa06100\xa0\xa0\xa00000\xa0\xa0\xa00000": "three no-break spaces",
    "4000\u30000025\u30000000\u30003155": "ideographic space",
    "٤٠٠٠٠٠٠٠٠٠٠٠٣٢٢٠": "Arabic-Indic digits",
    "４１１１ １１１１ １１１１ １１１１": "full-width digits",
}
ORDINARY_NUMBERS = (
    "Paid $1,234,567.89 on 2026-12-01 at 12:30:45; call +1 555 123 4567 or 0800 123 4567; "
    "order 1234-5678-9012, ref 2024_0001_2345, v 1.2.3"
)


def test_cards_grouped_by_punctuation_or_in_other_digits_are_cards_and_ordinary_numbers_are_not() -> None:
    for card, how in PUNCTUATED_CARDS.items():
        assert [kind for *_, kind in secret_spans(card)] == ["card"] or how.endswith("digits"), how
    for text in (ORDINARY_NUMBERS, "ids 1234, 5678, 9012", "10:30:00.123456", "prices 1299.00, 2499.00, 3999.00"):
        assert secret_spans(text) == [], text


async def test_cards_grouped_by_punctuation_or_in_other_digits_are_masked_in_pages_spans_and_scanned(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """Groups separated by an en dash, " — ", a tab, "_", "|", ". ", ",", ":", "+", three
    no-break spaces or U+3000, and cards in Arabic-Indic or full-width digits, were no card (a
    newcomer's break): stored in clear in page text and span strings, and `scan --pattern card`
    did not find them. Dates, times, prices, phone numbers and order ids stay."""
    act = await visit(telemetry, browser, f"{sites.main}/card-punctuation.html")
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    texts = [n.get("textContent") or "" for n in nodes_of(events_of(stored["chunks"]))]
    assert any(ORDINARY_NUMBERS in t for t in texts), "ordinary numbers stay"
    for card, how in PUNCTUATED_CARDS.items():
        assert not [t for t in texts if card in t], how
    with activity(name="notes") as notes:
        for card, how in PUNCTUATED_CARDS.items():
            notes.add_event("note", {"how": how, "said": f"paid with {card}"})
        notes.set_attribute("ordinary", ORDINARY_NUMBERS)
    flushed(telemetry)
    spans = json.dumps(rows(db_path, "SELECT * FROM otel_traces"), default=str, ensure_ascii=False)
    for card, how in PUNCTUATED_CARDS.items():
        assert card not in spans, how
    assert ORDINARY_NUMBERS in spans
    # What a store is given as it is (a chunk from elsewhere) is found by scan.
    assert telemetry.store is not None
    for sequence, card in enumerate(PUNCTUATED_CARDS):
        event = {"type": 3, "timestamp": 3, "data": {"source": 0, "texts": [{"id": 7, "value": f"card {card}"}]}}
        chunk = Chunk(notes.trace_id, notes.activity_id, "r" * 32, "c9p1", sequence, [event], 100, "https://x/")
        telemetry.store.submit(chunk)
    ordinary = {"type": 3, "timestamp": 3, "data": {"source": 0, "texts": [{"id": 7, "value": ORDINARY_NUMBERS}]}}
    telemetry.store.submit(Chunk(notes.trace_id, notes.activity_id, "r" * 32, "c9p2", 0, [ordinary], 100, "https://x/"))
    flushed(telemetry)
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--pattern", "card"], out=out) == 1
    said = out.getvalue()
    for sequence, how in enumerate(PUNCTUATED_CARDS.values()):
        assert f"page=c9p1 sequence={sequence} " in said, (how, said)
    assert "page=c9p2" not in said and f"span={act.activity_id}" not in said, said


SPLIT_CODE = "918273"
SPLIT_RECOVERY = "Tz9QmWv4Lp"


async def test_a_registered_secret_split_over_inline_elements_is_redacted_and_scanned(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path
) -> None:
    """A one-time code shown one digit per `<span>`, and a recovery code split over two inline
    elements, were stored as their pieces (a newcomer's break): no text held the value. Texts
    meeting through inline elements are joined as for split cards, and the value's part in
    each becomes `[REDACTED]`, for a value registered late too; cells of a table stay."""
    context = await browser.new_context()
    await record_browser(context)
    async with activity(name="verify", brand_id="fixture", secrets=[SPLIT_CODE]) as act:
        page = await context.new_page()
        await page.goto(f"{sites.main}/split-secret.html")
        await asyncio.sleep(0.4)
        act.add_secret(SPLIT_RECOVERY)  # after the page showed it
    await settle(telemetry)
    await context.close()
    events = events_of(stored_text(db_path))
    texts = [n.get("textContent") or "" for n in nodes_of(events)]
    joined = "".join(texts)
    assert SPLIT_CODE not in joined and SPLIT_RECOVERY not in joined and "QmWv4Lp" not in joined
    assert not any(t in ("9", "QmWv4Lp", "9182", "Tz9Qm", "Wv4Lp") for t in texts), texts
    assert "Backup: " in texts, texts
    assert "918" in texts and "273" in texts, "a table's cells are not joined"
    assert "Recovery: " in texts and " keep it safe" in texts and "Again: " in texts, "the rest stays"
    # What a store is given as it is, for an activity with no secrets, is found by scan.
    with activity(name="plain") as plain:
        pass
    snapshot = {
        "type": 2,
        "timestamp": 1,
        "data": {
            "node": {
                "type": 2,
                "tagName": "p",
                "childNodes": [
                    {"type": 2, "tagName": "span", "childNodes": [{"type": 3, "textContent": c}]} for c in SPLIT_CODE
                ],
            }
        },
    }
    assert telemetry.store is not None
    telemetry.store.submit(Chunk(plain.trace_id, plain.activity_id, "r" * 32, "c7p1", 0, [snapshot], 100, "https://x/"))
    flushed(telemetry)
    out = io.StringIO()
    assert cli_main(["scan", "--db", str(db_path), "--secret", SPLIT_CODE, "--secret", SPLIT_RECOVERY], out=out) == 1
    said = out.getvalue()
    assert f"span={plain.activity_id} page=c7p1 sequence=0 events (a text split over inline elements)" in said, said
    assert f"span={act.activity_id}" not in said, said


SCRIPT_SET_PASSWORD = "ScriptSetPw55"


async def test_a_password_a_script_set_is_kept_out_of_what_the_page_shows_after_submitting(
    telemetry: Telemetry, browser: Browser, sites: Sites, db_path: Path, tmp_path: Path
) -> None:
    """A password set by a script (a tool's `evaluate`, a password manager) fires no input event,
    so it was never the activity's secret (a newcomer's break: posted and shown back, it was
    stored). A form's secret inputs are read as it is submitted; other fields stay readable."""

    async def steps(page: Page) -> None:
        await page.evaluate(
            "v => { document.querySelector('#p').value = v; document.querySelector('#user').value = 'ada' }",
            SCRIPT_SET_PASSWORD,
            isolated_context=False,
        )
        await page.click("#sub")

    act = await visit(telemetry, browser, f"{sites.main}/script-set.html", steps=steps)
    stored = everything_stored(db_path, tmp_path, act.activity_id)
    assert_typed_value_not_stored(SCRIPT_SET_PASSWORD, stored)
    assert "Saved [REDACTED] for ada" in stored["chunks"]
