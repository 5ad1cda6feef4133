"""The script-level fixes on a real three-master Redis Cluster, with subjects on different
slots: retry_after over every slot group, order-free idempotency, whole-reservation settles,
and hash tags that caller strings cannot leave."""

from __future__ import annotations

from datetime import timedelta

import pytest

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService, RateLimitConfig
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.errors import IdempotencyConflict
from quota_sidecar.domain.models import Subject
from tests.integration.engine.cluster.conftest import spread


async def _quota(engine: QuotaService, subject: Subject, **parts: object) -> None:
    await engine.put_quota(
        QuotaConfig(scope=subject.scope, identifier=subject.identifier, **parts)  # type: ignore[arg-type]
    )


async def test_retry_after_is_the_latest_over_every_slot_group(
    engine: QuotaService, clock: ManualClock
) -> None:
    first, second, third = spread(QuotaScope.USER, "retry", 3)
    await _quota(engine, first, rate_limits=RateLimitConfig(requests_per_minute=1))
    await _quota(engine, second, rate_limits=RateLimitConfig(requests_per_minute=5))
    await _quota(engine, third, rate_limits=RateLimitConfig(requests_per_hour=1))
    subjects = [first, second, third]
    assert (await engine.check_quota(subjects=subjects)).allowed
    denied = await engine.check_quota(subjects=subjects)
    assert not denied.allowed and denied.denied_subject == first  # the first group in slot order
    assert denied.retry_after is not None and denied.retry_after > timedelta(hours=1)
    clock.advance(denied.retry_after - timedelta(milliseconds=1))
    assert not (await engine.check_quota(subjects=subjects)).allowed
    clock.advance(timedelta(milliseconds=1))
    assert (await engine.check_quota(subjects=subjects)).allowed
    # The dry evaluation consumed nothing: the second subject counts the two admitted checks.
    assert (await engine.get_usage(second)).requests_today == 2


async def test_no_retry_after_when_a_later_group_can_never_pass(engine: QuotaService) -> None:
    first, second = spread(QuotaScope.USER, "never", 2)
    await _quota(engine, first, rate_limits=RateLimitConfig(requests_per_minute=1))
    await _quota(engine, second, cost_quota=CostQuota(per_request_limit=1))
    assert (await engine.check_quota(subjects=[first, second])).allowed
    denied = await engine.check_quota(subjects=[first, second], estimated_cost=2)
    assert not denied.allowed and denied.retry_after is None


async def test_the_same_key_with_the_subjects_reordered_counts_once(
    engine: QuotaService,
) -> None:
    subjects = spread(QuotaScope.USER, "order", 3)
    first = await engine.record_usage(subjects=subjects, cost=1, idempotency_key="k")
    again = await engine.record_usage(subjects=subjects[::-1], cost=1, idempotency_key="k")
    assert first.recorded and again.duplicate and not again.recorded
    for subject in subjects:
        assert (await engine.get_usage(subject)).cost_today_nanos == 10**9
    with pytest.raises(IdempotencyConflict):
        await engine.record_usage(subjects=subjects[1:], cost=1, idempotency_key="k")


async def test_a_record_naming_some_subjects_releases_the_others(engine: QuotaService) -> None:
    subjects = spread(QuotaScope.USER, "partial", 3)
    for subject in subjects:
        await _quota(
            engine,
            subject,
            rate_limits=RateLimitConfig(tokens_per_minute=1000),
            cost_quota=CostQuota(daily_limit=10),
        )
    held = await engine.check_quota(
        subjects=subjects, estimated_cost=1, estimated_tokens=300, reserve=True
    )
    assert held.allowed and held.reservation_id
    named = subjects[1]
    result = await engine.record_usage(
        subjects=[named], cost="0.5", input_tokens=100, reservation_id=held.reservation_id
    )
    assert result.recorded and result.hold_settled
    assert [t.subject for t in result.totals] == [named]
    for subject in subjects:
        usage = await engine.get_usage(subject)
        charged = subject == named
        assert usage.held_nanos == 0
        assert usage.cost_today_nanos == (10**9 // 2 if charged else 0)
        assert usage.tokens_last_minute == (100 if charged else 0)
    assert not await engine.release_reservation(held.reservation_id)
