"""Admin overrides honoured inside the check, each expiring by itself; shadow mode; resets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from quota_sidecar import (
    CostQuota,
    InvalidInput,
    LimitKind,
    NotFound,
    Override,
    OverrideKind,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
)
from quota_sidecar.domain.clock import ManualClock, from_ms
from quota_sidecar.engine.service import QuotaService
from tests.integration.engine.conftest import EngineFactory

ALICE = Subject(QuotaScope.USER, "alice")


async def _setup(engine: QuotaService, *, shadow: bool = False) -> None:
    await engine.register_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier="alice",
            rate_limits=RateLimitConfig(requests_per_minute=2),
            cost_quota=CostQuota(daily_limit=1, monthly_limit=10),
            shadow_mode=shadow,
        )
    )


def _override(clock: ManualClock, kind: OverrideKind, **extra: object) -> Override:
    return Override(
        subject=ALICE,
        kind=kind,
        expires_at=from_ms(clock.now_ms() + 60_000),
        reason="incident 42",
        actor="ops@example.com",
        **extra,  # type: ignore[arg-type]
    )


async def _allowed(engine: QuotaService, cost: float = 0) -> bool:
    return (await engine.check_quota(subjects=[ALICE], estimated_cost=cost)).allowed


async def test_block_until_it_expires(engine: QuotaService, clock: ManualClock) -> None:
    await _setup(engine)
    granted = await engine.grant_override(_override(clock, OverrideKind.BLOCK))
    denied = await engine.check_quota(subjects=[ALICE])
    assert denied.code == "BLOCKED" and denied.retry_after == timedelta(minutes=1)
    assert [o.id for o in await engine.list_overrides(ALICE)] == [granted.id]
    clock.advance(60)
    assert await _allowed(engine)
    assert await engine.list_overrides(ALICE) == []


async def test_bypass_allows_but_keeps_tracking(engine: QuotaService, clock: ManualClock) -> None:
    await _setup(engine)
    await engine.grant_override(_override(clock, OverrideKind.BYPASS))
    assert [await _allowed(engine, cost=5) for _ in range(4)] == [True] * 4
    assert (await engine.get_usage(ALICE)).requests_last_minute == 4
    clock.advance(61)
    assert not await _allowed(engine, cost=5)


async def test_raised_limit_then_revoked(engine: QuotaService, clock: ManualClock) -> None:
    await _setup(engine)
    raised = await engine.grant_override(
        _override(clock, OverrideKind.RAISE_LIMIT, limit=LimitKind.REQUESTS_PER_MINUTE, value=3)
    )
    assert [await _allowed(engine) for _ in range(4)] == [True, True, True, False]
    revoked = await engine.revoke_override(ALICE, raised.id, actor="ops", reason="done")
    assert revoked.id == raised.id
    with pytest.raises(NotFound):
        await engine.revoke_override(ALICE, raised.id, actor="ops")


async def test_bonus_credit_for_the_current_day(engine: QuotaService, clock: ManualClock) -> None:
    await _setup(engine)
    await engine.record_usage(subjects=[ALICE], cost=1)
    assert not await _allowed(engine, cost=0.5)
    await engine.grant_override(
        _override(clock, OverrideKind.BONUS_CREDIT, limit=LimitKind.COST_DAILY, value=500_000_000)
    )
    assert await _allowed(engine, cost=0.5)
    status = {s.limit: s for s in (await engine.get_usage(ALICE)).limits}
    assert status[LimitKind.COST_DAILY].limit_value == 1_500_000_000


async def test_override_validation_names_the_field(
    engine: QuotaService, clock: ManualClock
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await engine.grant_override(_override(clock, OverrideKind.BONUS_CREDIT, value=5))
    assert caught.value.field == "override.limit"
    past = Override(ALICE, OverrideKind.BLOCK, from_ms(clock.now_ms() - 1), "r", "a")
    with pytest.raises(InvalidInput) as caught:
        await engine.grant_override(past)
    assert caught.value.field == "override.expires_at"


async def test_shadow_mode_reports_but_allows(engine: QuotaService) -> None:
    await _setup(engine, shadow=True)
    results = [await engine.check_quota(subjects=[ALICE]) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, True]
    assert [r.shadow_denied for r in results] == [False, False, True]
    assert results[2].code is None and "shadow mode would deny" in results[2].reason
    assert results[2].denied_limit == LimitKind.REQUESTS_PER_MINUTE


async def test_reset_usage_and_the_audit_trail(engine: QuotaService) -> None:
    await _setup(engine)
    await engine.record_usage(subjects=[ALICE], cost=0.75)
    assert await engine.reset_usage(ALICE, actor="ops", reason="refund") == (
        750_000_000,
        750_000_000,
    )
    usage = await engine.get_usage(ALICE)
    assert (usage.cost_today, usage.cost_this_month) == (Decimal(0), Decimal(0))
    events, _ = await engine.list_audit_events(ALICE)
    assert [e.action for e in events] == ["usage.reset", "quota.put"]
    assert events[0].actor == "ops" and events[0].before["cost_today_nanos"] == 750_000_000


async def test_an_override_binds_a_subject_already_checked_on_another_replica(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    # A check keeps the subject's config version and overrides flag beside its windows (one
    # read); a grant or a quota change elsewhere must still bind that subject's next check.
    first, second = make_engine(), make_engine()
    await _setup(first)
    assert await _allowed(first)
    granted = await second.grant_override(_override(clock, OverrideKind.BLOCK))
    assert (await first.check_quota(subjects=[ALICE])).code == "BLOCKED"
    await second.revoke_override(ALICE, granted.id, actor="ops@example.com", reason="over")
    assert await _allowed(first)  # the second of alice's 2 requests per minute
    assert not await _allowed(first)
    await second.delete_quota(ALICE, actor="ops@example.com", reason="cleanup")
    assert all([await _allowed(first) for _ in range(5)])  # no quota: no limit
