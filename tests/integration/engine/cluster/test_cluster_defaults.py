"""Scope defaults on a real three-master Redis Cluster: a default is copied to every slot before
the admin call returns, and a change to it binds checks on every master at once."""

from __future__ import annotations

import asyncio

from quota_sidecar import QuotaConfig, QuotaScope, QuotaService, RateLimitConfig
from quota_sidecar.domain.models import Subject
from tests.integration.engine.cluster.conftest import ClusterFactory, spread


def _default(per_minute: int, identifier: str = "*") -> QuotaConfig:
    return QuotaConfig(
        scope=QuotaScope.USER,
        identifier=identifier,
        rate_limits=RateLimitConfig(requests_per_minute=per_minute),
    )


async def _admitted(engine: QuotaService, subjects: list[Subject], calls: int) -> int:
    results = await asyncio.gather(
        *(engine.check_quota(subjects=[s]) for s in subjects for _ in range(calls))
    )
    return sum(r.allowed for r in results)


async def test_a_default_binds_users_on_every_master_and_a_change_binds_at_once(
    make_engine: ClusterFactory,
) -> None:
    first, second = make_engine(), make_engine()
    users = spread(QuotaScope.USER, "dflt", 3)  # one on each master
    await first.put_quota(_default(4), actor="test")
    assert await _admitted(second, users, 6) == 3 * 4
    await second.put_quota(_default(6), actor="test")  # raised: each user has 2 more
    assert await _admitted(first, users, 4) == 3 * 2
    await first.delete_quota(Subject(QuotaScope.USER, "*"), actor="test")  # unlimited now
    assert await _admitted(second, users, 3) == 3 * 3
    tenant = Subject(QuotaScope.TENANT, "acme")
    await second.put_quota(_default(1, "*@acme"), actor="test")
    fresh = spread(QuotaScope.USER, "acme", 3)
    results = await asyncio.gather(
        *(first.check_quota(subjects=[u, tenant]) for u in fresh for _ in range(2))
    )
    assert sum(r.allowed for r in results) == 3
