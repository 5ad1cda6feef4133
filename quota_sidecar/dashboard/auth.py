"""The login form, logout, and the middleware that keeps every other page behind a session.

CSRF: the session cookie is SameSite=Strict (another site's form or script never carries it),
every POST form carries a CSRF token compared in constant time, and a POST whose Origin is not
this server is refused before anything else (after the Host check of app.host_guard).

Wrong tokens are throttled per client address and overall (throttle.py): a throttled login is
answered 429 with Retry-After before its token is compared.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from quota_sidecar.dashboard.context import CONTEXT, SESSION, render
from quota_sidecar.dashboard.sessions import SESSION_TTL, same_secret
from quota_sidecar.dashboard.throttle import client_key

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "auth_middleware", "login_routes"]

SESSION_COOKIE = "qs_session"
LOGIN_COOKIE = "qs_login"  # the pre-session CSRF value of the login form (double submit)
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/login"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        # Secure whenever served over TLS (--tls-cert): the browser then never sends it over
        # plain HTTP. Not on plain http://127.0.0.1, where a Secure cookie would not be sent.
        secure=request.secure,
    )


def _same_origin(request: web.Request) -> bool:
    """A POST must come from a page of this server. Browsers send Origin on every POST; a
    client that sends none (curl) still needs the CSRF token."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return origin == f"{request.scheme}://{request.host}"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and not _same_origin(request):
        raise web.HTTPForbidden(text="cross-origin request refused")
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    session = request.app[CONTEXT].sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        if request.method == "GET" and request.headers.get("Accept", "") != "text/event-stream":
            raise web.HTTPSeeOther("/login")
        raise web.HTTPUnauthorized(text="log in first")
    request[SESSION] = session
    return await handler(request)


async def _login_form(
    request: web.Request, *, error: str = "", status: int = 200, retry_after: int | None = None
) -> web.Response:
    context = request.app[CONTEXT]
    if context.sessions.get(request.cookies.get(SESSION_COOKIE)) is not None and not error:
        raise web.HTTPSeeOther("/")
    csrf = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status=status,
        csrf=csrf,
        error=error,
        has_tokens=context.sessions.has_tokens,
    )
    _set_cookie(request, response, LOGIN_COOKIE, csrf, max_age=3600)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def show_login(request: web.Request) -> web.Response:
    return await _login_form(request)


async def log_in(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    address = client_key(request.remote)
    wait = context.throttle.retry_after(address)
    if wait is not None:  # refused before the token is even read: waiting is the only way on
        return await _login_form(
            request,
            error=f"Too many wrong tokens: try again in {wait} s.",
            status=429,
            retry_after=wait,
        )
    form = await request.post()
    csrf = str(form.get("csrf", ""))
    if not same_secret(csrf, request.cookies.get(LOGIN_COOKIE, "")):
        return await _login_form(request, error="The form expired: try again.", status=403)
    role = context.sessions.role_for(str(form.get("token", "")).strip())
    if role is None:
        context.throttle.failed(address)
        return await _login_form(request, error="That token is not valid.", status=401)
    context.throttle.succeeded(address)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        context.sessions.close(old)  # a new login never reuses an id the browser already had
    session = context.sessions.open(role)
    response = web.HTTPSeeOther("/")
    _set_cookie(request, response, SESSION_COOKIE, session.id, max_age=int(SESSION_TTL))
    response.del_cookie(LOGIN_COOKIE, path="/")
    raise response


async def log_out(request: web.Request) -> web.Response:
    session = request[SESSION]
    form = await request.post()
    if not same_secret(str(form.get("csrf", "")), session.csrf):
        raise web.HTTPForbidden(text="bad CSRF token")
    request.app[CONTEXT].sessions.close(session.id)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def login_routes() -> list[web.RouteDef]:
    return [
        web.get("/login", show_login),
        web.post("/login", log_in),
        web.post("/logout", log_out),
    ]
