"""The seed README's examples, as written (with `from quota_sidecar import` for `from quota
import`), shared by the tests that run them on a single Redis and on a cluster."""

from __future__ import annotations

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService, RateLimitConfig

QUICK_START_OUTPUT = ["Cost today: $0.05", "Cost this month: $0.05", "Requests today: 1"]


async def seed_quick_start() -> QuotaService:
    """The Quick Start, then "Check Quota Usage"; QuotaService() reads QUOTA_SIDECAR_REDIS_URL.
    Prints QUICK_START_OUTPUT and returns the service (the caller closes it)."""
    # Initialize service
    quota_service = QuotaService()

    # Configure user quota
    user_quota = QuotaConfig(
        scope=QuotaScope.USER,
        identifier="user-123",
        rate_limits=RateLimitConfig(
            requests_per_minute=60, requests_per_hour=1000, requests_per_day=10000
        ),
        cost_quota=CostQuota(
            daily_limit=100.0,  # $100 per day
            monthly_limit=2000.0,  # $2000 per month
            reset_hour=0,  # Reset at midnight UTC
        ),
    )

    quota_service.register_quota(user_quota)

    # Check quota before execution
    result = await quota_service.check_quota(
        scope=QuotaScope.USER, identifier="user-123", estimated_cost=0.05
    )

    if result.allowed:
        # Execute tool
        # ...
        # Record actual cost
        await quota_service.record_usage(
            scope=QuotaScope.USER,
            identifier="user-123",
            cost=0.05,
            provider="openai",
            tool_name="createIssues",
        )
    else:
        raise Exception(f"Quota exceeded: {result.reason}")

    # Check Quota Usage (the seed's third example)
    usage = await quota_service.get_quota_usage(scope=QuotaScope.USER, identifier="user-123")

    print(f"Cost today: ${usage.cost_today:.2f}")
    print(f"Cost this month: ${usage.cost_this_month:.2f}")
    print(f"Requests today: {usage.requests_today}")

    return quota_service
