"""Every RPC on its happy path, through a real server on port 0 and a real Redis; plus health and
reflection as a gRPC client without the protos would see them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")
TOOL = types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier="createIssues")
DOLLAR = 1_000_000_000


@pytest.fixture
async def sidecar(redis_url: str) -> AsyncIterator[Sidecar]:
    async with running_sidecar(redis_url) as s:
        yield s


@pytest.fixture
async def channel(sidecar: Sidecar) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(sidecar.target) as ch:
        yield ch


@pytest.fixture
def quota(channel: grpc.aio.Channel) -> quota_pb2_grpc.QuotaServiceStub:
    return quota_pb2_grpc.QuotaServiceStub(channel)


@pytest.fixture
def admin(channel: grpc.aio.Channel) -> admin_pb2_grpc.QuotaAdminServiceStub:
    return admin_pb2_grpc.QuotaAdminServiceStub(channel)


def alice_config(daily_dollars: int = 5, per_minute: int = 100) -> types_pb2.QuotaConfig:
    return types_pb2.QuotaConfig(
        subject=ALICE,
        rate_limits=types_pb2.RateLimits(requests_per_minute=per_minute),
        cost_quota=types_pb2.CostQuota(daily_limit_nanos=daily_dollars * DOLLAR),
        description="test user",
    )


async def put_alice(admin: admin_pb2_grpc.QuotaAdminServiceStub, **kwargs: int) -> None:
    await admin.PutQuota(
        admin_pb2.PutQuotaRequest(config=alice_config(**kwargs), actor="test"),
        metadata=ADMIN_METADATA,
    )


async def test_health_is_serving_and_reflection_lists_both_services(
    channel: grpc.aio.Channel,
) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "quota_sidecar.v1.QuotaService", "quota_sidecar.v1.QuotaAdminService"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def ask(request: reflection_pb2.ServerReflectionRequest) -> Any:
        async for reply in stub.ServerReflectionInfo(iter([request])):
            return reply
        raise AssertionError("no reflection reply")

    listed = await ask(reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in listed.list_services_response.service}
    assert {"quota_sidecar.v1.QuotaService", "quota_sidecar.v1.QuotaAdminService"} <= names

    found = await ask(
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="quota_sidecar.v1.QuotaService"
        )
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in found.file_descriptor_response.file_descriptor_proto
    ]
    services = {s.name: s for f in files for s in f.service}
    methods = {m.name: m for m in services["QuotaService"].method}
    assert set(methods) == {
        "CheckQuota", "RecordUsage", "GetUsage", "EndRun", "StreamAlerts", "GetUsageHistory",
        "ExtendReservation",
    }  # fmt: skip
    assert methods["StreamAlerts"].server_streaming
    assert not any(methods[n].server_streaming for n in ("CheckQuota", "RecordUsage", "GetUsage"))


async def test_check_reserve_record_and_get_usage(
    quota: quota_pb2_grpc.QuotaServiceStub, admin: admin_pb2_grpc.QuotaAdminServiceStub
) -> None:
    await put_alice(admin)
    check = await quota.CheckQuota(
        quota_pb2.CheckQuotaRequest(
            subjects=[ALICE, TOOL],
            estimated_cost_nanos=DOLLAR,
            estimated_tokens=10,
            tool_name="createIssues",
            provider="openai",
            reserve=True,
            request_id="req-1",
        )
    )
    assert check.allowed and check.code == quota_pb2.DENIAL_CODE_UNSPECIFIED
    assert check.reservation_id
    daily = next(s for s in check.limits if s.limit == types_pb2.LIMIT_KIND_COST_DAILY)
    assert (daily.limit_amount, daily.held, daily.remaining) == (5 * DOLLAR, DOLLAR, 4 * DOLLAR)

    record = await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(
            subjects=[ALICE, TOOL],
            cost_nanos=DOLLAR // 4,
            provider="openai",
            tool_name="createIssues",
            input_tokens=3,
            output_tokens=4,
            idempotency_key="call-1",
            reservation_id=check.reservation_id,
        )
    )
    assert record.recorded and not record.duplicate
    totals = {t.subject.identifier: t for t in record.totals}
    assert totals["alice"].cost_today_nanos == DOLLAR // 4

    again = await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(
            subjects=[ALICE, TOOL],
            cost_nanos=DOLLAR // 4,
            provider="openai",
            tool_name="createIssues",
            input_tokens=3,
            output_tokens=4,
            idempotency_key="call-1",
            reservation_id=check.reservation_id,
        )
    )
    assert again.duplicate and not again.recorded

    usage = await quota.GetUsage(quota_pb2.GetUsageRequest(subject=ALICE))
    assert usage.cost_today_nanos == DOLLAR // 4
    assert usage.cost_this_month_nanos == DOLLAR // 4
    assert usage.held_nanos == 0  # the hold was settled to the actual cost
    assert usage.requests_last_minute == 1
    assert [(e.name, e.cost_nanos) for e in usage.by_provider_today] == [("openai", DOLLAR // 4)]
    assert usage.config.description == "test user"
    assert usage.HasField("day_resets_at")


async def test_a_release_returns_the_hold(
    quota: quota_pb2_grpc.QuotaServiceStub, admin: admin_pb2_grpc.QuotaAdminServiceStub
) -> None:
    await put_alice(admin)
    check = await quota.CheckQuota(
        quota_pb2.CheckQuotaRequest(subjects=[ALICE], estimated_cost_nanos=DOLLAR, reserve=True)
    )
    assert (await quota.GetUsage(quota_pb2.GetUsageRequest(subject=ALICE))).held_nanos == DOLLAR
    released = await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(
            subjects=[ALICE], reservation_id=check.reservation_id, release=True
        )
    )
    assert not released.recorded and released.hold_settled
    usage = await quota.GetUsage(quota_pb2.GetUsageRequest(subject=ALICE))
    assert (usage.held_nanos, usage.cost_today_nanos) == (0, 0)
    # The reservation id names its subjects: a release needs nothing else, and says when the
    # hold was already gone.
    again = await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(reservation_id=check.reservation_id, release=True)
    )
    assert not again.hold_settled


async def test_a_settle_says_whether_the_hold_was_open(
    quota: quota_pb2_grpc.QuotaServiceStub, admin: admin_pb2_grpc.QuotaAdminServiceStub
) -> None:
    await put_alice(admin)
    check = await quota.CheckQuota(
        quota_pb2.CheckQuotaRequest(subjects=[ALICE], estimated_cost_nanos=DOLLAR, reserve=True)
    )
    record = quota_pb2.RecordUsageRequest(
        subjects=[ALICE], cost_nanos=DOLLAR // 2, reservation_id=check.reservation_id
    )
    first = await quota.RecordUsage(record)
    record.idempotency_key = "second"
    second = await quota.RecordUsage(record)
    assert (first.recorded, first.hold_settled) == (True, True)
    assert (second.recorded, second.hold_settled) == (True, False)


async def test_a_denial_says_who_what_and_when(
    quota: quota_pb2_grpc.QuotaServiceStub, admin: admin_pb2_grpc.QuotaAdminServiceStub
) -> None:
    await put_alice(admin, per_minute=1)
    first = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]))
    second = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]))
    assert first.allowed and not second.allowed
    assert second.code == quota_pb2.DENIAL_CODE_RATE_LIMITED
    assert second.denied_subject == ALICE
    assert second.denied_limit == types_pb2.LIMIT_KIND_REQUESTS_PER_MINUTE
    assert second.reason
    assert second.retry_after.ToTimedelta() > timedelta(0)


async def test_quota_crud_overrides_reset_and_audit(
    quota: quota_pb2_grpc.QuotaServiceStub, admin: admin_pb2_grpc.QuotaAdminServiceStub
) -> None:
    md = ADMIN_METADATA
    put = await admin.PutQuota(
        admin_pb2.PutQuotaRequest(config=alice_config(), actor="ops", reason="onboarding"),
        metadata=md,
    )
    assert put.created and put.config.version >= 1
    replaced = await admin.PutQuota(
        admin_pb2.PutQuotaRequest(config=alice_config(daily_dollars=7), actor="ops"), metadata=md
    )
    assert not replaced.created and replaced.config.version > put.config.version

    got = await admin.GetQuota(admin_pb2.GetQuotaRequest(subject=ALICE), metadata=md)
    assert got.config.cost_quota.daily_limit_nanos == 7 * DOLLAR
    listed = await admin.ListQuotas(
        admin_pb2.ListQuotasRequest(scope=types_pb2.SCOPE_USER), metadata=md
    )
    assert [c.subject for c in listed.configs] == [ALICE]

    expires = datetime.now(UTC) + timedelta(hours=1)
    override = admin_pb2.Override(
        subject=ALICE, kind=admin_pb2.OVERRIDE_KIND_BLOCK, reason="abuse", actor="ops"
    )
    override.expires_at.FromDatetime(expires)
    granted = await admin.GrantOverride(
        admin_pb2.GrantOverrideRequest(override=override), metadata=md
    )
    assert granted.override.id
    blocked = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]))
    assert blocked.code == quota_pb2.DENIAL_CODE_BLOCKED
    listed_overrides = await admin.ListOverrides(
        admin_pb2.ListOverridesRequest(subject=ALICE), metadata=md
    )
    assert [o.id for o in listed_overrides.overrides] == [granted.override.id]
    revoked = await admin.RevokeOverride(
        admin_pb2.RevokeOverrideRequest(
            subject=ALICE, override_id=granted.override.id, actor="ops", reason="appeal"
        ),
        metadata=md,
    )
    assert revoked.revoked.id == granted.override.id
    assert (await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]))).allowed

    await quota.RecordUsage(quota_pb2.RecordUsageRequest(subjects=[ALICE], cost_nanos=DOLLAR))
    reset = await admin.ResetUsage(
        admin_pb2.ResetUsageRequest(subject=ALICE, actor="ops", reason="refund"), metadata=md
    )
    assert reset.cost_today_nanos == DOLLAR
    assert (await quota.GetUsage(quota_pb2.GetUsageRequest(subject=ALICE))).cost_today_nanos == 0

    deleted = await admin.DeleteQuota(
        admin_pb2.DeleteQuotaRequest(subject=ALICE, actor="ops"), metadata=md
    )
    assert deleted.deleted.cost_quota.daily_limit_nanos == 7 * DOLLAR
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await admin.GetQuota(admin_pb2.GetQuotaRequest(subject=ALICE), metadata=md)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND

    audit = await admin.ListAuditEvents(
        admin_pb2.ListAuditEventsRequest(subject=ALICE, page_size=100), metadata=md
    )
    actions = [e.action for e in audit.events]
    assert len(actions) == 6, actions  # put, put, grant, revoke, reset, delete
    assert all(e.actor == "ops" for e in audit.events)
    first_put = audit.events[-1]
    assert json.loads(first_put.before_json) is None
    assert json.loads(first_put.after_json) is not None
    assert first_put.reason == "onboarding"


async def test_stream_alerts_delivers_an_alert(
    quota: quota_pb2_grpc.QuotaServiceStub, admin: admin_pb2_grpc.QuotaAdminServiceStub
) -> None:
    await put_alice(admin, daily_dollars=1)
    await quota.RecordUsage(quota_pb2.RecordUsageRequest(subjects=[ALICE], cost_nanos=DOLLAR))
    stream = quota.StreamAlerts(
        quota_pb2.StreamAlertsRequest(
            identifiers=["alice"], kinds=[types_pb2.ALERT_KIND_EXHAUSTED], cursor="0"
        )
    )
    async for event in stream:
        if event.HasField("alert"):
            assert event.alert.kind == types_pb2.ALERT_KIND_EXHAUSTED
            assert event.alert.subject == ALICE
            break
    stream.cancel()
