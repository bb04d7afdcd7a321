"""The viewer's optional token: a bearer header for scripts, a cookie for the browser.

A person opens `http://127.0.0.1:PORT/?token=T` once; the viewer answers with an
HttpOnly, SameSite=Strict cookie and a redirect that drops the token from the address
bar. Cookies ignore ports, so the same cookie also opens the replay origin (the viewer's
host on another port). Without a configured token everything is open, which is why the
viewer binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from getgather_otel.web.bearer import bearer_token, same_token

__all__ = ["COOKIE", "allowed", "login_redirect"]

COOKIE = "getgather_otel_token"


def allowed(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    given = bearer_token(request.headers.get("authorization", ""))
    return same_token(request.cookies.get(COOKIE, "") if given is None else given, token)


def login_redirect(request: Request, token: str | None) -> Response | None:
    """For `?token=` matching the configured token: a redirect that stores it as a cookie."""
    given = request.query_params.get("token")
    if token is None or given is None or not same_token(given, token):
        return None
    response = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response
