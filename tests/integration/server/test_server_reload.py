"""The quota file is applied at start and again on change; a bad file is rejected, counted, and
the last good config stays in force."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from quota_sidecar.config import CONFIG_ACTOR
from quota_sidecar.domain.models import Subject
from tests.support.sidecar import running_sidecar

ALICE, BOB, CAROL = (Subject.parse(f"user:{n}") for n in ("alice", "bob", "carol"))


def quota(name: str, per_minute: int) -> str:
    limits = f"{{requests_per_minute: {per_minute}}}"
    return f"  - scope: user\n    identifier: {name}\n    rate_limits: {limits}\n"


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll for an asynchronous effect (the watcher runs on its own task)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_good_change_is_applied_and_a_bad_one_is_rejected(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text("quotas:\n" + quota("alice", 60) + quota("bob", 5) + "webhooks: []\n")
    async with running_sidecar(redis_url, config_path=path) as s:
        service, metrics = s.service, s.metrics
        alice = await service.get_quota(ALICE)
        assert alice is not None and alice.rate_limits.requests_per_minute == 60
        assert await service.get_quota(BOB) is not None
        assert metrics.value("quota_sidecar_config_reloads_total") == 1

        # Change alice, drop bob, add carol.
        path.write_text("quotas:\n" + quota("alice", 30) + quota("carol", 7))

        async def applied() -> bool:
            return (
                await service.get_quota(CAROL) is not None and await service.get_quota(BOB) is None
            )

        await until(applied)
        alice = await service.get_quota(ALICE)
        assert alice is not None and alice.rate_limits.requests_per_minute == 30
        assert metrics.value("quota_sidecar_config_reloads_total") == 2
        events, _ = await service.list_audit_events(ALICE)
        assert events and all(e.actor == CONFIG_ACTOR for e in events)

        # A bad file: rejected, counted once, and the last good config stays.
        path.write_text("quotas:\n" + quota("alice", -1))

        async def rejected() -> bool:
            name = "quota_sidecar_config_reload_errors_total"
            return metrics.value(name, reason="invalid") == 1

        await until(rejected)
        alice = await service.get_quota(ALICE)
        assert alice is not None and alice.rate_limits.requests_per_minute == 30
        assert await service.get_quota(CAROL) is not None
        assert metrics.value("quota_sidecar_config_reloads_total") == 2

        # Fixed again: applied again.
        path.write_text("quotas:\n" + quota("alice", 10) + quota("carol", 7))

        async def fixed() -> bool:
            config = await service.get_quota(ALICE)
            return config is not None and config.rate_limits.requests_per_minute == 10

        await until(fixed)

        async def counted() -> bool:  # the reload is counted once all of it is applied
            return metrics.value("quota_sidecar_config_reloads_total") >= 3

        await until(counted)
        assert metrics.value("quota_sidecar_config_reloads_total") == 3
        assert metrics.value("quota_sidecar_config_reload_errors_total", reason="invalid") == 1


async def test_unchanged_quotas_are_not_rewritten(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text("quotas:\n" + quota("alice", 60))
    async with running_sidecar(redis_url, config_path=path) as s:
        before = await s.service.get_quota(ALICE)
        path.write_text("quotas:\n" + quota("alice", 60) + quota("bob", 5))

        async def bob_exists() -> bool:
            return await s.service.get_quota(BOB) is not None

        await until(bob_exists)
        after = await s.service.get_quota(ALICE)
        assert before is not None and after is not None
        assert after.version == before.version  # no churn of versions, audit or alerts


async def test_quotas_made_through_the_admin_api_survive_reloads(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "quotas.yaml"
    path.write_text("quotas:\n" + quota("alice", 60))
    async with running_sidecar(redis_url, config_path=path) as s:
        from quota_sidecar.domain.models import QuotaConfig, RateLimitConfig

        await s.service.put_quota(
            QuotaConfig("user", "bob", rate_limits=RateLimitConfig(requests_per_minute=1)),
            actor="ops",
        )
        path.write_text("quotas: []\n")

        async def alice_gone() -> bool:
            return await s.service.get_quota(ALICE) is None

        await until(alice_gone)
        assert await s.service.get_quota(BOB) is not None
