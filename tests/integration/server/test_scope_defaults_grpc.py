"""Scope defaults (`identifier: "*"`, "*@<tenant>") through real servers on port 0 and a real
Redis: every identifier without a quota of its own has the default, each with its own usage;
the own quota wins; a changed default binds at once on every replica; tenants' defaults."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc
import pytest

from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

DOLLAR = 1_000_000_000
USER = types_pb2.SCOPE_USER
TENANT = types_pb2.SCOPE_TENANT
Stubs = tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub]
RPM = types_pb2.LIMIT_KIND_REQUESTS_PER_MINUTE
COST_DAILY = types_pb2.LIMIT_KIND_COST_DAILY


@contextlib.asynccontextmanager
async def _stubs(
    sidecar: Sidecar,
) -> AsyncIterator[tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub]]:
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        yield (
            quota_pb2_grpc.QuotaServiceStub(channel),
            admin_pb2_grpc.QuotaAdminServiceStub(channel),
        )


@pytest.fixture
async def replicas(
    redis_url: str,
) -> AsyncIterator[
    list[tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub]]
]:
    async with (
        running_sidecar(redis_url) as one,
        running_sidecar(redis_url) as two,
        _stubs(one) as first,
        _stubs(two) as second,
    ):
        yield [first, second]


def _user(identifier: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=USER, identifier=identifier)


def _config(
    identifier: str, *, per_minute: int | None = None, daily_dollars: int | None = None
) -> types_pb2.QuotaConfig:
    return types_pb2.QuotaConfig(
        subject=_user(identifier),
        rate_limits=types_pb2.RateLimits(requests_per_minute=per_minute),
        cost_quota=types_pb2.CostQuota(
            daily_limit_nanos=None if daily_dollars is None else daily_dollars * DOLLAR
        ),
    )


async def _put(admin: admin_pb2_grpc.QuotaAdminServiceStub, config: types_pb2.QuotaConfig) -> None:
    await admin.PutQuota(
        admin_pb2.PutQuotaRequest(config=config, actor="test", reason="defaults"),
        metadata=ADMIN_METADATA,
    )


async def _check(
    quota: quota_pb2_grpc.QuotaServiceStub, *subjects: types_pb2.Subject, cost: int = 0
) -> quota_pb2.CheckQuotaResponse:
    request = quota_pb2.CheckQuotaRequest(subjects=subjects, estimated_cost_nanos=cost)
    return await quota.CheckQuota(request)


async def test_own_quota_wins_and_removing_it_brings_back_the_default(
    replicas: list[Stubs],
) -> None:
    (quota, admin), (other, _) = replicas
    await _put(admin, _config("*", per_minute=2))
    await _put(admin, _config("vip", per_minute=5))
    assert [(await _check(other, _user("vip"))).allowed for _ in range(6)] == [True] * 5 + [False]
    usage = await quota.GetUsage(quota_pb2.GetUsageRequest(subject=_user("vip")))
    assert usage.quota_source == "own"
    await admin.DeleteQuota(
        admin_pb2.DeleteQuotaRequest(subject=_user("vip"), actor="test"), metadata=ADMIN_METADATA
    )
    # vip has used 5 in this minute; under the default of 2 it is denied, on either replica.
    denied = await _check(other, _user("vip"))
    assert not denied.allowed and denied.denied_limit == RPM
    usage = await other.GetUsage(quota_pb2.GetUsageRequest(subject=_user("vip")))
    assert usage.quota_source == "default"
    assert [(s.limit, s.limit_amount) for s in usage.limits] == [(RPM, 2)]


async def test_lowering_a_default_binds_every_check_after_the_acknowledgement(
    replicas: list[Stubs],
) -> None:
    (quota, admin), (other, _) = replicas
    await _put(admin, _config("*", per_minute=1000))
    for stub in (quota, other):  # both replicas have the old default cached
        assert (await _check(stub, _user("warm"))).allowed
    acknowledged = asyncio.Event()
    admitted_after: dict[int, int] = dict.fromkeys(range(5), 0)

    async def one(i: int) -> None:
        sent_after = acknowledged.is_set()
        reply = await _check(replicas[i % 2][0], _user(f"busy-{i % 5}"))
        if sent_after and reply.allowed:
            admitted_after[i % 5] += 1

    async def lower() -> None:
        await asyncio.sleep(0.01)  # while the 500 checks are in flight
        await _put(admin, _config("*", per_minute=3))
        acknowledged.set()

    await asyncio.gather(lower(), *(one(i) for i in range(500)))
    # A check sent after the acknowledgement is admitted only while its user's minute holds
    # fewer than 3: so a user with any such admission has at most 3 in the minute.
    for i in range(5):
        usage = await quota.GetUsage(quota_pb2.GetUsageRequest(subject=_user(f"busy-{i}")))
        assert [(s.limit, s.limit_amount) for s in usage.limits] == [(RPM, 3)]
        if admitted_after[i]:
            assert usage.requests_last_minute <= 3
    late = [await _check(replicas[i % 2][0], _user(f"busy-{i % 5}")) for i in range(10)]
    assert not any(r.allowed for r in late)


async def test_a_tenants_default_against_the_global_one(
    replicas: list[Stubs],
) -> None:
    (quota, admin), (other, _) = replicas
    await _put(admin, _config("*", daily_dollars=5))
    await _put(admin, _config("*@acme", daily_dollars=20))
    acme = types_pb2.Subject(scope=TENANT, identifier="acme")
    globex = types_pb2.Subject(scope=TENANT, identifier="globex")
    ten = 10 * DOLLAR
    in_acme = await _check(other, _user("ann"), acme, cost=ten)
    elsewhere = await _check(other, _user("bob"), globex, cost=ten)
    alone = await _check(quota, _user("cid"), cost=ten)
    assert in_acme.allowed
    assert (elsewhere.allowed, elsewhere.denied_limit) == (False, COST_DAILY)
    assert (alone.allowed, alone.denied_limit) == (False, COST_DAILY)
    # Removing acme's default puts its users under the global one, at once, on every replica.
    await admin.DeleteQuota(
        admin_pb2.DeleteQuotaRequest(subject=_user("*@acme"), actor="test"),
        metadata=ADMIN_METADATA,
    )
    again = await _check(quota, _user("ann"), acme, cost=ten)
    assert (again.allowed, again.denied_limit) == (False, COST_DAILY)
