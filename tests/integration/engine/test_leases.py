"""Exact local leases (engine/leases/, store/scripts/lease.lua) on a real Redis: several engines
on one store are several replicas; admitted checks never exceed a window's limit in any
interval of its length, whoever admitted them from which slice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.models import QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.engine.leases import LeaseSettings
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.keys import subject_keys
from tests.support.engines import EngineFactory

HOT = LeaseSettings(hot_checks=1)
# These tests look at the slices themselves; on Cluster no check leases (engine/leases/), so
# there the other tests show only that the limits hold exactly, as they do without leases.
NO_LEASES_ON_CLUSTER = "leases are off on Redis Cluster: every check goes to Redis"


def _tool(limit: int, *, lease: str = "auto") -> QuotaConfig:
    return QuotaConfig(
        scope=QuotaScope.TOOL,
        identifier=f"hot-{uuid.uuid4().hex[:8]}",
        rate_limits=RateLimitConfig(requests_per_minute=limit),
        lease=lease,
    )


def _replica(make_engine: EngineFactory) -> QuotaService:
    engine = make_engine()
    engine.rate_limits.leases.settings = HOT
    return engine


async def _admitted(engine: QuotaService, subject: Subject, n: int) -> int:
    results = await asyncio.gather(*(engine.check_quota(subjects=[subject]) for _ in range(n)))
    return sum(r.allowed for r in results)


async def _counted(engine: QuotaService, subject: Subject, window: str = "minute") -> int:
    """What Redis counts in a request window (a look: requests=0 never leases)."""
    result = await engine.check_quota(subjects=[subject], requests=0)
    return next(s.used for s in result.limits if s.limit.value == f"requests_per_{window}")


async def test_gathered_checks_across_engines_admit_exactly_the_limit(
    make_engine: EngineFactory,
) -> None:
    a, b = _replica(make_engine), _replica(make_engine)
    config = _tool(200)
    await a.put_quota(config)
    subject = config.subject
    assert await _until_denied(a, b, subject, 300) == 200
    assert await _counted(a, subject) == 200
    steps = a.rate_limits.leases.steps + b.rate_limits.leases.steps
    assert steps < 200  # most checks were decided from slices, not one Redis call each


async def test_slices_never_outlive_their_bucket(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    """Step the clock across bucket edges with bursts on two replicas: every 60 s interval
    holds at most the limit, and a window's count never shows slices already given back."""
    a, b = _replica(make_engine), _replica(make_engine)
    config = _tool(50)
    await a.put_quota(config)
    subject = config.subject
    admitted: list[tuple[int, int]] = []  # (ms, count)
    for _ in range(60):  # 2 s steps: 120 s, crossing every 6 s bucket edge
        got = await asyncio.gather(_admitted(a, subject, 4), _admitted(b, subject, 4))
        admitted.append((clock.now_ms(), sum(got)))
        clock.advance(timedelta(seconds=2))
        await a.rate_limits.leases.flush()
        await b.rate_limits.leases.flush()
    for start, _ in admitted:
        in_window = sum(n for at, n in admitted if start <= at < start + 60_000)
        assert in_window <= 50, (start, in_window)
    assert sum(n for _, n in admitted) >= 50  # the limit was reached (twice over 120 s)
    # Once every slice has ended and gone back, Redis counts exactly what was admitted.
    await a.rate_limits.leases.flush(everything=True)
    await b.rate_limits.leases.flush(everything=True)
    recent = sum(n for at, n in admitted if at >= clock.now_ms() - 54_000)
    assert await _counted(a, subject) >= recent


@pytest.mark.not_on("cluster", reason=NO_LEASES_ON_CLUSTER)
async def test_a_bucket_edge_gives_the_rest_back(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    engine = _replica(make_engine)
    config = _tool(1000)
    await engine.put_quota(config)
    subject = config.subject
    assert await _admitted(engine, subject, 10) == 10
    assert await _counted(engine, subject) > 10  # the slice counts at once
    clock.advance(timedelta(seconds=6))  # past the end of any 6 s bucket
    assert await engine.rate_limits.leases.flush() > 0
    assert await _counted(engine, subject) == 10


async def test_a_lowered_limit_with_slices_out_never_over_admits(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    a, b = _replica(make_engine), _replica(make_engine)
    config = _tool(100)
    await a.put_quota(config)
    subject = config.subject
    before = await _admitted(a, subject, 5) + await _admitted(b, subject, 5)
    counted_at_change = await _counted(a, subject)  # includes both replicas' open slices
    lowered = QuotaConfig(
        scope=config.scope, identifier=config.identifier,
        rate_limits=RateLimitConfig(requests_per_minute=10), lease="auto",
    )  # fmt: skip
    await a.put_quota(lowered)
    after = 0
    for _ in range(30):  # 60 s in 2 s steps, every replica checking
        after += await _admitted(a, subject, 5) + await _admitted(b, subject, 5)
        clock.advance(timedelta(seconds=2))
        await a.rate_limits.leases.flush()
        await b.rate_limits.leases.flush()
        # No slice is granted past the new limit: Redis never counts more than at the change.
        assert await _counted(a, subject) <= counted_at_change
    # A slice counted under the old limit may still be used until its bucket ends (at most
    # 6 s); nothing beyond what Redis had counted at the change, and nothing new after.
    assert before + after <= counted_at_change
    clock.advance(timedelta(seconds=70))  # the old window has gone: the new limit binds
    assert await _until_denied(a, b, subject, 30) == 10


async def _until_denied(a: QuotaService, b: QuotaService, subject: Subject, n: int) -> int:
    """Rounds of n gathered checks on each replica, giving slices back between rounds (as a
    bucket's end does), until a round admits nothing; returns the total admitted."""
    total = 0
    for _ in range(20):
        got = sum(await asyncio.gather(_admitted(a, subject, n), _admitted(b, subject, n)))
        total += got
        await a.rate_limits.leases.flush(everything=True)
        await b.rate_limits.leases.flush(everything=True)
        if got == 0:
            break
    return total


async def test_quotas_without_lease_auto_never_lease(make_engine: EngineFactory) -> None:
    engine = _replica(make_engine)
    config = _tool(100, lease="off")
    await engine.put_quota(config)
    assert await _admitted(engine, config.subject, 50) == 50
    assert engine.rate_limits.leases.steps == 0
    assert await _counted(engine, config.subject) == 50


@pytest.mark.not_on("cluster", reason=NO_LEASES_ON_CLUSTER)
async def test_usage_shows_open_slices_as_held(make_engine: EngineFactory) -> None:
    engine = _replica(make_engine)
    config = _tool(1000)
    await engine.put_quota(config)
    assert await _admitted(engine, config.subject, 10) == 10
    usage = await engine.get_usage(config.subject)
    (status,) = usage.limits
    counted = await _counted(engine, config.subject)
    # An open slice shows as held, used or not (only its holder knows); checks decided in
    # Redis (before the subject was hot, or while a slice was renewed) show as used.
    assert status.held > 0 and status.used + status.held == counted
    assert status.used <= 10
    await engine.rate_limits.leases.flush(everything=True)
    usage = await engine.get_usage(config.subject)
    (status,) = usage.limits
    assert (status.used, status.held, usage.requests_today) == (10, 0, 10)


@pytest.mark.not_on("cluster", reason=NO_LEASES_ON_CLUSTER)
async def test_day_thresholds_fire_once_on_used_requests_never_on_slices(
    make_engine: EngineFactory,
) -> None:
    a, b = _replica(make_engine), _replica(make_engine)
    config = QuotaConfig(
        scope=QuotaScope.TOOL, identifier=f"day-{uuid.uuid4().hex[:8]}",
        rate_limits=RateLimitConfig(requests_per_day=100), alert_thresholds=(50,), lease="auto",
    )  # fmt: skip
    await a.put_quota(config)
    stream = subject_keys(config.subject).alerts

    async def percents() -> list[str]:
        entries = await a.store.client.xrange(stream)
        return [fields["p"] for _, fields in entries if fields.get("l") == "requests_per_day"]

    assert await _admitted(a, config.subject, 30) + await _admitted(b, config.subject, 10) == 40
    assert await _counted(a, config.subject, "day") > 50  # slices counted past 50 %...
    assert await percents() == []  # ...raise nothing: 40 were used
    assert await _until_denied(a, b, config.subject, 40) == 60
    assert await percents() == ["50", "100"]  # each once, though every replica stepped


async def test_several_subjects_admit_together_or_not_at_all(make_engine: EngineFactory) -> None:
    """Checks naming a user and a shared tool on two replicas: each limit holds exactly, and a
    check one subject denies consumes nothing of the other's slice."""
    a, b = _replica(make_engine), _replica(make_engine)
    tool = _tool(60)
    small = QuotaConfig(
        scope=QuotaScope.USER, identifier=f"small-{uuid.uuid4().hex[:8]}",
        rate_limits=RateLimitConfig(requests_per_minute=20), lease="auto",
    )  # fmt: skip
    large = QuotaConfig(
        scope=QuotaScope.USER, identifier=f"large-{uuid.uuid4().hex[:8]}",
        rate_limits=RateLimitConfig(requests_per_minute=1000), lease="auto",
    )  # fmt: skip
    for config in (tool, small, large):
        await a.put_quota(config)
    pairs = {"small": [small.subject, tool.subject], "large": [large.subject, tool.subject]}
    admitted = {"small": 0, "large": 0}
    for _ in range(20):
        calls = [
            (name, engine.check_quota(subjects=subjects))
            for engine in (a, b)
            for name, subjects in pairs.items()
            for _ in range(40)
        ]
        results = await asyncio.gather(*(call for _, call in calls))
        got = 0
        for (name, _), result in zip(calls, results, strict=True):
            admitted[name] += result.allowed
            got += result.allowed
        await a.rate_limits.leases.flush(everything=True)
        await b.rate_limits.leases.flush(everything=True)
        if got == 0:
            break
    # The shared tool is spent exactly. Which user got its share first is the gather's order:
    # the small user may still have had room when the tool ran out (19 of 20 once in a
    # hundred runs), never more than its limit.
    assert 0 < admitted["small"] <= 20
    assert admitted["small"] + admitted["large"] == 60
    # What Redis counts is exactly what was admitted, subject by subject.
    assert await _counted(a, small.subject) == admitted["small"]
    assert await _counted(a, large.subject) == admitted["large"]
    assert await _counted(a, tool.subject) == 60
