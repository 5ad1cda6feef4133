"""Idempotency keys on Redis Cluster, kept compact in each slot group's dedupe buckets: the
same key within 24 hours counts once on every slot, across hour buckets and their splits; a
different payload is a conflict before anything counts; after the window it counts again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.errors import IdempotencyConflict
from quota_sidecar.domain.models import Subject
from tests.integration.engine.cluster.conftest import START, spread

DOLLAR = 10**9


async def _months(engine: QuotaService, subjects: list[Subject]) -> list[int]:
    return [(await engine.get_usage(s)).cost_this_month_nanos for s in subjects]


async def _registered(engine: QuotaService) -> list[Subject]:
    subjects = spread(QuotaScope.USER, "dd", 3)
    for subject in subjects:
        await engine.register_quota(
            QuotaConfig(
                scope=subject.scope,
                identifier=subject.identifier,
                cost_quota=CostQuota(monthly_limit=10**6),
            )
        )
    return subjects


async def test_a_key_counts_once_on_every_slot_across_hours_until_its_window_ends(
    engine: QuotaService, clock: ManualClock
) -> None:
    subjects = await _registered(engine)
    first_use = START + timedelta(minutes=59, seconds=59)
    clock.set(first_use)
    assert (await engine.record_usage(subjects=subjects, cost=1, idempotency_key="c")).recorded
    for later in (timedelta(seconds=2), timedelta(hours=23, minutes=59)):
        clock.set(first_use + later)
        again = await engine.record_usage(subjects=subjects, cost=1, idempotency_key="c")
        assert (again.recorded, again.duplicate) == (False, True), later
        assert [t.cost_this_month_nanos for t in again.totals] == [DOLLAR] * 3
        with pytest.raises(IdempotencyConflict):
            await engine.record_usage(subjects=subjects, cost=2, idempotency_key="c")
    assert await _months(engine, subjects) == [DOLLAR] * 3
    clock.set(first_use + timedelta(hours=25))
    assert (await engine.record_usage(subjects=subjects, cost=2, idempotency_key="c")).recorded
    assert await _months(engine, subjects) == [3 * DOLLAR] * 3


async def test_many_keys_on_every_slot_each_count_once(
    engine: QuotaService, clock: ManualClock
) -> None:
    """Enough keys that each slot group's bucket splits; each retried in the next hour."""
    subjects = await _registered(engine)
    keys = [f"many-{i}" for i in range(150)]
    for key in keys:
        assert (await engine.record_usage(subjects=subjects, cost=1, idempotency_key=key)).recorded
    clock.advance(timedelta(hours=1))
    for key in keys:
        again = await engine.record_usage(subjects=subjects, cost=1, idempotency_key=key)
        assert again.duplicate, key
    assert await _months(engine, subjects) == [150 * DOLLAR] * 3
