"""Weekly budgets (week_start at reset_hour in the quota's zone, across DST) and lifetime
budgets (never reset; raised by a bonus that does not expire)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.clock import ManualClock, from_ms
from quota_sidecar.domain.models import DenialCode, LimitKind
from quota_sidecar.domain.results import Override, OverrideKind
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.keys import subject_keys

NANOS = 10**9
BERLIN = ZoneInfo("Europe/Berlin")


def _status(usage: object, kind: LimitKind) -> object:
    (found,) = [s for s in usage.limits if s.limit is kind]  # type: ignore[attr-defined]
    return found


@pytest.mark.parametrize(
    ("week_start", "before", "start"),
    [
        # Berlin leaves summer time on Sunday 2026-10-25 at 03:00 (clocks go back to 02:00).
        ("sunday", datetime(2026, 10, 25, 5, 59), datetime(2026, 10, 25, 6, 0)),
        ("monday", datetime(2026, 10, 26, 5, 59), datetime(2026, 10, 26, 6, 0)),
        ("saturday", datetime(2026, 10, 31, 5, 59), datetime(2026, 10, 31, 6, 0)),
    ],
)
async def test_the_week_resets_at_week_start_across_dst(
    engine: QuotaService,
    clock: ManualClock,
    week_start: str,
    before: datetime,
    start: datetime,
) -> None:
    user = Subject(QuotaScope.USER, f"weekly-{week_start}")
    await engine.put_quota(
        QuotaConfig(
            scope=user.scope,
            identifier=user.identifier,
            cost_quota=CostQuota(
                weekly_limit=10, reset_hour=6, time_zone="Europe/Berlin", week_start=week_start
            ),
        )
    )
    clock.set((start - timedelta(days=3)).replace(tzinfo=BERLIN).astimezone(UTC))
    await engine.record_usage(subjects=[user], cost=9, idempotency_key="early")
    clock.set(before.replace(tzinfo=BERLIN).astimezone(UTC))
    usage = await engine.get_usage(user)
    assert usage.cost_this_week_nanos == 9 * NANOS
    assert usage.week_resets_at == start.replace(tzinfo=BERLIN)
    status = _status(usage, LimitKind.COST_WEEKLY)
    assert status.window in (timedelta(hours=167), timedelta(hours=168), timedelta(hours=169))  # type: ignore[attr-defined]
    denied = await engine.check_quota(subjects=[user], estimated_cost=2)
    assert denied.code is DenialCode.BUDGET_EXHAUSTED
    assert denied.denied_limit is LimitKind.COST_WEEKLY
    assert denied.reset_at == start.replace(tzinfo=BERLIN)
    clock.set(start.replace(tzinfo=BERLIN).astimezone(UTC))
    fresh = await engine.get_usage(user)
    assert fresh.cost_this_week_nanos == 0
    assert (await engine.check_quota(subjects=[user], estimated_cost=2)).allowed


async def test_the_week_that_holds_the_dst_change_lasts_169_hours(engine: QuotaService) -> None:
    from quota_sidecar.domain.periods import week_period

    inside = datetime(2026, 10, 27, 12, tzinfo=UTC)
    week = week_period(int(inside.timestamp() * 1000), 6, "Europe/Berlin", "monday")
    assert week.id == "2026-10-26"  # the week starting after the change: 168 hours
    assert week.end_ms - week.start_ms == 168 * 3_600_000
    before = datetime(2026, 10, 22, 12, tzinfo=UTC)
    changed = week_period(int(before.timestamp() * 1000), 6, "Europe/Berlin", "monday")
    assert changed.id == "2026-10-19" and changed.end_ms - changed.start_ms == 169 * 3_600_000


async def test_weekly_thresholds_alert_once_per_week(engine: QuotaService) -> None:
    user = Subject(QuotaScope.USER, "weekly-alerts")
    await engine.put_quota(
        QuotaConfig(
            scope=user.scope, identifier=user.identifier, cost_quota=CostQuota(weekly_limit=10)
        )
    )
    first = await engine.record_usage(subjects=[user], cost="8.5", idempotency_key="w1")
    assert [(a.kind.value, a.threshold_percent, a.limit) for a in first.alerts] == [
        ("THRESHOLD_WARNING", 80, LimitKind.COST_WEEKLY)
    ]
    assert first.alerts[0].period.startswith("week:")
    again = await engine.record_usage(subjects=[user], cost="0.1", idempotency_key="w2")
    assert again.alerts == ()
    full = await engine.record_usage(subjects=[user], cost="2", idempotency_key="w3")
    assert [(a.kind.value, a.threshold_percent) for a in full.alerts] == [
        ("THRESHOLD_WARNING", 90),
        ("THRESHOLD_WARNING", 95),
        ("EXHAUSTED", 100),
    ]


async def test_a_lifetime_budget_never_resets_and_a_bonus_tops_it_up(
    engine: QuotaService, clock: ManualClock
) -> None:
    user = Subject(QuotaScope.USER, "prepaid")
    await engine.put_quota(
        QuotaConfig(
            scope=user.scope, identifier=user.identifier, cost_quota=CostQuota(lifetime_limit=5)
        )
    )
    await engine.record_usage(subjects=[user], cost="4.5", idempotency_key="l1")
    clock.advance(timedelta(days=400))  # many days, weeks and months later
    usage = await engine.get_usage(user)
    assert usage.cost_lifetime_nanos == 4_500_000_000 and usage.cost_today_nanos == 0
    status = _status(usage, LimitKind.COST_LIFETIME)
    assert status.reset_at is None and status.remaining == 500_000_000  # type: ignore[attr-defined]
    denied = await engine.check_quota(subjects=[user], estimated_cost=1)
    assert denied.code is DenialCode.BUDGET_EXHAUSTED
    assert denied.denied_limit is LimitKind.COST_LIFETIME
    assert denied.retry_after is None and denied.reset_at is None  # waiting never helps
    bonus = await engine.grant_override(
        Override(
            subject=user,
            kind=OverrideKind.BONUS_CREDIT,
            limit=LimitKind.COST_LIFETIME,
            value=10 * NANOS,
            expires_at=from_ms(clock.now_ms()) + timedelta(hours=1),
            reason="prepaid $10",
            actor="billing",
        )
    )
    assert bonus.expires_at.year == 9999  # prepaid credit does not expire
    clock.advance(timedelta(days=1000))
    topped = await engine.get_usage(user)
    assert _status(topped, LimitKind.COST_LIFETIME).limit_value == 15 * NANOS  # type: ignore[attr-defined]
    held = await engine.check_quota(subjects=[user], estimated_cost=10, reserve=True)
    assert held.allowed
    assert (await engine.check_quota(subjects=[user], estimated_cost=1)).code is (
        DenialCode.BUDGET_EXHAUSTED
    )
    # The lifetime hash is the one key with no TTL.
    ttl = await engine.store.client.pttl(subject_keys(user).lifetime)
    assert ttl == -1


async def test_lifetime_spend_is_kept_only_for_a_subject_with_a_lifetime_limit(
    engine: QuotaService,
) -> None:
    plain = Subject(QuotaScope.TOOL, "no-lifetime")
    await engine.record_usage(subjects=[plain], cost=1, idempotency_key="p1")
    assert await engine.store.client.exists(subject_keys(plain).lifetime) == 0
    usage = await engine.get_usage(plain)
    assert usage.cost_this_week_nanos == NANOS and usage.cost_lifetime_nanos == 0
