"""Redis killed and restarted under a running server: health follows the store, checks follow
each quota's failure mode, reads answer UNAVAILABLE, records wait in the spool, and everything
recovers (the spooled records counted exactly once)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.redis_servers import RedisProcess
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

RATES_ONLY = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="rates-open")
BUDGET = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="budget-closed")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def health_becomes(channel: grpc.aio.Channel, status: int, timeout: float = 10.0) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    deadline = asyncio.get_running_loop().time() + timeout
    while (await health.Check(health_pb2.HealthCheckRequest())).status != status:
        assert asyncio.get_running_loop().time() < deadline, f"health never became {status}"
        await asyncio.sleep(0.02)


async def test_redis_down_then_back(disposable_redis: RedisProcess) -> None:
    async with (
        running_sidecar(disposable_redis.url, store_timeout=0.2) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        configs = (
            types_pb2.QuotaConfig(
                subject=RATES_ONLY,
                rate_limits=types_pb2.RateLimits(
                    requests_per_minute=100, failure_mode=types_pb2.FAILURE_MODE_OPEN
                ),
            ),
            types_pb2.QuotaConfig(
                subject=BUDGET,
                cost_quota=types_pb2.CostQuota(
                    daily_limit_nanos=10**9, failure_mode=types_pb2.FAILURE_MODE_CLOSED
                ),
            ),
        )
        for config in configs:
            await admin.PutQuota(
                admin_pb2.PutQuotaRequest(config=config, actor="t"), metadata=ADMIN_METADATA
            )
        for subject in (RATES_ONLY, BUDGET):  # the engine learns (caches) both quotas
            assert (await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[subject]))).allowed
        await health_becomes(channel, SERVING)

        disposable_redis.stop()
        await health_becomes(channel, NOT_SERVING)
        assert s.metrics.value("quota_sidecar_store_up") == 0

        open_check = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[RATES_ONLY]))
        assert open_check.allowed and open_check.decided_without_store

        closed_check = await quota.CheckQuota(
            quota_pb2.CheckQuotaRequest(subjects=[BUDGET], estimated_cost_nanos=1000)
        )
        assert not closed_check.allowed and closed_check.decided_without_store
        assert closed_check.code == quota_pb2.DENIAL_CODE_STORE_UNAVAILABLE

        with pytest.raises(grpc.aio.AioRpcError) as usage_error:
            await quota.GetUsage(quota_pb2.GetUsageRequest(subject=BUDGET))
        assert usage_error.value.code() == grpc.StatusCode.UNAVAILABLE
        # Recorded usage is never lost: it waits in the sidecar's spool on disk.
        for key in ("a", "b", "a"):  # "a" twice: a client retry, to be counted once
            spooled = await quota.RecordUsage(
                quota_pb2.RecordUsageRequest(subjects=[BUDGET], cost_nanos=5, idempotency_key=key)
            )
            assert spooled.spooled and not spooled.recorded
        assert s.metrics.value("quota_sidecar_records_spooled_total") == 3
        assert s.metrics.value("quota_sidecar_spool_bytes") > 0  # read at each scrape
        with pytest.raises(grpc.aio.AioRpcError) as admin_error:
            await admin.GetQuota(admin_pb2.GetQuotaRequest(subject=BUDGET), metadata=ADMIN_METADATA)
        assert admin_error.value.code() == grpc.StatusCode.UNAVAILABLE
        assert (
            s.metrics.value("quota_sidecar_store_errors_total", kind="unavailable")
            + (s.metrics.value("quota_sidecar_store_errors_total", kind="timeout"))
            >= 2
        )

        disposable_redis.start()
        await health_becomes(channel, SERVING)
        assert s.metrics.value("quota_sidecar_store_up") == 1
        # It came back empty (no persistence): the closed budget this sidecar knows is lost, and
        # a lost closed budget is never read as "no quota" (docs: "A store behind a quota").
        lost = await quota.CheckQuota(
            quota_pb2.CheckQuotaRequest(subjects=[BUDGET], estimated_cost_nanos=1000)
        )
        assert (lost.allowed, lost.code, lost.decided_without_store) == (
            False,
            quota_pb2.DENIAL_CODE_STORE_UNAVAILABLE,
            True,
        )
        for config in configs:  # put again, as after any loss of Redis data
            await admin.PutQuota(
                admin_pb2.PutQuotaRequest(config=config, actor="t"), metadata=ADMIN_METADATA
            )
        deadline = asyncio.get_running_loop().time() + 10
        while (
            usage := await quota.GetUsage(quota_pb2.GetUsageRequest(subject=BUDGET))
        ).cost_today_nanos < 10:
            assert asyncio.get_running_loop().time() < deadline, "the spool was not replayed"
            await asyncio.sleep(0.05)
        assert usage.cost_today_nanos == 10  # "a" and "b" once each, the retry of "a" deduped
        # Every spooled line was replayed (the retry of "a" as a duplicate); the spool is empty.
        while s.metrics.value("quota_sidecar_spool_bytes") > 0:
            assert asyncio.get_running_loop().time() < deadline, "the spool was not emptied"
            await asyncio.sleep(0.05)
        assert s.metrics.value("quota_sidecar_records_replayed_total") == 3
        again = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[RATES_ONLY]))
        assert again.allowed and not again.decided_without_store
