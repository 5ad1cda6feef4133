"""Scope defaults through the public Python API, with several engines on one Redis as
replicas: 1000 identifiers that were never registered each have the default's limit, exactly."""

from __future__ import annotations

import asyncio

from quota_sidecar import QuotaConfig, QuotaScope, RateLimitConfig
from quota_sidecar.domain.models import Subject
from tests.support.engines import EngineFactory


async def test_1000_unregistered_users_each_admit_exactly_60_through_two_replicas(
    make_engine: EngineFactory,
) -> None:
    first, second = make_engine(), make_engine()
    default = QuotaConfig(
        scope=QuotaScope.USER,
        identifier="*",
        rate_limits=RateLimitConfig(requests_per_minute=60),
    )
    await first.put_quota(default, actor="test")
    users = [Subject(QuotaScope.USER, f"new-{i}") for i in range(1000)]

    async def offer(user: Subject) -> int:
        # Six checks of ten requests (a gateway's hits), alternating replicas and in flight
        # with other users' checks, use the whole 60; one more request on either replica is
        # then denied.
        engines = (first, second)
        filled = await asyncio.gather(
            *(engines[i % 2].check_quota(subjects=[user], requests=10) for i in range(6))
        )
        more = await asyncio.gather(*(e.check_quota(subjects=[user]) for e in engines))
        return sum(10 for r in filled if r.allowed) + sum(1 for r in more if r.allowed)

    admitted: list[int] = []
    for start in range(0, len(users), 50):
        admitted += await asyncio.gather(*(offer(u) for u in users[start : start + 50]))
    assert admitted == [60] * 1000, "every user admits exactly its default's 60"
    usage = await second.get_usage(users[-1])
    assert (usage.quota_source, usage.quota_default) == ("default", "user:*")
