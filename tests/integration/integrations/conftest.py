"""Fixtures of the agent framework integrations: an in-process engine whose runs may spend up
to $5 (each root run asks for its own cap), and a fresh user per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope
from quota_sidecar.engine.runs import RunTemplate
from quota_sidecar.engine.service import EngineSettings, QuotaService


@pytest.fixture
async def engine(redis_url: str) -> AsyncIterator[QuotaService]:
    service = QuotaService(redis_url, settings=EngineSettings(store_timeout=15.0))
    service.set_run_template(RunTemplate(max_cost=Decimal("5.00"), ttl=timedelta(hours=1)))
    try:
        yield service
    finally:
        await service.close()


@pytest.fixture
async def user_id(engine: QuotaService) -> str:
    """A fresh user with a $100 daily budget (so the run's cap is what binds)."""
    user = f"user-{uuid.uuid4().hex[:8]}"
    await engine.register_quota(
        QuotaConfig(QuotaScope.USER, user, cost_quota=CostQuota(daily_limit=Decimal("100")))
    )
    return user
