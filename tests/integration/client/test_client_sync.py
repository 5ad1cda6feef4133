"""SyncQuotaClient, and register_quota called with no event loop at all.

The sidecar runs in the test's event loop, so the blocking calls run in a worker thread
(asyncio.to_thread) — exactly the situation of a caller without an event loop.
"""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest

from quota_sidecar.client import QuotaClient
from quota_sidecar.client.sync import SyncQuotaClient
from quota_sidecar.domain.errors import InvalidInput, QuotaExceeded
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.server.app import Sidecar

from .conftest import ADMIN_TOKEN, DATA_TOKEN


def run_the_seed_synchronously(target: str, user_id: str) -> dict[str, object]:
    with SyncQuotaClient(target, token=DATA_TOKEN, admin_token=ADMIN_TOKEN) as quota:
        stored = quota.register_quota(
            QuotaConfig(
                QuotaScope.USER,
                user_id,
                rate_limits=RateLimitConfig(requests_per_minute=60),
                cost_quota=CostQuota(daily_limit=1.0),
            )
        )
        allowed = quota.check_quota(scope=QuotaScope.USER, identifier=user_id, estimated_cost=0.05)
        quota.record_usage(scope="user", identifier=user_id, cost=0.05, provider="openai")
        with quota.guard(user_id=user_id, tool_name="search", estimated_cost=0.5) as g:
            held = quota.get_quota_usage("user", user_id).held
            g.record(cost=0.25)
        denied = None
        try:
            with quota.guard(user_id=user_id, tool_name="search", estimated_cost=5):
                pass
        except QuotaExceeded as exc:
            denied = exc.code
        try:
            quota.check_quota("user", "")
        except InvalidInput as exc:
            bad_field = exc.field
        usage = quota.get_quota_usage("user", user_id)
        alerts = quota.subscribe_alerts(identifiers=[user_id], cursor="0")
        first_alert = next(alerts)
        alerts.close()
    return {
        "version": stored.version,
        "allowed": allowed.allowed,
        "held": held,
        "denied": denied,
        "bad_field": bad_field,
        "cost_today": usage.cost_today,
        "requests_today": usage.requests_today,
        "alert": (first_alert.kind, first_alert.subject.identifier),
        "threads_left": [t.name for t in threading.enumerate() if t.name == "quota-sidecar-client"],
    }


async def test_sync_client_runs_the_seed_flow(sidecar: Sidecar, user_id: str) -> None:
    out = await asyncio.to_thread(run_the_seed_synchronously, sidecar.target, user_id)
    assert out["version"] == 1
    assert out["allowed"] is True
    assert out["held"] == Decimal("0.5")
    assert out["denied"] == "BUDGET_EXHAUSTED"
    assert out["bad_field"] == "identifier"
    assert out["cost_today"] == Decimal("0.30")
    assert out["requests_today"] == 2  # the denied guard consumed nothing
    assert out["alert"] == (AlertKind.QUOTA_CHANGED, user_id)
    assert out["threads_left"] == []  # close() stopped the background loop


async def test_sync_client_refuses_calls_after_close(sidecar: Sidecar) -> None:
    def use_after_close() -> None:
        quota = SyncQuotaClient(sidecar.target, token=DATA_TOKEN)
        quota.close()
        quota.close()  # idempotent
        quota.check_quota("user", "u1")

    with pytest.raises(RuntimeError, match="closed"):
        await asyncio.to_thread(use_after_close)


async def test_register_quota_without_an_event_loop_blocks_until_stored(
    sidecar: Sidecar, user_id: str
) -> None:
    client = QuotaClient(sidecar.target, token=DATA_TOKEN, admin_token=ADMIN_TOKEN)
    config = QuotaConfig(QuotaScope.USER, user_id, rate_limits=RateLimitConfig(1))

    def register_in_a_plain_thread() -> None:
        client.register_quota(config)  # no loop in this thread: made before returning

    await asyncio.to_thread(register_in_a_plain_thread)
    stored = await client.register_quota(config)  # the awaitable form, in the loop
    assert stored.version == 2  # the blocking put really happened first
    assert (await client.check_quota("user", user_id)).allowed
    assert not (await client.check_quota("user", user_id)).allowed
    await client.close()
