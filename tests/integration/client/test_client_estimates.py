"""Estimates from history: a check without an estimate takes the p95 of recent actual costs."""

from __future__ import annotations

from decimal import Decimal

from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope, Subject


async def test_a_check_without_an_estimate_holds_the_p95_of_recent_costs(
    client: QuotaClient, user_id: str
) -> None:
    await client.register_quota(
        QuotaConfig(QuotaScope.USER, user_id, cost_quota=CostQuota(daily_limit=Decimal("100")))
    )
    subjects = [Subject(QuotaScope.USER, user_id), Subject(QuotaScope.TOOL, "search")]
    for cents in range(1, 21):  # 0.01 .. 0.20
        await client.record_usage(subjects=subjects, tool_name="search", cost=cents / 100)
    # A cut-short call is no whole call: left out of the sample.
    await client.record_usage(subjects=subjects, tool_name="search", cost=50, cut_short=True)
    check = await client.check_quota(
        subjects=subjects, tool_name="search", reserve=True, estimate_from_history=True
    )
    assert check.allowed and check.reservation_id
    usage = await client.get_quota_usage("user", user_id)
    assert usage.held_nanos == 190_000_000  # rank ceil(0.95 * 20) = 19: $0.19
    await client.release_reservation(check.reservation_id)
    # Another tool has no history: no estimate, as without the option.
    other = await client.check_quota(
        subjects=[Subject(QuotaScope.USER, user_id)], tool_name="fetch", reserve=True,
        estimate_from_history=True,
    )  # fmt: skip
    assert other.allowed
    assert (await client.get_quota_usage("user", user_id)).held_nanos == 0
    # Without the option, nothing is estimated.
    plain = await client.check_quota(subjects=subjects, tool_name="search", reserve=True)
    assert plain.allowed
    assert (await client.get_quota_usage("user", user_id)).held_nanos == 0
