"""client.guard: a hold on user + tool (+ provider), settled by record, released otherwise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.errors import QuotaExceeded
from quota_sidecar.domain.models import (
    CostQuota,
    DenialCode,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
)


async def budget(client: QuotaClient, user_id: str, daily: str = "1.00") -> None:
    await client.register_quota(
        QuotaConfig(QuotaScope.USER, user_id, cost_quota=CostQuota(daily_limit=Decimal(daily)))
    )


async def test_guard_holds_then_settles_to_the_actual_cost(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, user_id)
    async with client.guard(
        user_id=user_id, tool_name="search", provider="openai", estimated_cost=0.30
    ) as g:
        assert g.check is not None and g.check.allowed and g.reservation_id
        during = await client.get_quota_usage("user", user_id)
        assert during.held == Decimal("0.3") and during.cost_today == 0
        recorded = await g.record(cost=0.12, input_tokens=100, output_tokens=20)
    assert recorded.recorded
    subjects = {t.subject for t in recorded.totals}
    assert subjects == {
        Subject(QuotaScope.USER, user_id),
        Subject(QuotaScope.TOOL, "search"),
        Subject(QuotaScope.PROVIDER, "openai"),
    }
    after = await client.get_quota_usage("user", user_id)
    assert after.held_nanos == 0
    assert after.cost_today == Decimal("0.12")
    assert after.tokens_today == 120
    assert [(e.name, e.cost) for e in after.by_provider_today] == [("openai", Decimal("0.12"))]
    tool = await client.get_quota_usage("tool", "search")
    assert tool.cost_today == Decimal("0.12") and tool.requests_today == 1


async def test_guard_denial_raises_quota_exceeded_and_skips_the_block(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, user_id, daily="0.10")
    ran = False
    with pytest.raises(QuotaExceeded) as denied:
        async with client.guard(user_id=user_id, tool_name="search", estimated_cost=0.25):
            ran = True
    assert not ran
    assert denied.value.code == DenialCode.BUDGET_EXHAUSTED.value
    assert denied.value.reason and str(denied.value) == denied.value.reason
    usage = await client.get_quota_usage("user", user_id)
    assert usage.held_nanos == 0 and usage.requests_today == 0  # a denial consumes nothing


async def test_guard_denial_by_the_tool_rate_limit_carries_retry_after(
    client: QuotaClient, user_id: str
) -> None:
    await client.register_quota(
        QuotaConfig(QuotaScope.TOOL, "createIssues", rate_limits=RateLimitConfig(1))
    )
    async with client.guard(user_id=user_id, tool_name="createIssues", estimated_cost=0.01) as g:
        await g.record(cost=0.01)
    with pytest.raises(QuotaExceeded) as denied:
        async with client.guard(user_id=user_id, tool_name="createIssues", estimated_cost=0.01):
            pass
    assert denied.value.code == "RATE_LIMITED"
    assert denied.value.retry_after is not None and denied.value.retry_after.total_seconds() > 0


async def test_exception_inside_the_block_releases_the_hold(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, user_id)
    with pytest.raises(RuntimeError, match="tool failed"):
        async with client.guard(user_id=user_id, tool_name="search", estimated_cost=0.40):
            assert (await client.get_quota_usage("user", user_id)).held == Decimal("0.4")
            raise RuntimeError("tool failed")
    usage = await client.get_quota_usage("user", user_id)
    assert usage.held_nanos == 0 and usage.cost_today_nanos == 0
    # The whole budget is available again: a check for all of it passes.
    assert (await client.check_quota("user", user_id, estimated_cost=1)).allowed


async def test_leaving_the_block_without_record_releases_the_hold(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, user_id)
    async with client.guard(user_id=user_id, tool_name="search", estimated_cost=0.40) as g:
        pass
    assert g.recorded is not None and not g.recorded.recorded
    usage = await client.get_quota_usage("user", user_id)
    assert usage.held_nanos == 0 and usage.cost_today_nanos == 0


async def test_release_reservation_of_a_plain_check(client: QuotaClient, user_id: str) -> None:
    await budget(client, user_id)
    result = await client.check_quota("user", user_id, estimated_cost=0.5, reserve=True)
    assert result.reservation_id
    assert (await client.get_quota_usage("user", user_id)).held == Decimal("0.5")
    assert await client.release_reservation(result.reservation_id)
    assert (await client.get_quota_usage("user", user_id)).held_nanos == 0


async def test_guard_without_an_estimate_settles_and_releases(
    client: QuotaClient, user_id: str
) -> None:
    """A hold of $0 (no estimate given) is settled and released like any other."""
    async with client.guard(user_id=user_id, tool_name="search") as g:
        await g.record(cost=0.02)
    async with client.guard(user_id=user_id, tool_name="search"):
        pass
    usage = await client.get_quota_usage("user", user_id)
    assert usage.cost_today == Decimal("0.02") and usage.held_nanos == 0
    assert usage.requests_today == 2
