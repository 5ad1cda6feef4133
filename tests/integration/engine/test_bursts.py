"""Exact under any burst, in process: while Redis answers, no check is decided without it.

Every engine here runs with the default store settings, as a user's would: the burst must
not be mistaken for an outage however long the calls queue.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService, RateLimitConfig
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.models import Subject
from quota_sidecar.store.keys import subject_keys
from tests.support.redis_cluster import sync_client


async def test_3000_concurrent_checks_admit_exactly_60(any_redis_url: str) -> None:
    engine = QuotaService(any_redis_url, clock=ManualClock())
    await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier="burst",
            rate_limits=RateLimitConfig(requests_per_minute=60),
        )
    )
    results = await asyncio.gather(
        *(engine.check_quota(scope="user", identifier="burst") for _ in range(3000))
    )
    assert sum(r.allowed for r in results) == 60
    assert sum(r.decided_without_store for r in results) == 0
    assert {r.code for r in results if not r.allowed} == {"RATE_LIMITED"}
    await engine.close()


async def test_1000_concurrent_reservations_hold_exactly_the_budget(any_redis_url: str) -> None:
    engine = QuotaService(any_redis_url, clock=ManualClock())
    await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.USER, identifier="holder", cost_quota=CostQuota(daily_limit=10)
        )
    )
    results = await asyncio.gather(
        *(
            engine.check_quota(
                scope="user", identifier="holder", estimated_cost=Decimal("0.10"), reserve=True
            )
            for _ in range(1000)
        )
    )
    allowed = [r for r in results if r.allowed]
    assert len(allowed) == 100
    assert all(r.reservation_id for r in allowed)
    assert not any(r.reservation_id for r in results if not r.allowed)
    assert sum(r.decided_without_store for r in results) == 0
    usage = await engine.get_quota_usage("user", "holder")
    assert usage.held == Decimal("10.00")
    client = sync_client(any_redis_url)
    holds = subject_keys(Subject(QuotaScope.USER, "holder")).holds
    assert int(client.hget(holds, "_sum") or 0) == 10_000_000_000
    assert client.hlen(holds) == 101  # 100 holds and their _sum
    client.close()
    await engine.close()


async def test_3000_concurrent_records_total_exactly(any_redis_url: str) -> None:
    engine = QuotaService(any_redis_url, clock=ManualClock())
    results = await asyncio.gather(
        *(
            engine.record_usage(scope="user", identifier="spender", cost=Decimal("0.001"))
            for _ in range(3000)
        )
    )
    assert all(r.recorded and not r.spooled for r in results)
    assert len({r.idempotency_key for r in results}) == 3000  # one generated key each
    usage = await engine.get_quota_usage("user", "spender")
    assert usage.cost_today == Decimal("3.000")
    await engine.close()


async def test_the_last_register_quota_wins(any_redis_url: str) -> None:
    engine = QuotaService(any_redis_url, clock=ManualClock())
    for limit in range(1, 51):  # the seed's style: no await
        engine.register_quota(
            QuotaConfig(
                scope=QuotaScope.USER,
                identifier="registered",
                rate_limits=RateLimitConfig(requests_per_minute=limit),
            )
        )
    stored = await engine.get_quota(Subject(QuotaScope.USER, "registered"))
    assert stored is not None
    assert stored.rate_limits.requests_per_minute == 50
    await engine.close()


async def test_a_burst_of_first_checks_queues_for_connections_on_every_backend(
    any_redis_url: str,
) -> None:
    """500 checks of subjects never seen, at once: each reads its quota first (a cache miss),
    more reads than a node's connections. They wait for a connection; none fails, and the
    burst is never taken for an outage (on a cluster the client's per-node pool raised
    MaxConnectionsError, which marked the store unreachable)."""
    engine = QuotaService(any_redis_url, clock=ManualClock())
    try:
        await engine.put_quota(
            QuotaConfig(
                scope=QuotaScope.USER, identifier="cold-0", cost_quota=CostQuota(daily_limit=1)
            )
        )
        results = await asyncio.gather(
            *(engine.check_quota(scope="user", identifier=f"cold-{i}") for i in range(500))
        )
        assert all(r.allowed for r in results)
        assert sum(r.decided_without_store for r in results) == 0
        assert engine.store.reachable
    finally:
        await engine.close()
