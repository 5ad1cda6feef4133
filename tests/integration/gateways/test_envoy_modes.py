"""Envoy's rate limit service in shadow mode (the quota's and the gateway's), with Redis down
(the quotas' failure modes), and across a reload of the quota file's mapping."""

from __future__ import annotations

from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from quota_sidecar.domain.models import QuotaScope, Subject
from tests.integration.gateways.envoy_support import (
    OK,
    OVER_LIMIT,
    descriptor,
    envoy_sidecar,
    metadata,
    request,
    write_quota_file,
)
from tests.integration.server.test_server_redis_outage import health_becomes
from tests.support.redis_servers import RedisProcess
from tests.support.waiting import until

QUOTAS = """
quotas:
  - {scope: user, identifier: shadowed, shadow_mode: true, rate_limits: {requests_per_minute: 1}}
  - {scope: user, identifier: strict, rate_limits: {requests_per_minute: 1}}
  - scope: user
    identifier: closed
    rate_limits: {requests_per_minute: 100, failure_mode: closed}
  - scope: user
    identifier: open
    rate_limits: {requests_per_minute: 100, failure_mode: open}
  - {scope: tenant, identifier: red, rate_limits: {requests_per_minute: 4}}
"""


async def test_a_shadow_quota_answers_ok_with_the_would_be_denial_in_metadata(
    redis_url: str, tmp_path: Path
) -> None:
    config = write_quota_file(tmp_path / "q.yaml", QUOTAS)
    async with envoy_sidecar(redis_url, config) as (_, rls):
        shadowed = request(descriptor(("user_id", "shadowed")))
        first = await rls.ShouldRateLimit(shadowed)
        assert first.overall_code == OK and not first.HasField("dynamic_metadata")
        second = await rls.ShouldRateLimit(shadowed)
        assert second.overall_code == OK and second.statuses[0].code == OK
        assert second.statuses[0].limit_remaining == 0
        why = metadata(second)
        assert why["denied"] is False and why["shadow_mode"] == "quota"
        assert why["denied_subject"] == "user:shadowed"
        assert why["denied_limit"] == "requests_per_minute"
        assert why["over_limit_descriptors"] == [0]
        assert why["reason"].startswith("shadow mode would deny")


async def test_gateway_shadow_mode_answers_ok_and_reports_what_it_would_deny(
    redis_url: str, tmp_path: Path
) -> None:
    config = write_quota_file(tmp_path / "q.yaml", QUOTAS, shadow=True)
    async with envoy_sidecar(redis_url, config) as (sidecar, rls):
        strict = request(descriptor(("user_id", "strict")), descriptor(("user_id", "open")))
        assert (await rls.ShouldRateLimit(strict)).overall_code == OK
        reply = await rls.ShouldRateLimit(strict)
        assert reply.overall_code == OK
        assert [s.code for s in reply.statuses] == [OK, OK]
        assert reply.statuses[0].limit_remaining == 0
        why = metadata(reply)
        assert why["denied"] is False and why["shadow_mode"] == "gateway"
        assert why["code"] == "RATE_LIMITED" and why["denied_subject"] == "user:strict"
        assert why["over_limit_descriptors"] == [0]
        # The engine denied the check, so nothing of it was counted.
        usage = await sidecar.service.get_usage(Subject(QuotaScope.USER, "open"))
        assert usage.requests_last_minute == 1


async def test_redis_down_follows_the_quotas_failure_modes(
    disposable_redis: RedisProcess, tmp_path: Path
) -> None:
    config = write_quota_file(tmp_path / "q.yaml", QUOTAS)
    async with envoy_sidecar(disposable_redis.url, config, store_timeout=0.2) as (sidecar, rls):
        closed = request(descriptor(("user_id", "closed")))
        opened = request(descriptor(("user_id", "open")))
        for call in (closed, opened):  # the engine now knows both quotas
            assert (await rls.ShouldRateLimit(call)).overall_code == OK
        disposable_redis.stop()
        async with grpc.aio.insecure_channel(sidecar.target) as channel:
            await health_becomes(channel, health_pb2.HealthCheckResponse.NOT_SERVING)
        denied = await rls.ShouldRateLimit(closed)
        assert denied.overall_code == OVER_LIMIT and denied.statuses[0].code == OVER_LIMIT
        why = metadata(denied)
        assert why["decided_without_store"] is True and why["denied"] is True
        assert why["code"] == "STORE_UNAVAILABLE" and why["denied_subject"] == "user:closed"
        allowed = await rls.ShouldRateLimit(opened)
        assert allowed.overall_code == OK and allowed.statuses[0].code == OK
        assert metadata(allowed) == {"decided_without_store": True}
        # Both at once: one check, and the closed quota decides it.
        both = await rls.ShouldRateLimit(
            request(descriptor(("user_id", "open")), descriptor(("user_id", "closed")))
        )
        assert [s.code for s in both.statuses] == [OK, OVER_LIMIT]


async def test_a_reloaded_quota_file_changes_the_mapping(redis_url: str, tmp_path: Path) -> None:
    config = write_quota_file(tmp_path / "q.yaml", QUOTAS)
    async with envoy_sidecar(redis_url, config) as (sidecar, rls):
        team = request(descriptor(("team", "red")))
        reply = await rls.ShouldRateLimit(team)
        assert reply.overall_code == OK and not reply.statuses[0].HasField("current_limit")
        reloads = sidecar.metrics.value("quota_sidecar_config_reloads_total")
        text = config.read_text().replace(
            "          - {key: user_id, scope: user}\n",
            "          - {key: user_id, scope: user}\n          - {key: team, scope: tenant}\n",
            1,
        )
        config.write_text(text)
        await until(
            lambda: sidecar.metrics.value("quota_sidecar_config_reloads_total") > reloads,
            "the quota file was not reloaded",
        )
        reply = await rls.ShouldRateLimit(team)
        assert reply.statuses[0].current_limit.requests_per_unit == 4
        assert reply.statuses[0].limit_remaining == 3
