"""Bad input from a client gets INVALID_ARGUMENT naming the field, and writes nothing to Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import redis.asyncio

from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

USER, TOOL = types_pb2.SCOPE_USER, types_pb2.SCOPE_TOOL


def subject(identifier: str = "alice", scope: int = USER) -> types_pb2.Subject:
    return types_pb2.Subject(scope=scope, identifier=identifier)  # type: ignore[arg-type]


def check(**fields: Any) -> quota_pb2.CheckQuotaRequest:
    fields.setdefault("subjects", [subject()])
    return quota_pb2.CheckQuotaRequest(**fields)


def record(**fields: Any) -> quota_pb2.RecordUsageRequest:
    fields.setdefault("subjects", [subject()])
    return quota_pb2.RecordUsageRequest(**fields)


def put(config: types_pb2.QuotaConfig | None = None, actor: str = "ops") -> Any:
    return admin_pb2.PutQuotaRequest(
        config=config or types_pb2.QuotaConfig(subject=subject()), actor=actor
    )


def with_cost(**cost: Any) -> types_pb2.QuotaConfig:
    return types_pb2.QuotaConfig(subject=subject(), cost_quota=types_pb2.CostQuota(**cost))


def override(expires: bool = True, **fields: Any) -> admin_pb2.GrantOverrideRequest:
    values: dict[str, Any] = {
        "subject": subject(),
        "kind": admin_pb2.OVERRIDE_KIND_BLOCK,
        "reason": "r",
        "actor": "ops",
    }
    values.update(fields)
    message = admin_pb2.Override(**values)
    if expires:
        message.expires_at.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    return admin_pb2.GrantOverrideRequest(override=message)


def lease(seconds: float) -> Any:
    from google.protobuf.duration_pb2 import Duration

    duration = Duration()
    duration.FromTimedelta(timedelta(seconds=seconds))
    return duration


# (method, request, the field the error must name)
CASES: list[tuple[str, Any, str]] = [
    ("CheckQuota", check(subjects=[]), "subjects"),
    ("CheckQuota", check(subjects=[subject("")]), "subjects[0].identifier"),
    ("CheckQuota", check(subjects=[subject("x" * 129)]), "subjects[0].identifier"),
    ("CheckQuota", check(subjects=[subject("has space")]), "subjects[0].identifier"),
    ("CheckQuota", check(subjects=[subject(scope=0)]), "subjects[0].scope"),
    ("CheckQuota", check(subjects=[subject(scope=99)]), "subjects[0].scope"),
    ("CheckQuota", check(subjects=[subject(str(i)) for i in range(9)]), "subjects"),
    ("CheckQuota", check(subjects=[subject(), subject("t", TOOL), subject()]), "subjects[2]"),
    ("CheckQuota", check(estimated_cost_nanos=-1), "estimated_cost_nanos"),
    ("CheckQuota", check(estimated_cost_nanos=2**62), "estimated_cost_nanos"),
    ("CheckQuota", check(estimated_tokens=-5), "estimated_tokens"),
    ("CheckQuota", check(estimated_tokens=2**62), "estimated_tokens"),
    ("CheckQuota", check(request_id="r" * 129), "request_id"),
    ("CheckQuota", check(reserve=True, reservation_lease=lease(0)), "reservation_lease"),
    ("CheckQuota", check(reserve=True, reservation_lease=lease(86401)), "reservation_lease"),
    ("RecordUsage", record(cost_nanos=-1), "cost_nanos"),
    ("RecordUsage", record(cost_nanos=10**18), "cost_nanos"),
    ("RecordUsage", record(input_tokens=-1), "input_tokens"),
    ("RecordUsage", record(reservation_id="not a reservation"), "reservation_id"),
    ("RecordUsage", record(reservation_id="r1.zz.zz"), "reservation_id"),
    ("RecordUsage", record(release=True), "reservation_id"),
    ("RecordUsage", record(idempotency_key="k" * 200), "idempotency_key"),
    ("RecordUsage", record(subjects=[subject(str(i)) for i in range(9)]), "subjects"),
    ("GetUsage", quota_pb2.GetUsageRequest(), "subject"),
    ("GetUsage", quota_pb2.GetUsageRequest(subject=subject("")), "subject.identifier"),
    ("PutQuota", admin_pb2.PutQuotaRequest(actor="ops"), "config"),
    ("PutQuota", put(actor=""), "actor"),
    ("PutQuota", put(with_cost(time_zone="Mars/Olympus")), "config.cost_quota.time_zone"),
    ("PutQuota", put(with_cost(reset_hour=24)), "config.cost_quota.reset_hour"),
    ("PutQuota", put(with_cost(daily_limit_nanos=-1)), "config.cost_quota.daily_limit_nanos"),
    (
        "PutQuota",
        put(types_pb2.QuotaConfig(subject=subject(), alert_thresholds=[100])),
        "config.alert_thresholds",
    ),
    ("PutQuota", put(types_pb2.QuotaConfig(subject=subject(scope=0))), "config.subject.scope"),
    ("GrantOverride", override(kind=0), "override.kind"),
    ("GrantOverride", override(reason=""), "override.reason"),
    ("GrantOverride", override(expires=False), "override.expires_at"),
    ("GrantOverride", override(kind=admin_pb2.OVERRIDE_KIND_RAISE_LIMIT), "override.limit"),
    (
        "RevokeOverride",
        admin_pb2.RevokeOverrideRequest(subject=subject(), actor="o"),
        "override_id",
    ),
    ("ResetUsage", admin_pb2.ResetUsageRequest(subject=subject()), "actor"),
    ("DeleteQuota", admin_pb2.DeleteQuotaRequest(actor="o"), "subject"),
    ("ListQuotas", admin_pb2.ListQuotasRequest(page_size=5000), "page_size"),
    ("ListQuotas", admin_pb2.ListQuotasRequest(scope=42), "scope"),  # type: ignore[arg-type]
    ("ListAuditEvents", admin_pb2.ListAuditEventsRequest(page_size=-1), "page_size"),
]


@pytest.fixture
async def sidecar(redis_url: str) -> AsyncIterator[Sidecar]:
    async with running_sidecar(redis_url) as s:
        yield s


async def snapshot(client: redis.asyncio.Redis) -> dict[str, Any]:
    """Every key with its type and contents."""
    state: dict[str, Any] = {}
    async for key in client.scan_iter(count=1000):
        kind = await client.type(key)
        if kind == "string":
            state[key] = await client.get(key)
        elif kind == "hash":
            state[key] = await client.hgetall(key)
        elif kind == "zset":
            state[key] = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            state[key] = await client.xrange(key)
        else:
            state[key] = kind
    return state


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    CASES,
    ids=[f"{m}-{f}-{i}" for i, (m, _r, f) in enumerate(CASES)],
)
async def test_bad_input_is_invalid_argument_and_writes_nothing(
    sidecar: Sidecar,
    redis_client: redis.asyncio.Redis,
    method: str,
    request_: Any,
    field: str,
) -> None:
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        # A quota exists, so a call that got through would have something to change.
        await admin.PutQuota(put(with_cost(daily_limit_nanos=10**9)), metadata=ADMIN_METADATA)
        before = await snapshot(redis_client)
        stub: Any = quota if hasattr(quota, method) else admin
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(stub, method)(request_, metadata=ADMIN_METADATA)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        details = caught.value.details() or ""
        assert details.startswith(f"{field}: "), details
        assert await snapshot(redis_client) == before
