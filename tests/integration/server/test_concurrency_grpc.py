"""max_concurrent through the server: guards on two sidecar processes sharing one Redis never
run more blocks at once than the limit, and every slot is free afterwards."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.errors import InvalidInput, QuotaExceeded
from quota_sidecar.domain.models import (
    CostQuota,
    DenialCode,
    LimitKind,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
)
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess, running_sidecar

ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}
SLOTS = 5
GUARDS = 200


class Boom(Exception):
    """What a guarded block raises, to show its slot is released too."""


def _quota(user: str, slots: int) -> QuotaConfig:
    return QuotaConfig(
        QuotaScope.USER,
        user,
        rate_limits=RateLimitConfig(max_concurrent=slots),
        cost_quota=CostQuota(daily_limit=1000),
    )


async def _open_slots(client: QuotaClient, user: str) -> int:
    usage = await client.get_quota_usage("user", user)
    (status,) = [s for s in usage.limits if s.limit is LimitKind.MAX_CONCURRENT]
    return status.used


def test_guards_on_two_sidecars_never_run_more_than_max_concurrent(redis_url: str) -> None:
    args = ("--redis-url", redis_url)
    with SidecarProcess(*args, env=ENV) as one, SidecarProcess(*args, env=ENV) as two:
        asyncio.run(_guards_through(one.target, two.target))
        assert one.terminate() == 0 and two.terminate() == 0


async def _guards_through(first: str, second: str) -> None:
    user = "concurrent-guards"
    async with (
        QuotaClient(first, admin_token=ADMIN_TOKEN) as a,
        QuotaClient(second, admin_token=ADMIN_TOKEN) as b,
    ):
        await a.register_quota(_quota(user, SLOTS))
        running = peak = ran = raised = denials = 0

        async def one_guard(i: int, client: QuotaClient) -> None:
            nonlocal running, peak, ran, raised, denials
            # Each guard tries until it gets a slot, so every one of the 200 blocks runs.
            for _ in range(2_000):
                try:
                    async with client.guard(
                        user_id=user, tool_name="work", estimated_cost="0.001"
                    ) as g:
                        # The work of the block: its slot is held until record() settles
                        # the hold (or the block ends), so that is what is counted.
                        running += 1
                        peak = max(peak, running)
                        try:
                            await asyncio.sleep(0.002)  # overlap with the other blocks
                            if i % 7 == 0:
                                raise Boom(i)  # released by the guard, never settled
                        finally:
                            running -= 1
                            ran += 1
                        await g.record(cost="0.001")
                    return
                except Boom:
                    raised += 1
                    return
                except QuotaExceeded as denied:
                    assert denied.code == DenialCode.CONCURRENCY_LIMITED.value, denied.reason
                    denials += 1
                    await asyncio.sleep(random.uniform(0.001, 0.01))
            raise AssertionError(f"guard {i} never got a slot")

        await asyncio.gather(*(one_guard(i, a if i % 2 else b) for i in range(GUARDS)))
        print(f"peak {peak} of {SLOTS}, {denials} denials on the way")
        assert peak <= SLOTS
        assert ran == GUARDS and raised == len(range(0, GUARDS, 7))
        assert denials > 0  # the limit did bind
        assert await _open_slots(a, user) == 0
        usage = await b.get_quota_usage("user", user)
        assert usage.held_nanos == 0
        settled = GUARDS - raised
        assert usage.cost_today_nanos == settled * 1_000_000  # $0.001 each, exactly


async def test_max_concurrent_over_grpc_and_in_process(redis_url: str) -> None:
    async with (
        running_sidecar(redis_url) as sidecar,
        QuotaClient(sidecar.target, admin_token=ADMIN_TOKEN) as client,
    ):
        user = "grpc-slots"
        await client.register_quota(_quota(user, 1))
        stored = await client.get_quota(Subject(QuotaScope.USER, user))
        assert stored is not None and stored.rate_limits.max_concurrent == 1
        held = await client.check_quota(
            "user", user, reserve=True, reservation_lease=timedelta(seconds=40)
        )
        assert held.allowed and held.reservation_id
        denied = await client.check_quota("user", user, reserve=True)
        assert not denied.allowed
        assert denied.code is DenialCode.CONCURRENCY_LIMITED
        assert denied.denied_limit is LimitKind.MAX_CONCURRENT
        assert denied.retry_after is not None
        assert timedelta(0) < denied.retry_after <= timedelta(seconds=40)
        # The same limit, in process, on the sidecar's own engine.
        local = await sidecar.service.check_quota("user", user, reserve=True)
        assert local.code is DenialCode.CONCURRENCY_LIMITED
        assert await client.release_reservation(held.reservation_id)
        assert (await client.check_quota("user", user, reserve=True)).allowed


def test_a_negative_max_concurrent_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        RateLimitConfig(max_concurrent=-1)
    assert refused.value.field == "rate_limits.max_concurrent"


async def test_weekly_and_lifetime_budgets_over_grpc(redis_url: str) -> None:
    async with (
        running_sidecar(redis_url) as sidecar,
        QuotaClient(sidecar.target, admin_token=ADMIN_TOKEN) as client,
    ):
        config = QuotaConfig(
            QuotaScope.TENANT,
            "grpc-weekly",
            cost_quota=CostQuota(weekly_limit=3, lifetime_limit=5, week_start="sunday"),
        )
        await client.register_quota(config)
        stored = await client.get_quota(Subject(QuotaScope.TENANT, "grpc-weekly"))
        assert stored is not None
        assert stored.cost_quota.week_start == "sunday"
        assert (stored.cost_quota.weekly_limit, stored.cost_quota.lifetime_limit) == (3, 5)
        await client.record_usage("tenant", "grpc-weekly", cost="2.5", idempotency_key="g1")
        denied = await client.check_quota("tenant", "grpc-weekly", estimated_cost=1)
        assert denied.code is DenialCode.BUDGET_EXHAUSTED
        assert denied.denied_limit is LimitKind.COST_WEEKLY
        usage = await client.get_quota_usage("tenant", "grpc-weekly")
        assert usage.cost_this_week_nanos == usage.cost_lifetime_nanos == 2_500_000_000
        assert usage.week_resets_at is not None and usage.week_resets_at.weekday() == 6
        local = await sidecar.service.get_usage(Subject(QuotaScope.TENANT, "grpc-weekly"))
        assert local.cost_lifetime_nanos == 2_500_000_000
