"""Redis stopped, killed and restarted under load through a running server, and a sidecar
killed with records in its spool: every acknowledged record (recorded or spooled) counts
exactly once, health follows the store's state, and nothing is double counted."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.integration.server.test_server_redis_outage import health_becomes
from tests.support.redis_servers import RedisProcess
from tests.support.sidecar import ADMIN_METADATA, ADMIN_TOKEN, SidecarProcess, running_sidecar
from tests.support.waiting import until

SPENDER = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="spender")
RATES = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="rates")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
NANOS = 1_000_000  # each record: $0.001


class DurableRedis(RedisProcess):
    """A redis-server that writes every change to its AOF before answering, so a kill -9 and a
    restart on the same dir lose nothing it acknowledged."""

    def _options(self) -> list[str]:
        return [*super()._options()[:-4], "--dir", str(self.dir), "--appendonly", "yes",
                "--appendfsync", "always"]  # fmt: skip


async def _record_until_acknowledged(
    quota: quota_pb2_grpc.QuotaServiceStub, key: str, acknowledged: set[str]
) -> None:
    request = quota_pb2.RecordUsageRequest(
        subjects=[SPENDER], cost_nanos=NANOS, idempotency_key=key
    )
    while True:
        try:
            reply = await quota.RecordUsage(request, timeout=30)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
            await asyncio.sleep(0.02)
            continue
        assert reply.recorded or reply.duplicate or reply.spooled
        assert reply.idempotency_key == key
        acknowledged.add(key)
        return


async def _cost(quota: quota_pb2_grpc.QuotaServiceStub) -> int:
    usage = await quota.GetUsage(quota_pb2.GetUsageRequest(subject=SPENDER), timeout=10)
    return int(usage.cost_today_nanos)


async def _cost_becomes(quota: quota_pb2_grpc.QuotaServiceStub, nanos: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if await _cost(quota) == nanos:
                return
        except grpc.aio.AioRpcError:
            pass  # still coming back
        assert time.monotonic() < deadline, "the spool was not replayed"
        await asyncio.sleep(0.05)


async def test_redis_killed_and_restarted_mid_load_counts_each_acknowledged_record_once(
    tmp_path: Path,
) -> None:
    redis_server = DurableRedis().start()
    try:
        async with (
            running_sidecar(redis_server.url, store_timeout=0.1, data_dir=tmp_path) as s,
            grpc.aio.insecure_channel(s.target) as channel,
        ):
            quota = quota_pb2_grpc.QuotaServiceStub(channel)
            acknowledged: set[str] = set()
            sender = asyncio.gather(
                *(_record_until_acknowledged(quota, f"k{i}", acknowledged) for i in range(1500))
            )
            await asyncio.sleep(0.3)  # mid-load
            redis_server.stop()  # kill -9
            await health_becomes(channel, NOT_SERVING)
            await asyncio.sleep(0.2)
            redis_server.start()
            await sender
            assert len(acknowledged) == 1500
            await health_becomes(channel, SERVING)
            await _cost_becomes(quota, 1500 * NANOS)
            await asyncio.sleep(0.5)  # another replay pass: still exactly once
            assert await _cost(quota) == 1500 * NANOS
    finally:
        redis_server.cleanup()


async def test_redis_sigstopped_under_load_flips_health_and_counts_nothing_twice(
    disposable_redis: RedisProcess,
) -> None:
    assert disposable_redis.process is not None
    pid = disposable_redis.process.pid
    async with (
        running_sidecar(disposable_redis.url, store_timeout=0.1) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        config = types_pb2.QuotaConfig(
            subject=RATES, rate_limits=types_pb2.RateLimits(requests_per_minute=1_000_000)
        )
        await admin.PutQuota(
            admin_pb2.PutQuotaRequest(config=config, actor="t"), metadata=ADMIN_METADATA
        )
        replies: list[quota_pb2.CheckQuotaResponse] = []
        running = True

        async def load() -> None:
            while running:
                replies.append(
                    await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[RATES]))
                )

        workers = [asyncio.create_task(load()) for _ in range(20)]
        await until(lambda: len(replies) >= 200, "no load")
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            await health_becomes(channel, NOT_SERVING)
            print(f"health NOT_SERVING {1000 * (time.monotonic() - started):.0f} ms after SIGSTOP")
            await until(
                lambda: any(r.decided_without_store for r in replies), "no failure-mode decision"
            )
        finally:
            os.kill(pid, signal.SIGCONT)
        await health_becomes(channel, SERVING)
        running = False
        await asyncio.gather(*workers)
        await until(lambda: not s.service.rate_limits.undos_pending, "undos were not sent")
        by_store = sum(1 for r in replies if r.allowed and not r.decided_without_store)
        usage = await quota.GetUsage(quota_pb2.GetUsageRequest(subject=RATES))
        assert usage.requests_last_minute == by_store  # lost replies were undone


def test_a_sidecar_killed_with_spooled_records_replays_each_once(tmp_path: Path) -> None:
    redis_server = RedisProcess().start()
    env = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}
    args = (
        "--redis-url",
        redis_server.url,
        "--data-dir",
        str(tmp_path),
        "--store-timeout-ms",
        "100",
    )
    try:
        with SidecarProcess(*args, env=env) as first:
            redis_server.stop()
            with grpc.insecure_channel(first.target) as channel:
                quota = quota_pb2_grpc.QuotaServiceStub(channel)
                for i in range(50):
                    request = quota_pb2.RecordUsageRequest(
                        subjects=[SPENDER], cost_nanos=NANOS, idempotency_key=f"s{i}"
                    )
                    reply = quota.RecordUsage(request, timeout=10)
                    assert reply.spooled, reply
            first.process.kill()  # type: ignore[union-attr]  # SIGKILL, spool on disk
            first.process.wait()  # type: ignore[union-attr]
        redis_server.start()
        with SidecarProcess(*args, env=env) as second:
            with grpc.insecure_channel(second.target) as channel:
                quota = quota_pb2_grpc.QuotaServiceStub(channel)
                deadline = time.monotonic() + 30
                while True:
                    try:
                        usage = quota.GetUsage(
                            quota_pb2.GetUsageRequest(subject=SPENDER), timeout=5
                        )
                        if usage.cost_today_nanos == 50 * NANOS:
                            break
                    except grpc.RpcError:
                        pass
                    assert time.monotonic() < deadline, "the dead sidecar's spool was not replayed"
                    time.sleep(0.05)
                time.sleep(0.5)
                usage = quota.GetUsage(quota_pb2.GetUsageRequest(subject=SPENDER), timeout=5)
                assert usage.cost_today_nanos == 50 * NANOS
            assert second.terminate() == 0
    finally:
        redis_server.cleanup()
