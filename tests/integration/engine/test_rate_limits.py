"""Sliding windows: exact admission counts under concurrency, and the window guarantee at
boundaries, with a controlled clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from quota_sidecar import QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import QuotaService
from tests.integration.engine.conftest import EngineFactory


async def _quota(engine: QuotaService, ident: str, **limits: int) -> None:
    await engine.register_quota(
        QuotaConfig(scope=QuotaScope.USER, identifier=ident, rate_limits=RateLimitConfig(**limits))
    )


async def test_200_concurrent_checks_against_60_per_minute_admit_exactly_60(
    engine: QuotaService,
) -> None:
    await _quota(engine, "burst", requests_per_minute=60)
    results = await asyncio.gather(
        *(engine.check_quota(scope="user", identifier="burst") for _ in range(200))
    )
    assert sum(r.allowed for r in results) == 60
    denied = [r for r in results if not r.allowed]
    assert {r.code for r in denied} == {"RATE_LIMITED"}
    assert all(r.retry_after is not None and r.retry_after > timedelta(0) for r in denied)
    usage = await engine.get_quota_usage("user", "burst")
    assert usage.requests_last_minute == 60 and usage.requests_today == 60


async def test_no_sliding_minute_ever_holds_more_than_the_limit(
    engine: QuotaService, clock: ManualClock
) -> None:
    """The fixed-window flaw: 60 just before a minute boundary and 60 just after. A sliding
    window must refuse the second burst until the first has left the last minute."""
    await _quota(engine, "edge", requests_per_minute=60)
    admitted: list[int] = []  # the clock (ms) of every admitted check
    boundary = (clock.now_ms() // 60_000 + 1) * 60_000
    clock._ms = boundary - 1_000  # one second before the minute boundary
    for _ in range(60):
        assert (await engine.check_quota(scope="user", identifier="edge")).allowed
        admitted.append(clock.now_ms())
    # Step through the next 70 seconds, one second at a time, trying 5 checks per second.
    for _ in range(70):
        clock.advance(1)
        for _ in range(5):
            if (await engine.check_quota(scope="user", identifier="edge")).allowed:
                admitted.append(clock.now_ms())
    for start in admitted:
        in_window = [t for t in admitted if start <= t < start + 60_000]
        assert len(in_window) <= 60
    # The burst's capacity returned within T + T/10 (66 s), not later.
    assert any(t <= boundary - 1_000 + 66_000 for t in admitted[60:])


async def test_retry_after_is_when_capacity_returns(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine, "retry", requests_per_minute=2)
    for _ in range(2):
        assert (await engine.check_quota(scope="user", identifier="retry")).allowed
    denied = await engine.check_quota(scope="user", identifier="retry")
    assert not denied.allowed and denied.retry_after is not None
    assert denied.denied_limit == "requests_per_minute"
    assert denied.denied_window == timedelta(minutes=1)
    clock.advance(denied.retry_after - timedelta(milliseconds=1))
    assert not (await engine.check_quota(scope="user", identifier="retry")).allowed
    clock.advance(timedelta(milliseconds=1))
    assert (await engine.check_quota(scope="user", identifier="retry")).allowed


async def test_hour_and_day_windows_count_together(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _quota(engine, "multi", requests_per_minute=5, requests_per_hour=7)
    allowed = 0
    for _ in range(4):
        for _ in range(5):
            allowed += (await engine.check_quota(scope="user", identifier="multi")).allowed
        clock.advance(70)
    assert allowed == 7
    denied = await engine.check_quota(scope="user", identifier="multi")
    assert denied.denied_limit == "requests_per_hour"


async def test_tokens_per_minute_consume_the_estimate(engine: QuotaService) -> None:
    await _quota(engine, "tok", tokens_per_minute=1000)
    first = await engine.check_quota(scope="user", identifier="tok", estimated_tokens=600)
    second = await engine.check_quota(scope="user", identifier="tok", estimated_tokens=600)
    third = await engine.check_quota(scope="user", identifier="tok", estimated_tokens=400)
    assert (first.allowed, second.allowed, third.allowed) == (True, False, True)
    assert second.denied_limit == "tokens_per_minute"
    assert (await engine.get_quota_usage("user", "tok")).tokens_last_minute == 1000


async def test_a_multi_subject_denial_consumes_nothing(engine: QuotaService) -> None:
    await _quota(engine, "alice", requests_per_minute=100)
    await engine.register_quota(
        QuotaConfig(
            scope=QuotaScope.TOOL,
            identifier="createIssues",
            rate_limits=RateLimitConfig(requests_per_minute=1),
        )
    )
    both = [Subject(QuotaScope.USER, "alice"), Subject(QuotaScope.TOOL, "createIssues")]
    assert (await engine.check_quota(subjects=both)).allowed
    for _ in range(5):
        denied = await engine.check_quota(subjects=both)
        assert not denied.allowed
        assert denied.denied_subject == Subject(QuotaScope.TOOL, "createIssues")
    alice = await engine.get_quota_usage("user", "alice")
    assert alice.requests_last_minute == 1 and alice.requests_today == 1


async def test_two_engines_share_one_set_of_quotas(make_engine: EngineFactory) -> None:
    first, second = make_engine(), make_engine()
    await _quota(first, "shared", requests_per_minute=10)
    results = await asyncio.gather(
        *(e.check_quota(scope="user", identifier="shared") for e in [first, second] * 15)
    )
    assert sum(r.allowed for r in results) == 10
    # A change through one replica takes effect on the other's very next call.
    await _quota(second, "shared", requests_per_minute=11)
    assert (await first.check_quota(scope="user", identifier="shared")).allowed
    assert not (await first.check_quota(scope="user", identifier="shared")).allowed
