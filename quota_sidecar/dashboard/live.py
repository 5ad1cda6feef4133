"""Live alerts for the open page, as server-sent events.

The page renders the recent alerts with the stream position it read them at (the cursor) and
opens /alerts/stream?cursor=... with EventSource. Each alert goes out with its stream id as the
event id; when the connection drops, the browser reconnects by itself and sends the last id it
saw as Last-Event-ID, which wins over the query: the stream resumes exactly after it, with no
loss and no duplicate (alerting/hub.py replays, then follows live). Idle streams get an id-only
event carrying the hub's heartbeat cursor, so a resume skips what the filter passed over.

Refusals come before the stream starts, as plain HTTP errors, because EventSource reconnects
after a stream that ended but never after an error status: a bad cursor (Last-Event-ID or
?cursor=, parsed by alert_filters.validate_cursor like StreamAlerts' cursor) is a 400, and a
session past MAX_STREAMS_PER_SESSION open streams gets a 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import web

from quota_sidecar.alerting.hub import Heartbeat, SubscriberTooSlow
from quota_sidecar.dashboard.alert_json import alert_json
from quota_sidecar.dashboard.context import CONTEXT, SESSION
from quota_sidecar.domain.alert_filters import AlertFilter, validate_cursor
from quota_sidecar.domain.errors import InvalidInput, StoreUnavailable
from quota_sidecar.domain.models import parse_scope

__all__ = ["live_routes"]

log = logging.getLogger(__name__)
RETRY_MS = 2000  # how soon the browser reconnects after the stream ends
# A browser opens at most 6 connections per host over HTTP/1.1; 5 streams (tabs) per session
# leave one for loading pages, and bound what one stolen or scripted session can hold open.
MAX_STREAMS_PER_SESSION = 5


def _filter_from(request: web.Request) -> AlertFilter:
    scope, identifier = request.query.get("scope"), request.query.get("id")
    if scope and identifier:
        return AlertFilter(scopes=frozenset({parse_scope(scope)}),
                           identifiers=frozenset({identifier}))  # fmt: skip
    return AlertFilter()


def _cursor_from(request: web.Request) -> str | None:
    resumed = request.headers.get("Last-Event-ID")
    if resumed:
        return validate_cursor(resumed, "Last-Event-ID")
    cursor = request.query.get("cursor")
    return validate_cursor(cursor) if cursor else None


async def alert_stream(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    try:
        flt, cursor = _filter_from(request), _cursor_from(request)
    except InvalidInput as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    session_id = request[SESSION].id
    if context.open_streams[session_id] >= MAX_STREAMS_PER_SESSION:
        raise web.HTTPTooManyRequests(
            text=f"this session already has {MAX_STREAMS_PER_SESSION} open alert streams "
            "(the most it may): close a tab",
            headers={"Retry-After": "10"},
        )
    context.open_streams[session_id] += 1
    try:
        return await _stream(request, flt, cursor)
    finally:
        context.open_streams[session_id] -= 1
        if context.open_streams[session_id] <= 0:
            del context.open_streams[session_id]


async def _stream(request: web.Request, flt: AlertFilter, cursor: str | None) -> web.StreamResponse:
    context = request.app[CONTEXT]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # a proxy in front must not buffer the stream
        }
    )
    await response.prepare(request)
    await response.write(f"retry: {RETRY_MS}\n\n".encode())
    events = context.hub.events(flt, cursor, context.heartbeat_interval)
    closing = asyncio.ensure_future(context.closing.wait())
    try:
        while True:
            step = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({step, closing}, return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                step.cancel()
                break
            event = step.result()
            if isinstance(event, Heartbeat):
                await response.write(f"id: {event.cursor}\n\n".encode())
            else:
                data = json.dumps(alert_json(event), separators=(",", ":"))
                await response.write(f"id: {event.id}\nevent: alert\ndata: {data}\n\n".encode())
    except StopAsyncIteration:
        pass  # the hub closed: the server is stopping
    except SubscriberTooSlow:
        pass  # the browser reconnects with the last id it got and loses nothing
    except StoreUnavailable as exc:
        log.info("alert stream for the dashboard ended: %s", exc)
    except ConnectionResetError:
        pass  # the page went away
    except Exception:  # a defect: say so once, and tell the page to stop rather than retry
        log.exception("alert stream for the dashboard failed")
        with contextlib.suppress(Exception):
            await response.write(b"event: stop\ndata: the live alerts failed: reload later\n\n")
    finally:
        closing.cancel()
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
    return response


def live_routes() -> list[web.RouteDef]:
    return [web.get("/alerts/stream", alert_stream)]
