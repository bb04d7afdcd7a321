"""Why did it fail (issue 18): evidence out of the page's reach, a failure class on every failed activity.

A fixture site on 127.0.0.1 has one page per class (a challenge page served with 403, a
redirect to a sign-in form, a page without the awaited element, a 500, a refused connection,
a crash through chrome://crash); an MCP tool per case drives a recorded Chromium there. Each
activity gets the right class and evidence, and its recording ends on the failing page (the
failure checkpoint). A successful activity that meets a 404 image is not a failure and keeps
the evidence. The rules themselves are checked on hand-made evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import duckdb
import pytest
import zstandard
from fastmcp import Client, FastMCP
from fastmcp.exceptions import ToolError
from patchright.async_api import Browser, BrowserContext, Playwright
from patchright.async_api import TimeoutError as PatchrightTimeoutError
from playwright.async_api import Browser as PlaywrightBrowser
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

import getgather_otel
from bench.synthetic import insert_activity_spans
from getgather_otel import activity, instrument_mcp, record_browser
from getgather_otel.capture import attributes as attr
from getgather_otel.capture import failures
from getgather_otel.capture.failures import Document, Evidence, FailureContext, PageState
from getgather_otel.cli import main as cli_main
from getgather_otel.demo.browser import launch_options
from getgather_otel.export.pipeline import Telemetry
from getgather_otel.recording import evidence
from getgather_otel.recording.cdp_worlds import PageWorlds
from getgather_otel.recording.options import RecordingOptions
from getgather_otel.recording.recorder import RECORDER_ATTRIBUTE
from getgather_otel.store.schema import CURRENT_VERSION, migrate
from getgather_otel.viewer.app import ViewerSettings, build_viewer_app
from getgather_otel.viewer.reads import FileReads
from getgather_otel.web.serving import serve_asgi
from tests.conftest import flushed, post, rows

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "viewer"

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _page(title: str, body: str) -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def failing_site() -> Starlette:
    """One page per failure class, plus a good page with a broken image."""

    async def challenge(request: Request) -> Response:
        body = '<h1>Checking your browser</h1><form id="challenge-form"><p>CHALLENGE-PAGE</p></form>'
        return HTMLResponse(_page("Just a moment...", body), 403)

    async def account(request: Request) -> Response:
        return RedirectResponse("/login?next=/account&session_token=s3cr3t", status_code=302)

    async def login(request: Request) -> Response:
        body = '<h1>SIGN-IN-PAGE</h1><form><input name="email"><input type="password" name="password"></form>'
        return HTMLResponse(_page("Sign in", body))

    async def changed(request: Request) -> Response:
        return HTMLResponse(_page("Orders", "<h1>CHANGED-PAGE</h1><div id='new-orders'>orders moved here</div>"))

    async def slow(request: Request) -> Response:
        return HTMLResponse(_page("Orders", "<h1>SLOW-PAGE</h1><div id='orders' style='display:none'>later</div>"))

    async def broken(request: Request) -> Response:
        return HTMLResponse(_page("Server error", "<h1>SITE-ERROR-PAGE</h1>"), 500)

    async def good(request: Request) -> Response:
        body = "<h1 id='done'>GOOD-PAGE</h1><img src='/missing.png?token=abc'><img src='/pixel.png'>"
        return HTMLResponse(_page("Good", body))

    async def pixel(request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    async def missing(request: Request) -> Response:
        return Response("no such image", 404)

    async def dialog(request: Request) -> Response:
        body = "<h1>DIALOG-PAGE</h1><a id='dl' href='/file.csv' download>csv</a><script>alert('hello there')</script>"
        return HTMLResponse(_page("Dialog", body))

    async def csv(request: Request) -> Response:
        return Response("a,b\n1,2\n", media_type="text/csv", headers={"Content-Disposition": "attachment; f.csv"})

    async def embeds(request: Request) -> Response:
        far = request.query_params["far"]
        body = (
            f"<h1 id='done'>EMBEDS-PAGE</h1><iframe src='{far}/widget?session_token=s3cr3t'></iframe>"
            "<script>new Worker('/feed-worker.js'); navigator.serviceWorker.register('/sw.js');</script>"
        )
        return HTMLResponse(_page("Embeds", body))

    async def widget(request: Request) -> Response:
        """A payment-like widget on the other site: a refused image, a failing XHR, a worker of its own."""
        script = "const x = new XMLHttpRequest(); x.open('POST', '/api/pay'); x.send('{}');"
        script += "new Worker('/far-worker.js');"
        return HTMLResponse(_page("Widget", f"<p>WIDGET</p><img src='/blocked.png'><script>{script}</script>"))

    async def checkout(request: Request) -> Response:
        """A checkout frame on the other site that shows a challenge provider's frame (from its own port)."""
        provider = f"http://newassets.hcaptcha.com:{request.url.port}"
        return HTMLResponse(_page("Checkout", f"<p>CHECKOUT</p><iframe src='{provider}/captcha/v1/frame'></iframe>"))

    async def captcha_frame(request: Request) -> Response:
        return HTMLResponse(_page("hCaptcha", "<p>Are you human?</p>"), 403)

    async def captcha_host(request: Request) -> Response:
        body = f"<h1>SHOP-PAGE</h1><iframe src='{request.query_params['far']}/checkout'></iframe>"
        return HTMLResponse(_page("Shop", body))

    def worker_fetching(path: str) -> Response:
        # A little after the worker starts: a fetch made at once can start before the evidence
        # session's Network.enable reaches the worker (docs/architecture.md, the measured window).
        script = f"setTimeout(() => fetch('{path}').then((r) => postMessage(r.status)), 300);"
        return Response(script, media_type="text/javascript")

    async def service_worker(request: Request) -> Response:
        script = "self.addEventListener('message', (e) => e.waitUntil(fetch('/api/sync')));"
        return Response(script, media_type="text/javascript")

    async def feed_worker(request: Request) -> Response:
        return worker_fetching("/api/feed?token=abc123")

    async def far_worker(request: Request) -> Response:
        return worker_fetching("/api/quote")

    async def forbidden(request: Request) -> Response:
        return Response("no", 403)

    async def account_identifier(request: Request) -> Response:
        return RedirectResponse("/v3/signin/identifier?continue=/orders", status_code=302)

    def static(title: str, body: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            return HTMLResponse(_page(title, body))

        return serve

    # A bot wall served with 200: only the page itself tells (a challenge marker).
    verify = static("Shop", "<h1>One more step</h1><div id='px-captcha'>VERIFY-PAGE</div>")
    # Identifier first (Google, Amazon, Microsoft): the email now, the password on the next step.
    identifier = static(
        "Sign in - Example Accounts",
        "<h1>Sign in</h1><p>IDENTIFIER-PAGE</p><form method='post'>"
        "<input type='email' name='identifier' autocomplete='username'><button type='button'>Next</button></form>",
    )
    # The same where only the heading says sign in (a single-page app's route).
    identify = static(
        "Example",
        "<div role='heading' aria-level='1'>Log in to Example</div><p>IDENTIFY-PAGE</p>"
        "<form><label>Username <input name='username'></label><input type='submit' value='Continue'></form>",
    )
    # An ordinary page with a "Sign in" link and a newsletter box: no sign-in form.
    deals = static(
        "Deals",
        "<nav><a href='/login'>Sign in</a></nav><h1>Today's deals</h1><p>DEALS-PAGE</p><h2>Stay in the loop</h2>"
        "<form><input type='email' name='email' autocomplete='email'><button>Subscribe</button></form>",
    )

    # Single sign-on only: no field, one button to sign in with another account.
    sso = static(
        "Sign in - Example",
        "<h1>Sign in to Example</h1><p>SSO-PAGE</p><button id='google'>Sign in with Google</button>",
    )
    # The same button in an ordinary page's header: the page does not say sign in.
    welcome = static(
        "Welcome",
        "<header><button>Sign in with Google</button></header><h1>Today's picks</h1><p>WELCOME-PAGE</p>",
    )

    # reCAPTCHA v2's checkbox as sites embed it: a 304x78 box (a frame of the provider's; here a
    # path of this site's, which the page's reads match as a captcha frame).
    checkbox = (
        "<div class='g-recaptcha' data-sitekey='k' style='width:304px;height:78px'>"
        "<iframe title='reCAPTCHA' src='/recaptcha/api2/anchor?k=k' width='304' height='78'></iframe>"
        "<textarea id='g-recaptcha-response' style='display:none'></textarea></div>"
    )
    # A contact form that carries the checkbox: a form's widget, not the page's challenge.
    contact = static(
        "Contact",
        "<h1>CONTACT-PAGE</h1><form><input name='name'><input type='email' name='email'><textarea></textarea>"
        f"{checkbox}<button>Send</button></form>",
    )
    # A gate: the checkbox and a Continue button, nothing else asked (the title and heading say no challenge word).
    gate = static(
        "Example Shop", f"<h1>One more step</h1><p>GATE-PAGE</p><form>{checkbox}<button>Continue</button></form>"
    )
    # An ordinary page with invisible reCAPTCHA (v3, or v2 invisible): only its badge shows, 256x60.
    badge = static(
        "Product",
        "<h1>PRODUCT-PAGE</h1><div class='grecaptcha-badge' style='position:fixed;right:0;bottom:14px'>"
        "<iframe src='/recaptcha/api2/anchor?k=k&size=invisible' width='256' height='60'></iframe></div>",
    )
    # A full-page interstitial: the provider's frame covers the page (served 200, title the site's).
    interstitial = static(
        "example.com",
        "<p>INTERSTITIAL-PAGE</p><iframe src='/captcha/v1/frame' style='position:fixed;inset:0;width:100%;height:100%'>"
        "</iframe>",
    )

    async def embedded_login(request: Request) -> Response:
        """An orders page that shows the other site's sign-in widget in an iframe (or hides it: `hidden`)."""
        style = "display:none" if request.query_params.get("hidden") else "width:420px;height:320px"
        frame = f"<iframe style='{style}' src='{request.query_params['far']}/login-widget'></iframe>"
        return HTMLResponse(_page("Orders", f"<h1>EMBEDDING-PAGE</h1>{frame}"))

    login_widget = static(
        "Sign in",
        "<h2>WIDGET-SIGN-IN</h2><form><input type='email' name='email'><input type='password' name='password'>"
        "<button>Sign in</button></form>",
    )

    async def server_error(request: Request) -> Response:
        return Response("boom", 500)

    async def streaming(request: Request) -> Response:
        """A page whose document is still streaming for 3 s after its first bytes."""

        async def chunks() -> AsyncIterator[bytes]:
            yield b"<!doctype html><html><head><title>Orders</title></head><body><h1>STREAMING-PAGE</h1>"
            await asyncio.sleep(3)
            yield b"<div id='orders'>late</div></body></html>"

        return StreamingResponse(chunks(), media_type="text/html")

    async def still_loading(request: Request) -> Response:
        """A page whose body never finishes within a test (DOMContentLoaded does not fire): the
        rest comes after 8 s, or never when the browser goes away first."""

        async def chunks() -> AsyncIterator[bytes]:
            yield b"<!doctype html><html><head><title>Orders</title></head><body><h1>STILL-LOADING-PAGE</h1>"
            yield b"<p>" + b"padding " * 200 + b"</p>"  # past the parser's first-chunk buffering
            for _ in range(32):
                await asyncio.sleep(0.25)
                if await request.is_disconnected():
                    return
            yield b"<div id='orders'>LATE-PART</div></body></html>"

        return StreamingResponse(chunks(), media_type="text/html")

    async def trackers(request: Request) -> Response:
        """A page that works, with broken third-party sub-resources: a refused analytics script, a
        502 tracking pixel, a cross-site fetch failing net::ERR_FAILED (no CORS headers)."""
        body = (
            f"<h1 id='done'>TRACKERS-PAGE</h1><script src='{refused_origin()}/analytics.js'></script>"
            f"<img src='/pixel502.gif'><script>fetch('{request.query_params['far']}/api/quote').catch(() => 0)</script>"
        )
        return HTMLResponse(_page("Orders", body))

    async def bad_gateway(request: Request) -> Response:
        return Response("", 502)

    def single_page_app(api: str, says: str) -> Callable[[Request], Awaitable[Response]]:
        """An SPA whose data call (its own site's fetch) fails: it says so in place of the orders."""
        script = f"fetch('{api}').then(() => {{ document.getElementById('app').textContent = '{says}'; }})"
        return static("Shop", f"<div id='app'>SPA-PAGE</div><script>{script}</script>")

    # A session that ended: a modal saying so with a "Log in" link, no form; and the same modal
    # hidden (a template kept in the page) beside a header's "Sign in" link.
    expired_modal = "<div class='modal'{}><p>Your session has expired. Please log in again.</p>"
    expired = static(
        "Shop - Orders", "<h1>EXPIRED-PAGE</h1>" + expired_modal.format("") + "<a href='/login'>Log in</a></div>"
    )
    expired_hidden = static(
        "Shop - Orders",
        "<nav><a href='/login'>Sign in</a></nav><h1>ORDERS-PAGE</h1>"
        + expired_modal.format(" style='display:none'")
        + "</div>",
    )

    # Bot walls served with 200 and the site's title: only the page's main heading or PerimeterX's
    # wrapper tells; a hidden "Access Denied" heading (a template) does not.
    denied = static("Shop", "<h1>Access Denied</h1><p>DENIED-PAGE You don't have permission. Reference #18.2f</p>")
    denied_hidden = static("Shop", "<h1 style='display:none'>Access Denied</h1><p>ORDERS-PAGE</p>")
    press_hold = static("Shop", "<h1>Press &amp; Hold</h1><p>Please confirm you are a human (and not a bot).</p>")
    px_wrapper = static("Shop", "<p>Please confirm you are a human</p><div id='px-captcha-wrapper'><div></div></div>")

    # An hCaptcha gate: the 304x78 widget (no frame yet) and a Continue button, nothing else asked.
    hcaptcha_gate = static(
        "One more step",
        "<p>HCAPTCHA-GATE Please complete the security check to continue</p><div class='h-captcha'"
        " data-sitekey='k' style='width:304px;height:78px;border:1px solid'></div><button>Continue</button>",
    )

    async def too_many(request: Request) -> Response:
        return Response('{"error": "slow down"}', 429, media_type="application/json")

    return Starlette(
        routes=[
            Route("/trackers", trackers),
            Route("/pixel502.gif", bad_gateway),
            Route("/spa429", single_page_app("/api/orders429", "Too many requests, try later")),
            Route("/spa500", single_page_app("/api/orders500", "Something went wrong")),
            Route("/api/orders429", too_many),
            Route("/expired", expired),
            Route("/hcaptcha-gate", hcaptcha_gate),
            Route("/denied", denied),
            Route("/denied-hidden", denied_hidden),
            Route("/press-hold", press_hold),
            Route("/px-wrapper", px_wrapper),
            Route("/expired-hidden", expired_hidden),
            Route("/api/orders500", server_error),
            Route("/streaming", streaming),
            Route("/still-loading", still_loading),
            Route("/contact", contact),
            Route("/embedded-login", embedded_login),
            Route("/login-widget", login_widget),
            Route("/gate", gate),
            Route("/badge", badge),
            Route("/interstitial", interstitial),
            Route(
                "/recaptcha/api2/anchor", static("reCAPTCHA", "<label><input type='checkbox'> I'm not a robot</label>")
            ),
            Route("/embeds", embeds),
            Route("/widget", widget),
            Route("/checkout", checkout),
            Route("/captcha/v1/frame", captcha_frame),
            Route("/shop", captcha_host),
            Route("/feed-worker.js", feed_worker),
            Route("/far-worker.js", far_worker),
            Route("/sw.js", service_worker),
            Route("/api/sync", missing),
            Route("/blocked.png", forbidden),
            Route("/api/pay", server_error, methods=["POST"]),
            Route("/api/feed", missing),
            Route("/api/quote", server_error),
            Route("/challenge", challenge),
            Route("/verify", verify),
            Route("/account-identifier", account_identifier),
            Route("/v3/signin/identifier", identifier),
            Route("/identify", identify),
            Route("/deals", deals),
            Route("/sso-signin", sso),
            Route("/welcome", welcome),
            Route("/account", account),
            Route("/login", login),
            Route("/changed", changed),
            Route("/slow", slow),
            Route("/broken", broken),
            Route("/good", good),
            Route("/pixel.png", pixel),
            Route("/missing.png", missing),
            Route("/dialog", dialog),
            Route("/file.csv", csv),
        ]
    )


def refused_origin() -> str:
    """An origin on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def site() -> AsyncIterator[str]:
    async with serve_asgi(failing_site()) as origin:
        yield origin


@pytest.fixture
async def far() -> AsyncIterator[str]:
    """The same site on 127.0.0.2: another site, so its frames run out of process."""
    async with serve_asgi(failing_site(), host="127.0.0.2") as origin:
        yield origin


WAIT_MS = 600


async def until_evidence(count: int) -> None:
    """Inside an activity: wait (up to 5 s) until its root has met `count` pieces of evidence.

    Evidence reaches an activity only while it runs, and a response's CDP event can come a
    little after the page has used the response.
    """
    current = getgather_otel.current_activity()
    assert current is not None
    for _ in range(100):
        if failures.ledger_of(current).seen >= count:
            return
        await asyncio.sleep(0.05)


@pytest.fixture
async def client(browser: Browser, site: str) -> AsyncIterator[Client[Any]]:
    """An MCP client of the tool server, whose tools share one recorded context."""
    context = await browser.new_context()
    await record_browser(context)
    async with Client(tool_server(context, site)) as connected:
        yield connected
    await context.close()


def tool_server(context: BrowserContext, origin: str) -> FastMCP:
    """A tool per case; each opens its own tab of one recorded context, as a getgather tool would."""
    server = FastMCP("failing")

    async def wait_on(path: str, state: Literal["attached", "visible"] = "attached") -> str:
        page = await context.new_page()
        await page.goto(f"{origin}{path}")
        await page.wait_for_selector("#orders", state=state, timeout=WAIT_MS)
        return "never"

    def waiting_on(name: str, path: str) -> None:
        async def read() -> str:
            return await wait_on(path)

        server.tool(read, name=name)

    for name, path in (
        ("fixture_read_challenge", "/challenge"),
        ("fixture_read_account", "/account"),
        ("fixture_read_identifier", "/account-identifier"),
        ("fixture_read_identify", "/identify"),
        ("fixture_read_deals", "/deals?from=signin"),
        ("fixture_read_sso", "/sso-signin"),
        ("fixture_read_welcome", "/welcome"),
    ):
        waiting_on(name, path)

    @server.tool
    async def fixture_read_changed() -> str:
        page = await context.new_page()
        await page.goto(f"{origin}/changed")
        await page.locator("#orders").click(timeout=WAIT_MS)
        return "never"

    @server.tool
    async def fixture_read_slow() -> str:
        return await wait_on("/slow", "visible")

    @server.tool
    async def fixture_read_shown() -> str:
        """Waits for an element that is there and visible to go away: it matches, and it is visible."""
        page = await context.new_page()
        await page.goto(f"{origin}/changed")
        await page.wait_for_selector("#new-orders", state="hidden", timeout=WAIT_MS)
        return "never"

    @server.tool
    async def fixture_read_broken() -> str:
        return await wait_on("/broken")

    @server.tool
    async def fixture_read_refused() -> str:
        page = await context.new_page()
        try:
            await page.goto(f"{refused_origin()}/orders?password=hunter2")
        except Exception:
            # Chromium's error page reloads itself (from ~1 s on), failing again each time: still
            # one navigation error on the activity.
            await asyncio.sleep(2.5)
            raise
        return "never"

    @server.tool
    async def fixture_read_crash() -> str:
        page = await context.new_page()
        await page.goto(f"{origin}/good")
        # What the page holds reaches Python first (as a close drains it; a crash cannot): under load
        # its binding can come after the load event, and the replay would have nothing to end on.
        await (await record_browser(context)).drain(page)
        # A browser-initiated (typed) navigation to chrome://crash crashes the renderer; Playwright's
        # goto is not "typed", so Chromium refuses it (net::ERR_ABORTED).
        cdp = await context.new_cdp_session(page)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(cdp.send("Page.navigate", {"url": "chrome://crash", "transitionType": "typed"}), 5)
        await page.wait_for_selector("#done", timeout=5000)
        return "never"

    @server.tool
    async def fixture_no_browser() -> str:
        raise ValueError("the tool gave up on its own")

    @server.tool
    async def fixture_read_good() -> str:
        page = await context.new_page()
        await page.goto(f"{origin}/good")
        await page.wait_for_selector("#done")
        await page.wait_for_function("() => [...document.images].every((i) => i.complete)")
        await until_evidence(1)  # the 404's CDP event may still be on its way when the image is complete
        return "ok"

    @server.tool
    async def fixture_good_then_raises() -> str:
        """The browser work went well (a 404 image on the way); the tool's own code raises after it."""
        await fixture_read_good()
        raise ValueError("the orders did not add up")

    instrument_mcp(server, brand_from_prefix=True)
    return server


def activity_row(db: Path, name: str) -> dict[str, Any]:
    [row] = rows(db, "SELECT * FROM activities WHERE name = ?", [name])
    return row


def events_of(db: Path, activity_id: str) -> list[tuple[str, dict[str, str]]]:
    [span] = rows(
        db, 'SELECT "Events.Name" AS n, "Events.Attributes" AS a FROM otel_traces WHERE "SpanId" = ?', [activity_id]
    )
    return list(zip(span["n"], [dict(a) for a in span["a"]], strict=True))


def one_event(db: Path, activity_id: str, name: str) -> dict[str, str]:
    """The attributes of the activity's one span event called `name` (fails on none or several)."""
    [found] = [a for n, a in events_of(db, activity_id) if n == name]
    return found


def last_snapshot_text(db: Path, activity_id: str) -> str:
    """The text of the last full snapshot of the failing page in the activity's recording (what its replay ends on)."""
    # The page the failing call acted on, else the one that crashed (a call on a crashed page has no page id).
    failing = (attr.EVENT_BROWSER_CALL_FAILED, attr.EVENT_PAGE_CRASHED)
    pages = [
        a[attr.RECORDING_PAGE_ID]
        for n, a in events_of(db, activity_id)
        if n in failing and a.get(attr.RECORDING_PAGE_ID)
    ]
    chunks = rows(
        db,
        "SELECT page_id, sequence, data FROM recording_chunks WHERE span_id = ? AND page_id = ? ORDER BY sequence",
        [activity_id, pages[-1] if pages else ""],
    )
    snapshots: list[tuple[int, str]] = []
    for chunk in chunks:
        for event in json.loads(zstandard.ZstdDecompressor().decompress(chunk["data"])):
            if event["type"] == 2:
                snapshots.append((event["timestamp"], json.dumps(event["data"])))
    assert snapshots, "the recording has no full snapshot"
    return max(snapshots)[1]


async def call(client: Client[Any], name: str) -> None:
    with pytest.raises(ToolError):
        await client.call_tool(name, {})


async def until_stored(telemetry: Telemetry, db: Path, name: str, text: str) -> dict[str, Any]:
    """Wait for the activity and for `text` in its recording's last snapshot (the grace period's late events)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        await asyncio.sleep(0.2)
        flushed(telemetry)
        found = rows(db, "SELECT activity_id FROM activities WHERE name = ?", [name])
        if found:
            try:
                if text in last_snapshot_text(db, found[0]["activity_id"]):
                    return activity_row(db, name)
            except AssertionError:
                pass
        assert asyncio.get_running_loop().time() < deadline, f"{text!r} never ended {name}'s recording"


CASES = [
    # (tool, class, an evidence event it must have, text the replay's last frame shows)
    ("fixture_read_challenge", failures.BOT_CHALLENGE, attr.EVENT_HTTP_ERROR, "CHALLENGE-PAGE"),
    ("fixture_read_account", failures.SIGNED_OUT, attr.EVENT_SIGN_IN_FORM, "SIGN-IN-PAGE"),
    ("fixture_read_changed", failures.ELEMENT_MISSING, attr.EVENT_ELEMENT_MISSING, "CHANGED-PAGE"),
    ("fixture_read_slow", failures.ELEMENT_MISSING, attr.EVENT_ELEMENT_MISSING, "SLOW-PAGE"),
    ("fixture_read_broken", failures.SITE_ERROR, attr.EVENT_HTTP_ERROR, "SITE-ERROR-PAGE"),
]


async def test_each_failing_tool_gets_its_class_evidence_and_a_replay_ending_on_the_failing_page(
    telemetry: Telemetry, client: Client[Any], db_path: Path
) -> None:
    for tool, _class, _event, _text in CASES:
        await call(client, tool)
    await call(client, "fixture_read_refused")
    await call(client, "fixture_read_crash")
    await call(client, "fixture_no_browser")
    for tool, expected, event_name, text in CASES:
        row = await until_stored(telemetry, db_path, tool, text)
        assert (row["status"], row["failure_class"]) == ("error", expected), tool
        names = [name for name, _ in events_of(db_path, row["activity_id"])]
        assert event_name in names, (tool, names)
    # The challenge: its document's 403, with method, resource type and the document flag.
    challenge = activity_row(db_path, "fixture_read_challenge")
    [http] = [a for n, a in events_of(db_path, challenge["activity_id"]) if n == attr.EVENT_HTTP_ERROR]
    assert http[attr.HTTP_RESPONSE_STATUS_CODE] == "403" and http[attr.HTTP_REQUEST_METHOD] == "GET"
    assert http[attr.BROWSER_RESOURCE_TYPE] == "Document" and http[attr.BROWSER_DOCUMENT] == "true"
    assert http[attr.URL_FULL].endswith("/challenge") and http[attr.RECORDING_PAGE_ID]
    # Changed page vs slow page: the timed-out selector, and whether the checkpoint has it.
    for tool, matches in (("fixture_read_changed", "false"), ("fixture_read_slow", "true")):
        found = activity_row(db_path, tool)
        [missing] = [a for n, a in events_of(db_path, found["activity_id"]) if n == attr.EVENT_ELEMENT_MISSING]
        assert missing[attr.BROWSER_SELECTOR] == "#orders" and missing[attr.FAILURE_SELECTOR_MATCHES] == matches
    # The sign-in redirect: the redirect's secret query value is redacted wherever a URL is kept.
    account = activity_row(db_path, "fixture_read_account")
    assert "s3cr3t" not in json.dumps(events_of(db_path, account["activity_id"]))
    # The refused connection: a main-frame navigation error, URL redacted.
    refused = activity_row(db_path, "fixture_read_refused")
    assert refused["failure_class"] == failures.NAVIGATION_ERROR
    [nav] = [a for n, a in events_of(db_path, refused["activity_id"]) if n == attr.EVENT_NAVIGATION_ERROR]
    assert nav[attr.BROWSER_ERROR] == "net::ERR_CONNECTION_REFUSED" and "hunter2" not in nav[attr.URL_FULL]

    # Playwright's error quotes the URL, query and all: the exception's message, the status message
    # and the activities view's error keep the error with that URL redacted, on every span. (The
    # stack trace quotes this file's source line, where the value is a literal.)
    def without_source(attributes: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in attributes.items() if k != "exception.stacktrace"}

    assert "hunter2" not in json.dumps([without_source(a) for _, a in events_of(db_path, refused["activity_id"])])
    [exception] = [a for n, a in events_of(db_path, refused["activity_id"]) if n == "exception"]
    assert "ERR_CONNECTION_REFUSED" in exception["exception.message"]
    assert "password=[REDACTED]" in exception["exception.message"]
    assert refused["error"] and "hunter2" not in refused["error"]
    stored = rows(db_path, 'SELECT "StatusMessage" AS s, "Events.Attributes" AS a FROM otel_traces')
    assert "hunter2" not in json.dumps([(r["s"], [without_source(dict(a)) for a in r["a"]]) for r in stored])
    # The crash, and a tool that failed without touching a browser.
    crash = activity_row(db_path, "fixture_read_crash")
    assert crash["failure_class"] == failures.BROWSER_CRASH
    assert attr.EVENT_PAGE_CRASHED in [n for n, _ in events_of(db_path, crash["activity_id"])]
    # Where no page of the site is left to show, the replay's last frame is, for the refused
    # connection, Chromium's own error page (its text; nothing of the URL's secret), and for the
    # crash, the page as last recorded before the renderer died (a crashed page cannot be read
    # again; the crash is the marker after it).
    await until_stored(telemetry, db_path, "fixture_read_refused", "ERR_CONNECTION_REFUSED")
    assert "hunter2" not in last_snapshot_text(db_path, refused["activity_id"])
    await until_stored(telemetry, db_path, "fixture_read_crash", "GOOD-PAGE")
    assert activity_row(db_path, "fixture_no_browser")["failure_class"] == failures.TOOL_ERROR
    # The CLI filters by class.
    out = io.StringIO()
    assert (
        cli_main(
            ["activities", "--db", str(db_path), "--failure-class", "element_missing", "--format", "json"], out=out
        )
        == 0
    )
    assert sorted(r["name"] for r in json.loads(out.getvalue())) == ["fixture_read_changed", "fixture_read_slow"]


# Tools written the common way: the page (or the whole context) closed in `finally`.
CLOSING_CASES: list[tuple[str, Literal["attached", "visible"], str, str]] = [
    # (fixture path, state waited for, class, text the failing page shows)
    ("/changed", "attached", failures.ELEMENT_MISSING, "CHANGED-PAGE"),
    ("/slow", "visible", failures.ELEMENT_MISSING, "SLOW-PAGE"),
    ("/account", "attached", failures.SIGNED_OUT, "SIGN-IN-PAGE"),
    ("/verify", "attached", failures.BOT_CHALLENGE, "VERIFY-PAGE"),
]
CLOSES = ("page", "context", "browser")


def closing_tool_name(closes: str, path: str) -> str:
    return f"closing_{closes}_{path.strip('/')}"


def closing_server(playwright: Playwright, browser: Browser, context: BrowserContext, origin: str) -> FastMCP:
    """A tool per case and per what it closes in `finally`: its page (of a shared context), its own
    context, or its own browser."""
    server = FastMCP("closing")

    def tool(closes: str, path: str, state: Literal["attached", "visible"]) -> None:
        async def read() -> str:
            own_browser = await playwright.chromium.launch(**launch_options()) if closes == "browser" else None
            own_context = await (own_browser or browser).new_context() if closes != "page" else context
            page = await own_context.new_page()
            try:
                await page.goto(f"{origin}{path}")
                await page.wait_for_selector("#orders", state=state, timeout=WAIT_MS)
            finally:
                if own_browser is not None:
                    await own_browser.close()
                elif closes == "context":
                    await own_context.close()
                else:
                    await page.close()
            return "never"

        server.tool(read, name=closing_tool_name(closes, path))

    for closes in CLOSES:
        for path, state, _class, _text in CLOSING_CASES:
            tool(closes, path, state)
    instrument_mcp(server, brand_from_prefix=True)
    return server


def checkpoint_after_failure(db: Path, activity_id: str) -> bool:
    """Whether the failing page's recording has a full snapshot taken after its browser call failed."""
    [span] = rows(
        db,
        'SELECT "Events.Name" AS n, "Events.Timestamp" AS t, "Events.Attributes" AS a FROM otel_traces '
        'WHERE "SpanId" = ?',
        [activity_id],
    )
    [(failed_at, page_id)] = [
        (t, dict(a)[attr.RECORDING_PAGE_ID])
        for n, t, a in zip(span["n"], span["t"], span["a"], strict=True)
        if n == attr.EVENT_BROWSER_CALL_FAILED
    ]
    failed_ms = failed_at.replace(tzinfo=UTC).timestamp() * 1000
    chunks = rows(db, "SELECT data FROM recording_chunks WHERE span_id = ? AND page_id = ?", [activity_id, page_id])
    events = [e for c in chunks for e in json.loads(zstandard.ZstdDecompressor().decompress(c["data"]))]
    return any(e["type"] == 2 and e["timestamp"] >= failed_ms - 20 for e in events)


@pytest.mark.parametrize("closes", CLOSES)
async def test_a_tool_that_closes_its_page_context_or_browser_in_finally_keeps_its_class_and_checkpoint(
    telemetry: Telemetry, playwright: Playwright, browser: Browser, site: str, db_path: Path, closes: str
) -> None:
    """The page is read before it closes (the checkpoint, the timed-out selector counted, the
    challenge markers and the sign-in form), and closing it is no "later browser call that
    returned" that would make the timeout one the tool handled."""
    context = await browser.new_context()
    await record_browser(context)
    async with Client(closing_server(playwright, browser, context, site)) as client:
        for path, _state, _class, _text in CLOSING_CASES:
            await call(client, closing_tool_name(closes, path))
    await context.close()
    expected_events = {
        failures.ELEMENT_MISSING: attr.EVENT_ELEMENT_MISSING,
        failures.SIGNED_OUT: attr.EVENT_SIGN_IN_FORM,
        failures.BOT_CHALLENGE: attr.EVENT_CHALLENGE,
    }
    found = {
        path: await until_stored(telemetry, db_path, closing_tool_name(closes, path), text)
        for path, _state, _class, text in CLOSING_CASES
    }
    assert {path: row["failure_class"] for path, row in found.items()} == {p: c for p, _s, c, _t in CLOSING_CASES}
    for path, _state, expected, _text in CLOSING_CASES:
        events = events_of(db_path, found[path]["activity_id"])
        assert expected_events[expected] in [n for n, _ in events], (path, events)
    checkpointed = {path: checkpoint_after_failure(db_path, row["activity_id"]) for path, row in found.items()}
    assert checkpointed == dict.fromkeys(found, True), "a checkpoint of the failing page before it closed"
    for path, matches in (("/changed", "false"), ("/slow", "true")):
        [missing] = [a for n, a in events_of(db_path, found[path]["activity_id"]) if n == attr.EVENT_ELEMENT_MISSING]
        assert missing[attr.BROWSER_SELECTOR] == "#orders" and missing[attr.FAILURE_SELECTOR_MATCHES] == matches


async def test_a_page_read_as_it_closed_counts_only_if_the_activity_fails_without_going_on(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path
) -> None:
    """A tool that met the sign-in page, gave up on that tab (a handled timeout, then the tab
    closed) and went on elsewhere: the tab was read as it closed, but that is not what the
    activity failed on (nor anything, for the one that then succeeded)."""
    context = await browser.new_context()
    await record_browser(context)

    async def tab_given_up() -> None:
        page = await context.new_page()
        try:
            await page.goto(f"{site}/account")
            await page.wait_for_selector("#orders", timeout=WAIT_MS)
        except PatchrightTimeoutError:
            pass
        finally:
            await page.close()  # a timeout and no call returned since: read before it closes

    with pytest.raises(RuntimeError):
        async with activity("gave_up_a_tab_then_failed", "fixture", kind="tool"):
            await tab_given_up()
            other = await context.new_page()
            await other.goto(f"{site}/good")
            await other.wait_for_selector("#done")
            raise RuntimeError("could not parse the orders")
    async with activity("gave_up_a_tab_then_succeeded", "fixture", kind="tool"):
        await tab_given_up()
    await context.close()
    await asyncio.sleep(0.3)
    flushed(quiet_telemetry)
    failed = activity_row(db_path, "gave_up_a_tab_then_failed")
    assert failed["failure_class"] == failures.UNKNOWN  # browser evidence, but none that explains it
    succeeded = activity_row(db_path, "gave_up_a_tab_then_succeeded")
    assert succeeded["status"] == "ok" and succeeded["failure_class"] is None
    for row in (failed, succeeded):
        names = [n for n, _ in events_of(db_path, row["activity_id"])]
        assert attr.EVENT_BROWSER_CALL_FAILED in names
        assert attr.EVENT_SIGN_IN_FORM not in names and attr.EVENT_ELEMENT_MISSING not in names, names


async def test_an_identifier_first_sign_in_page_is_signed_out_and_a_newsletter_box_is_not(
    telemetry: Telemetry, client: Client[Any], db_path: Path
) -> None:
    """Google, Amazon and Microsoft ask for the email first and the password on the next step:
    that page is a sign-in form too (said by its URL and title, or only by its heading). An
    ordinary page with an email box (a newsletter) and a "Sign in" link, reached with "signin"
    in its query, is not."""
    cases = [
        ("fixture_read_account", failures.SIGNED_OUT, "SIGN-IN-PAGE", ["password"]),
        ("fixture_read_identifier", failures.SIGNED_OUT, "IDENTIFIER-PAGE", ["identifier"]),
        ("fixture_read_identify", failures.SIGNED_OUT, "IDENTIFY-PAGE", ["identifier"]),
        ("fixture_read_deals", failures.ELEMENT_MISSING, "DEALS-PAGE", []),
    ]
    await _check_sign_in_cases(telemetry, client, db_path, cases)


async def test_a_single_sign_on_page_is_signed_out_and_the_same_button_on_another_page_is_not(
    telemetry: Telemetry, client: Client[Any], db_path: Path
) -> None:
    """A sign-in page whose only control is "Sign in with Google" (a newcomer's break: it was
    element_missing) is signed_out; the same button in an ordinary page's header is not."""
    cases = [
        ("fixture_read_sso", failures.SIGNED_OUT, "SSO-PAGE", ["sso"]),
        ("fixture_read_welcome", failures.ELEMENT_MISSING, "WELCOME-PAGE", []),
    ]
    await _check_sign_in_cases(telemetry, client, db_path, cases)


async def _check_sign_in_cases(
    telemetry: Telemetry, client: Client[Any], db_path: Path, cases: list[tuple[str, str, str, list[str]]]
) -> None:
    """Call each tool; each gets its class and exactly the sign-in form events named."""
    for tool, _class, _text, _forms in cases:
        await call(client, tool)
    found = {tool: await until_stored(telemetry, db_path, tool, text) for tool, _class, text, _forms in cases}
    assert {tool: row["failure_class"] for tool, row in found.items()} == {tool: c for tool, c, _t, _f in cases}
    for tool, _class, _text, forms in cases:
        events = events_of(db_path, found[tool]["activity_id"])
        assert [a[attr.BROWSER_SIGN_IN_FORM] for n, a in events if n == attr.EVENT_SIGN_IN_FORM] == forms, tool


async def test_a_successful_activity_that_meets_a_404_image_is_no_failure_and_keeps_the_evidence(
    telemetry: Telemetry, client: Client[Any], db_path: Path
) -> None:
    await client.call_tool("fixture_read_good", {})
    await asyncio.sleep(0.3)
    flushed(telemetry)
    row = activity_row(db_path, "fixture_read_good")
    assert row["status"] == "ok" and row["failure_class"] is None
    http = [a for n, a in events_of(db_path, row["activity_id"]) if n == attr.EVENT_HTTP_ERROR]
    assert len(http) == 1
    assert http[0][attr.HTTP_RESPONSE_STATUS_CODE] == "404" and http[0][attr.BROWSER_RESOURCE_TYPE] == "Image"
    assert http[0][attr.BROWSER_DOCUMENT] == "false" and "abc" not in http[0][attr.URL_FULL]
    assert row["attributes"][attr.EVIDENCE_EVENTS] == "1"


async def test_dialogs_and_downloads_are_evidence_and_the_cap_counts_the_rest(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path
) -> None:
    telemetry = quiet_telemetry
    context = await browser.new_context(accept_downloads=True)
    await record_browser(context, options=RecordingOptions(max_evidence_events=3))
    async with activity("dialogs_and_downloads", "fixture") as act:
        page = await context.new_page()
        await page.goto(f"{site}/dialog")
        async with page.expect_download() as download:
            await page.click("#dl")
        await (await download.value).path()
        for _ in range(4):  # four more 404s: over the cap of 3
            await page.evaluate("(u) => fetch(u).then((r) => r.status)", f"{site}/missing.png")
        await until_evidence(6)
    await asyncio.sleep(0.3)
    flushed(telemetry)
    names = [n for n, _ in events_of(db_path, act.activity_id)]
    found = {n: a for n, a in events_of(db_path, act.activity_id)}
    assert found[attr.EVENT_DIALOG][attr.BROWSER_DIALOG_TYPE] == "alert"
    assert found[attr.EVENT_DIALOG][attr.BROWSER_DIALOG_MESSAGE] == "hello there"
    assert found[attr.EVENT_DOWNLOAD][attr.URL_FULL].endswith("/file.csv")
    evidence = [n for n in names if n in (attr.EVENT_DIALOG, attr.EVENT_DOWNLOAD, attr.EVENT_HTTP_ERROR)]
    assert len(evidence) == 3
    row = activity_row(db_path, "dialogs_and_downloads")
    assert row["attributes"][attr.EVIDENCE_EVENTS] == "6" and row["attributes"][attr.EVIDENCE_DROPPED] == "3"


async def test_evidence_keeps_the_page_domain_when_the_recorder_could_not_set_up_its_worlds(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evidence listens on the recorder's CDP session of the page, whose `Page.enable` the
    recorder's world set-up sends first: when that set-up fails before it (simulated here), the
    page's dialogs are still evidence (the watcher enables the domain itself)."""

    async def fails(worlds: PageWorlds, cdp: Any) -> None:
        raise RuntimeError("simulated: the recorder could not set up its worlds")

    monkeypatch.setattr(PageWorlds, "start", fails)
    context = await browser.new_context()
    await record_browser(context)
    watcher = evidence._watchers[getattr(context._impl_obj, RECORDER_ATTRIBUTE)]
    async with activity("no_worlds", "fixture") as act:
        page = await context.new_page()
        ready = watcher._pages[page].ready
        assert ready is not None
        await ready  # the evidence session is up (no recorder world waits for it here)
        await page.goto(f"{site}/dialog")
        await until_evidence(1)
    await asyncio.sleep(0.3)
    flushed(quiet_telemetry)
    found = dict(events_of(db_path, act.activity_id))
    assert found[attr.EVENT_DIALOG][attr.BROWSER_DIALOG_MESSAGE] == "hello there"
    await context.close()


def http_errors(db: Path, activity_id: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """The activity's `browser.http.error` events by (status, resource type, target type)."""
    return {
        (a[attr.HTTP_RESPONSE_STATUS_CODE], a[attr.BROWSER_RESOURCE_TYPE], a.get(attr.BROWSER_TARGET_TYPE, "")): a
        for n, a in events_of(db, activity_id)
        if n == attr.EVENT_HTTP_ERROR
    }


async def test_cross_site_iframes_and_workers_give_evidence_and_leave_a_good_activity_ok(
    quiet_telemetry: Telemetry, browser: Browser, site: str, far: str, db_path: Path
) -> None:
    """A widget on 127.0.0.2 (out of process) with a 403 image and a 500 XHR, two dedicated workers
    (the page's, the widget's) whose fetches get a 404 and a 500, and the page's service worker
    whose fetch gets a 404: each is evidence of the activity, with where it came from (the
    frame's URL redacted), and the activity stays a success."""
    context = await browser.new_context()
    await record_browser(context)
    async with activity("embedded_widgets", "fixture", kind="tool") as act:
        page = await context.new_page()
        await page.goto(f"{site}/embeds?far={quote(far, safe='')}")
        await page.wait_for_selector("#done")
        # The page's own script would do this; Patchright's evaluate runs elsewhere unless told.
        sync = "() => navigator.serviceWorker.ready.then((r) => r.active.postMessage('sync'))"
        await page.evaluate(sync, isolated_context=False)
        await until_evidence(5)
    await asyncio.sleep(0.3)
    flushed(quiet_telemetry)
    row = activity_row(db_path, "embedded_widgets")
    assert row["status"] == "ok" and row["failure_class"] is None
    found = http_errors(db_path, act.activity_id)
    assert sorted(found) == [
        ("403", "Image", "iframe"),
        ("404", "Fetch", "service_worker"),
        ("404", "Fetch", "worker"),
        ("500", "Fetch", "worker"),
        ("500", "XHR", "iframe"),
    ]
    blocked, pay = found[("403", "Image", "iframe")], found[("500", "XHR", "iframe")]
    assert blocked[attr.URL_FULL] == f"{far}/blocked.png" and blocked[attr.BROWSER_DOCUMENT] == "false"
    assert blocked[attr.BROWSER_FRAME_URL] == f"{far}/widget?session_token=[REDACTED]"
    assert pay[attr.HTTP_REQUEST_METHOD] == "POST" and pay[attr.URL_FULL] == f"{far}/api/pay"
    assert pay[attr.BROWSER_FRAME_URL] == blocked[attr.BROWSER_FRAME_URL]
    feed, quoted = found[("404", "Fetch", "worker")], found[("500", "Fetch", "worker")]
    assert feed[attr.URL_FULL] == f"{site}/api/feed?token=[REDACTED]"
    assert feed[attr.BROWSER_FRAME_URL] == f"{site}/feed-worker.js"
    assert quoted[attr.URL_FULL] == f"{far}/api/quote" and quoted[attr.BROWSER_FRAME_URL] == f"{far}/far-worker.js"
    assert "s3cr3t" not in json.dumps(events_of(db_path, act.activity_id))
    synced = found[("404", "Fetch", "service_worker")]
    assert synced[attr.URL_FULL] == f"{site}/api/sync" and synced[attr.BROWSER_FRAME_URL] == f"{site}/sw.js"
    assert len({a[attr.RECORDING_PAGE_ID] for a in found.values()}) == 1
    assert row["attributes"][attr.EVIDENCE_EVENTS] == "5"
    await context.close()


async def test_a_challenge_providers_frame_in_a_cross_site_iframe_answering_403_is_a_bot_challenge(
    quiet_telemetry: Telemetry, playwright: Playwright, site: str, far: str, db_path: Path
) -> None:
    """A shop page whose checkout frame (127.0.0.2) shows hCaptcha's frame, which answers 403.

    The provider's host is mapped to 127.0.0.2 by the browser's resolver: nothing leaves the
    machine. Only the checkout frame's own target sees the provider frame's request.
    """
    options = launch_options()
    options["args"] = [*options["args"], "--host-resolver-rules=MAP newassets.hcaptcha.com 127.0.0.2"]
    provider = f"http://newassets.hcaptcha.com:{far.rsplit(':', 1)[1]}"
    browser = await playwright.chromium.launch(**options)
    try:
        context = await browser.new_context()
        await record_browser(context)
        with pytest.raises(PatchrightTimeoutError):
            async with activity("captcha_in_checkout", "fixture", kind="tool"):
                page = await context.new_page()
                await page.goto(f"{site}/shop?far={quote(far, safe='')}")
                await until_evidence(2)
                await page.wait_for_selector("#orders", timeout=WAIT_MS)
    finally:
        await browser.close()
    await asyncio.sleep(0.3)
    flushed(quiet_telemetry)
    row = activity_row(db_path, "captcha_in_checkout")
    assert row["failure_class"] == failures.BOT_CHALLENGE
    events = events_of(db_path, row["activity_id"])
    [challenge] = [a for n, a in events if n == attr.EVENT_CHALLENGE]
    assert challenge[attr.BROWSER_CHALLENGE_PROVIDER] == "hcaptcha" and challenge[attr.BROWSER_TARGET_TYPE] == "iframe"
    frame = http_errors(db_path, row["activity_id"])[("403", "Document", "iframe")]
    assert frame[attr.URL_FULL] == f"{provider}/captcha/v1/frame" and frame[attr.BROWSER_DOCUMENT] == "false"
    assert frame[attr.BROWSER_FRAME_URL] == frame[attr.URL_FULL]


# --- the rules, on hand-made evidence ---


def _context(
    evidence: list[Evidence] | None = None,
    documents: list[Document] | None = None,
    pages: list[PageState] | None = None,
    message: str = "boom",
) -> FailureContext:
    with activity("rules") as act:
        pass
    return FailureContext(act, "Error", message, tuple(evidence or ()), tuple(documents or ()), tuple(pages or ()))


def _http(status: int, document: bool = True, kind: str = "Document", url: str = "u") -> Evidence:
    return Evidence(
        attr.EVENT_HTTP_ERROR,
        {
            attr.HTTP_RESPONSE_STATUS_CODE: status,
            attr.BROWSER_DOCUMENT: document,
            attr.BROWSER_RESOURCE_TYPE: kind,
            attr.URL_FULL: url,
        },
        "p1",
    )


def _failed(kind: str, url: str) -> Evidence:
    attributes = {attr.BROWSER_RESOURCE_TYPE: kind, attr.URL_FULL: url, attr.BROWSER_ERROR: "net::ERR_FAILED"}
    return Evidence(attr.EVENT_REQUEST_FAILED, attributes, "p1")


def _timeout(selector: str = "#x") -> Evidence:
    error = "Timeout 500ms exceeded."
    return Evidence(attr.EVENT_BROWSER_CALL_FAILED, {attr.BROWSER_SELECTOR: selector, attr.BROWSER_ERROR: error}, "p1")


def _condition_timeout() -> Evidence:
    """`page.wait_for_function(...)` timing out: a wait for the page, with no selector."""
    error = "Timeout 500ms exceeded."
    return Evidence(
        attr.EVENT_BROWSER_CALL_FAILED, {attr.BROWSER_ACTION: "waitForFunction", attr.BROWSER_ERROR: error}, "p1"
    )


@pytest.mark.parametrize(
    ("evidence", "documents", "pages", "expected"),
    [
        ([Evidence(attr.EVENT_PAGE_CRASHED, {}, "p1"), _timeout()], [], [], failures.BROWSER_CRASH),
        ([_http(403), _timeout()], [Document("p1", 403, "u")], [], failures.BOT_CHALLENGE),
        ([_http(429)], [Document("p1", 429, "u")], [], failures.BOT_CHALLENGE),
        # A newcomer's break: a `wait_for_function` timing out on a page that loaded was unknown.
        ([_condition_timeout()], [Document("p1", 200, "u")], [], failures.ELEMENT_MISSING),
        (
            [Evidence(attr.EVENT_CHALLENGE, {attr.BROWSER_CHALLENGE_PROVIDER: failures.PAGE_MARKER + "#px-captcha"})],
            [],
            [],
            failures.BOT_CHALLENGE,
        ),
        (
            [_timeout()],
            [Document("p1", 200, "u")],
            [PageState("p1", "u", challenge_marker=".g-recaptcha")],
            failures.BOT_CHALLENGE,
        ),
        # A gate's lone checkbox: the challenge where the failing call was held, not after good browser work.
        (
            [_timeout()],
            [Document("p1", 200, "u")],
            [PageState("p1", "u", challenge_marker=failures.GATE_MARKER + ".g-recaptcha")],
            failures.BOT_CHALLENGE,
        ),
        (
            [],
            [Document("p1", 200, "u")],
            [PageState("p1", "u", challenge_marker=failures.GATE_MARKER + ".g-recaptcha")],
            failures.TOOL_ERROR,
        ),
        (
            [_http(401, document=False, kind="XHR", url="http://shop.example/api/me"), _timeout()],
            [Document("p1", 200, "http://www.shop.example/orders")],
            [],
            failures.SIGNED_OUT,
        ),
        # An image's 401, a third party's: not the visitor signed out.
        (
            [_http(401, document=False, kind="Image", url="http://shop.example/a.png"), _timeout()],
            [Document("p1", 200, "http://shop.example/orders")],
            [],
            failures.ELEMENT_MISSING,
        ),
        (
            [_http(401, document=False, kind="Fetch", url="http://beacons.example/b"), _timeout()],
            [Document("p1", 200, "http://shop.example/orders")],
            [],
            failures.ELEMENT_MISSING,
        ),
        # "Own site" by the Public Suffix List, not by two labels: another shop under co.uk, another
        # user's github.io site, are third parties; the shop's own API under co.uk is its own.
        *(
            (
                [_http(401, document=False, kind=kind, url=api), _timeout()],
                [Document("p1", 200, page)],
                [],
                expected,
            )
            for kind, api, page, expected in (
                ("Fetch", "https://beacons.co.uk/b", "https://www.shop.co.uk/orders", failures.ELEMENT_MISSING),
                ("XHR", "https://api.shop.co.uk/me", "https://www.shop.co.uk/orders", failures.SIGNED_OUT),
                ("Fetch", "https://mallory.github.io/me", "https://alice.github.io/orders", failures.ELEMENT_MISSING),
                ("XHR", "https://alice.github.io/api/me", "https://alice.github.io/orders", failures.SIGNED_OUT),
                ("XHR", "http://127.0.0.2:8000/api/me", "http://127.0.0.1:8000/orders", failures.ELEMENT_MISSING),
                ("XHR", "http://localhost:9000/api/me", "http://localhost:8000/orders", failures.SIGNED_OUT),
            )
        ),
        # A provider's script loaded: no challenge by itself; with a 503 document, Cloudflare's wall.
        (
            [Evidence(attr.EVENT_CHALLENGE, {attr.BROWSER_CHALLENGE_PROVIDER: "recaptcha"}, "p1"), _timeout()],
            [Document("p1", 200, "u")],
            [],
            failures.ELEMENT_MISSING,
        ),
        (
            [Evidence(attr.EVENT_CHALLENGE, {attr.BROWSER_CHALLENGE_PROVIDER: "cloudflare"}, "p1"), _http(503)],
            [Document("p1", 503, "u")],
            [],
            failures.BOT_CHALLENGE,
        ),
        # A 403 sign-in page with no challenge: signed out.
        (
            [_http(403), _timeout()],
            [Document("p1", 403, "/login")],
            [PageState("p1", "/login", sign_in_form=True)],
            failures.SIGNED_OUT,
        ),
        (
            [_timeout()],
            [Document("p1", 200, "/login", redirected=True)],
            [PageState("p1", "/login", sign_in_form=True)],
            failures.SIGNED_OUT,
        ),
        ([_http(503), _timeout()], [Document("p1", 503, "u")], [], failures.SITE_ERROR),
        (
            [Evidence(attr.EVENT_NAVIGATION_ERROR, {attr.BROWSER_ERROR: "net::ERR_NAME_NOT_RESOLVED"})],
            [],
            [],
            failures.NAVIGATION_ERROR,
        ),
        ([_timeout()], [Document("p1", 200, "u")], [], failures.ELEMENT_MISSING),
        ([], [Document("p1", 200, "u")], [], failures.TOOL_ERROR),
        ([], [], [], failures.TOOL_ERROR),
        # A sub-resource's 4xx (a missing image) is no evidence of failure; its 5xx (an API) is.
        ([_http(404, document=False)], [Document("p1", 200, "u")], [], failures.TOOL_ERROR),
        # Nor is a sub-resource's 5xx or failed request (a 502 pixel, a refused script, a cross-site
        # fetch), unless the page's own XHR or fetch to its own site.
        *(
            ([evidence], [Document("p1", 200, "http://shop.example/orders")], [], expected)
            for evidence, expected in (
                (_http(502, document=False, kind="Image", url="http://shop.example/p.gif"), failures.TOOL_ERROR),
                (_http(500, document=False, kind="Fetch", url="http://cdn.example/a"), failures.TOOL_ERROR),
                (_http(500, document=False, kind="Fetch", url="http://api.shop.example/a"), failures.UNKNOWN),
                (_failed("Script", "http://analytics.example/a.js"), failures.TOOL_ERROR),
                (_failed("Fetch", "http://other.example/a"), failures.TOOL_ERROR),
                (_failed("XHR", "http://shop.example/api"), failures.UNKNOWN),
            )
        ),
        # The page's own API answering 429 or 5xx, then the awaited element missing: rate-limited, or
        # the site failing. Not a third party's, not an API's 403, not over a sign-in form.
        *(
            (
                [_http(status, document=False, kind="Fetch", url=api), _timeout()],
                [Document("p1", 200, page)],
                [],
                expected,
            )
            for status, api, page, expected in (
                (429, "http://api.shop.example/o", "http://shop.example/orders", failures.BOT_CHALLENGE),
                (500, "http://shop.example/api/o", "http://shop.example/orders", failures.SITE_ERROR),
                (503, "http://shop.example/api/o", "http://shop.example/orders", failures.SITE_ERROR),
                (500, "http://cdn.example/o", "http://shop.example/orders", failures.ELEMENT_MISSING),
                (429, "http://cdn.example/o", "http://shop.example/orders", failures.ELEMENT_MISSING),
                (403, "http://shop.example/api/o", "http://shop.example/orders", failures.ELEMENT_MISSING),
            )
        ),
        (
            [_http(429, document=False, kind="XHR", url="http://shop.example/api"), _timeout()],
            [Document("p1", 200, "http://shop.example/login")],
            [PageState("p1", "http://shop.example/login", sign_in_form=True)],
            failures.SIGNED_OUT,
        ),
        ([_http(404)], [Document("p1", 404, "u")], [], failures.UNKNOWN),
        # A 500 earlier, then a good document on the same page: the page loaded, the element is missing.
        ([_http(500), _timeout()], [Document("p1", 500, "u"), Document("p1", 200, "u2")], [], failures.ELEMENT_MISSING),
    ],
)
def test_the_rules_in_order(
    evidence: list[Evidence], documents: list[Document], pages: list[PageState], expected: str
) -> None:
    assert failures.classify(_context(evidence, documents, pages)) == expected


def test_a_page_state_read_before_a_later_call_returned_does_not_count() -> None:
    """Read as its page closed, then the tool went on (a browser call returned): not the failure's page."""
    state = PageState("p1", "/login", sign_in_form=True, sign_in_form_kind="password")
    read_at_close = _context([_timeout()], [Document("p1", 200, "/login")], [state])
    went_on = FailureContext(**{**read_at_close.__dict__, "last_ok_call": state.at + 1})
    assert failures.classify(read_at_close) == failures.SIGNED_OUT
    assert failures.classify(went_on) == failures.UNKNOWN


@pytest.mark.parametrize(
    ("url", "title", "headings", "password", "identifier", "expected"),
    [
        ("https://shop.example/login?next=/orders", "Shop", [], True, False, "password"),
        ("https://shop.example/", "Shop", ["Log in to your account"], True, False, "password"),
        ("https://shop.example/settings", "Settings", ["Change password"], True, False, ""),
        (
            "https://accounts.google.com/v3/signin/identifier?flowName=x",
            "Sign in - Google Accounts",
            [],
            False,
            True,
            "identifier",
        ),
        (
            "https://www.amazon.com/ap/signin?openid.mode=checkid",
            "Amazon Sign-In",
            ["Sign in"],
            False,
            True,
            "identifier",
        ),
        ("https://login.microsoftonline.com/common/oauth2/authorize", "", [], False, True, "identifier"),
        ("https://app.example/#/", "Example", ["Sign in"], False, True, "identifier"),
        ("https://accounts.google.com/ServiceLogin", "Google", [], False, True, "identifier"),
        # A newsletter box: the page says nothing of signing in; a query that does is where it came from.
        ("https://shop.example/deals?from=signin", "Deals", ["Today's deals", "Stay in the loop"], False, True, ""),
        ("https://books.example/authors/jane", "Jane's books", ["Jane"], False, True, ""),
        ("https://shop.example/designing", "Designing a shelf", [], False, True, ""),
        ("https://shop.example/login", "Log in", [], False, False, ""),
        # "auth" inside a word, "login" in a sign-up page's query: no sign-in page.
        ("https://books.example/authors/settings", "Settings", ["Change password"], True, False, ""),
        ("https://shop.example/register?next=/login", "Create account", [], True, False, ""),
        ("https://shop.example/oauth2/authorize", "Shop", [], True, False, "password"),
        # A short list of other languages' words; German "anmelden" only beside a password field.
        ("https://shop.example/", "Anmelden", ["Anmelden"], True, False, "password"),
        ("https://shop.example/", "Boutique", ["Connexion"], False, True, "identifier"),
        ("https://tienda.example/cuenta", "Tienda", ["Iniciar sesión"], True, False, "password"),
        ("https://shop.example/", "ショップ", ["ログイン"], False, True, "identifier"),
        ("https://shop.example/", "Angebote", ["Zum Newsletter anmelden"], False, True, ""),
    ],
)
def test_the_sign_in_form_rule(
    url: str, title: str, headings: list[str], password: bool, identifier: bool, expected: str
) -> None:
    assert failures.sign_in_form_kind(url, title, headings, password=password, identifier=identifier) == expected


@pytest.mark.parametrize(
    ("url", "title", "headings", "controls", "expected"),
    [
        ("https://shop.example/signin", "Shop", [], ["Sign in with Google"], "sso"),
        ("https://shop.example/", "Log in - Shop", [], ["Continue with Apple", "Help"], "sso"),
        ("https://app.example/#/", "App", ["Sign in"], ["Log in using SSO"], "sso"),
        ("https://shop.example/", "Shop", [], ["Sign in with Google"], ""),  # a header's button
        ("https://shop.example/login", "Log in", [], ["Continue shopping", "Sign in"], ""),
    ],
)
def test_the_single_sign_on_rule(url: str, title: str, headings: list[str], controls: list[str], expected: str) -> None:
    assert failures.sign_in_form_kind(url, title, headings, controls=controls) == expected


@pytest.mark.parametrize(
    ("text", "controls", "expected"),
    [
        ("Your session has expired. Please log in again.", ["Log in"], "session_ended"),
        ("You\u2019ve been signed out", ["Help", "Sign in"], "session_ended"),
        ("Session timed out", ["Log on"], "session_ended"),
        ("Your session has expired.", ["Continue"], ""),  # nothing to sign in with
        ("Today's deals", ["Sign in"], ""),  # a header's link on an ordinary page
    ],
)
def test_the_session_ended_rule(text: str, controls: list[str], expected: str) -> None:
    """No form, but the visible text says the session ended and a control signs in again (the page
    matches the text against `SESSION_ENDED_SAID`; here, Python's `re` does)."""
    ended = bool(failures.SESSION_ENDED_SAID.search(text))
    assert (
        failures.sign_in_form_kind("https://shop.example/orders", "Orders", controls=controls, ended=ended) == expected
    )


def test_a_crash_is_the_browsers_only_with_browser_evidence() -> None:
    """A newcomer's break: a tool's own RuntimeError("... page crashed ...") with no browser at all was
    `browser_crash`; a browser call that failed with the page gone is one."""
    gone = Evidence(
        attr.EVENT_BROWSER_CALL_FAILED,
        {attr.BROWSER_ERROR: "Page.goto: Target crashed", attr.ERROR_TYPE: "TargetClosedError"},
        "p1",
    )
    assert failures.classify(_context([gone], message="Page.goto: Target crashed")) == failures.BROWSER_CRASH
    assert failures.classify(_context(message="the page crashed, said the parser")) == failures.TOOL_ERROR


def test_challenge_providers_are_told_by_host() -> None:
    assert failures.challenge_provider("https://challenges.cloudflare.com/turnstile/v0/api.js") == "cloudflare"
    assert failures.challenge_provider("https://newassets.hcaptcha.com/captcha/v1/x") == "hcaptcha"
    assert failures.challenge_provider("https://www.google.com/recaptcha/api.js") == "recaptcha"
    assert failures.challenge_provider("https://www.google.com/search?q=recaptcha") is None
    assert failures.challenge_provider("https://notcloudflare.com/challenges.cloudflare.com") is None


def test_a_user_classifier_extends_the_rules(telemetry: Telemetry, db_path: Path) -> None:
    seen: list[FailureContext] = []

    def classifier(context: FailureContext) -> str | None:
        seen.append(context)
        return "quota_exceeded" if "quota" in context.message else None

    getgather_otel.set_failure_classifier(classifier)
    try:
        for name, message in (("over_quota", "quota exceeded"), ("plain_failure", "nope")):
            with pytest.raises(RuntimeError), activity(name, "fixture"):
                raise RuntimeError(message)
        getgather_otel.set_failure_classifier(lambda _context: 1 / 0)  # type: ignore[arg-type, return-value]
        with pytest.raises(RuntimeError), activity("classifier_raises", "fixture"):
            raise RuntimeError("x")
    finally:
        getgather_otel.set_failure_classifier(None)
    flushed(telemetry)
    assert activity_row(db_path, "over_quota")["failure_class"] == "quota_exceeded"
    assert activity_row(db_path, "plain_failure")["failure_class"] == failures.TOOL_ERROR
    assert activity_row(db_path, "classifier_raises")["failure_class"] == failures.TOOL_ERROR
    assert [c.default for c in seen] == [failures.TOOL_ERROR, failures.TOOL_ERROR]
    with activity("fine", "fixture"):
        pass
    flushed(telemetry)
    assert activity_row(db_path, "fine")["failure_class"] is None


# --- stats, API and viewer ---


async def test_api_stats_and_the_activity_page_show_class_and_evidence_and_seek_to_the_first(
    telemetry: Telemetry, client: Client[Any], browser: Browser, db_path: Path
) -> None:
    await call(client, "fixture_read_challenge")
    await client.call_tool("fixture_read_good", {})
    await call(client, "fixture_no_browser")
    challenge = await until_stored(telemetry, db_path, "fixture_read_challenge", "CHALLENGE-PAGE")
    telemetry.shutdown()  # the viewer reads the file as another process would

    app = build_viewer_app(FileReads(db_path), ViewerSettings())
    async with serve_asgi(app) as url:

        async def get(path: str) -> Any:
            reply = await post(url + path, b"", {}, method="GET")
            assert reply.status_code == 200, reply.text
            return json.loads(reply.text)

        listed = await get("/api/activities?failure_class=bot_challenge&since=1d")
        assert [a["name"] for a in listed["activities"]] == ["fixture_read_challenge"]
        assert listed["activities"][0]["failure_class"] == "bot_challenge"
        stats = await get("/api/stats?since=1d")
        failed = {(f["brand_id"], f["failure_class"]): f for f in stats["failures"]}
        assert failed[("fixture", "bot_challenge")]["failures"] == 1
        assert failed[("fixture", "tool_error")]["failure_rate_pct"] == pytest.approx(100 / 3, abs=0.01)
        assert {p["failure_class"] for p in stats["failure_series"]} == {"bot_challenge", "tool_error"}
        detail = await get(f"/api/activities/{challenge['activity_id']}")
        assert detail["activity"]["failure_class"] == "bot_challenge"
        names = [e["name"] for e in detail["evidence"]]
        assert names[0] == attr.EVENT_HTTP_ERROR and attr.EVENT_CHALLENGE in names
        assert names == sorted(names, key=lambda n: names.index(n))

        viewer = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
        await viewer.goto(f"{url}/#/activity/{challenge['activity_id']}")
        assert await viewer.inner_text("#failure-class") == "bot_challenge"
        rows = await viewer.locator("#evidence tr").all_inner_texts()
        assert "browser.http.error" in rows[0] and "403" in rows[0] and "Document" in rows[0]
        # The replay opens on the first piece of evidence.
        await viewer.wait_for_selector("#replay-status[data-first-evidence='browser.http.error'][data-offset-ms]")
        replay = next(f for f in viewer.frames if "/replay/" in f.url)
        offset_ms = float(await viewer.get_attribute("#replay-status", "data-offset-ms") or "nan")
        player_ms = float(
            await replay.evaluate("window.replayer.getReplayer().getCurrentTime()", isolated_context=False)
        )
        assert offset_ms >= 0 and abs(player_ms - offset_ms) < 50, "the player stands at the first evidence"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await viewer.screenshot(path=str(ARTIFACTS / "6-failure-evidence.png"), full_page=True)
        await viewer.goto(f"{url}/#/?since=&live=0")
        await viewer.wait_for_selector("#activities tr.row")
        await viewer.select_option("select[name=failure_class]", "bot_challenge")
        await viewer.wait_for_function("() => location.hash.includes('failure_class=bot_challenge')")
        await viewer.wait_for_selector("#range >> text=of 1")
        assert await viewer.locator("#activities tr.row td.failure-class").all_inner_texts() == ["bot_challenge"]
        await viewer.goto(f"{url}/#/brand/fixture?since=24h")
        await viewer.wait_for_selector("table.failures tr[data-class='bot_challenge']")
        await viewer.screenshot(path=str(ARTIFACTS / "7-brand-failures.png"), full_page=True)


async def test_plain_playwright_gets_the_same_evidence_and_class(
    quiet_telemetry: Telemetry, pw_browser: PlaywrightBrowser, site: str, db_path: Path
) -> None:
    """Playwright >= 1.65 funnels calls through `Channel._call`, Patchright through `send`: both report failures."""
    context = await pw_browser.new_context()
    await record_browser(context)
    with pytest.raises(PlaywrightTimeoutError):
        async with activity("pw_changed", "fixture", kind="tool"):
            page = await context.new_page()
            await page.goto(f"{site}/changed")
            await page.wait_for_selector("#orders", timeout=WAIT_MS)
    await asyncio.sleep(0.3)
    flushed(quiet_telemetry)
    row = activity_row(db_path, "pw_changed")
    assert row["failure_class"] == failures.ELEMENT_MISSING
    [missing] = [a for n, a in events_of(db_path, row["activity_id"]) if n == attr.EVENT_ELEMENT_MISSING]
    assert missing[attr.BROWSER_SELECTOR] == "#orders" and missing[attr.FAILURE_SELECTOR_MATCHES] == "false"
    await context.close()


def test_a_timeout_the_tool_handled_is_no_missing_element() -> None:
    """A timed-out selector followed by a browser call that returned: the tool caught it and moved on."""
    handled = _context([_timeout()], [Document("p1", 200, "u")])
    later = FailureContext(**{**handled.__dict__, "last_ok_call": handled.evidence[0].at + 1})
    assert failures.classify(handled) == failures.ELEMENT_MISSING
    assert failures.classify(later) == failures.UNKNOWN


async def test_a_caught_timeout_then_a_later_error_is_classified_by_the_later_error(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path
) -> None:
    context = await browser.new_context()
    await record_browser(context)
    with pytest.raises(RuntimeError):
        async with activity("optional_banner_then_broken", "fixture", kind="tool"):
            page = await context.new_page()
            await page.goto(f"{site}/good")
            with contextlib.suppress(Exception):
                await page.wait_for_selector("#cookie-banner", timeout=200)  # optional: absent is fine
            await page.goto(f"{site}/broken")
            raise RuntimeError("no orders on the page")
    await asyncio.sleep(0.3)
    flushed(quiet_telemetry)
    row = activity_row(db_path, "optional_banner_then_broken")
    assert row["failure_class"] == failures.SITE_ERROR
    names = [n for n, _ in events_of(db_path, row["activity_id"])]
    assert attr.EVENT_BROWSER_CALL_FAILED in names and attr.EVENT_ELEMENT_MISSING not in names
    await context.close()


def test_migration_8_adds_failure_class_to_an_older_file(tmp_path: Path) -> None:
    """An older file gets `activities.failure_class`: 'unknown' for its failed spans, NULL for the rest."""
    conn = duckdb.connect(str(tmp_path / "old.duckdb"))
    migrate(conn, target=6)
    insert_activity_spans(conn, 34, start=datetime(2026, 11, 30), step_s=1.0)  # every 17th one failed
    assert "failure_class" not in [c[0] for c in conn.execute("DESCRIBE activities").fetchall()]
    assert migrate(conn) == CURRENT_VERSION >= 8
    found = conn.execute("SELECT status, failure_class, count(*) FROM activities GROUP BY ALL ORDER BY 1").fetchall()
    assert found == [("error", "unknown", 2), ("ok", None, 32)]
    conn.close()


# --- a newcomer's breaks: classes that were wrong ---


async def test_concurrent_tool_calls_on_one_context_each_get_their_own_evidence_and_class(
    telemetry: Telemetry, browser: Browser, site: str, db_path: Path
) -> None:
    """Two tool calls at once on one context, each in its own tab: the one that met a 500 is a
    site error, and the one that raised ValueError carries no 500 of the other's (it gave every
    piece of evidence to the context's owner: element_missing and site_error)."""
    context = await browser.new_context()
    await record_browser(context)
    server = FastMCP("shared")
    owner_loaded, other_done = asyncio.Event(), asyncio.Event()

    @server.tool
    async def shared_owner() -> str:
        page = await context.new_page()  # first: it owns the context (and records both tabs)
        await page.goto(f"{site}/changed")
        owner_loaded.set()
        await asyncio.wait_for(other_done.wait(), 20)
        raise ValueError("the orders did not add up")

    @server.tool
    async def shared_other() -> str:
        await asyncio.wait_for(owner_loaded.wait(), 20)
        page = await context.new_page()
        try:
            await page.goto(f"{site}/broken")
            await page.wait_for_selector("#orders", timeout=WAIT_MS)
        finally:
            other_done.set()
        return "never"

    instrument_mcp(server, brand_from_prefix=True)
    async with Client(server) as client:
        await asyncio.gather(call(client, "shared_owner"), call(client, "shared_other"))
    await asyncio.sleep(0.3)
    flushed(telemetry)
    owner, other = activity_row(db_path, "shared_owner"), activity_row(db_path, "shared_other")
    assert (owner["failure_class"], other["failure_class"]) == (failures.TOOL_ERROR, failures.SITE_ERROR)
    http = one_event(db_path, other["activity_id"], attr.EVENT_HTTP_ERROR)
    assert http[attr.HTTP_RESPONSE_STATUS_CODE] == "500" and http[attr.URL_FULL].endswith("/broken")
    assert attr.EVENT_HTTP_ERROR not in [n for n, _ in events_of(db_path, owner["activity_id"])]
    # The recordings keep the owner rule: the other call's tab is in the owner's recording.
    pages = rows(db_path, "SELECT DISTINCT span_id, page_id FROM recording_chunks")
    assert {p["span_id"] for p in pages} == {owner["activity_id"]} and len(pages) == 2
    await context.close()


@contextlib.asynccontextmanager
async def silent_origin() -> AsyncIterator[str]:
    """An origin on 127.0.0.1 that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_navigation_to_a_server_that_never_answers_is_a_navigation_error(
    quiet_telemetry: Telemetry, browser: Browser, db_path: Path
) -> None:
    """`goto` times out on the main frame and the network reports nothing (the request is still
    open): a navigation error, not `unknown`."""
    context = await browser.new_context()
    await record_browser(context)
    async with silent_origin() as origin:
        with pytest.raises(PatchrightTimeoutError):
            async with activity("hanging_goto", "fixture", kind="tool"):
                page = await context.new_page()
                await page.goto(f"{origin}/orders?session_token=s3cr3t", timeout=1000)
        await context.close()
    flushed(quiet_telemetry)
    row = activity_row(db_path, "hanging_goto")
    assert row["failure_class"] == failures.NAVIGATION_ERROR
    nav = one_event(db_path, row["activity_id"], attr.EVENT_NAVIGATION_ERROR)
    assert "Timeout 1000ms exceeded" in nav[attr.BROWSER_ERROR] and nav[attr.BROWSER_RESOURCE_TYPE] == "Document"
    assert nav[attr.URL_FULL].startswith(origin) and "s3cr3t" not in nav[attr.URL_FULL]


async def test_a_tool_that_raises_after_good_browser_work_with_a_404_image_is_a_tool_error(
    telemetry: Telemetry, client: Client[Any], db_path: Path
) -> None:
    """A sub-resource's 4xx is no browser evidence of failure (it was `unknown`); it stays as an event."""
    await call(client, "fixture_good_then_raises")
    await asyncio.sleep(0.3)
    flushed(telemetry)
    row = activity_row(db_path, "fixture_good_then_raises")
    assert row["failure_class"] == failures.TOOL_ERROR
    http = one_event(db_path, row["activity_id"], attr.EVENT_HTTP_ERROR)
    assert http[attr.HTTP_RESPONSE_STATUS_CODE] == "404" and http[attr.BROWSER_RESOURCE_TYPE] == "Image"


async def test_a_hidden_element_is_told_apart_from_a_visible_and_a_missing_one(
    telemetry: Telemetry, client: Client[Any], db_path: Path
) -> None:
    """`selector_matches` was true for an element that is there but hidden: `selector_visible` says which."""
    cases = [
        ("fixture_read_changed", "CHANGED-PAGE", ("false", "false")),  # not there: a changed page
        ("fixture_read_slow", "SLOW-PAGE", ("true", "false")),  # there, hidden (display: none)
        ("fixture_read_shown", "CHANGED-PAGE", ("true", "true")),  # there and shown (waited to go away)
    ]
    for tool, _text, _expected in cases:
        await call(client, tool)
    for tool, text, expected in cases:
        row = await until_stored(telemetry, db_path, tool, text)
        assert row["failure_class"] == failures.ELEMENT_MISSING, tool
        missing = one_event(db_path, row["activity_id"], attr.EVENT_ELEMENT_MISSING)
        found = (missing[attr.FAILURE_SELECTOR_MATCHES], missing.get(attr.FAILURE_SELECTOR_VISIBLE))
        assert found == expected, tool


def test_a_classifier_that_returns_no_class_name_is_ignored_with_one_warning(
    telemetry: Telemetry, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A number (or a long text) is no class: the rules' class is kept, and it is said once, not per failure."""
    getgather_otel.set_failure_classifier(lambda _context: 42)  # type: ignore[arg-type, return-value]
    try:
        with caplog.at_level(logging.WARNING, logger="getgather_otel"):
            for name in ("numbered_1", "numbered_2"):
                with pytest.raises(RuntimeError), activity(name, "fixture"):
                    raise RuntimeError("x")
            getgather_otel.set_failure_classifier(lambda _context: "x" * 500)
            with pytest.raises(RuntimeError), activity("long_text", "fixture"):
                raise RuntimeError("x")
    finally:
        getgather_otel.set_failure_classifier(None)
    flushed(telemetry)
    for name in ("numbered_1", "numbered_2", "long_text"):
        assert activity_row(db_path, name)["failure_class"] == failures.TOOL_ERROR, name
    said = [r.getMessage() for r in caplog.records if "failure classifier" in r.getMessage()]
    assert len(said) == 2 and "returned int" in said[0] and "returned str" in said[1], said


async def test_a_slow_classifier_does_not_hold_the_tools_answer(
    telemetry: Telemetry, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A classifier that takes 3 s: the tool answers as fast as with a quick one (within the
    budget), with the rules' class."""
    # FastMCP logs a failing tool's traceback through rich (highlighted): 0.1-2 s on a busy machine, not ours.
    monkeypatch.setattr(logging.getLogger("fastmcp"), "disabled", True)
    server = FastMCP("slow")

    @server.tool
    async def quick_classified() -> str:
        raise ValueError("nope")

    @server.tool
    async def slow_classified() -> str:
        raise ValueError("nope")

    def classifier(context: FailureContext) -> str | None:
        if context.activity.name == "slow_classified":
            time.sleep(3)
            return "too_late"
        return None

    instrument_mcp(server, failure_classifier=classifier)
    took: dict[str, float] = {}
    try:
        async with Client(server) as client:
            await client.list_tools()
            for tool in ("quick_classified", "slow_classified"):
                started = time.perf_counter()
                await call(client, tool)
                took[tool] = time.perf_counter() - started
    finally:
        getgather_otel.set_failure_classifier(None)
    flushed(telemetry)
    assert took["slow_classified"] < took["quick_classified"] + failures.CLASSIFIER_BUDGET_S + 0.5, took
    assert activity_row(db_path, "slow_classified")["failure_class"] == failures.TOOL_ERROR


async def test_a_slow_classifier_does_not_stall_the_servers_other_requests(
    telemetry: Telemetry, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer's break: the classifier's budget was waited for on the event loop's thread, so
    every failed call froze the server's other requests for up to 500 ms. Here the classifier
    answers only once another request has been answered meanwhile: with the loop blocked that
    request waits out the whole budget and the answer comes late (the rules' class is stored)."""
    monkeypatch.setattr(logging.getLogger("fastmcp"), "disabled", True)
    monkeypatch.setattr(failures, "CLASSIFIER_BUDGET_S", 2.0)
    server = FastMCP("stall")

    @server.tool
    async def failing() -> str:
        raise RuntimeError("site down")

    @server.tool
    async def fast() -> str:
        return "ok"

    thinking, answered = threading.Event(), threading.Event()

    def classifier(context: FailureContext) -> str | None:
        thinking.set()
        return "maintenance" if answered.wait(5) else None

    instrument_mcp(server, failure_classifier=classifier)
    try:
        async with Client(server) as client:
            await client.call_tool("fast", {})
            failed = asyncio.ensure_future(call(client, "failing"))
            await asyncio.to_thread(thinking.wait, 10)
            started = time.perf_counter()
            await client.call_tool("fast", {})
            meanwhile = time.perf_counter() - started
            answered.set()
            await failed
    finally:
        getgather_otel.set_failure_classifier(None)
        answered.set()
    flushed(telemetry)
    assert activity_row(db_path, "failing")["failure_class"] == "maintenance", meanwhile


# --- a newcomer's break (2): evidence that only looks like a cause ---


def break_site() -> Starlette:
    """Pages that carry a challenge provider's script or widget without being blocked by it, 401s
    that are not the visitor's, a 403 sign-in page, and pages whose URL only looks like sign-in.

    The provider's host (www.google.com) is mapped to 127.0.0.1 by the browser's resolver."""

    def page(title: str, body: str, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            google = f"http://www.google.com:{request.url.port}"
            far = request.query_params.get("far", "")
            return HTMLResponse(_page(title, body.replace("GOOGLE", google).replace("FAR", far)), status)

        return serve

    async def script(request: Request) -> Response:
        return Response("window.grecaptcha = {ready: () => {}};", media_type="text/javascript")

    async def unauthorized(request: Request) -> Response:
        return Response("who are you", 401)

    orders = "<h1 id='done'>ORDERS</h1>"
    return Starlette(
        routes=[
            Route("/recaptcha/api.js", script),
            Route("/recaptcha/api2/anchor", page("reCAPTCHA", "<p>I'm not a robot</p>")),
            Route("/recaptcha/api2/bframe", page("reCAPTCHA", "<p>Select all images with buses</p>")),
            # Invisible reCAPTCHA v3: a script on every page.
            Route("/v3", page("Orders", orders + "<script src='GOOGLE/recaptcha/api.js?render=6Lc'></script>")),
            # A contact form's checkbox widget (304x78), with the fields a contact form asks for (a
            # lone checkbox in a page that asks for nothing else is a gate: rule 2).
            Route(
                "/contact",
                page(
                    "Orders",
                    orders + "<form><input name='name'><textarea name='message'></textarea>"
                    "<div class='g-recaptcha' data-sitekey='6Lc'><iframe width='304' height='78'"
                    " src='GOOGLE/recaptcha/api2/anchor?k=6Lc'></iframe></div></form>",
                ),
            ),
            # A frame whose URL says "challenge": a fitness one.
            Route("/weekly", page("Orders", orders + "<iframe src='/weekly-challenge'></iframe>")),
            Route("/weekly-challenge", page("Step challenge", "<p>Join our 30-day step challenge</p>")),
            # The image challenge shown over the page: blocked.
            Route(
                "/blocked",
                page("Orders", "<iframe style='width:400px;height:580px' src='GOOGLE/recaptcha/api2/bframe'></iframe>"),
            ),
            # A 401 image and a third party's 401 beacon; and the page's own API answering 401.
            Route(
                "/beacons",
                page("Orders", orders + "<img src='/pic401.png'><script>fetch('FAR/beacon', {mode: 'cors'})</script>"),
            ),
            Route("/own-api", page("Orders", orders + "<script>fetch('/api/me')</script>")),
            Route("/pic401.png", unauthorized),
            Route("/beacon", unauthorized),
            Route("/api/me", unauthorized),
            Route(
                "/login403",
                page("Sign in", "<h1>Sign in</h1><form><input name='email'><input type='password'></form>", 403),
            ),
            Route("/authors/settings", page("Settings", "<h1>Change password</h1><input type='password'>")),
            Route("/register", page("Create account", "<h1>Create account</h1><input type='password'>")),
        ]
    )


async def test_evidence_that_only_looks_like_a_cause_gets_the_right_class(
    quiet_telemetry: Telemetry, playwright: Playwright, db_path: Path
) -> None:
    """A newcomer's break: a challenge provider's script or small widget made any later failure
    `bot_challenge`, any 401 (an image, a third party's beacon) `signed_out`, a 403 sign-in page
    `bot_challenge`, another tab's challenge the failing tab's class, and "auth" inside
    `/authors/` or "login" in a sign-up page's query a sign-in form."""
    options = launch_options()
    options["args"] = [*options["args"], "--host-resolver-rules=MAP www.google.com 127.0.0.1"]
    browser = await playwright.chromium.launch(**options)
    cases: dict[str, str] = {}
    try:
        async with serve_asgi(break_site()) as origin, serve_asgi(break_site(), host="127.0.0.2") as far:
            context = await browser.new_context()
            await record_browser(context)

            async def case(name: str, expected: str, path: str, *, raises: bool = False, settle: int = 0) -> None:
                cases[name] = expected
                with pytest.raises((ValueError, PatchrightTimeoutError)):
                    async with activity(name, "fixture", kind="tool"):
                        page = await context.new_page()
                        await page.goto(f"{origin}{path}")
                        if settle:
                            await until_evidence(settle)
                        if raises:
                            await page.wait_for_selector("#done")
                            raise ValueError("the orders did not add up")
                        await page.wait_for_selector("#orders", timeout=WAIT_MS)

            await case("v3_then_raises", failures.TOOL_ERROR, "/v3", raises=True, settle=1)
            await case("v3_missing", failures.ELEMENT_MISSING, "/v3", settle=1)
            await case("contact_then_raises", failures.TOOL_ERROR, "/contact", raises=True, settle=1)
            await case("contact_missing", failures.ELEMENT_MISSING, "/contact", settle=1)
            await case("weekly_missing", failures.ELEMENT_MISSING, "/weekly")
            await case("blocked", failures.BOT_CHALLENGE, "/blocked", settle=1)
            await case("beacons", failures.ELEMENT_MISSING, f"/beacons?far={quote(far, safe='')}", settle=2)
            await case("own_api", failures.SIGNED_OUT, "/own-api", settle=1)
            await case("login403", failures.SIGNED_OUT, "/login403")
            await case("authors", failures.ELEMENT_MISSING, "/authors/settings")
            await case("register", failures.ELEMENT_MISSING, "/register?next=/login")

            cases["two_tabs"] = failures.ELEMENT_MISSING
            with pytest.raises(PatchrightTimeoutError):
                async with activity("two_tabs", "fixture", kind="tool"):
                    shows_challenge = await context.new_page()
                    await shows_challenge.goto(f"{origin}/blocked")
                    await until_evidence(1)
                    fine = await context.new_page()
                    await fine.goto(f"{origin}/weekly")
                    await fine.wait_for_selector("#orders", timeout=WAIT_MS)
            await context.close()
    finally:
        await browser.close()
    await asyncio.sleep(0.3)
    flushed(quiet_telemetry)
    assert {name: activity_row(db_path, name)["failure_class"] for name in cases} == cases
    # The evidence stays on the timeline: the provider's script was loaded.
    events = events_of(db_path, activity_row(db_path, "v3_then_raises")["activity_id"])
    assert [a[attr.BROWSER_RESOURCE_TYPE] for n, a in events if n == attr.EVENT_CHALLENGE] == ["Script"]


JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


async def test_secrets_in_selectors_and_browser_errors_are_not_stored(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path
) -> None:
    """A newcomer's break: a JWT inside a timed-out selector was stored raw in
    `browser.call.failed`, `browser.element.missing` and the status message; a page's thrown
    `Authorization: Bearer <JWT>` raw in `getgather.browser.error`; secret-named `;` parameters
    (`?q=1;session=...`, `/cart;jsessionid=...`) raw in `url.full`."""
    context = await browser.new_context()
    await record_browser(context)
    with pytest.raises(PatchrightTimeoutError):
        async with activity("secret_selector", "fixture", kind="tool"):
            page = await context.new_page()
            await page.goto(f"{site}/good")
            await page.wait_for_selector(f"a[href='/reset?token={JWT}']", timeout=WAIT_MS)
    with pytest.raises(Exception, match="Bearer"):
        async with activity("secret_error", "fixture", kind="tool"):
            page = await context.new_page()
            await page.goto(f"{site}/good")
            await page.evaluate(f"() => {{ throw new Error('Authorization: Bearer {JWT}') }}")
    # `;` parameters, in the query and the path (a 404 document: its URL is evidence).
    with pytest.raises(PatchrightTimeoutError):
        async with activity("semicolon_params", "fixture", kind="tool"):
            page = await context.new_page()
            await page.goto(f"{site}/cart;jsessionid=S3CR3TVALUE?q=shoes;session=S3CR3TVALUE;page=2")
            await until_evidence(1)
            await page.wait_for_selector("#orders", timeout=WAIT_MS)
    await context.close()
    flushed(quiet_telemetry)
    stored = json.dumps(rows(db_path, 'SELECT "StatusMessage" AS s, "Events.Attributes" AS a FROM otel_traces'))
    assert JWT[:40] not in stored and "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV" not in stored
    selector = activity_row(db_path, "secret_selector")
    assert selector["failure_class"] == failures.ELEMENT_MISSING
    missing = one_event(db_path, selector["activity_id"], attr.EVENT_ELEMENT_MISSING)
    assert missing[attr.BROWSER_SELECTOR] == "a[href='/reset?token=[REDACTED]']"
    assert missing[attr.FAILURE_SELECTOR_MATCHES] == "false"
    failed = one_event(db_path, activity_row(db_path, "secret_error")["activity_id"], attr.EVENT_BROWSER_CALL_FAILED)
    assert "Authorization: Bearer [REDACTED]" in failed[attr.BROWSER_ERROR]
    assert "S3CR3TVALUE" not in stored
    http = one_event(db_path, activity_row(db_path, "semicolon_params")["activity_id"], attr.EVENT_HTTP_ERROR)
    assert http[attr.URL_FULL] == f"{site}/cart;jsessionid=[REDACTED]?q=shoes%3Bsession%3D[REDACTED]%3Bpage%3D2"


def test_a_new_classifier_starts_with_a_fresh_budget_after_a_hung_one(telemetry: Telemetry, db_path: Path) -> None:
    """A newcomer's break: after `MAX_LATE_CLASSIFIER_CALLS` hung calls, a classifier set in the
    hung one's place was never called (the late calls were counted for the process, not per classifier)."""
    release = threading.Event()

    def hung(_context: FailureContext) -> str | None:
        release.wait(30)
        return None

    getgather_otel.set_failure_classifier(hung)
    try:
        for n in range(failures.MAX_LATE_CLASSIFIER_CALLS):
            with pytest.raises(RuntimeError), activity(f"hung_{n}", "fixture"):
                raise RuntimeError("x")
        getgather_otel.set_failure_classifier(lambda _context: "fresh_answer")
        with pytest.raises(RuntimeError), activity("after_hung", "fixture"):
            raise RuntimeError("x")
    finally:
        getgather_otel.set_failure_classifier(None)
        release.set()
    flushed(telemetry)
    assert activity_row(db_path, "after_hung")["failure_class"] == "fresh_answer"


class _Sly(str):
    """A str that prints otherwise than it is."""

    def __str__(self) -> str:
        return "x" * 500


def test_a_str_subclass_class_is_stored_as_the_value_checked(telemetry: Telemetry, db_path: Path) -> None:
    """A newcomer's break: a str subclass was checked by its value and stored by its `__str__`."""
    getgather_otel.set_failure_classifier(lambda _context: _Sly("quota_exceeded"))
    try:
        with pytest.raises(RuntimeError), activity("sly_class", "fixture"):
            raise RuntimeError("x")
    finally:
        getgather_otel.set_failure_classifier(None)
    flushed(telemetry)
    assert activity_row(db_path, "sly_class")["failure_class"] == "quota_exceeded"


async def test_timeouts_of_waits_and_of_the_tools_own_wait_for_are_the_timed_out_calls(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path
) -> None:
    """A newcomer's break: a Playwright wait that is no protocol call (`wait_for_url`,
    `expect_response`, `wait_for_event("popup")`), and a browser call the tool's own
    `asyncio.wait_for` cancelled, left the activity `tool_error` with no evidence. A cancelled
    navigation is a navigation error, a cancelled selector wait a missing element (counted at
    the failure), a wait for an event the browser never sent `unknown`."""
    context = await browser.new_context()
    await record_browser(context)
    expected: dict[str, str] = {}

    async def case(name: str, cls: str, run: Callable[[Any], Awaitable[object]], path: str = "/changed") -> None:
        expected[name] = cls
        with pytest.raises((TimeoutError, PatchrightTimeoutError)):
            async with activity(name, "fixture", kind="tool"):
                page = await context.new_page()
                await page.goto(f"{site}{path}")
                await run(page)

    async def expect_response(page: Any) -> None:
        async with page.expect_response("**/api/never", timeout=WAIT_MS):
            pass

    await case("waits_for_url", failures.NAVIGATION_ERROR, lambda p: p.wait_for_url("**/orders", timeout=WAIT_MS))
    await case("expects_response", failures.UNKNOWN, expect_response)
    await case("waits_for_popup", failures.UNKNOWN, lambda p: p.wait_for_event("popup", timeout=WAIT_MS))
    await case(
        "wait_for_selector_cancelled",
        failures.ELEMENT_MISSING,
        lambda p: asyncio.wait_for(p.wait_for_selector("#orders"), 1),
    )
    async with silent_origin() as origin:
        await case(
            "goto_cancelled",
            failures.NAVIGATION_ERROR,
            lambda p: asyncio.wait_for(p.goto(f"{origin}/orders"), 1.5),
        )
    await context.close()
    flushed(quiet_telemetry)
    assert {name: activity_row(db_path, name)["failure_class"] for name in expected} == expected
    missing = one_event(
        db_path, activity_row(db_path, "wait_for_selector_cancelled")["activity_id"], attr.EVENT_ELEMENT_MISSING
    )
    assert missing[attr.BROWSER_SELECTOR] == "#orders" and missing[attr.FAILURE_SELECTOR_MATCHES] == "false"


async def test_a_selector_missing_from_a_page_still_loading_says_so(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path
) -> None:
    """A newcomer's break: `goto(wait_until="commit")` on a page still streaming, then a selector
    timeout, was a plain `element_missing` (matches false): the event now says the document had
    not finished loading (`document.readyState`), so a slow page is told apart from a changed one."""
    context = await browser.new_context()
    await record_browser(context)
    with pytest.raises(PatchrightTimeoutError):
        async with activity("still_streaming", "fixture", kind="tool"):
            page = await context.new_page()
            await page.goto(f"{site}/streaming", wait_until="commit")
            await page.wait_for_selector("#orders", timeout=WAIT_MS)
    await context.close()
    flushed(quiet_telemetry)
    row = activity_row(db_path, "still_streaming")
    assert row["failure_class"] == failures.ELEMENT_MISSING
    missing = one_event(db_path, row["activity_id"], attr.EVENT_ELEMENT_MISSING)
    assert missing[attr.FAILURE_DOCUMENT_READY_STATE] in ("loading", "interactive"), missing


@pytest.mark.parametrize("closes", [False, True])
async def test_a_page_still_loading_at_the_failure_ends_the_replay_on_what_it_showed(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path, closes: bool
) -> None:
    """A newcomer's break: the recorder's rrweb starts at DOMContentLoaded, so a document still
    streaming when the activity failed had no snapshot at all, and the replay did not end on the
    failing page. The failure checkpoint (or the one just before a failing tool closes the page)
    now snapshots what has been parsed so far."""
    context = await browser.new_context()
    await record_browser(context)
    try:
        with pytest.raises(PatchrightTimeoutError):
            async with activity("still_loading_replay", "fixture", kind="tool"):
                page = await context.new_page()
                try:
                    await page.goto(f"{site}/still-loading", wait_until="commit")
                    await page.wait_for_selector("#orders", timeout=WAIT_MS)
                finally:
                    if closes:
                        await page.close()
        row = await until_stored(quiet_telemetry, db_path, "still_loading_replay", "STILL-LOADING-PAGE")
    finally:
        await context.close()
    assert row["failure_class"] == failures.ELEMENT_MISSING
    assert "LATE-PART" not in last_snapshot_text(db_path, row["activity_id"])


async def test_a_small_captcha_is_the_challenge_only_where_the_page_asks_for_nothing_else(
    quiet_telemetry: Telemetry, browser: Browser, site: str, db_path: Path
) -> None:
    """A newcomer's break: a provider's widget counted only from 300 px square or a quarter of the
    viewport, so a gate showing reCAPTCHA v2's 304x78 checkbox and a Continue button (a title and
    heading without a challenge word) was `element_missing`. Such a widget on screen now counts
    where the page asks for nothing else; on a contact form, and as the invisible badge, it does not."""
    context = await browser.new_context()
    await record_browser(context)
    expected = {
        "/gate": failures.BOT_CHALLENGE,
        "/interstitial": failures.BOT_CHALLENGE,
        "/contact": failures.ELEMENT_MISSING,
        "/badge": failures.ELEMENT_MISSING,
    }
    try:
        for path in expected:
            with pytest.raises(PatchrightTimeoutError):
                async with activity(f"captcha{path.replace('/', '_')}", "fixture", kind="tool"):
                    page = await context.new_page()
                    await page.goto(f"{site}{path}")
                    await page.wait_for_selector("#orders", timeout=WAIT_MS)
    finally:
        await context.close()
    flushed(quiet_telemetry)
    found = {path: activity_row(db_path, f"captcha{path.replace('/', '_')}")["failure_class"] for path in expected}
    assert found == expected


async def test_a_sign_in_form_in_a_cross_site_iframe_is_signed_out_and_a_hidden_one_is_not(
    quiet_telemetry: Telemetry, browser: Browser, site: str, far: str, db_path: Path
) -> None:
    """A newcomer's break: the page read at a failure was the main frame's only, so a sign-in
    widget served from another site (127.0.0.2) in an iframe of the page was not seen and the
    activity was `element_missing`. The frame is read in the evidence's own world, through the
    recorder's session of that frame (no Runtime.enable), and counts when its iframe is shown."""
    context = await browser.new_context()
    await record_browser(context)
    expected = {"shown": failures.SIGNED_OUT, "hidden": failures.ELEMENT_MISSING}
    try:
        for case in expected:
            with pytest.raises(PatchrightTimeoutError):
                async with activity(f"embedded_login_{case}", "fixture", kind="tool"):
                    page = await context.new_page()
                    hidden = "&hidden=1" if case == "hidden" else ""
                    await page.goto(f"{site}/embedded-login?far={quote(far, safe='')}{hidden}")
                    await page.frame_locator("iframe").locator("h2").wait_for(state="attached")
                    await page.wait_for_selector("#orders", timeout=WAIT_MS)
    finally:
        await context.close()
    flushed(quiet_telemetry)
    rows_ = {case: activity_row(db_path, f"embedded_login_{case}") for case in expected}
    assert {case: row["failure_class"] for case, row in rows_.items()} == expected
    form = one_event(db_path, rows_["shown"]["activity_id"], attr.EVENT_SIGN_IN_FORM)
    assert form[attr.BROWSER_SIGN_IN_FORM] == "password" and form[attr.BROWSER_FRAME_URL] == f"{far}/login-widget"
    assert form[attr.URL_FULL].startswith(f"{site}/embedded-login")


# --- a newcomer's break (3): what the common ways of failing showed ---


async def _wait_for_orders(page: Any) -> None:
    await page.wait_for_selector("#orders", timeout=WAIT_MS)


async def _screenshot_then_reraise(page: Any) -> None:
    """The common tool: a selector timeout caught, a screenshot for the bug report, the error re-raised."""
    try:
        await page.wait_for_selector("#orders", timeout=WAIT_MS)
    except PatchrightTimeoutError:
        await page.screenshot()
        raise


async def _title_then_raise_from(page: Any) -> None:
    try:
        await page.wait_for_selector("#orders", timeout=WAIT_MS)
    except PatchrightTimeoutError as error:
        raise RuntimeError(f"no orders on {await page.title()!r}") from error


async def _title_then_raise_new(page: Any) -> None:
    """A timeout caught and handled (the tool moved on), then an error of the tool's own."""
    with contextlib.suppress(PatchrightTimeoutError):
        await page.wait_for_selector("#cookie-banner", timeout=200)
    await page.title()
    raise RuntimeError("the orders did not add up")


async def _raise_after_trackers(page: Any) -> None:
    """Good browser work on a page with broken third-party sub-resources; the tool's own code raises."""
    await page.wait_for_selector("#done")
    await until_evidence(3)  # the refused script, the 502 pixel, the failed cross-site fetch
    raise ValueError("the orders did not add up")


async def _poll_for_orders(page: Any) -> None:
    """A tool polling by itself under its own timeout: `asyncio.wait_for` cancels it in its sleep
    (no browser call is cancelled, none failed)."""

    async def poll() -> None:
        while not await page.query_selector("#orders"):
            await asyncio.sleep(0.2)

    await asyncio.wait_for(poll(), 1.0)


async def _wait_for_a_condition(page: Any) -> None:
    await page.wait_for_function("() => document.querySelectorAll('#orders li').length > 0", timeout=500)


BREAK3_CASES: list[tuple[str, str, str, Callable[[Any], Awaitable[None]]]] = [
    # (activity, class, fixture path, what the tool does there)
    ("screenshot_then_reraise", failures.ELEMENT_MISSING, "/changed", _screenshot_then_reraise),
    ("title_then_raise_from", failures.ELEMENT_MISSING, "/changed", _title_then_raise_from),
    # A later newcomer's break: `wait_for_function` timing out on a page that loaded was unknown.
    ("condition_never_true", failures.ELEMENT_MISSING, "/changed", _wait_for_a_condition),
    # A handled timeout is still browser evidence (rule 8), but no missing element.
    ("handled_then_raise_new", failures.UNKNOWN, "/changed", _title_then_raise_new),
    ("broken_trackers_then_raise", failures.TOOL_ERROR, "/trackers?far=FAR", _raise_after_trackers),
    ("spa_api_429", failures.BOT_CHALLENGE, "/spa429", _wait_for_orders),
    ("spa_api_500", failures.SITE_ERROR, "/spa500", _wait_for_orders),
    ("session_expired", failures.SIGNED_OUT, "/expired", _wait_for_orders),
    ("session_expired_hidden", failures.ELEMENT_MISSING, "/expired-hidden", _wait_for_orders),
    ("access_denied_heading", failures.BOT_CHALLENGE, "/denied", _wait_for_orders),
    ("access_denied_hidden", failures.ELEMENT_MISSING, "/denied-hidden", _wait_for_orders),
    ("press_and_hold", failures.BOT_CHALLENGE, "/press-hold", _wait_for_orders),
    ("perimeterx_wrapper", failures.BOT_CHALLENGE, "/px-wrapper", _wait_for_orders),
    ("hcaptcha_gate_polled", failures.BOT_CHALLENGE, "/hcaptcha-gate", _poll_for_orders),
    ("hcaptcha_gate_waited_for", failures.BOT_CHALLENGE, "/hcaptcha-gate", _wait_for_orders),
    ("changed_polled", failures.TOOL_ERROR, "/changed", _poll_for_orders),
]


async def test_what_common_failing_tools_showed_gets_its_class(
    quiet_telemetry: Telemetry, browser: Browser, site: str, far: str, db_path: Path
) -> None:
    """A newcomer's break: a tool that caught a selector timeout, took a screenshot (or read the
    title) and re-raised was `unknown` with no `browser.element.missing`: the screenshot had
    returned normally, so the timeout counted as handled. An exception that is the timed-out
    call's error, or chains to it, keeps that call's evidence. Broken third-party sub-resources
    (a refused script, a 502 pixel, a failing cross-site fetch) on a page that worked made a
    tool's own error `unknown`: they are events, not evidence of failure. An SPA whose own API
    answered 429 or 500, then the awaited element missing, was `element_missing`: rate-limited
    (`bot_challenge`) and the site failing (`site_error`). "Your session has expired. [Log in]"
    with no form was `element_missing`: `signed_out`. A 200 page titled as the site whose visible
    main heading says "Access Denied" or "Press & Hold", or with PerimeterX's `#px-captcha-wrapper`,
    was `element_missing`: `bot_challenge`. An hCaptcha gate while the tool polled `query_selector`
    under its own `asyncio.wait_for` (cancelled in its sleep, no browser call failed) was
    `tool_error`: the page the tool was waiting on counts as held."""
    context = await browser.new_context()
    await record_browser(context)
    try:
        for name, _class, path, run in BREAK3_CASES:
            with pytest.raises(Exception):  # noqa: B017 - each case's own error
                async with activity(name, "fixture", kind="tool"):
                    page = await context.new_page()
                    await page.goto(f"{site}{path.replace('FAR', quote(far, safe=''))}")
                    await run(page)
    finally:
        await context.close()
    flushed(quiet_telemetry)
    found = {name: activity_row(db_path, name)["failure_class"] for name, *_ in BREAK3_CASES}
    assert found == {name: expected for name, expected, *_ in BREAK3_CASES}
    for name in ("screenshot_then_reraise", "title_then_raise_from"):
        missing = one_event(db_path, activity_row(db_path, name)["activity_id"], attr.EVENT_ELEMENT_MISSING)
        assert missing[attr.BROWSER_SELECTOR] == "#orders" and missing[attr.FAILURE_SELECTOR_MATCHES] == "false"
    names = [n for n, _ in events_of(db_path, activity_row(db_path, "handled_then_raise_new")["activity_id"])]
    assert attr.EVENT_ELEMENT_MISSING not in names
    trackers = events_of(db_path, activity_row(db_path, "broken_trackers_then_raise")["activity_id"])
    assert {n for n, _ in trackers} >= {attr.EVENT_HTTP_ERROR, attr.EVENT_REQUEST_FAILED}  # kept as events
