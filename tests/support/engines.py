"""Engines (QuotaService instances) for tests: several on one store and one clock behave as
several replicas; all are closed when the test ends."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import EngineSettings, QuotaService

EngineFactory = Callable[..., QuotaService]


@contextlib.asynccontextmanager
async def engine_factory(url: str, clock: ManualClock) -> AsyncIterator[EngineFactory]:
    made: list[QuotaService] = []

    def build(**settings: object) -> QuotaService:
        # Generous: the suite shares two cores with Redis; failure tests set their own timeout.
        options = {"store_timeout": 15.0, **settings}
        engine = QuotaService(url, clock=clock, settings=EngineSettings(**options))  # type: ignore[arg-type]
        made.append(engine)
        return engine

    try:
        yield build
    finally:
        for engine in made:
            await engine.close()
