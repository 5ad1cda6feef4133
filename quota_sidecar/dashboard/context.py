"""What every dashboard handler reads: the engine, the alert hub, the sessions and templates."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import web

from quota_sidecar.alerting.hub import AlertHub
from quota_sidecar.dashboard import present
from quota_sidecar.dashboard.hosts import HostAllowList
from quota_sidecar.dashboard.sessions import Session, SessionBook
from quota_sidecar.dashboard.throttle import LoginThrottle
from quota_sidecar.domain.money import format_dollars
from quota_sidecar.engine.service import QuotaService

__all__ = ["CONTEXT", "SESSION", "Context", "render", "template_environment"]


def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("quota_sidecar.dashboard", "templates"),
        # Every value is escaped unless a template says otherwise: identifiers, reasons and
        # alert messages are callers' strings.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        dollars=format_dollars,
        amount=present.amount_text,
        limit_label=present.limit_label,
        subject=present.subject_text,
        when=present.when_text,
        fill_percent=present.fill_percent,
        fill_class=present.fill_class,
    )
    return env


@dataclass
class Context:
    service: QuotaService
    hub: AlertHub
    sessions: SessionBook
    templates: jinja2.Environment = field(default_factory=template_environment)
    heartbeat_interval: float = 15.0
    # Set when the server stops, so open event streams end instead of holding the shutdown.
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    # The Host names served; set once the port is bound (until then every request is refused).
    hosts: HostAllowList | None = None
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    open_streams: Counter[str] = field(default_factory=Counter)  # session id -> event streams


CONTEXT = web.AppKey("dashboard_context", Context)
SESSION = web.RequestKey("dashboard_session", Session)  # the Session of a logged-in request


def render(request: web.Request, name: str, status: int = 200, **values: Any) -> web.Response:
    context = request.app[CONTEXT]
    session = request.get(SESSION)
    html = context.templates.get_template(name).render(session=session, **values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
