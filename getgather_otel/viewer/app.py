"""The viewer as ASGI apps: the API and pages on one origin, replays on a second one.

A replay runs rrweb-player, which rebuilds the recorded DOM in an iframe it must script;
inside a `sandbox="allow-scripts"` frame (an opaque origin) it cannot reach its own
iframe, so the replay is instead served from another origin, the viewer's host on a
second port, and framed with `sandbox="allow-scripts allow-same-origin"`. The browser's
same-origin policy then keeps everything in the replay away from the viewer's pages,
API responses and storage; rrweb rebuilds recorded pages with scripts disabled, and the
replay page's Content-Security-Policy lets only its own inline player script run. The
viewer seeks the replay with postMessage.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from getgather_otel.recording import assets
from getgather_otel.recording.replay import RecordingNotFoundError, replay_page
from getgather_otel.version import __version__
from getgather_otel.viewer.api import api_routes, error_response, guarded, json_error_for_unknown_api
from getgather_otel.viewer.auth import allowed, login_redirect
from getgather_otel.viewer.openapi import openapi_document
from getgather_otel.viewer.reads import Reads
from getgather_otel.web.serving import serve_asgi

__all__ = ["ReplayOrigin", "ViewerSettings", "build_viewer_app", "replay_app", "replay_server", "viewer_routes"]

_STATIC = resources.files("getgather_otel.viewer") / "static"
# Our own files (committed) and the npm bundles (built into recording/assets).
_OWN_FILES = {"viewer.js": "text/javascript", "viewer.css": "text/css"}
_BUNDLES = {"uplot.js": ("uPlot.js", "text/javascript"), "uplot.css": ("uPlot.css", "text/css")}


@dataclass(frozen=True)
class ViewerSettings:
    token: str | None = None
    # The replay origin's port on the same host as the viewer (0: any free port).
    replay_host: str = "127.0.0.1"
    replay_port: int = 0
    # How often the activities page refreshes itself while "live" is on.
    refresh_s: float = 5.0


@dataclass
class ReplayOrigin:
    """Where replays are served, known once the replay server listens."""

    port: int | None = None


def _page_headers(request: Request, replay: ReplayOrigin) -> dict[str, str]:
    frame = f"http://{request.url.hostname}:{replay.port}" if replay.port else "'none'"
    policy = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"frame-src {frame}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": policy, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def viewer_routes(reads: Reads, settings: ViewerSettings, replay: ReplayOrigin) -> list[BaseRoute]:
    """The API, its OpenAPI document, the single-page viewer and its static files (read once, here)."""
    token = settings.token
    page = (_STATIC / "index.html").read_text(encoding="utf-8")
    own_files = {name: ((_STATIC / name).read_bytes(), media) for name, media in _OWN_FILES.items()}
    document = openapi_document()

    async def index(request: Request) -> Response:
        redirect = login_redirect(request, token)
        if redirect is not None:
            return redirect
        if not allowed(request, token):
            return HTMLResponse(
                "<!doctype html><title>getgather-otel</title><p>This viewer needs its token: open "
                "<code>/?token=TOKEN</code> once (the token given to <code>ui</code> or <code>collect</code>).",
                status_code=401,
            )
        return HTMLResponse(page, headers=_page_headers(request, replay))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name in own_files:
            body, media = own_files[name]
            return Response(body, media_type=media)
        if name in _BUNDLES:
            asset, media = _BUNDLES[name]
            return Response(assets.load(asset), media_type=media, headers={"Cache-Control": "max-age=3600"})
        return error_response(404, f"no static file {name}")

    async def config(_request: Request) -> Response:
        return JSONResponse(
            {
                "version": __version__,
                "database": reads.label,
                "replay_port": replay.port,
                "refresh_s": settings.refresh_s,
            }
        )

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    return [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/config", guarded(token, config)),
        Route("/api/openapi.json", openapi),
        *api_routes(reads, token),
        json_error_for_unknown_api(token),
    ]


def replay_app(reads: Reads, settings: ViewerSettings) -> Starlette:
    """The replay origin: `GET /replay/{activity_id}` answers a self-contained rrweb-player page."""

    async def replay(request: Request) -> Response:
        if not allowed(request, settings.token):
            return HTMLResponse("<p>missing or wrong token</p>", status_code=401)
        activity_id = request.path_params["activity_id"]

        nonce = secrets.token_urlsafe(16)

        def render() -> str:
            with reads.engine() as engine:
                return replay_page(engine, activity_id, nonce)[0]

        try:
            page = await asyncio.to_thread(render)
        except RecordingNotFoundError as error:
            return HTMLResponse(f"<p style='font-family:sans-serif'>{html.escape(str(error))}</p>", status_code=404)
        # Framed only by the viewer, which runs on this same host (another port).
        policy = (
            f"script-src 'nonce-{nonce}'; object-src 'none'; base-uri 'none'; "
            f"frame-ancestors http://{request.url.hostname}:*"
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"})

    return Starlette(routes=[Route("/replay/{activity_id}", replay)])


@asynccontextmanager
async def replay_server(reads: Reads, settings: ViewerSettings, origin: ReplayOrigin) -> AsyncIterator[None]:
    """Serve `replay_app` on the replay port for as long as the block runs."""
    try:
        async with serve_asgi(replay_app(reads, settings), settings.replay_host, settings.replay_port) as url:
            origin.port = int(url.rsplit(":", 1)[1])
            yield
    except SystemExit:  # uvicorn exits when it cannot bind
        raise OSError(
            f"cannot serve replays on {settings.replay_host}:{settings.replay_port} (in use?); pick --replay-port"
        ) from None
    finally:
        origin.port = None


def build_viewer_app(reads: Reads, settings: ViewerSettings) -> Starlette:
    """`getgather-otel ui`: the viewer over `reads`, with its replay origin started alongside."""
    origin = ReplayOrigin()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with replay_server(reads, settings, origin):
            yield

    app = Starlette(routes=viewer_routes(reads, settings, origin), lifespan=lifespan)
    app.state.replay = origin
    return app
