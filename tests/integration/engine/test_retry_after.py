"""retry_after is when the same check could pass: the latest over every denying limit of every
subject, and absent when some denying limit can never pass by waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.domain.clock import ManualClock, from_ms
from quota_sidecar.engine.service import QuotaService

USER = Subject(QuotaScope.USER, "carol")
TOOL = Subject(QuotaScope.TOOL, "search")


async def _quota(engine: QuotaService, subject: Subject, **parts: object) -> None:
    await engine.put_quota(
        QuotaConfig(scope=subject.scope, identifier=subject.identifier, **parts)  # type: ignore[arg-type]
    )


async def _passes_exactly_after(
    engine: QuotaService, clock: ManualClock, subjects: list[Subject], **check: object
) -> timedelta:
    denied = await engine.check_quota(subjects=subjects, **check)  # type: ignore[arg-type]
    assert not denied.allowed and denied.retry_after is not None
    wait = denied.retry_after
    clock.advance((wait - timedelta(milliseconds=1)).total_seconds())
    assert not (await engine.check_quota(subjects=subjects, **check)).allowed  # type: ignore[arg-type]
    clock.advance(0.001)
    assert (await engine.check_quota(subjects=subjects, **check)).allowed  # type: ignore[arg-type]
    return wait


async def test_two_subjects_denying_with_different_windows(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine, USER, rate_limits=RateLimitConfig(requests_per_minute=1))
    await _quota(engine, TOOL, rate_limits=RateLimitConfig(requests_per_hour=1))
    assert (await engine.check_quota(subjects=[USER, TOOL])).allowed
    wait = await _passes_exactly_after(engine, clock, [USER, TOOL])
    assert wait > timedelta(hours=1)  # the tool's hour, not the user's minute


async def test_the_later_window_wins_in_either_subject_order(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine, USER, rate_limits=RateLimitConfig(requests_per_hour=1))
    await _quota(engine, TOOL, rate_limits=RateLimitConfig(requests_per_minute=1))
    assert (await engine.check_quota(subjects=[TOOL, USER])).allowed
    wait = await _passes_exactly_after(engine, clock, [TOOL, USER])
    assert wait > timedelta(hours=1)


async def test_daily_and_monthly_both_exhausted_waits_for_the_month(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine, USER, cost_quota=CostQuota(daily_limit=1, monthly_limit=1))
    await engine.record_usage(subjects=[USER], cost=1)
    denied = await engine.check_quota(subjects=[USER], estimated_cost="0.01")
    assert not denied.allowed and denied.code == "BUDGET_EXHAUSTED"
    month_end = datetime(2026, 12, 1, tzinfo=UTC)
    assert denied.retry_after == month_end - from_ms(clock.now_ms())
    await _passes_exactly_after(engine, clock, [USER], estimated_cost="0.01")


async def test_a_budget_and_a_window_on_two_subjects(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine, USER, rate_limits=RateLimitConfig(requests_per_minute=1))
    await _quota(engine, TOOL, cost_quota=CostQuota(daily_limit=1))
    assert (await engine.check_quota(subjects=[USER, TOOL])).allowed
    await engine.record_usage(subjects=[TOOL], cost=1)
    denied = await engine.check_quota(subjects=[USER, TOOL], estimated_cost=1)
    assert denied.retry_after == datetime(2026, 11, 19, tzinfo=UTC) - from_ms(clock.now_ms())


async def test_a_limit_that_waiting_cannot_pass_means_no_retry_after(
    engine: QuotaService,
) -> None:
    await _quota(engine, USER, rate_limits=RateLimitConfig(requests_per_minute=1))
    await _quota(engine, TOOL, rate_limits=RateLimitConfig(tokens_per_minute=100))
    assert (await engine.check_quota(subjects=[USER, TOOL])).allowed
    # The user waits a minute; the tool's window can never hold 200 tokens.
    denied = await engine.check_quota(subjects=[USER, TOOL], estimated_tokens=200)
    assert not denied.allowed and denied.retry_after is None


async def test_a_per_request_limit_means_no_retry_after(engine: QuotaService) -> None:
    await _quota(engine, USER, rate_limits=RateLimitConfig(requests_per_minute=1))
    await _quota(engine, TOOL, cost_quota=CostQuota(per_request_limit=1))
    assert (await engine.check_quota(subjects=[USER, TOOL])).allowed
    denied = await engine.check_quota(subjects=[USER, TOOL], estimated_cost=2)
    assert not denied.allowed and denied.retry_after is None
