"""The model as a subject: a check or record that names a provider and a model is also
checked and charged against `model:<provider>/<model>` when that has a quota, atomically."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from quota_sidecar import QuotaConfig, QuotaScope, QuotaService, RateLimitConfig, Subject
from quota_sidecar.domain.clock import ManualClock

GPT4O = Subject(QuotaScope.MODEL, "openai/gpt-4o")


async def test_a_per_model_limit_shared_by_two_users_admits_exactly_50(any_redis_url: str) -> None:
    engine = QuotaService(any_redis_url, clock=ManualClock())
    await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.MODEL,
            identifier="openai/gpt-4o",
            rate_limits=RateLimitConfig(requests_per_minute=50),
        )
    )
    results = await asyncio.gather(
        *(
            engine.check_quota(
                scope="user", identifier=("alice", "bob")[i % 2], provider="openai", model="gpt-4o"
            )
            for i in range(200)
        )
    )
    assert sum(r.allowed for r in results) == 50
    assert {r.denied_subject for r in results if not r.allowed} == {GPT4O}
    # Another model of the same provider has no quota: not limited.
    other = await engine.check_quota(
        scope="user", identifier="alice", provider="openai", model="o3"
    )
    assert other.allowed
    # Opting out leaves the model's quota out of the check.
    skipped = await engine.check_quota(
        scope="user", identifier="alice", provider="openai", model="gpt-4o", skip_model_subject=True
    )
    assert skipped.allowed
    await engine.close()


async def test_records_break_usage_down_by_model(any_redis_url: str) -> None:
    engine = QuotaService(any_redis_url, clock=ManualClock())
    for model, cost in (("gpt-4o", "0.25"), ("gpt-4o", "0.5"), ("o3", "1")):
        await engine.record_usage(
            scope="user", identifier="carol", cost=Decimal(cost), provider="openai", model=model
        )
    usage = await engine.get_quota_usage("user", "carol")
    assert [(e.name, e.cost_nanos, e.requests) for e in usage.by_model_today] == [
        ("openai/o3", 1_000_000_000, 1),
        ("openai/gpt-4o", 750_000_000, 2),
    ]
    assert usage.by_model_month == usage.by_model_today
    await engine.close()
