"""Multi-subject checks on a real three-master Redis Cluster, with subjects on different slots:
all-or-nothing admission by slot group with compensation (engine/cluster.py, refund.lua)."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService, RateLimitConfig
from quota_sidecar.domain.models import DenialCode, LimitKind, Subject
from quota_sidecar.domain.results import Usage
from tests.integration.engine.cluster.conftest import ClusterFactory, RedisCluster, slot_of, spread


async def _configure(
    engine: QuotaService, subject: Subject, *, rpm: int, tpm: int = 100_000, daily: str = "10"
) -> None:
    await engine.register_quota(
        QuotaConfig(
            scope=subject.scope,
            identifier=subject.identifier,
            rate_limits=RateLimitConfig(
                requests_per_minute=rpm, requests_per_hour=10_000, tokens_per_minute=tpm
            ),
            cost_quota=CostQuota(daily_limit=Decimal(daily)),
        )
    )


def _footprint(usage: Usage) -> tuple[int, ...]:
    """Everything a check consumes, as GetUsage reports it."""
    return (
        usage.requests_last_minute,
        usage.requests_last_hour,
        usage.requests_today,
        usage.tokens_last_minute,
        usage.held_nanos,
    )


async def test_subjects_span_the_masters(redis_cluster: RedisCluster) -> None:
    subjects = spread(QuotaScope.USER, "span", 3)
    slots = [slot_of(s) for s in subjects]
    assert slots == sorted(slots)
    assert len({redis_cluster.port_of(slot) for slot in slots}) == 3


async def test_allowed_check_consumes_in_every_slot(engine: QuotaService) -> None:
    subjects = spread(QuotaScope.TENANT, "allow", 3)
    for subject in subjects:
        await _configure(engine, subject, rpm=10)

    result = await engine.check_quota(
        subjects=subjects, estimated_cost=0.5, estimated_tokens=40, reserve=True
    )

    assert result.allowed, result.reason
    assert result.reservation_id
    rpm = {s.subject: s.used for s in result.limits if s.limit is LimitKind.REQUESTS_PER_MINUTE}
    assert rpm == dict.fromkeys(subjects, 1)
    for subject in subjects:
        usage = await engine.get_usage(subject)
        assert _footprint(usage) == (1, 1, 1, 40, 500_000_000)


async def test_denial_by_a_later_slot_refunds_the_earlier_ones(engine: QuotaService) -> None:
    *others, exhausted = spread(QuotaScope.USER, "later", 3)  # the denying subject sorts last
    assert max(map(slot_of, others)) < slot_of(exhausted)
    for subject in others:
        await _configure(engine, subject, rpm=100)
    await _configure(engine, exhausted, rpm=1)
    first = await engine.check_quota(
        subjects=[*others, exhausted], estimated_cost=0.25, estimated_tokens=30, reserve=True
    )
    assert first.allowed, first.reason
    before = {s: _footprint(await engine.get_usage(s)) for s in others}
    assert set(before.values()) == {(1, 1, 1, 30, 250_000_000)}

    denied = await engine.check_quota(
        subjects=[exhausted, *others], estimated_cost=0.25, estimated_tokens=30, reserve=True
    )

    assert not denied.allowed
    assert denied.code is DenialCode.RATE_LIMITED
    assert denied.denied_subject == exhausted
    assert denied.denied_limit is LimitKind.REQUESTS_PER_MINUTE
    assert denied.reservation_id is None
    assert {s: _footprint(await engine.get_usage(s)) for s in others} == before
    # The denial reports the refunded subjects as they stand after the refund.
    reported = {
        (s.subject, s.limit): (s.used, s.held)
        for s in denied.limits
        if s.limit in (LimitKind.REQUESTS_PER_MINUTE, LimitKind.COST_DAILY) and s.subject in others
    }
    assert reported == {
        **{(s, LimitKind.REQUESTS_PER_MINUTE): (1, 0) for s in others},
        **{(s, LimitKind.COST_DAILY): (0, 250_000_000) for s in others},
    }


async def test_denial_by_the_first_slot_touches_nothing_else(engine: QuotaService) -> None:
    exhausted, *others = spread(QuotaScope.TOOL, "first", 3)  # the denying subject sorts first
    for subject in others:
        await _configure(engine, subject, rpm=100)
    await _configure(engine, exhausted, rpm=100, daily="1")
    await engine.record_usage(subjects=[exhausted], cost=1.0)
    before = {s: _footprint(await engine.get_usage(s)) for s in others}

    denied = await engine.check_quota(
        subjects=[*others, exhausted], estimated_cost=0.01, estimated_tokens=5
    )

    assert not denied.allowed
    assert denied.code is DenialCode.BUDGET_EXHAUSTED
    assert denied.denied_subject == exhausted
    assert {s: _footprint(await engine.get_usage(s)) for s in others} == before
    assert set(before.values()) == {(0, 0, 0, 0, 0)}


async def test_a_stale_later_group_refunds_and_the_retry_counts_once(
    make_engine: ClusterFactory,
) -> None:
    """A config change seen by the second group (stale) refunds the first, then the check is
    re-planned and runs once: every subject counts exactly one more request (3 if the first
    group's consumption had not been refunded)."""
    writer, checker = make_engine(), make_engine()
    low, high = spread(QuotaScope.USER, "stale", 2)
    for subject in (low, high):
        await _configure(writer, subject, rpm=50)
    await checker.check_quota(subjects=[low, high])  # caches both configs
    await _configure(writer, high, rpm=60)  # the checker's cache is now stale for `high`

    result = await checker.check_quota(subjects=[low, high])

    assert result.allowed, result.reason
    assert [(await checker.get_usage(s)).requests_last_minute for s in (low, high)] == [2, 2]
    rpm = {
        s.subject: s.limit_value for s in result.limits if s.limit is LimitKind.REQUESTS_PER_MINUTE
    }
    assert rpm[high] == 60


async def test_concurrent_checks_admit_exactly_the_limit_and_refund_the_rest(
    engine: QuotaService,
) -> None:
    """200 concurrent two-subject checks against 60/min: exactly 60 admitted. When the limited
    subject sorts second, every denied check first consumed in the other subject and was
    refunded there: the other subject must end with exactly the 60 admitted requests."""
    for limited_sorts_last in (True, False):
        low, high = spread(QuotaScope.USER, f"burst-{limited_sorts_last}", 2)
        limited, other = (high, low) if limited_sorts_last else (low, high)
        await _configure(engine, limited, rpm=60)
        await _configure(engine, other, rpm=10_000)

        results = await asyncio.gather(
            *(engine.check_quota(subjects=[limited, other]) for _ in range(200))
        )

        assert Counter(r.allowed for r in results) == Counter({True: 60, False: 140})
        assert {r.code for r in results if not r.allowed} == {DenialCode.RATE_LIMITED}
        for subject in (limited, other):
            usage = await engine.get_usage(subject)
            assert (usage.requests_last_minute, usage.requests_today) == (60, 60), subject


async def test_reserve_and_settle_across_slots(engine: QuotaService) -> None:
    user, tool = spread(QuotaScope.USER, "hold", 1) + spread(QuotaScope.TOOL, "hold", 1)
    assert slot_of(user) != slot_of(tool)
    for subject in (user, tool):
        await _configure(engine, subject, rpm=100, tpm=10_000, daily="10")

    held = await engine.check_quota(
        subjects=[user, tool], estimated_cost=1.0, estimated_tokens=500, reserve=True
    )
    assert held.allowed and held.reservation_id
    for subject in (user, tool):
        usage = await engine.get_usage(subject)
        assert (usage.held_nanos, usage.tokens_last_minute) == (1_000_000_000, 500)

    recorded = await engine.record_usage(
        subjects=[user, tool],
        cost=0.6,
        input_tokens=200,
        output_tokens=100,
        reservation_id=held.reservation_id,
    )
    assert recorded.recorded
    assert [t.subject for t in recorded.totals] == [user, tool]
    for subject in (user, tool):
        usage = await engine.get_usage(subject)
        assert usage.held_nanos == 0
        assert usage.cost_today_nanos == 600_000_000
        assert usage.tokens_last_minute == 300  # corrected from the estimate to the actual

    second = await engine.check_quota(subjects=[tool, user], estimated_cost=2.0, reserve=True)
    assert second.allowed and second.reservation_id
    assert (await engine.get_usage(user)).held_nanos == 2_000_000_000
    assert await engine.release_reservation(second.reservation_id)
    assert not await engine.release_reservation(second.reservation_id)
    for subject in (user, tool):
        usage = await engine.get_usage(subject)
        assert (usage.held_nanos, usage.cost_today_nanos) == (0, 600_000_000)


async def test_concurrent_reserving_checks_hold_exactly_the_budget(engine: QuotaService) -> None:
    """300 concurrent reserving checks of $0.10 against a $10 budget on the subject that sorts
    last: exactly 100 hold, and the other subject ends holding exactly their $10 (the 200
    denied checks' holds there were refunded)."""
    other, budgeted = spread(QuotaScope.TENANT, "holds", 2)
    await _configure(engine, other, rpm=10_000, daily="1000")
    await _configure(engine, budgeted, rpm=10_000, daily="10")

    results = await asyncio.gather(
        *(
            engine.check_quota(subjects=[budgeted, other], estimated_cost=0.1, reserve=True)
            for _ in range(300)
        )
    )

    assert Counter(r.allowed for r in results) == Counter({True: 100, False: 200})
    assert {r.code for r in results if not r.allowed} == {DenialCode.BUDGET_EXHAUSTED}
    for subject in (other, budgeted):
        usage = await engine.get_usage(subject)
        assert (usage.held_nanos, usage.requests_today) == (10_000_000_000, 100), subject


async def test_a_check_of_several_requests_is_refunded_exactly(engine: QuotaService) -> None:
    """A gateway's check of 4 requests denied by a later slot gives back 4 in the earlier ones,
    in the windows and in the day's counter; the denial reports them as after the refund."""
    *others, exhausted = spread(QuotaScope.USER, "hits", 3)
    for subject in others:
        await _configure(engine, subject, rpm=100)
    await _configure(engine, exhausted, rpm=5)
    first = await engine.check_quota(subjects=[*others, exhausted], requests=4)
    assert first.allowed, first.reason
    before = {s: _footprint(await engine.get_usage(s)) for s in others}
    assert set(before.values()) == {(4, 4, 4, 0, 0)}

    denied = await engine.check_quota(subjects=[*others, exhausted], requests=4)

    assert not denied.allowed and denied.denied_subject == exhausted
    assert {s: _footprint(await engine.get_usage(s)) for s in others} == before
    reported = {
        s.subject: s.used
        for s in denied.limits
        if s.limit is LimitKind.REQUESTS_PER_MINUTE and s.subject in others
    }
    assert reported == dict.fromkeys(others, 4)
