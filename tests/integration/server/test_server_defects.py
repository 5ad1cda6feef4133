"""The server under hostile load and input: a flood is shed with RESOURCE_EXHAUSTED (never
CANCELLED) while health, admin calls and alert streams carry on; oversized metadata is always
refused; undecodable request bytes are INVALID_ARGUMENT, never INTERNAL."""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import Awaitable, Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.redis_servers import RedisProcess
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")
CHECK = quota_pb2.CheckQuotaRequest(subjects=[ALICE])


async def outcome(call: Awaitable[object]) -> str:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code().name
    return "OK"


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def side_calls(channel: grpc.aio.Channel) -> list[str]:
    """A health check and an admin call, as a probe and an operator would make them."""
    health = health_pb2_grpc.HealthStub(channel)
    admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
    return list(
        await asyncio.gather(
            outcome(health.Check(health_pb2.HealthCheckRequest(), timeout=60)),
            outcome(
                admin.ListQuotas(admin_pb2.ListQuotasRequest(), metadata=ADMIN_METADATA, timeout=60)
            ),
        )
    )


# --- 1. overload -----------------------------------------------------------------------------
async def test_a_flood_of_3000_checks_is_answered_ok_or_resource_exhausted(redis_url: str) -> None:
    async with (
        running_sidecar(redis_url) as sidecar,  # the default --max-concurrent-rpcs (1000)
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        config = types_pb2.QuotaConfig(subject=ALICE)
        await admin.PutQuota(
            admin_pb2.PutQuotaRequest(config=config, actor="t"), metadata=ADMIN_METADATA
        )
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        flood = [
            asyncio.ensure_future(outcome(quota.CheckQuota(CHECK, timeout=120)))
            for _ in range(3000)
        ]
        during = await side_calls(channel)
        codes = collections.Counter(await asyncio.gather(*flood))
    assert during == ["OK", "OK"]
    assert sum(codes.values()) == 3000
    assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}, codes
    assert codes["OK"] > 0


async def test_calls_past_the_limit_are_shed_while_health_admin_and_streams_go_on(
    disposable_redis: RedisProcess,
) -> None:
    limit = 5
    async with (
        running_sidecar(
            disposable_redis.url, max_concurrent_rpcs=limit, store_timeout=30.0, health_interval=60
        ) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        # Open alert streams: more of them than the limit, and they never count against it.
        streams = [quota.StreamAlerts(quota_pb2.StreamAlertsRequest()) for _ in range(limit + 3)]
        await until(lambda: sidecar.metrics.value("quota_sidecar_streams_open") == limit + 3)
        assert await outcome(quota.CheckQuota(CHECK, timeout=30)) == "OK"
        process = disposable_redis.process
        assert process is not None
        process.send_signal(signal.SIGSTOP)  # the admitted calls now wait on Redis
        try:
            held = [
                asyncio.ensure_future(outcome(quota.CheckQuota(CHECK, timeout=60)))
                for _ in range(limit)
            ]
            await until(lambda: sidecar.metrics.value("quota_sidecar_rpcs_in_flight") == limit)
            shed = await asyncio.gather(
                *(outcome(quota.CheckQuota(CHECK, timeout=30)) for _ in range(100))
            )
            health = health_pb2_grpc.HealthStub(channel)
            probe = await outcome(health.Check(health_pb2.HealthCheckRequest(), timeout=30))
        finally:
            process.send_signal(signal.SIGCONT)
        assert collections.Counter(shed) == {"RESOURCE_EXHAUSTED": 100}
        assert probe == "OK"
        assert await asyncio.gather(*held) == ["OK"] * limit
        assert await side_calls(channel) == ["OK", "OK"]
        assert (
            sidecar.metrics.value(
                "quota_sidecar_rpcs_total", method="CheckQuota", code="RESOURCE_EXHAUSTED"
            )
            == 100
        )
        for stream in streams:
            stream.cancel()


async def test_the_overload_status_says_to_retry(disposable_redis: RedisProcess) -> None:
    async with (
        running_sidecar(disposable_redis.url, max_concurrent_rpcs=1, store_timeout=30.0) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        assert disposable_redis.process is not None
        disposable_redis.process.send_signal(signal.SIGSTOP)
        try:
            held = asyncio.ensure_future(outcome(quota.CheckQuota(CHECK, timeout=60)))
            await until(lambda: s.metrics.value("quota_sidecar_rpcs_in_flight") == 1)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await quota.CheckQuota(CHECK, timeout=30)
        finally:
            disposable_redis.process.send_signal(signal.SIGCONT)
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "overloaded" in (caught.value.details() or "")
        assert "retry" in (caught.value.details() or "")
        assert await held == "OK"


# --- 2. metadata -----------------------------------------------------------------------------
async def test_metadata_over_the_limit_is_always_refused(redis_url: str) -> None:
    async with (
        running_sidecar(redis_url, max_metadata_bytes=16 * 1024) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        quota = quota_pb2_grpc.QuotaServiceStub(channel)

        async def with_header(size: int) -> str:
            metadata = (("x-padding", "a" * size),)
            return await outcome(quota.CheckQuota(CHECK, metadata=metadata, timeout=30))

        under = [await with_header(12 * 1024) for _ in range(20)]
        # Between gRPC's soft and default hard limit a soft-only limit lets some through.
        over = [await with_header(17 * 1024) for _ in range(20)]
        far_over = [await with_header(64 * 1024) for _ in range(5)]
    assert under == ["OK"] * 20
    assert over == ["RESOURCE_EXHAUSTED"] * 20
    assert far_over == ["RESOURCE_EXHAUSTED"] * 5


# --- 3. undecodable requests -----------------------------------------------------------------
BAD_BYTES = {
    "truncated varint": b"\x08",
    "wrong wire type": b"\x0a\x05\x08",
    "length past the end": b"\x0a\xff\xff\xff\x0f",
    "invalid utf-8 in a string": b"\x0a\x06\x08\x01\x12\x02\xff\xfe",
}
INVALID_UTF8_TOOL_NAME = b"\x22\x02\xc3\x28"  # CheckQuotaRequest.tool_name


def raw_call(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(
        method, request_serializer=lambda b: b, response_deserializer=lambda b: b
    )


@pytest.mark.parametrize("payload", BAD_BYTES.values(), ids=BAD_BYTES.keys())
async def test_undecodable_request_bytes_are_invalid_argument(
    redis_url: str, payload: bytes
) -> None:
    async with (
        running_sidecar(redis_url) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        for method in (
            "/quota_sidecar.v1.QuotaService/CheckQuota",
            "/quota_sidecar.v1.QuotaService/RecordUsage",
            "/quota_sidecar.v1.QuotaService/GetUsage",
            "/quota_sidecar.v1.QuotaAdminService/PutQuota",
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await raw_call(channel, method)(payload, metadata=ADMIN_METADATA, timeout=30)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, method
            assert "request" in (caught.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            check = raw_call(channel, "/quota_sidecar.v1.QuotaService/CheckQuota")
            await check(INVALID_UTF8_TOOL_NAME, timeout=30)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        stream = channel.unary_stream(
            "/quota_sidecar.v1.QuotaService/StreamAlerts",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )(b"\x08")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stream:
                pass
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert _internal_answers(sidecar) == 0
        # The server is fine afterwards: a good request still works.
        good = raw_call(channel, "/quota_sidecar.v1.QuotaService/CheckQuota")
        assert await good(CHECK.SerializeToString(), timeout=30)


def _internal_answers(sidecar: Sidecar) -> float:
    return sum(
        sidecar.metrics.value("quota_sidecar_rpcs_total", method=m, code="INTERNAL")
        for m in ("CheckQuota", "RecordUsage", "GetUsage", "PutQuota", "StreamAlerts")
    )
