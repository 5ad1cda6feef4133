"""The dashboard (`serve --http-listen`): server-rendered pages over the engine in this process,
live alerts over server-sent events, a token login kept in an HttpOnly SameSite=Strict cookie.
May import the engine, alerting and the domain (aiohttp, Jinja2); never the store, the wire,
gRPC or the server.
"""

from quota_sidecar.dashboard.app import DashboardServer, build_app
from quota_sidecar.dashboard.sessions import Role, SessionBook

__all__ = ["DashboardServer", "Role", "SessionBook", "build_app"]
