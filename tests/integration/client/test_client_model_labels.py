"""Issue 20 B through the public Python API: a guarded call with a provider that cannot be an
identifier ("Azure OpenAI") runs and is counted on the user and the tool; the provider and model
are breakdown labels, and neither a provider nor a model subject is derived from them."""

from __future__ import annotations

from decimal import Decimal

from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.models import QuotaScope


async def test_a_guard_with_a_spaced_provider_records_on_its_real_subjects(
    client: QuotaClient, user_id: str
) -> None:
    async with client.guard(
        user_id=user_id, tool_name="chat", provider="Azure OpenAI", model="gpt-4o",
        estimated_cost=Decimal("0.02"),
    ) as guard:  # fmt: skip
        await guard.record(cost=Decimal("0.015"))
    usage = await client.get_quota_usage(scope=QuotaScope.USER, identifier=user_id)
    assert usage.cost_today == Decimal("0.015")
    assert [(e.name, e.cost) for e in usage.by_provider_today] == [
        ("Azure OpenAI", Decimal("0.015"))
    ]
    tool = await client.get_quota_usage(scope=QuotaScope.TOOL, identifier="chat")
    assert tool.cost_today >= Decimal("0.015")
