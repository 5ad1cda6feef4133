"""RAISE_LIMIT never tightens: it is refused at grant time unless the quota has that limit and
the new value is above it, and a raise whose limit the config later dropped creates nothing."""

from __future__ import annotations

import pytest

from quota_sidecar import (
    CostQuota,
    InvalidInput,
    LimitKind,
    Override,
    OverrideKind,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
)
from quota_sidecar.domain.clock import ManualClock, from_ms
from quota_sidecar.engine.service import QuotaService

BOB = Subject(QuotaScope.USER, "bob")


async def _quota(engine: QuotaService, **rate: int) -> None:
    await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier="bob",
            rate_limits=RateLimitConfig(**rate),  # type: ignore[arg-type]
            cost_quota=CostQuota(daily_limit=10),
        )
    )


def _raise(clock: ManualClock, limit: LimitKind, value: int) -> Override:
    return Override(
        subject=BOB,
        kind=OverrideKind.RAISE_LIMIT,
        expires_at=from_ms(clock.now_ms() + 3_600_000),
        reason="launch day",
        actor="ops",
        limit=limit,
        value=value,
    )


async def _admitted(engine: QuotaService, count: int) -> int:
    return sum([(await engine.check_quota(subjects=[BOB])).allowed for _ in range(count)])


async def test_raising_a_limit_the_quota_does_not_have_is_refused(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine)
    with pytest.raises(InvalidInput) as caught:
        await engine.grant_override(_raise(clock, LimitKind.REQUESTS_PER_MINUTE, 2))
    assert caught.value.field == "override.limit"
    assert await engine.list_overrides(BOB) == []
    assert await _admitted(engine, 5) == 5  # still unlimited


async def test_raising_a_subject_without_a_quota_is_refused(
    engine: QuotaService, clock: ManualClock
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await engine.grant_override(_raise(clock, LimitKind.COST_DAILY, 5))
    assert caught.value.field == "override.limit"


@pytest.mark.parametrize("value", [1, 3])
async def test_a_raise_that_is_not_above_the_limit_is_refused(
    engine: QuotaService, clock: ManualClock, value: int
) -> None:
    await _quota(engine, requests_per_minute=3)
    with pytest.raises(InvalidInput) as caught:
        await engine.grant_override(_raise(clock, LimitKind.REQUESTS_PER_MINUTE, value))
    assert caught.value.field == "override.value"
    assert await engine.list_overrides(BOB) == []


async def test_a_raise_whose_limit_the_config_dropped_creates_nothing(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine, requests_per_minute=2)
    await engine.grant_override(_raise(clock, LimitKind.REQUESTS_PER_MINUTE, 4))
    assert await _admitted(engine, 5) == 4
    clock.advance(61)
    await _quota(engine)  # the limit is gone from the config; the raise stays in force
    assert await _admitted(engine, 10) == 10
    usage = await engine.get_usage(BOB)
    assert LimitKind.REQUESTS_PER_MINUTE not in {s.limit for s in usage.limits}
