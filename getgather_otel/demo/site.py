"""A small fixture "brand" website for the demo and the tests, served on 127.0.0.1.

It behaves like the sites getgather reads from, minus the internet: a sign-in form (POST,
then a redirect), a paginated order list behind a session cookie, and a welcome page for
GET forms. `static_dir` adds plain files (the tests' hostile and tricky pages), with
extra response headers per file name (for example a strict Content-Security-Policy).
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

__all__ = ["ORDERS_PER_PAGE", "ORDER_PAGES", "SESSION_COOKIE", "brand_site", "order_titles"]

ORDERS_PER_PAGE = 5
ORDER_PAGES = 3
SESSION_COOKIE = "brand_session"

_LOGIN_PAGE = """<!doctype html>
<html><head><title>Fixture Brand - Sign in</title></head>
<body>
  <h1>Sign in to Fixture Brand</h1>
  <form id="login" method="post" action="/login">
    <label>Email <input id="email" name="email" type="email" autocomplete="username"></label>
    <label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
    <button id="submit" type="submit">Sign in</button>
  </form>
</body></html>"""


def order_titles(page: int) -> list[str]:
    """The orders listed on `page` (1-based): deterministic, so tests and the demo can check them."""
    first = (page - 1) * ORDERS_PER_PAGE + 1
    return [f"Order #{n}: {['Dune', 'Emma', 'Ulysses', 'Beloved', 'Hamlet'][n % 5]}" for n in range(first, first + 5)]


def _orders_page(page: int) -> str:
    items = "\n".join(f'    <li class="order">{html.escape(title)}</li>' for title in order_titles(page))
    next_link = f'<a id="next" href="/orders?page={page + 1}">Next page</a>' if page < ORDER_PAGES else ""
    return f"""<!doctype html>
<html><head><title>Fixture Brand - Orders page {page}</title></head>
<body>
  <h1>Your orders (page {page} of {ORDER_PAGES})</h1>
  <ul id="orders">
{items}
  </ul>
  {next_link}
</body></html>"""


def brand_site(static_dir: Path | None = None, headers: Mapping[str, Mapping[str, str]] | None = None) -> Starlette:
    """The fixture brand as an ASGI app (serve it with `getgather_otel.web.serving.serve_asgi`)."""
    sessions: set[str] = set()
    file_headers = headers or {}

    async def login_form(request: Request) -> Response:
        return HTMLResponse(_LOGIN_PAGE)

    async def login(request: Request) -> Response:
        form = await request.form()
        if not form.get("email") or not form.get("password"):
            return HTMLResponse(_LOGIN_PAGE.replace("<h1>", '<p id="error">Enter your email and password</p><h1>'), 401)
        token = secrets.token_hex(16)
        sessions.add(token)
        response = RedirectResponse("/orders?page=1", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True)
        return response

    async def orders(request: Request) -> Response:
        if request.cookies.get(SESSION_COOKIE) not in sessions:
            return RedirectResponse("/login", status_code=303)
        try:
            page = min(max(int(request.query_params.get("page", "1")), 1), ORDER_PAGES)
        except ValueError:
            page = 1
        return HTMLResponse(_orders_page(page))

    async def receipt(request: Request) -> Response:
        if request.cookies.get(SESSION_COOKIE) not in sessions:
            return RedirectResponse("/login", status_code=303)
        number = int(request.path_params["number"])
        title = html.escape(order_titles((number - 1) // ORDERS_PER_PAGE + 1)[(number - 1) % ORDERS_PER_PAGE])
        return HTMLResponse(
            f"<!doctype html><html><head><title>Receipt {number}</title></head>"
            f"<body><h1 id='receipt'>Receipt for {title}</h1><p>Paid with the card on file.</p></body></html>"
        )

    async def welcome(request: Request) -> Response:
        return HTMLResponse("<!doctype html><html><body><h1 id='welcome'>Welcome back</h1></body></html>")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if static_dir is None or "/" in name or name.startswith("."):
            return HTMLResponse("not found", 404)
        path = static_dir / name
        if not path.is_file():
            return HTMLResponse("not found", 404)
        return FileResponse(path, headers=dict(file_headers.get(name, {})))

    return Starlette(
        routes=[
            Route("/login", login_form, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/orders", orders),
            Route("/orders/{number:int}", receipt),
            Route("/welcome", welcome),
            Route("/{name}", static),
        ]
    )
