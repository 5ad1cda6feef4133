"""The dashboard's aiohttp application and the server that runs it beside the gRPC server.

Everything the page loads comes from this server (static/, with the vendored chart library):
the Content-Security-Policy below lets the browser fetch, run or connect to nothing else, so a
page that tried to reach a CDN would fail loudly instead of quietly depending on the network.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from aiohttp import web

from quota_sidecar.alerting.hub import AlertHub
from quota_sidecar.dashboard.auth import Handler, auth_middleware, login_routes
from quota_sidecar.dashboard.context import CONTEXT, Context
from quota_sidecar.dashboard.hosts import HostAllowList
from quota_sidecar.dashboard.live import live_routes
from quota_sidecar.dashboard.pages import page_routes
from quota_sidecar.dashboard.sessions import SessionBook
from quota_sidecar.engine.service import QuotaService

__all__ = ["DashboardServer", "build_app"]

log = logging.getLogger(__name__)
STATIC_DIR = Path(str(files("quota_sidecar.dashboard") / "static"))
_SHUTDOWN_TIMEOUT = 2.0  # seconds open requests get when the server stops
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
])  # fmt: skip


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and refusals get the headers too
        _harden(request, exc)
        raise
    _harden(request, response)
    return response


@web.middleware
async def host_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a Host this dashboard is not served as (DNS rebinding: see hosts.py), first."""
    hosts = request.app[CONTEXT].hosts
    host = request.headers.get("Host")
    if hosts is None or not hosts.allows(host, 443 if request.secure else 80):
        raise web.HTTPMisdirectedRequest(
            text=f"this dashboard is not served as {(host or '')[:100]!r}: open it by its own "
            "address, or name the host with --dashboard-host"
        )
    return await handler(request)


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # an event stream already sent its headers
        return
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Not no-referrer: under it browsers send "Origin: null" on form POSTs, which the Origin
    # check must refuse. same-origin keeps URLs from leaking to other sites all the same.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")  # pages show live numbers and a session


def build_app(
    service: QuotaService,
    hub: AlertHub,
    sessions: SessionBook,
    *,
    heartbeat_interval: float = 15.0,
) -> web.Application:
    app = web.Application(middlewares=[security_headers, host_guard, auth_middleware])
    app[CONTEXT] = Context(service, hub, sessions, heartbeat_interval=heartbeat_interval)
    app.add_routes([*login_routes(), *page_routes(), *live_routes()])
    static = app.router.add_static("/static/", STATIC_DIR, append_version=True)
    # static("x.css") -> /static/x.css?v=<content hash>: a new release is never served stale.
    app[CONTEXT].templates.globals["static"] = lambda name: str(static.url_for(filename=name))
    return app


class DashboardServer:
    """Serves the dashboard app on HOST:PORT (port 0 picks a free one) until close(), over TLS
    when given an SSL context; it answers to the Host names of HostAllowList.build."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        host_names: Sequence[str] = (),
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._host_names = tuple(host_names)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT, handle_signals=False
        )
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{host}:{self.port}/"

    async def start(self) -> DashboardServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._app[CONTEXT].hosts = HostAllowList.build(self._host, self.port, self._host_names)
        log.info("dashboard on %s", self.url)
        return self

    async def close(self) -> None:
        self._app[CONTEXT].closing.set()  # open event streams end now, not at the timeout
        await self._runner.cleanup()
