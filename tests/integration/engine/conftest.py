"""Engine fixtures: QuotaService instances on a real Redis (the machine's and the embedded one)
with a controlled clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from quota_sidecar.clock import ManualClock
from quota_sidecar.engine.service import EngineSettings, QuotaService

# A fixed, unremarkable instant: mid-day, mid-month, not near any DST change.
START = datetime(2026, 11, 18, 12, 0, 0, tzinfo=UTC)

EngineFactory = Callable[..., QuotaService]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def make_engine(any_redis_url: str, clock: ManualClock) -> AsyncIterator[EngineFactory]:
    """Build engines on the same Redis and clock (several = several replicas)."""
    made: list[QuotaService] = []

    def build(**settings: object) -> QuotaService:
        # Generous: the suite shares two cores with Redis; failure tests set their own timeout.
        options = {"store_timeout": 15.0, **settings}
        engine = QuotaService(any_redis_url, clock=clock, settings=EngineSettings(**options))  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield build
    for engine in made:
        await engine.close()


@pytest.fixture
async def engine(make_engine: EngineFactory) -> QuotaService:
    return make_engine()
