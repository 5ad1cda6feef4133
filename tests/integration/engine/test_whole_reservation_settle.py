"""Settling a reservation settles all of it: the reservation id names its subjects, and the
holds of subjects the record does not name are released (nothing is charged to them)."""

from __future__ import annotations

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.engine.service import QuotaService

NANOS = 10**9
USER = Subject(QuotaScope.USER, "erin")
TOOL = Subject(QuotaScope.TOOL, "browse")
TENANT = Subject(QuotaScope.TENANT, "acme")


async def _quotas(engine: QuotaService) -> None:
    for subject in (USER, TOOL, TENANT):
        await engine.put_quota(
            QuotaConfig(
                scope=subject.scope,
                identifier=subject.identifier,
                rate_limits=RateLimitConfig(tokens_per_minute=1000),
                cost_quota=CostQuota(daily_limit=10),
            )
        )


async def test_a_record_naming_some_subjects_releases_the_others(engine: QuotaService) -> None:
    await _quotas(engine)
    held = await engine.check_quota(
        subjects=[USER, TOOL, TENANT], estimated_cost=1, estimated_tokens=300, reserve=True
    )
    assert held.allowed and held.reservation_id
    for subject in (USER, TOOL, TENANT):
        assert (await engine.get_usage(subject)).held_nanos == NANOS
    result = await engine.record_usage(
        subjects=[USER],
        cost="0.5",
        input_tokens=100,
        reservation_id=held.reservation_id,
        idempotency_key="settle-1",
    )
    assert result.recorded and result.hold_settled
    assert [t.subject for t in result.totals] == [USER]
    user = await engine.get_usage(USER)
    assert (user.held_nanos, user.cost_today_nanos, user.tokens_last_minute) == (
        0,
        NANOS // 2,
        100,
    )
    for subject in (TOOL, TENANT):
        usage = await engine.get_usage(subject)
        assert (usage.held_nanos, usage.cost_today_nanos, usage.tokens_last_minute) == (0, 0, 0)
        assert usage.requests_today == 1  # the check itself still counted
    again = await engine.record_usage(
        subjects=[USER],
        cost="0.5",
        input_tokens=100,
        reservation_id=held.reservation_id,
        idempotency_key="settle-1",
    )
    assert again.duplicate
    assert not await engine.release_reservation(held.reservation_id)
    assert (await engine.get_usage(USER)).cost_today_nanos == NANOS // 2


async def test_the_full_budget_is_free_again_on_every_subject(engine: QuotaService) -> None:
    await _quotas(engine)
    for _ in range(3):
        held = await engine.check_quota(subjects=[USER, TOOL], estimated_cost=10, reserve=True)
        assert held.allowed
        await engine.record_usage(subjects=[TOOL], cost=0, reservation_id=held.reservation_id)
    assert (await engine.get_usage(USER)).held_nanos == 0
