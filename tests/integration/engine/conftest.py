"""Engine fixtures: QuotaService instances on a real Redis (the machine's and the embedded one)
with a controlled clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import QuotaService
from tests.support.engines import EngineFactory, engine_factory

# A fixed, unremarkable instant: mid-day, mid-month, not near any DST change.
START = datetime(2026, 11, 18, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def make_engine(any_redis_url: str, clock: ManualClock) -> AsyncIterator[EngineFactory]:
    """Build engines on the same Redis and clock (several = several replicas)."""
    async with engine_factory(any_redis_url, clock) as build:
        yield build


@pytest.fixture
async def engine(make_engine: EngineFactory) -> QuotaService:
    return make_engine()
