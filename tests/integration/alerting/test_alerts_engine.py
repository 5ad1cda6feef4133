"""Alerts raised by the real engine: exactly once per (subject, budget, period, threshold) under
concurrency across engine instances, re-armed in a new period, resolved by a bonus credit, the
per-request alert, override expiry through the sweeper, and the seed's "Setup Alerts" example."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quota_sidecar.alerting.expiry import OverrideExpirySweeper
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.models import CostQuota, LimitKind, QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.results import Alert, AlertKind, Override, OverrideKind
from quota_sidecar.engine.service import EngineSettings, QuotaService
from quota_sidecar.store.alert_codec import ALERTS_STREAM, decode_alert
from quota_sidecar.store.redis import Store

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SETTINGS = EngineSettings(store_timeout=2.0)  # generous: these tests count alerts, not speed


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOON)


@pytest.fixture
async def engines(redis_url: str, clock: ManualClock) -> AsyncIterator[list[QuotaService]]:
    """Two engine instances with their own connections, as two replicas would have."""
    made = [QuotaService(redis_url, clock=clock, settings=SETTINGS) for _ in range(2)]
    yield made
    for engine in made:
        await engine.close()


async def stream_alerts(store: Store) -> list[Alert]:
    """The shared stream's alerts, without the QUOTA_CHANGED events of the tests' set-up."""
    alerts = [decode_alert(i, f) for i, f in await store.client.xrange(ALERTS_STREAM)]
    return [a for a in alerts if a.kind is not AlertKind.QUOTA_CHANGED]


def budget(identifier: str, daily: str = "10", **cost: object) -> QuotaConfig:
    return QuotaConfig(
        scope=QuotaScope.USER,
        identifier=identifier,
        cost_quota=CostQuota(daily_limit=Decimal(daily), **cost),  # type: ignore[arg-type]
    )


async def test_100_concurrent_records_on_two_engines_give_exactly_one_80_percent_alert(
    engines: list[QuotaService],
) -> None:
    await engines[0].put_quota(budget("crowd"))
    # 100 records of $0.085 = $8.50 of $10: every record may be the one that crosses 80 %.
    results = await asyncio.gather(
        *[
            engines[n % 2].record_usage(
                scope=QuotaScope.USER, identifier="crowd", cost=Decimal("0.085")
            )
            for n in range(100)
        ]
    )
    assert all(r.recorded for r in results)
    returned = [a for r in results for a in r.alerts]
    stored = await stream_alerts(engines[0].store)
    for alerts in (returned, stored):
        at_80 = [
            a for a in alerts if a.kind is AlertKind.THRESHOLD_WARNING and a.threshold_percent == 80
        ]
        assert len(at_80) == 1
        assert at_80[0].limit is LimitKind.COST_DAILY and at_80[0].period == "day:2026-11-28"
        assert len(alerts) == 1  # 85 % reaches no other threshold
    assert returned[0].id == stored[0].id
    usage = await engines[1].get_quota_usage(QuotaScope.USER, "crowd")
    assert usage.cost_today == Decimal("8.5")


async def test_a_new_period_re_arms_the_thresholds(
    engines: list[QuotaService], clock: ManualClock
) -> None:
    engine = engines[0]
    await engine.put_quota(budget("daily"))
    first = await engine.record_usage(scope=QuotaScope.USER, identifier="daily", cost=8.5)
    again = await engine.record_usage(scope=QuotaScope.USER, identifier="daily", cost=0.1)
    assert [a.threshold_percent for a in first.alerts] == [80]
    assert again.alerts == ()  # 86 %: 80 is claimed for today already

    clock.advance(timedelta(days=1))
    next_day = await engine.record_usage(scope=QuotaScope.USER, identifier="daily", cost=8.5)
    assert [(a.threshold_percent, a.period) for a in next_day.alerts] == [(80, "day:2026-11-29")]
    exhausted = await engine.record_usage(scope=QuotaScope.USER, identifier="daily", cost=2)
    assert {(a.kind, a.threshold_percent) for a in exhausted.alerts} == {
        (AlertKind.THRESHOLD_WARNING, 90),
        (AlertKind.THRESHOLD_WARNING, 95),
        (AlertKind.EXHAUSTED, 100),
    }


async def test_a_bonus_credit_resolves_a_threshold_which_can_then_fire_again(
    engines: list[QuotaService], clock: ManualClock
) -> None:
    engine = engines[0]
    await engine.put_quota(budget("bonus"))
    crossed = await engine.record_usage(scope=QuotaScope.USER, identifier="bonus", cost=8.5)
    assert [a.threshold_percent for a in crossed.alerts] == [80]

    subject = Subject(QuotaScope.USER, "bonus")
    await engine.grant_override(
        Override(
            subject=subject,
            kind=OverrideKind.BONUS_CREDIT,
            limit=LimitKind.COST_DAILY,
            value=5_000_000_000,  # $5 more: 8.5 of 15 is 57 %
            expires_at=NOON + timedelta(hours=6),
            reason="goodwill",
            actor="ops",
        )
    )
    alerts = await stream_alerts(engine.store)
    resolved = [a for a in alerts if a.kind is AlertKind.RESOLVED]
    assert len(resolved) == 1
    assert resolved[0].subject == subject and resolved[0].limit is LimitKind.COST_DAILY
    assert resolved[0].threshold_percent == 80
    assert AlertKind.OVERRIDE_GRANTED in {a.kind for a in alerts}

    refired = await engine.record_usage(scope=QuotaScope.USER, identifier="bonus", cost=3.5)
    assert [(a.threshold_percent, a.limit_value) for a in refired.alerts] == [(80, 15_000_000_000)]


async def test_a_check_over_the_per_request_limit_alerts(engines: list[QuotaService]) -> None:
    engine = engines[0]
    await engine.put_quota(budget("big", per_request_limit=Decimal("1")))
    result = await engine.check_quota(scope=QuotaScope.USER, identifier="big", estimated_cost=2)
    assert not result.allowed
    alerts = await stream_alerts(engine.store)
    assert [(a.kind, a.severity.value) for a in alerts] == [
        (AlertKind.PER_REQUEST_LIMIT_EXCEEDED, "CRITICAL")
    ]


async def test_an_expired_override_is_announced_once_and_gone(
    engines: list[QuotaService], clock: ManualClock
) -> None:
    engine = engines[0]
    await engine.put_quota(budget("blocked"))
    subject = Subject(QuotaScope.USER, "blocked")
    granted = await engine.grant_override(
        Override(
            subject=subject,
            kind=OverrideKind.BLOCK,
            expires_at=NOON + timedelta(minutes=30),
            reason="abuse",
            actor="ops",
        )
    )
    denied = await engine.check_quota(scope=QuotaScope.USER, identifier="blocked")
    assert not denied.allowed
    clock.advance(timedelta(minutes=31))
    sweepers = [OverrideExpirySweeper(e.store, clock) for e in engines]
    raised = await asyncio.gather(*[s.sweep_once() for s in sweepers * 3])
    assert sum(raised) == 1
    expired = [a for a in await stream_alerts(engine.store) if a.kind is AlertKind.OVERRIDE_EXPIRED]
    assert len(expired) == 1 and granted.id in expired[0].message
    assert await engine.list_overrides(subject) == []
    assert (await engine.check_quota(scope=QuotaScope.USER, identifier="blocked")).allowed


async def test_the_seed_setup_alerts_example_runs_as_written(engines: list[QuotaService]) -> None:
    quota_service = engines[0]
    await quota_service.put_quota(budget("user-123"))
    await quota_service.record_usage(scope=QuotaScope.USER, identifier="user-123", cost=9.6)

    # --- the seed's "Setup Alerts", with `from quota import` changed to `from quota_sidecar` ---
    from quota_sidecar import QuotaAlertService  # type: ignore[attr-defined]

    alert_service = QuotaAlertService(quota_service)

    # Register custom alert handler
    sent: list[Alert] = []

    async def send_email_alert(alert):  # type: ignore[no-untyped-def]
        # Send email notification
        sent.append(alert)

    alert_service.register_alert_handler(send_email_alert)

    # Check for alerts
    alerts = await alert_service.check_quota_alerts(scope=QuotaScope.USER, identifier="user-123")
    # --- end of the seed example ---

    # Budget alerts only: admin events (QUOTA_CHANGED) go to the shared stream alone.
    assert [a.kind for a in alerts] == [AlertKind.THRESHOLD_WARNING] * 3
    assert [a.threshold_percent for a in alerts] == [80, 90, 95]
    assert sent == alerts
    assert (
        await alert_service.check_quota_alerts(scope=QuotaScope.USER, identifier="user-123") == []
    )
