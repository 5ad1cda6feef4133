"""GetUsageHistory and ListTopSpenders over gRPC (a real server on port 0, a real Redis, the
clock moved across quota days): the rows, the ranking, and INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest

from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

DOLLAR = 1_000_000_000
BERLIN = ZoneInfo("Europe/Berlin")


def _user(name: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=name)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 20, 8, 0, tzinfo=BERLIN).astimezone(UTC))


@pytest.fixture
async def sidecar(redis_url: str, clock: ManualClock) -> AsyncIterator[Sidecar]:
    async with running_sidecar(redis_url, clock=clock, history_days=30) as s:
        yield s


@pytest.fixture
async def stubs(
    sidecar: Sidecar,
) -> AsyncIterator[tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub]]:
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        yield (
            quota_pb2_grpc.QuotaServiceStub(channel),
            admin_pb2_grpc.QuotaAdminServiceStub(channel),
        )


async def _record(quota: quota_pb2_grpc.QuotaServiceStub, name: str, nanos: int, key: str) -> None:
    await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(
            subjects=[_user(name)], cost_nanos=nanos, provider="openai", input_tokens=2,
            idempotency_key=key,
        )
    )  # fmt: skip


async def test_history_and_top_spenders_over_grpc(
    stubs: tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub],
    clock: ManualClock,
) -> None:
    quota, admin = stubs
    config = types_pb2.QuotaConfig(
        subject=_user("ana"),
        cost_quota=types_pb2.CostQuota(
            daily_limit_nanos=20 * DOLLAR, reset_hour=7, time_zone="Europe/Berlin"
        ),
    )
    await admin.PutQuota(
        admin_pb2.PutQuotaRequest(config=config, actor="test"), metadata=ADMIN_METADATA
    )
    await _record(quota, "ana", 3 * DOLLAR, "a1")
    clock.advance(timedelta(days=1))
    await _record(quota, "ana", 5 * DOLLAR + 7, "a2")
    await _record(quota, "ben", 6 * DOLLAR, "b1")
    reply = await quota.GetUsageHistory(
        quota_pb2.GetUsageHistoryRequest(
            subject=_user("ana"), start_date="2026-11-19", end_date="2026-11-21"
        )
    )
    assert [(d.day, d.cost_nanos, d.requests, d.tokens) for d in reply.days] == [
        ("2026-11-19", 0, 0, 0),
        ("2026-11-20", 3 * DOLLAR, 1, 2),
        ("2026-11-21", 5 * DOLLAR + 7, 1, 2),
    ]
    day = reply.days[1]
    start = datetime(2026, 11, 20, 7, 0, tzinfo=BERLIN)
    assert day.starts_at.ToDatetime(tzinfo=UTC) == start
    assert day.ends_at.ToDatetime(tzinfo=UTC) == start + timedelta(days=1)
    assert [(e.name, e.cost_nanos, e.requests) for e in day.by_provider] == [
        ("openai", 3 * DOLLAR, 1)
    ]
    assert [(m.month, m.cost_nanos, m.requests) for m in reply.months] == [
        ("2026-11", 8 * DOLLAR + 7, 2)
    ]
    whole = await quota.GetUsageHistory(quota_pb2.GetUsageHistoryRequest(subject=_user("ana")))
    assert len(whole.days) == 31  # today and the 30 days kept before it
    assert whole.days[-1].day == "2026-11-21"
    top = await admin.ListTopSpenders(
        admin_pb2.ListTopSpendersRequest(scope=types_pb2.SCOPE_USER), metadata=ADMIN_METADATA
    )
    ranked = [(t.subject.identifier, t.cost_nanos, t.HasField("limit_nanos")) for t in top.spenders]
    assert ranked == [("ben", 6 * DOLLAR, False), ("ana", 5 * DOLLAR + 7, True)]
    assert top.spenders[1].limit_nanos == 20 * DOLLAR
    month = await admin.ListTopSpenders(
        admin_pb2.ListTopSpendersRequest(
            scope=types_pb2.SCOPE_USER, period=admin_pb2.SPEND_PERIOD_MONTH, limit=1
        ),
        metadata=ADMIN_METADATA,
    )
    assert [(t.subject.identifier, t.cost_nanos) for t in month.spenders] == [
        ("ana", 8 * DOLLAR + 7)
    ]
    assert not month.spenders[0].HasField("limit_nanos")  # ana has no monthly limit


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"start_date": "2026-11-21", "end_date": "2026-11-20"}, "start_date"),
        ({"start_date": "21.11.2026"}, "start_date"),
        ({"end_date": "2026-02-30"}, "end_date"),
        ({"subject": None}, "subject"),
    ],
)
async def test_bad_history_requests_name_the_field(
    stubs: tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub],
    request_fields: dict[str, object],
    field: str,
) -> None:
    quota, _ = stubs
    values: dict[str, object] = {"subject": _user("ana"), **request_fields}
    request = quota_pb2.GetUsageHistoryRequest(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await quota.GetUsageHistory(request)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (raised.value.details() or "").startswith(field)


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"scope": types_pb2.SCOPE_UNSPECIFIED}, "scope"),
        ({"period": 7}, "period"),
        ({"limit": 1001}, "limit"),
        ({"limit": -1}, "limit"),
    ],
)
async def test_bad_top_spender_requests_name_the_field(
    stubs: tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub],
    request_fields: dict[str, int],
    field: str,
) -> None:
    _, admin = stubs
    values = {"scope": types_pb2.SCOPE_USER, **request_fields}
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.ListTopSpenders(
            admin_pb2.ListTopSpendersRequest(**values),  # type: ignore[arg-type]
            metadata=ADMIN_METADATA,
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (raised.value.details() or "").startswith(field)


async def test_top_spenders_need_the_admin_token(
    stubs: tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub],
) -> None:
    _, admin = stubs
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await admin.ListTopSpenders(admin_pb2.ListTopSpendersRequest(scope=types_pb2.SCOPE_USER))
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
