"""Settling a hold corrects the token windows by the difference between estimate and actual,
but only where the check charged the estimate, and only what that bucket still holds: a settle
never credits what was not charged in the window, and never drives a count below zero."""

from __future__ import annotations

from quota_sidecar import QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import QuotaService

ALICE = Subject(QuotaScope.USER, "alice")


async def _tokens(engine: QuotaService, per_minute: int | None) -> None:
    await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier="alice",
            rate_limits=RateLimitConfig(tokens_per_minute=per_minute, requests_per_day=1000),
        )
    )


async def _hold(engine: QuotaService, tokens: int) -> str | None:
    result = await engine.check_quota(subjects=[ALICE], estimated_tokens=tokens, reserve=True)
    return result.reservation_id if result.allowed else None


async def _settle(engine: QuotaService, reservation: str, tokens: int) -> None:
    result = await engine.record_usage(
        subjects=[ALICE], cost=0, input_tokens=tokens, reservation_id=reservation
    )
    assert result.hold_settled


async def test_a_smaller_actual_is_credited_where_the_estimate_was_charged(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _tokens(engine, 1000)
    first = await _hold(engine, 1000)
    assert first is not None
    assert await _hold(engine, 1) is None  # the estimate fills the window
    clock.advance(2)
    await _settle(engine, first, 200)
    assert (await engine.get_usage(ALICE)).tokens_last_minute == 200
    assert await _hold(engine, 800) is not None
    assert await _hold(engine, 1) is None


async def test_a_settle_after_a_usage_reset_credits_nothing(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _tokens(engine, 1000)
    before = await _hold(engine, 1000)
    assert before is not None
    await engine.reset_usage(ALICE, actor="ops", reason="fresh start")
    clock.advance(1)
    after = await _hold(engine, 1000)  # the reset window admits a full minute again
    assert after is not None
    await _settle(engine, before, 0)  # its 1000 were charged to the window the reset cleared
    assert (await engine.get_usage(ALICE)).tokens_last_minute == 1000
    # Before the fix: 2000 tokens admitted within seconds under a limit of 1000.
    assert await _hold(engine, 1000) is None
    assert await _hold(engine, 1) is None


async def test_a_settle_after_a_token_limit_was_added_credits_nothing(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _tokens(engine, None)
    unlimited = await _hold(engine, 1000)  # no token window: nothing charged
    assert unlimited is not None
    await _tokens(engine, 1000)
    clock.advance(1)
    limited = await _hold(engine, 1000)
    assert limited is not None
    await engine.release_reservation(unlimited)  # credits nothing: it charged no window
    assert (await engine.get_usage(ALICE)).tokens_last_minute == 1000
    assert await _hold(engine, 1) is None


async def test_a_larger_actual_is_charged_only_where_the_estimate_was(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _tokens(engine, None)
    unlimited = await _hold(engine, 10)
    assert unlimited is not None
    await _tokens(engine, 1000)
    await _settle(engine, unlimited, 900)  # the check counted no window; neither does this
    assert (await engine.get_usage(ALICE)).tokens_last_minute == 0
    limited = await _hold(engine, 100)
    assert limited is not None
    await _settle(engine, limited, 400)
    assert (await engine.get_usage(ALICE)).tokens_last_minute == 400


async def test_a_credit_never_goes_below_zero(engine: QuotaService, clock: ManualClock) -> None:
    await _tokens(engine, 1000)
    first = await _hold(engine, 600)
    assert first is not None
    await engine.reset_usage(ALICE, actor="ops", reason="fresh start")
    await engine.release_reservation(first)
    usage = await engine.get_usage(ALICE)
    assert usage.tokens_last_minute == 0
    assert await _hold(engine, 1000) is not None
    assert await _hold(engine, 1) is None
