"""QuotaAlertService: the seed's alert API on top of the alert streams.

    alert_service = QuotaAlertService(quota_service)
    alert_service.register_alert_handler(send_email_alert)
    alerts = await alert_service.check_quota_alerts(scope=QuotaScope.USER, identifier="user-123")

`check_quota_alerts` reads the subject's own stream (qs:{scope:id}:alerts) after a cursor kept
in Redis per alert-service name. Reading the new entries and moving the cursor happen in one
script, so two processes asking at once, or one asking twice, never get the same alert twice.
The first ask of a service name returns every alert the subject stream retains (up to 1000).

`subscribe()` tails the shared stream (qs:alerts) live, with the same filters as StreamAlerts.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol

from quota_sidecar.alerting.hub import AlertHub, Heartbeat
from quota_sidecar.domain.alert_filters import AlertFilter, validate_cursor
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject, parse_scope
from quota_sidecar.domain.results import Alert, AlertKind, Severity
from quota_sidecar.store.alert_streams import AlertStreams
from quota_sidecar.store.redis import Store

__all__ = ["AlertHandler", "QuotaAlertService"]

log = logging.getLogger(__name__)

AlertHandler = Callable[[Alert], Awaitable[Any] | Any]
MAX_ALERTS_PER_CHECK = 1000
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class _HasStore(Protocol):
    @property
    def store(self) -> Store: ...


class QuotaAlertService:
    """Alert handlers, per-subject alert checks and live subscriptions."""

    def __init__(
        self,
        quota_service: _HasStore | None = None,
        *,
        store: Store | None = None,
        name: str = "default",
    ) -> None:
        if quota_service is None and store is None:
            raise InvalidInput("quota_service", "give a QuotaService or a store")
        if not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
            raise InvalidInput("name", "1 to 64 characters of letters, digits, '-', '_' or '.'")
        self._quota_service = quota_service
        self._store = store
        self.name = name
        self._handlers: list[AlertHandler] = []
        self._hub: AlertHub | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            assert self._quota_service is not None
            self._store = self._quota_service.store
        return self._store

    def register_alert_handler(self, handler: AlertHandler) -> AlertHandler:
        """Call `handler(alert)` (async or plain) once for each alert a check returns.

        Returns the handler, so it can be used as a decorator."""
        if not callable(handler):
            raise InvalidInput("handler", "must be callable")
        self._handlers.append(handler)
        return handler

    def unregister_alert_handler(self, handler: AlertHandler) -> None:
        self._handlers.remove(handler)

    async def check_quota_alerts(
        self, scope: QuotaScope | str, identifier: str, *, limit: int = MAX_ALERTS_PER_CHECK
    ) -> list[Alert]:
        """The alerts raised for the subject since this service name last asked, oldest first.

        Each is handed to every registered handler; a handler that raises is logged and the
        others still run. Asking again, from this process or another, does not re-deliver."""
        subject = Subject(parse_scope(scope), identifier)
        if not 1 <= limit <= MAX_ALERTS_PER_CHECK:
            raise InvalidInput("limit", f"must be between 1 and {MAX_ALERTS_PER_CHECK}")
        # One script reads the new entries and moves this name's cursor past them.
        alerts = await AlertStreams(self.store).claim_new_alerts(subject, self.name, limit)
        for alert in alerts:
            await self.dispatch(alert)
        return alerts

    async def dispatch(self, alert: Alert) -> None:
        """Hand one alert to every handler; a failing handler does not stop the others."""
        for handler in list(self._handlers):
            try:
                result = handler(alert)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("alert handler %r failed on alert %s", handler, alert.id)

    async def subscribe(
        self,
        *,
        scopes: Iterable[QuotaScope | str] = (),
        identifiers: Iterable[str] = (),
        kinds: Iterable[AlertKind | str] = (),
        min_severity: Severity | str | None = None,
        cursor: str | None = None,
        handle: bool = False,
    ) -> AsyncIterator[Alert]:
        """Live alerts from every replica, matching the filters (empty: all).

        With `cursor` (an alert id, or "0" for all retained) the alerts after it are replayed
        first, with no gap and no duplicate before the live ones. With `handle=True` each alert
        also goes to the registered handlers before it is yielded. A subscriber that falls
        1000 alerts behind gets SubscriberTooSlow, whose `cursor` resumes it."""
        flt = AlertFilter.of(
            scopes=scopes, identifiers=identifiers, kinds=kinds, min_severity=min_severity
        )
        start = validate_cursor(cursor) if cursor else None
        if self._hub is None:
            self._hub = AlertHub(self.store)
        async for event in self._hub.events(flt, start):
            if isinstance(event, Heartbeat):
                continue
            if handle:
                await self.dispatch(event)
            yield event

    async def close(self) -> None:
        """End open subscriptions (the store belongs to the QuotaService and stays open)."""
        if self._hub is not None:
            await self._hub.close()
            self._hub = None
