"""The seed's README examples, as written, with `from quota import` → `from quota_sidecar
import`. Run on a real Redis named by QUOTA_SIDECAR_REDIS_URL, as QuotaService() reads it."""

from __future__ import annotations

import pytest

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService, RateLimitConfig
from tests.support.seed import QUICK_START_OUTPUT, seed_quick_start


@pytest.fixture(autouse=True)
def _redis_from_environment(any_redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTA_SIDECAR_REDIS_URL", any_redis_url)


async def test_quick_start(capsys: pytest.CaptureFixture[str]) -> None:
    quota_service = await seed_quick_start()
    assert capsys.readouterr().out.splitlines() == QUICK_START_OUTPUT
    usage = await quota_service.get_quota_usage(scope=QuotaScope.USER, identifier="user-123")
    assert [(e.name, e.requests) for e in usage.by_tool_today] == [("createIssues", 1)]
    await quota_service.close()


async def test_configure_tool_quota() -> None:
    quota_service = QuotaService()
    tool_quota = QuotaConfig(
        scope=QuotaScope.TOOL,
        identifier="createIssues",
        rate_limits=RateLimitConfig(
            requests_per_minute=10,  # Respect GitHub API limits
            requests_per_hour=100,
        ),
        cost_quota=CostQuota(
            per_request_limit=1.0  # Max $1 per request
        ),
    )

    quota_service.register_quota(tool_quota)

    over = await quota_service.check_quota(
        scope=QuotaScope.TOOL, identifier="createIssues", estimated_cost=1.01
    )
    assert not over.allowed and over.code == "PER_REQUEST_LIMIT_EXCEEDED"
    allowed = [
        (await quota_service.check_quota(scope=QuotaScope.TOOL, identifier="createIssues")).allowed
        for _ in range(11)
    ]
    assert allowed == [True] * 10 + [False]
    await quota_service.close()


def test_register_quota_without_a_running_loop() -> None:
    """The seed calls register_quota at module level, before any event loop exists."""
    import asyncio

    quota_service = QuotaService()
    quota_service.register_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier="sync-user",
            rate_limits=RateLimitConfig(requests_per_minute=1),
        )
    )

    async def check_twice() -> list[bool]:
        first = await quota_service.check_quota(scope="user", identifier="sync-user")
        second = await quota_service.check_quota(scope="user", identifier="sync-user")
        await quota_service.close()
        return [first.allowed, second.allowed]

    assert asyncio.run(check_twice()) == [True, False]
