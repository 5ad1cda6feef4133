"""Cost budgets: per-request limits, daily and monthly periods in a time zone, exact money,
holds, and idempotent recording."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quota_sidecar import CostQuota, IdempotencyConflict, QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import QuotaService


async def _budget(engine: QuotaService, ident: str, **cost: object) -> None:
    await engine.register_quota(
        QuotaConfig(scope=QuotaScope.USER, identifier=ident, cost_quota=CostQuota(**cost))  # type: ignore[arg-type]
    )


async def test_per_request_limit(engine: QuotaService) -> None:
    await _budget(engine, "pr", per_request_limit=1.0)
    assert (await engine.check_quota(scope="user", identifier="pr", estimated_cost=1.0)).allowed
    over = await engine.check_quota(scope="user", identifier="pr", estimated_cost="1.000000001")
    assert not over.allowed and over.code == "PER_REQUEST_LIMIT_EXCEEDED"
    assert over.retry_after is None
    assert "$1.000000001" in over.reason and "$1.00" in over.reason


async def test_budget_denies_above_and_allows_equal(engine: QuotaService) -> None:
    await _budget(engine, "b", daily_limit=10)
    await engine.record_usage(scope="user", identifier="b", cost=9.5)
    assert (await engine.check_quota(scope="user", identifier="b", estimated_cost=0.5)).allowed
    denied = await engine.check_quota(scope="user", identifier="b", estimated_cost="0.500000001")
    assert not denied.allowed and denied.code == "BUDGET_EXHAUSTED"
    assert denied.denied_limit == "cost_daily"


async def test_actual_spend_is_recorded_past_the_limit(engine: QuotaService) -> None:
    await _budget(engine, "past", daily_limit=1)
    result = await engine.record_usage(scope="user", identifier="past", cost=3)
    assert result.recorded and result.totals[0].cost_today == Decimal(3)
    assert not (await engine.check_quota(scope="user", identifier="past")).allowed


async def test_daily_reset_at_reset_hour_in_a_zone_across_dst(
    engine: QuotaService, clock: ManualClock
) -> None:
    """Europe/Berlin springs forward on 2026-03-29: the quota day from 03:00 on the 28th to
    03:00 on the 29th lasts 23 hours."""
    await _budget(engine, "berlin", daily_limit=1, reset_hour=3, time_zone="Europe/Berlin")
    clock.set(datetime(2026, 3, 28, 1, 59, tzinfo=UTC))  # 02:59 CET: still the 27th's day
    await engine.record_usage(scope="user", identifier="berlin", cost=1)
    assert not (
        await engine.check_quota(scope="user", identifier="berlin", estimated_cost=1)
    ).allowed
    clock.set(datetime(2026, 3, 28, 2, 0, tzinfo=UTC))  # 03:00 CET: a new day
    usage = await engine.get_quota_usage("user", "berlin")
    assert usage.cost_today == 0 and usage.cost_this_month == 1
    assert usage.day_resets_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    await engine.record_usage(scope="user", identifier="berlin", cost=1)
    clock.set(datetime(2026, 3, 29, 0, 59, tzinfo=UTC))  # 02:59 CEST... before the reset
    assert (await engine.get_quota_usage("user", "berlin")).cost_today == 1
    clock.set(datetime(2026, 3, 29, 1, 0, tzinfo=UTC))  # 03:00 CEST: 23 hours later
    assert (await engine.get_quota_usage("user", "berlin")).cost_today == 0


async def test_monthly_rollover_at_reset_hour(engine: QuotaService, clock: ManualClock) -> None:
    await _budget(engine, "month", monthly_limit=5, reset_hour=6, time_zone="America/New_York")
    clock.set(datetime(2026, 11, 30, 12, tzinfo=UTC))
    await engine.record_usage(scope="user", identifier="month", cost=5)
    assert not (
        await engine.check_quota(scope="user", identifier="month", estimated_cost=1)
    ).allowed
    clock.set(datetime(2026, 12, 1, 10, 59, tzinfo=UTC))  # 05:59 EST on the 1st
    assert (await engine.get_quota_usage("user", "month")).cost_this_month == 5
    clock.set(datetime(2026, 12, 1, 11, 0, tzinfo=UTC))  # 06:00 EST on the 1st
    usage = await engine.get_quota_usage("user", "month")
    assert usage.cost_this_month == 0
    assert usage.month_resets_at == datetime(2027, 1, 1, 11, tzinfo=UTC)
    assert (await engine.check_quota(scope="user", identifier="month", estimated_cost=5)).allowed


async def test_money_is_exact(engine: QuotaService) -> None:
    """Float dollars go through their decimal string; sums are integer nanos in Redis."""
    await asyncio.gather(
        *(engine.record_usage(scope="user", identifier="cents", cost=0.000001) for _ in range(5000))
    )
    await engine.record_usage(scope="user", identifier="cents", cost=0.995)
    usage = await engine.get_quota_usage("user", "cents")
    assert usage.cost_today_nanos == 1_000_000_000 and usage.cost_today == Decimal("1")


async def test_1000_concurrent_reserving_checks_admit_exactly_100(engine: QuotaService) -> None:
    await _budget(engine, "holds", daily_limit=10)
    results = await asyncio.gather(
        *(
            engine.check_quota(scope="user", identifier="holds", estimated_cost=0.10, reserve=True)
            for _ in range(1000)
        )
    )
    allowed = [r for r in results if r.allowed]
    assert len(allowed) == 100
    assert all(r.reservation_id for r in allowed)
    assert (await engine.get_quota_usage("user", "holds")).held == Decimal(10)


async def test_settle_replaces_the_hold_with_the_actual_cost(engine: QuotaService) -> None:
    await _budget(engine, "settle", daily_limit=1)
    check = await engine.check_quota(
        scope="user", identifier="settle", estimated_cost=0.8, reserve=True
    )
    assert not (
        await engine.check_quota(scope="user", identifier="settle", estimated_cost=0.3)
    ).allowed
    await engine.record_usage(
        scope="user", identifier="settle", cost=0.5, reservation_id=check.reservation_id
    )
    usage = await engine.get_quota_usage("user", "settle")
    assert (usage.cost_today, usage.held) == (Decimal("0.5"), 0)
    assert (await engine.check_quota(scope="user", identifier="settle", estimated_cost=0.5)).allowed


async def test_release_returns_the_hold(engine: QuotaService) -> None:
    await _budget(engine, "release", daily_limit=1)
    check = await engine.check_quota(
        scope="user", identifier="release", estimated_cost=1, reserve=True
    )
    assert check.reservation_id
    assert await engine.release_reservation(check.reservation_id)
    assert not await engine.release_reservation(check.reservation_id)
    usage = await engine.get_quota_usage("user", "release")
    assert (usage.cost_today, usage.held) == (0, 0)


async def test_an_unsettled_hold_expires_after_its_lease(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _budget(engine, "lease", daily_limit=1)
    await engine.check_quota(
        scope="user", identifier="lease", estimated_cost=1, reserve=True,
        reservation_lease=timedelta(seconds=30),
    )  # fmt: skip
    assert not (
        await engine.check_quota(scope="user", identifier="lease", estimated_cost=1)
    ).allowed
    clock.advance(30)
    assert (await engine.check_quota(scope="user", identifier="lease", estimated_cost=1)).allowed
    assert (await engine.get_quota_usage("user", "lease")).held == 0


async def test_holds_on_several_subjects_settle_together(engine: QuotaService) -> None:
    await _budget(engine, "u1", daily_limit=1)
    both = [Subject(QuotaScope.USER, "u1"), Subject(QuotaScope.TOOL, "search")]
    check = await engine.check_quota(subjects=both, estimated_cost=0.4, reserve=True)
    assert check.reservation_id
    await engine.record_usage(subjects=both, cost=0.3, reservation_id=check.reservation_id)
    for subject in both:
        usage = await engine.get_usage(subject)
        assert (usage.cost_today, usage.held) == (Decimal("0.3"), 0)


async def test_the_same_idempotency_key_counts_once(engine: QuotaService) -> None:
    first = await engine.record_usage(
        scope="user", identifier="idem", cost=1, idempotency_key="call-1"
    )
    again = await engine.record_usage(
        scope="user", identifier="idem", cost=1, idempotency_key="call-1"
    )
    assert (first.recorded, first.duplicate) == (True, False)
    assert (again.recorded, again.duplicate) == (False, True)
    assert again.totals[0].cost_today == 1
    with pytest.raises(IdempotencyConflict) as caught:
        await engine.record_usage(scope="user", identifier="idem", cost=2, idempotency_key="call-1")
    assert caught.value.field == "idempotency_key"


async def test_concurrent_retries_with_one_key_count_once(engine: QuotaService) -> None:
    results = await asyncio.gather(
        *(
            engine.record_usage(scope="user", identifier="retry", cost=0.25, idempotency_key="k")
            for _ in range(100)
        )
    )
    assert sum(r.recorded for r in results) == 1
    assert sum(r.duplicate for r in results) == 99
    assert (await engine.get_quota_usage("user", "retry")).cost_today == Decimal("0.25")


async def test_breakdown_by_provider_and_tool(engine: QuotaService) -> None:
    for provider, tool, cost in [
        ("openai", "chat", 1),
        ("openai", "embed", 2),
        ("anthropic", "chat", 4),
    ]:
        await engine.record_usage(
            scope="user", identifier="bd", cost=cost, provider=provider, tool_name=tool
        )
    usage = await engine.get_quota_usage("user", "bd")
    assert [(e.name, e.cost, e.requests) for e in usage.by_provider_today] == [
        ("anthropic", 4, 1),
        ("openai", 3, 2),
    ]
    assert [(e.name, e.cost) for e in usage.by_tool_month] == [("chat", 5), ("embed", 2)]


async def test_a_hold_of_nothing_settles_and_releases(engine: QuotaService) -> None:
    """Lua turns -0 into "-0", which HINCRBY rejects; a $0 hold must still work."""
    first = await engine.check_quota(scope="user", identifier="zero", reserve=True)
    second = await engine.check_quota(scope="user", identifier="zero", reserve=True)
    assert first.reservation_id and second.reservation_id
    assert await engine.release_reservation(first.reservation_id)
    settled = await engine.record_usage(
        scope="user", identifier="zero", cost=0, reservation_id=second.reservation_id
    )
    assert settled.recorded and (await engine.get_quota_usage("user", "zero")).held == 0
