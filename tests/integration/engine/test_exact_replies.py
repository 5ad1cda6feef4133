"""Every number a script returns is an exact integer at every magnitude the contract allows:
amounts up to $1M per call, budgets up to $9M (both below 2^53 nanos). Lua 5.1 turns a double
of 1e14 or more into "1e+14" when it makes text of it; none of that may reach a reply, a hold
or an alert."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.alert_codec import ALERTS_STREAM, decode_alert

NANOS = 10**9
BIG = Subject(QuotaScope.USER, "big")


async def _budget(engine: QuotaService, daily: int, monthly: int) -> None:
    await engine.register_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier="big",
            cost_quota=CostQuota(daily_limit=daily, monthly_limit=monthly),
        )
    )


async def test_a_100k_budget_records_and_alerts_exactly(engine: QuotaService) -> None:
    await _budget(engine, 100_000, 100_000)
    amount = Decimal("85000.123456789")
    result = await engine.record_usage(subjects=[BIG], cost=amount, idempotency_key="a")
    assert result.recorded
    assert result.totals[0].cost_today == amount
    assert result.totals[0].cost_this_month_nanos == 85_000_123_456_789
    warnings = [a for a in result.alerts if a.kind is AlertKind.THRESHOLD_WARNING]
    assert {(a.limit, a.threshold_percent) for a in warnings} == {
        ("cost_daily", 80),
        ("cost_monthly", 80),
    }
    for alert in warnings:
        assert alert.used == 85_000_123_456_789
        assert alert.limit_value == 100_000 * NANOS
    # A retry of the same record is a duplicate, with the same exact totals.
    again = await engine.record_usage(subjects=[BIG], cost=amount, idempotency_key="a")
    assert again.duplicate and again.totals[0].cost_today_nanos == 85_000_123_456_789


@pytest.mark.parametrize("estimate", ["1000000", "999999.999999999", "123456.789012345"])
async def test_million_dollar_holds_settle_exactly(engine: QuotaService, estimate: str) -> None:
    await _budget(engine, 9_000_000, 9_000_000)
    held = await engine.check_quota(subjects=[BIG], estimated_cost=estimate, reserve=True)
    assert held.allowed and held.reservation_id
    estimated = int(Decimal(estimate) * NANOS)
    daily = next(s for s in held.limits if s.limit == "cost_daily")
    assert daily.held == estimated and daily.limit_value == 9_000_000 * NANOS
    assert daily.remaining == 9_000_000 * NANOS - estimated
    assert (await engine.get_usage(BIG)).held_nanos == estimated
    actual = Decimal("999999.999999999")
    settled = await engine.record_usage(
        subjects=[BIG], cost=actual, reservation_id=held.reservation_id, idempotency_key="s"
    )
    assert settled.recorded and settled.hold_settled
    assert settled.totals[0].cost_today == actual
    usage = await engine.get_usage(BIG)
    assert usage.held_nanos == 0
    assert usage.cost_today_nanos == usage.cost_this_month_nanos == 999_999_999_999_999


async def test_a_9m_budget_up_to_exhaustion(engine: QuotaService) -> None:
    await _budget(engine, 9_000_000, 9_000_000)
    alerts = []
    for n in range(9):
        check = await engine.check_quota(subjects=[BIG], estimated_cost=1_000_000, reserve=True)
        assert check.allowed, n
        result = await engine.record_usage(
            subjects=[BIG],
            cost=1_000_000,
            reservation_id=check.reservation_id,
            idempotency_key=f"r{n}",
        )
        assert result.recorded and result.hold_settled
        assert result.totals[0].cost_today_nanos == (n + 1) * 1_000_000 * NANOS
        alerts += result.alerts
    daily = {a.threshold_percent: a for a in alerts if a.limit == "cost_daily"}
    assert sorted(daily) == [80, 90, 95, 100]
    assert daily[80].used == 8_000_000 * NANOS  # the record that crossed 80 % ($7.2M)
    assert daily[100].used == 9_000_000 * NANOS
    assert {a.limit_value for a in alerts} == {9_000_000 * NANOS}
    assert "$9000000.00" in daily[100].message
    denied = await engine.check_quota(subjects=[BIG], estimated_cost="0.000000001")
    assert not denied.allowed and denied.code == "BUDGET_EXHAUSTED"
    usage = await engine.get_usage(BIG)
    assert usage.cost_today_nanos == usage.cost_this_month_nanos == 9_000_000 * NANOS
    assert usage.held_nanos == 0
    statuses = {s.limit: s for s in usage.limits}
    assert statuses["cost_monthly"].used == 9_000_000 * NANOS
    assert statuses["cost_monthly"].remaining == 0
    assert usage.by_provider_today == ()


async def test_an_expired_million_dollar_hold_returns_exactly(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _budget(engine, 9_000_000, 9_000_000)
    held = await engine.check_quota(
        subjects=[BIG],
        estimated_cost=1_000_000,
        reserve=True,
        reservation_lease=timedelta(seconds=1),
    )
    assert held.allowed
    clock.advance(2)
    assert (await engine.get_usage(BIG)).held_nanos == 0


async def test_a_million_dollar_per_request_alert_is_exact(
    engine: QuotaService, any_redis_url: str
) -> None:
    await engine.register_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier="big",
            cost_quota=CostQuota(per_request_limit="999999.999999999"),
        )
    )
    denied = await engine.check_quota(subjects=[BIG], estimated_cost=1_000_000)
    assert denied.code == "PER_REQUEST_LIMIT_EXCEEDED"
    client = aioredis.Redis.from_url(any_redis_url, decode_responses=True)
    try:
        entries = await client.xrange(ALERTS_STREAM)
    finally:
        await client.aclose()
    alerts = [decode_alert(entry_id, fields) for entry_id, fields in entries]
    (alert,) = [a for a in alerts if a.kind is AlertKind.PER_REQUEST_LIMIT_EXCEEDED]
    assert alert.used == 1_000_000 * NANOS
    assert alert.limit_value == 999_999_999_999_999
