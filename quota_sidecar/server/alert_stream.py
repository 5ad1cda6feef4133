"""StreamAlerts: an optional replay from a cursor, then live alerts, on any replica.

Delivery model (see alerting/hub.py): one reader task per process tails the shared stream and
fans alerts out into bounded per-subscriber queues. A subscriber that falls a whole queue behind
is ended with RESOURCE_EXHAUSTED; the status message carries the cursor to resume from, and a
resume loses nothing (the stream keeps 7 days). Idle streams get a Heartbeat every
`heartbeat_interval` seconds carrying the last alert id passed. `close()` (on SIGTERM) ends every
open stream with status OK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from quota_sidecar.alerting.hub import AlertHub, Heartbeat, LagObserver, SubscriberTooSlow
from quota_sidecar.domain.clock import Clock, SystemClock, from_ms
from quota_sidecar.domain.errors import InvalidInput, StoreUnavailable
from quota_sidecar.store.redis import Store
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire.alerts import alert_to_proto, filter_from_request, heartbeat_to_proto

__all__ = ["AlertStreamer"]


class AlertStreamer:
    """Serves StreamAlerts for one server process."""

    def __init__(
        self,
        store: Store,
        *,
        heartbeat_interval: float = 15.0,
        queue_size: int = 1000,
        clock: Clock | None = None,
        on_delivery: LagObserver | None = None,
    ) -> None:
        self._hub = AlertHub(store, queue_size=queue_size, on_delivery=on_delivery)
        self._heartbeat_interval = heartbeat_interval
        self._clock = clock or SystemClock()

    @property
    def hub(self) -> AlertHub:
        """The process's one alert reader, shared with the dashboard's live alerts."""
        return self._hub

    @property
    def open_streams(self) -> int:
        return self._hub.subscriber_count

    async def stream(
        self, request: quota_pb2.StreamAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[quota_pb2.StreamAlertsResponse]:
        try:
            flt, cursor = filter_from_request(request)
        except InvalidInput as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            async for event in self._hub.events(flt, cursor, self._heartbeat_interval):
                if isinstance(event, Heartbeat):
                    now = from_ms(self._clock.now_ms())
                    beat = heartbeat_to_proto(event.cursor, now)
                    yield quota_pb2.StreamAlertsResponse(heartbeat=beat)
                else:
                    yield quota_pb2.StreamAlertsResponse(alert=alert_to_proto(event))
        except SubscriberTooSlow as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except StoreUnavailable as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))

    async def close(self) -> None:
        """End every open stream cleanly (status OK) and stop reading."""
        await self._hub.close()
