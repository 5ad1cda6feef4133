"""Scope defaults wherever a quota is read, through real servers on port 0 and a real Redis:
GetQuota, GetUsageHistory, ListTopSpenders and alerts show an identifier under a default as
having that quota, and say it came from the default; thresholds fire once per identifier per
period across replicas; the admin API never mistakes a default for a subject's own quota."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

DOLLAR = 1_000_000_000
USER = types_pb2.SCOPE_USER
TENANT = types_pb2.SCOPE_TENANT
THRESHOLD = types_pb2.ALERT_KIND_THRESHOLD_WARNING
Stubs = tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub]


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[list[Stubs]]:
    async with (
        running_sidecar(redis_url) as one,
        running_sidecar(redis_url) as two,
        grpc.aio.insecure_channel(one.target) as first,
        grpc.aio.insecure_channel(two.target) as second,
    ):
        yield [
            (quota_pb2_grpc.QuotaServiceStub(c), admin_pb2_grpc.QuotaAdminServiceStub(c))
            for c in (first, second)
        ]


def _user(identifier: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=USER, identifier=identifier)


def _daily(
    identifier: str, dollars: int, thresholds: tuple[int, ...] = ()
) -> types_pb2.QuotaConfig:
    return types_pb2.QuotaConfig(
        subject=_user(identifier),
        cost_quota=types_pb2.CostQuota(daily_limit_nanos=dollars * DOLLAR),
        alert_thresholds=thresholds,
    )


async def _put(admin: admin_pb2_grpc.QuotaAdminServiceStub, config: types_pb2.QuotaConfig) -> bool:
    reply = await admin.PutQuota(
        admin_pb2.PutQuotaRequest(config=config, actor="test"), metadata=ADMIN_METADATA
    )
    return reply.created


async def _record(
    quota: quota_pb2_grpc.QuotaServiceStub, subject: types_pb2.Subject, dollars: int
) -> quota_pb2.RecordUsageResponse:
    return await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(subjects=[subject], cost_nanos=dollars * DOLLAR)
    )


async def test_history_and_top_spenders_say_the_quota_came_from_the_default(
    replicas: list[Stubs],
) -> None:
    (quota, admin), (other, _) = replicas
    await _put(admin, _daily("*", 10))
    await _put(admin, _daily("vip", 50))
    await _record(quota, _user("never-registered"), 3)
    await _record(other, _user("vip"), 2)

    history = await other.GetUsageHistory(
        quota_pb2.GetUsageHistoryRequest(subject=_user("never-registered"))
    )
    assert (history.quota_source, history.quota_default) == ("default", "user:*")
    assert history.days[-1].cost_nanos == 3 * DOLLAR
    own = await quota.GetUsageHistory(quota_pb2.GetUsageHistoryRequest(subject=_user("vip")))
    assert (own.quota_source, own.quota_default) == ("own", "")

    top = await admin.ListTopSpenders(
        admin_pb2.ListTopSpendersRequest(scope=USER), metadata=ADMIN_METADATA
    )
    rows = [
        (t.subject.identifier, t.limit_nanos, t.quota_source, t.quota_default) for t in top.spenders
    ]
    assert rows == [
        ("never-registered", 10 * DOLLAR, "default", "user:*"),
        ("vip", 50 * DOLLAR, "own", ""),
    ]


async def test_get_quota_answers_with_the_default_an_identifier_follows(
    replicas: list[Stubs],
) -> None:
    (_, admin), (_, other_admin) = replicas
    await _put(admin, _daily("*", 10))
    await _put(admin, _daily("*@acme", 20))

    found = await other_admin.GetQuota(
        admin_pb2.GetQuotaRequest(subject=_user("nobody")), metadata=ADMIN_METADATA
    )
    assert (found.quota_source, found.quota_default) == ("default", "user:*")
    assert found.config.subject == _user("nobody")
    assert found.config.cost_quota.daily_limit_nanos == 10 * DOLLAR
    in_acme = await other_admin.GetQuota(
        admin_pb2.GetQuotaRequest(subject=_user("nobody"), tenant="acme"), metadata=ADMIN_METADATA
    )
    assert (in_acme.quota_source, in_acme.quota_default) == ("default", "user:*@acme")
    assert in_acme.config.cost_quota.daily_limit_nanos == 20 * DOLLAR
    default = await admin.GetQuota(
        admin_pb2.GetQuotaRequest(subject=_user("*")), metadata=ADMIN_METADATA
    )
    assert (default.quota_source, default.quota_default) == ("own", "")

    # A scope without a default: nothing is in force, NOT_FOUND as before.
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await admin.GetQuota(
            admin_pb2.GetQuotaRequest(subject=types_pb2.Subject(scope=TENANT, identifier="x")),
            metadata=ADMIN_METADATA,
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_admin_api_never_takes_a_default_for_an_own_quota(
    replicas: list[Stubs],
) -> None:
    (quota, admin), (other, other_admin) = replicas
    await _put(admin, _daily("*", 10))
    # Deleting what an identifier merely follows deletes nothing: it has no quota of its own.
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await other_admin.DeleteQuota(
            admin_pb2.DeleteQuotaRequest(subject=_user("nobody"), actor="test"),
            metadata=ADMIN_METADATA,
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    audit = await admin.ListAuditEvents(admin_pb2.ListAuditEventsRequest(), metadata=ADMIN_METADATA)
    assert [e.action for e in audit.events] == ["quota.put"]
    # Its first quota of its own is created (not "updated"), and wins at once everywhere.
    assert await _put(other_admin, _daily("nobody", 1))
    denied = await quota.CheckQuota(
        quota_pb2.CheckQuotaRequest(subjects=[_user("nobody")], estimated_cost_nanos=2 * DOLLAR)
    )
    assert not denied.allowed
    usage = await other.GetUsage(quota_pb2.GetUsageRequest(subject=_user("nobody")))
    assert usage.quota_source == "own"


async def _replayed_thresholds(
    quota: quota_pb2_grpc.QuotaServiceStub, expected: int
) -> list[types_pb2.Alert]:
    """Every retained threshold alert: the `expected` ones, then a second of quiet in which a
    duplicate would have shown up."""
    call = quota.StreamAlerts(quota_pb2.StreamAlertsRequest(kinds=[THRESHOLD], cursor="0"))
    found: list[types_pb2.Alert] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10) as deadline:
            while True:
                event = await call.read()
                assert event is not grpc.aio.EOF
                if event.HasField("alert"):
                    found.append(event.alert)
                    if len(found) == expected:
                        deadline.reschedule(asyncio.get_running_loop().time() + 1.0)
    call.cancel()
    return found


async def test_a_threshold_fires_once_per_identifier_per_period_across_replicas(
    replicas: list[Stubs],
) -> None:
    (_, admin), _ = replicas
    await _put(admin, _daily("*", 10, thresholds=(50,)))
    users = [f"never-{i}" for i in range(50)]
    # Each of 50 never-registered users spends $2, $2, $2, $2 through both replicas at once:
    # each crosses 50% of its own $10 exactly once.
    replies = await asyncio.gather(*(
        _record(replicas[n % 2][0], _user(user), 2) for n in range(4) for user in users
    ))  # fmt: skip
    raised = [a for r in replies for a in r.alerts if a.kind == THRESHOLD]
    assert Counter(a.subject.identifier for a in raised) == Counter(users)

    streamed = await _replayed_thresholds(replicas[1][0], expected=len(users))
    assert Counter(a.subject.identifier for a in streamed) == Counter(users)
    assert {(a.threshold_percent, a.limit_amount) for a in streamed} == {(50, 10 * DOLLAR)}
    assert {(a.quota_source, a.quota_default) for a in streamed + raised} == {("default", "user:*")}
    # A registered user's alert says its quota is its own.
    await _put(admin, _daily("vip", 10, thresholds=(50,)))
    (own,) = (await _record(replicas[0][0], _user("vip"), 6)).alerts
    assert (own.quota_source, own.quota_default) == ("own", "")


async def test_a_quota_file_entry_equal_to_its_default_is_still_the_identifiers_own(
    redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "quotas.yaml"
    same = "rate_limits: {requests_per_minute: 5}"
    path.write_text(
        f'quotas:\n  - {{scope: user, identifier: "*", {same}}}\n'
        f"  - {{scope: user, identifier: alice, {same}}}\n"
    )
    async with (
        running_sidecar(redis_url, config_path=path) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        found = await admin.GetQuota(
            admin_pb2.GetQuotaRequest(subject=_user("alice")), metadata=ADMIN_METADATA
        )
        assert found.quota_source == "own"
        # Raising the default leaves alice's own quota as the file says.
        raised = types_pb2.QuotaConfig(
            subject=_user("*"), rate_limits=types_pb2.RateLimits(requests_per_minute=500)
        )
        await admin.PutQuota(
            admin_pb2.PutQuotaRequest(config=raised, actor="test"), metadata=ADMIN_METADATA
        )
        usage = await quota_pb2_grpc.QuotaServiceStub(channel).GetUsage(
            quota_pb2.GetUsageRequest(subject=_user("alice"))
        )
        assert [s.limit_amount for s in usage.limits] == [5]
