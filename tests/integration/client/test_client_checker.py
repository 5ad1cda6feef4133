"""The ToolExecutor quota checker, over gRPC and in-process, and the runnable example."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

from quota_sidecar.client.guard import QuotaApi, make_quota_checker
from quota_sidecar.domain.errors import QuotaExceeded
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.server.app import Sidecar

from .conftest import ADMIN_TOKEN, DATA_TOKEN

EXAMPLE = Path(__file__).parents[3] / "examples" / "python" / "tool_executor.py"


@pytest.fixture
async def in_process(redis_url: str) -> AsyncIterator[QuotaService]:
    service = QuotaService(redis_url)
    yield service
    await service.close()


@pytest.fixture(params=["client", "service"])
def api(request: pytest.FixtureRequest) -> QuotaApi:
    """The same checker code against the remote client and the in-process engine."""
    chosen: QuotaApi = request.getfixturevalue(
        "client" if request.param == "client" else "in_process"
    )
    return chosen


async def register(api: QuotaApi, config: QuotaConfig) -> None:
    await api.register_quota(config)  # type: ignore[attr-defined]


async def test_checker_allows_then_raises_with_the_reason(api: QuotaApi, user_id: str) -> None:
    await register(api, QuotaConfig(QuotaScope.USER, user_id, cost_quota=CostQuota(daily_limit=1)))
    check_quota = make_quota_checker(api)

    allowed = await check_quota("createIssues", user_id, 0.6)
    assert allowed.allowed and allowed.reason == ""
    await api.record_usage("user", user_id, cost=0.6)

    with pytest.raises(QuotaExceeded) as denied:
        await check_quota("createIssues", user_id, 0.6)
    assert denied.value.code == "BUDGET_EXHAUSTED"
    assert str(denied.value) == denied.value.reason != ""
    assert isinstance(denied.value, Exception)  # what the seed's executor expects to catch


async def test_checker_applies_the_tool_quota_too(api: QuotaApi, user_id: str) -> None:
    await register(
        api,
        QuotaConfig(QuotaScope.TOOL, "createIssues", cost_quota=CostQuota(per_request_limit=1.0)),
    )
    check_quota = make_quota_checker(api)
    assert (await check_quota("createIssues", user_id, 1.0)).allowed
    with pytest.raises(QuotaExceeded) as denied:
        await check_quota("createIssues", user_id, 1.5)
    assert denied.value.code == "PER_REQUEST_LIMIT_EXCEEDED"
    # With check_tool=False only the user is checked, as in the seed's snippet.
    user_only = make_quota_checker(api, check_tool=False)
    assert (await user_only("createIssues", user_id, 1.5)).allowed


async def test_checker_rate_limit_counts_only_admitted_calls(api: QuotaApi, user_id: str) -> None:
    await register(api, QuotaConfig(QuotaScope.USER, user_id, rate_limits=RateLimitConfig(3)))
    check_quota = make_quota_checker(api)
    outcomes = []
    for _ in range(5):
        try:
            await check_quota("search", user_id, 0.01)
            outcomes.append("ran")
        except QuotaExceeded as denied:
            outcomes.append(denied.code)
    assert outcomes == ["ran", "ran", "ran", "RATE_LIMITED", "RATE_LIMITED"]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tool_executor_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


async def test_the_tool_executor_example_runs(
    sidecar: Sidecar, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUOTA_SIDECAR_DATA_TOKEN", DATA_TOKEN)
    monkeypatch.setenv("QUOTA_SIDECAR_ADMIN_TOKEN", ADMIN_TOKEN)
    example = load_example()
    lines = await example.main(sidecar.target, user_id)
    assert lines[0] == "$0.05: ran: issue #42 created"
    assert lines[1] == "$0.50: ran: issue #42 created"
    assert lines[2].startswith("$2.00: denied (PER_REQUEST_LIMIT_EXCEEDED): ")
    assert lines[3] == f"requests today for {user_id}: 2"
