"""The seed's "Integration with ToolExecutor", run against a quota sidecar.

    python examples/python/tool_executor.py [TARGET]     (or QUOTA_SIDECAR_TARGET=host:port)

Tokens, when the sidecar asks for them: QUOTA_SIDECAR_DATA_TOKEN (data plane) and
QUOTA_SIDECAR_ADMIN_TOKEN (to register the quotas; defaults to QUOTA_SIDECAR_DATA_TOKEN).

The seed imports `ToolExecutor` from `openapi_tools`, which is not a package here, so a minimal
stand-in with the same constructor (`enableAuditLog`, `quotaChecker`) is defined below: before
it runs a tool it awaits `quotaChecker(tool_name, user_id, estimated_cost)`, which raises on a
denial. The checker comes from `make_quota_checker`, which works with the remote QuotaClient
used here and with an in-process QuotaService alike.

It registers the seed's quotas (user-123: $100/day; createIssues: $1 per request, 10/min),
runs three tool calls, and prints one line for each: two run, the third is denied by the
tool's per-request limit before it runs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from quota_sidecar.client import QuotaClient
from quota_sidecar.client.guard import QuotaChecker, make_quota_checker
from quota_sidecar.domain.errors import QuotaExceeded
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig

__all__ = ["ToolExecutor", "main"]


@dataclass
class ToolExecutor:
    """A stand-in for openapi_tools.ToolExecutor: checks the quota, then runs the tool."""

    enableAuditLog: bool = False  # the seed's spelling
    quotaChecker: QuotaChecker | None = None
    audit_log: list[str] = field(default_factory=list)

    async def execute(
        self,
        tool_name: str,
        user_id: str,
        estimated_cost: float,
        tool: Callable[[], Awaitable[Any]],
    ) -> Any:
        if self.quotaChecker is not None:
            await self.quotaChecker(tool_name, user_id, estimated_cost)
        result = await tool()
        if self.enableAuditLog:
            self.audit_log.append(f"{user_id} ran {tool_name} (estimated ${estimated_cost})")
        return result


async def main(target: str, user_id: str = "user-123") -> list[str]:
    """Run the example against the sidecar at `target`; returns the lines it printed."""
    lines: list[str] = []
    token, admin_token = (
        os.environ.get("QUOTA_SIDECAR_DATA_TOKEN"),
        os.environ.get("QUOTA_SIDECAR_ADMIN_TOKEN"),
    )
    async with QuotaClient(target, token=token, admin_token=admin_token) as quota_service:
        quota_service.register_quota(
            QuotaConfig(
                scope=QuotaScope.USER,
                identifier=user_id,
                rate_limits=RateLimitConfig(requests_per_minute=60, requests_per_hour=1000),
                cost_quota=CostQuota(daily_limit=100.0, monthly_limit=2000.0),
            )
        )
        quota_service.register_quota(
            QuotaConfig(
                scope=QuotaScope.TOOL,
                identifier="createIssues",
                rate_limits=RateLimitConfig(requests_per_minute=10, requests_per_hour=100),
                cost_quota=CostQuota(per_request_limit=1.0),
            )
        )

        executor = ToolExecutor(enableAuditLog=True, quotaChecker=make_quota_checker(quota_service))

        async def create_issues() -> str:
            return "issue #42 created"

        for estimated_cost in (0.05, 0.50, 2.00):
            try:
                outcome = await executor.execute(
                    "createIssues", user_id, estimated_cost, create_issues
                )
                line = f"${estimated_cost:.2f}: ran: {outcome}"
            except QuotaExceeded as denied:
                line = f"${estimated_cost:.2f}: denied ({denied.code}): {denied.reason}"
            print(line)
            lines.append(line)
        usage = await quota_service.get_quota_usage(QuotaScope.USER, user_id)
        line = f"requests today for {user_id}: {usage.requests_today}"
        print(line)
        lines.append(line)
    return lines


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1]
            if len(sys.argv) > 1
            else os.environ.get("QUOTA_SIDECAR_TARGET", "127.0.0.1:50051")
        )
    )
