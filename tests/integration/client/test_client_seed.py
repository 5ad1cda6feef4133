"""The seed's examples, run unchanged through QuotaClient against a real sidecar."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from quota_sidecar.client import QuotaClient, SidecarError, SidecarUnavailable
from quota_sidecar.client.transport import RetryPolicy
from quota_sidecar.domain.errors import InvalidInput, NotFound, StoreUnavailable
from quota_sidecar.domain.models import (
    CostQuota,
    DenialCode,
    LimitKind,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
)
from quota_sidecar.server.app import Sidecar
from tests.support.redis_servers import free_port

from .conftest import ADMIN_TOKEN, DATA_TOKEN


def seed_user_quota(user_id: str) -> QuotaConfig:
    return QuotaConfig(
        scope=QuotaScope.USER,
        identifier=user_id,
        rate_limits=RateLimitConfig(
            requests_per_minute=60, requests_per_hour=1000, requests_per_day=10000
        ),
        cost_quota=CostQuota(daily_limit=100.0, monthly_limit=2000.0, reset_hour=0),
    )


async def test_quick_start_runs_unchanged(client: QuotaClient, user_id: str) -> None:
    quota_service = client
    quota_service.register_quota(seed_user_quota(user_id))  # no await, as in the seed

    result = await quota_service.check_quota(
        scope=QuotaScope.USER, identifier=user_id, estimated_cost=0.05
    )
    assert result.allowed, result.reason
    await quota_service.record_usage(
        scope=QuotaScope.USER,
        identifier=user_id,
        cost=0.05,
        provider="openai",
        tool_name="createIssues",
    )

    usage = await quota_service.get_quota_usage(scope=QuotaScope.USER, identifier=user_id)
    assert f"Cost today: ${usage.cost_today:.2f}" == "Cost today: $0.05"
    assert usage.cost_today == Decimal("0.05")
    assert usage.cost_this_month == Decimal("0.05")
    assert usage.requests_today == 1
    assert [(e.name, e.cost, e.requests) for e in usage.by_provider_today] == [
        ("openai", Decimal("0.05"), 1)
    ]
    assert usage.config is not None and usage.config.cost_quota.daily_limit == Decimal(100)


async def test_register_quota_is_awaitable_and_returns_the_stored_config(
    client: QuotaClient, user_id: str
) -> None:
    stored = await client.register_quota(seed_user_quota(user_id))
    assert stored.version >= 1
    assert stored.rate_limits.requests_per_minute == 60
    again = await client.get_quota(Subject(QuotaScope.USER, user_id))
    assert again is not None and again.cost_quota.monthly_limit == Decimal(2000)


async def test_tool_quota_example_denies_above_the_per_request_limit(client: QuotaClient) -> None:
    tool_quota = QuotaConfig(
        scope=QuotaScope.TOOL,
        identifier="createIssues",
        rate_limits=RateLimitConfig(requests_per_minute=10, requests_per_hour=100),
        cost_quota=CostQuota(per_request_limit=1.0),
    )
    client.register_quota(tool_quota)

    fine = await client.check_quota(scope="tool", identifier="createIssues", estimated_cost=1.0)
    assert fine.allowed
    too_dear = await client.check_quota(
        scope=QuotaScope.TOOL, identifier="createIssues", estimated_cost=Decimal("1.000000001")
    )
    assert not too_dear.allowed
    assert too_dear.code is DenialCode.PER_REQUEST_LIMIT_EXCEEDED
    assert too_dear.denied_limit is LimitKind.COST_PER_REQUEST
    assert too_dear.denied_subject == Subject(QuotaScope.TOOL, "createIssues")
    assert too_dear.reason


async def test_rate_limit_denial_carries_retry_after(client: QuotaClient, user_id: str) -> None:
    await client.register_quota(
        QuotaConfig(QuotaScope.USER, user_id, rate_limits=RateLimitConfig(requests_per_minute=2))
    )
    results = [await client.check_quota("user", user_id) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    denied = results[2]
    assert denied.code is DenialCode.RATE_LIMITED
    assert denied.retry_after is not None and denied.retry_after.total_seconds() > 0


async def test_money_is_exact_over_the_wire(client: QuotaClient, user_id: str) -> None:
    await asyncio.gather(
        *(client.record_usage("user", user_id, cost=0.1) for _ in range(10)),
        client.record_usage("user", user_id, cost="0.000000001"),
        client.record_usage("user", user_id, cost_nanos=2),
    )
    usage = await client.get_quota_usage("user", user_id)
    assert usage.cost_today_nanos == 1_000_000_003
    assert usage.cost_today == Decimal("1.000000003")


async def test_bad_input_raises_invalid_input_naming_the_field(client: QuotaClient) -> None:
    with pytest.raises(InvalidInput) as local:
        await client.check_quota("user", "has space")
    assert local.value.field == "identifier"
    with pytest.raises(InvalidInput) as money:
        await client.record_usage("user", "u1", cost=-1)
    assert money.value.field == "cost"
    # Rejected by the server, not the client: the field name survives the trip.
    too_many = [Subject(QuotaScope.USER, f"u{i}") for i in range(9)]
    with pytest.raises(InvalidInput) as remote:
        await client.check_quota(subjects=too_many)
    assert remote.value.field == "subjects"


async def test_missing_quota_and_delete(client: QuotaClient, user_id: str) -> None:
    subject = Subject(QuotaScope.USER, user_id)
    assert await client.get_quota(subject) is None
    with pytest.raises(NotFound):
        await client.delete_quota(subject, actor="test")
    await client.register_quota(seed_user_quota(user_id))
    deleted = await client.delete_quota(subject, actor="test", reason="cleanup")
    assert deleted.identifier == user_id
    assert await client.get_quota(subject) is None


async def test_tokens_are_sent_as_bearer_metadata(sidecar: Sidecar, user_id: str) -> None:
    async with QuotaClient(sidecar.target) as anonymous:
        with pytest.raises(SidecarError) as missing:
            await anonymous.check_quota("user", user_id)
        assert missing.value.code.name == "UNAUTHENTICATED"
    async with QuotaClient(sidecar.target, token=DATA_TOKEN) as data_only:
        assert (await data_only.check_quota("user", user_id)).allowed
        with pytest.raises(SidecarError) as wrong:
            await data_only.register_quota(seed_user_quota(user_id))
        assert wrong.value.code.name == "PERMISSION_DENIED"
    async with QuotaClient(sidecar.target, token=DATA_TOKEN, admin_token=ADMIN_TOKEN) as both:
        assert (await both.register_quota(seed_user_quota(user_id))).identifier == user_id


async def test_unreachable_sidecar_is_retried_then_unavailable() -> None:
    target = f"127.0.0.1:{free_port()}"  # nothing listens here
    async with QuotaClient(target, retry=RetryPolicy(attempts=3, initial=0.01)) as client:
        with pytest.raises(SidecarUnavailable) as caught:
            await client.check_quota("user", "u1")
    assert isinstance(caught.value, StoreUnavailable)
