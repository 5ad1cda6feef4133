"""A replica SIGKILLed with a lease slice open: a real sidecar process on the test's Redis
takes a slice, is killed, and the surviving replica (an engine in the test) never over-admits;
the lost slice's capacity returns once its bucket leaves the window."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc

from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.models import QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.engine.leases import LeaseSettings
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.v1 import quota_pb2, types_pb2
from tests.support.engines import engine_factory
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}
CHECK = "/quota_sidecar.v1.QuotaService/CheckQuota"
LIMIT = 100


async def _through_sidecar(target: str, identifier: str, n: int) -> int:
    request = quota_pb2.CheckQuotaRequest(
        subjects=[types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier=identifier)]
    ).SerializeToString()
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(CHECK)
        replies = await asyncio.gather(*(call(request, timeout=10) for _ in range(n)))
    return sum(quota_pb2.CheckQuotaResponse.FromString(r).allowed for r in replies)


async def _counted(engine: QuotaService, subject: Subject) -> int:
    result = await engine.check_quota(subjects=[subject], requests=0)
    return next(s.used for s in result.limits if s.limit.value == "requests_per_minute")


async def _until_denied(engine: QuotaService, subject: Subject) -> int:
    total = 0
    for _ in range(40):
        results = await asyncio.gather(*(engine.check_quota(subjects=[subject]) for _ in range(50)))
        got = sum(r.allowed for r in results)
        total += got
        await engine.rate_limits.leases.flush(everything=True)
        if got == 0:
            return total
    raise AssertionError("checks kept being admitted")


async def test_a_killed_replica_costs_its_open_slice_and_never_over_admits(redis_url: str) -> None:
    clock = ManualClock()
    async with engine_factory(redis_url, clock) as build:
        engine = build()
        engine.rate_limits.leases.settings = LeaseSettings(hot_checks=1)
        config = QuotaConfig(
            scope=QuotaScope.TOOL, identifier=f"crash-{uuid.uuid4().hex[:8]}",
            rate_limits=RateLimitConfig(requests_per_minute=LIMIT), lease="auto",
        )  # fmt: skip
        await engine.put_quota(config)
        subject = config.subject
        with SidecarProcess("--redis-url", redis_url, env=ENV) as sidecar:
            # Hot (the default: 20 checks within a second), so it takes a slice and admits
            # from it; then it dies with the rest of the slice unused.
            admitted_there = await _through_sidecar(sidecar.target, config.identifier, 40)
            assert admitted_there == 40
            clock.set(datetime.now(UTC))
            counted = await _counted(engine, subject)
            assert counted > admitted_there, "the sidecar held no open slice"
            sidecar.kill()
        # The survivor admits exactly what is left beside the lost slice: never more.
        admitted_here = await _until_denied(engine, subject)
        assert admitted_here == LIMIT - counted
        assert admitted_there + admitted_here < LIMIT  # the lost rest: an under-admission
        # Once the killed replica's bucket has left the window, the whole limit is back.
        clock.advance(timedelta(seconds=67))
        assert await _until_denied(engine, subject) == LIMIT
