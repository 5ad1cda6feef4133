"""The sidecar's health follows the store's state, and the record spool replays when the store
is back.

Health turns NOT_SERVING while Redis is unreachable (store/redis.py), so a load balancer stops
sending before the quotas' failure modes decide; the liveness name (server/app.py) is not
touched here. Split out of server/app.py, which starts and stops a `StoreHealth`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from grpc_health.v1 import health, health_pb2

from quota_sidecar.domain.errors import StoreUnavailable
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.server.metrics import Metrics
from quota_sidecar.store.redis import Store

__all__ = ["StoreHealth"]

log = logging.getLogger(__name__)
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class StoreHealth:
    """Publishes the store's state as the health of `services`, and replays the spool."""

    def __init__(
        self,
        servicer: health.aio.HealthServicer,
        services: tuple[str, ...],
        metrics: Metrics,
        engine: QuotaService,
        *,
        stopped: asyncio.Event,
        interval: float,
    ) -> None:
        self._servicer = servicer
        self._services = services
        self._metrics = metrics
        self._engine = engine
        self._store: Store = engine.store
        self._stopped = stopped  # the sidecar's stop flag: nothing is published after it
        self._interval = interval
        self._replay_now = asyncio.Event()
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    async def set(self, *, serving: bool) -> None:
        status = _SERVING if serving else _NOT_SERVING
        self._metrics.store_up.set(1 if serving else 0)
        for name in self._services:
            await self._servicer.set(name, status)

    async def check(self) -> bool:
        """Probe the store once; the store's state, and so health, follow the answer."""
        up = await self._store.ping()
        await self._publish()
        return up

    def state_changed(self, reachable: bool) -> None:
        """The store's listener (Store.on_state_change): health follows its state at once."""
        if not self._stopped.is_set():
            task = asyncio.get_running_loop().create_task(self._publish())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        if reachable:
            self._replay_now.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="store-health")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: the stop flag ends the loop after at most one more probe.
            await asyncio.wait({self._task}, timeout=1.0)

    async def _publish(self) -> None:
        async with self._lock:  # one publisher at a time, and the last state wins
            while not self._stopped.is_set():
                serving = self._store.reachable
                await self.set(serving=serving)
                if self._store.reachable == serving:
                    break

    async def _watch(self) -> None:
        # Replays the spool when the store comes back, and every health_interval after that
        # while records wait. The stop flag, not only cancellation, ends the loop: a cancel that
        # lands inside the Redis driver's connection handling can be absorbed there.
        while not self._stopped.is_set():
            if self._store.reachable:
                await self._replay_spool()
            self._replay_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._replay_now.wait()

    async def _replay_spool(self) -> None:
        try:
            await self._engine.replay_spool(on_recorded=self._metrics.records_replayed.inc)
        except StoreUnavailable:
            pass  # away again: the next probe tries once more
        except Exception:  # the loop must go on; the records stay on disk
            log.exception("replaying the record spool failed")
