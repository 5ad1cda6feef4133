"""Issue 20 over gRPC (a real server on port 0, a real Redis, the clock moved by hand):
ListTopSpenders after a quota's calendar (time zone, reset hour) changes lists each subject once,
with the total GetUsage reports; GetUsageHistory takes its dates as YYYY-MM-DD and nothing else."""

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
Stubs = tuple[quota_pb2_grpc.QuotaServiceStub, admin_pb2_grpc.QuotaAdminServiceStub]


def _user(name: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=name)


@pytest.fixture
def clock() -> ManualClock:
    # 08:00 in Berlin, 07:00 UTC: a UTC quota day and a Berlin 07:00 quota day share the name
    # 2026-11-20, a Berlin 09:00 quota day is still 2026-11-19.
    return ManualClock(datetime(2026, 11, 20, 8, 0, tzinfo=BERLIN).astimezone(UTC))


@pytest.fixture
async def sidecar(redis_url: str, clock: ManualClock) -> AsyncIterator[Sidecar]:
    async with running_sidecar(redis_url, clock=clock, history_days=30) as s:
        yield s


@pytest.fixture
async def stubs(sidecar: Sidecar) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        yield (
            quota_pb2_grpc.QuotaServiceStub(channel),
            admin_pb2_grpc.QuotaAdminServiceStub(channel),
        )


async def _put(admin: admin_pb2_grpc.QuotaAdminServiceStub, reset_hour: int, zone: str) -> None:
    config = types_pb2.QuotaConfig(
        subject=_user("ana"),
        cost_quota=types_pb2.CostQuota(
            daily_limit_nanos=20 * DOLLAR, monthly_limit_nanos=200 * DOLLAR,
            reset_hour=reset_hour, time_zone=zone,
        ),
    )  # fmt: skip
    await admin.PutQuota(
        admin_pb2.PutQuotaRequest(config=config, actor="test"), metadata=ADMIN_METADATA
    )


async def _record(quota: quota_pb2_grpc.QuotaServiceStub, name: str, nanos: int, key: str) -> None:
    await quota.RecordUsage(
        quota_pb2.RecordUsageRequest(subjects=[_user(name)], cost_nanos=nanos, idempotency_key=key)
    )


async def _top(stubs: Stubs, period: admin_pb2.SpendPeriod.ValueType) -> list[tuple[str, int]]:
    _, admin = stubs
    reply = await admin.ListTopSpenders(
        admin_pb2.ListTopSpendersRequest(scope=types_pb2.SCOPE_USER, period=period, limit=10),
        metadata=ADMIN_METADATA,
    )
    return [(t.subject.identifier, t.cost_nanos) for t in reply.spenders]


async def _expected(
    stubs: Stubs, names: list[str], period: admin_pb2.SpendPeriod.ValueType
) -> list[tuple[str, int]]:
    """What GetUsage says each subject spent in its current quota day (or month)."""
    quota, _ = stubs
    out = []
    for name in names:
        usage = await quota.GetUsage(quota_pb2.GetUsageRequest(subject=_user(name)))
        today = period == admin_pb2.SPEND_PERIOD_TODAY
        out.append((name, usage.cost_today_nanos if today else usage.cost_this_month_nanos))
    return sorted(out, key=lambda e: (-e[1], e[0]))


@pytest.mark.parametrize("period", [admin_pb2.SPEND_PERIOD_TODAY, admin_pb2.SPEND_PERIOD_MONTH])
async def test_a_calendar_change_never_lists_a_subject_twice(
    stubs: Stubs, clock: ManualClock, period: admin_pb2.SpendPeriod.ValueType
) -> None:
    quota, admin = stubs
    await _put(admin, 0, "UTC")
    await _record(quota, "ana", 3 * DOLLAR, "a1")
    await _record(quota, "ben", 4 * DOLLAR, "b1")
    # The same quota day's name in another zone: the spend carries over, one row with it all.
    await _put(admin, 7, "Europe/Berlin")
    assert await _top(stubs, period) == await _expected(stubs, ["ana", "ben"], period)
    await _record(quota, "ana", 2 * DOLLAR, "a2")
    listed = await _top(stubs, period)
    assert listed == [("ana", 5 * DOLLAR), ("ben", 4 * DOLLAR)]
    assert listed == await _expected(stubs, ["ana", "ben"], period)
    # Back to UTC, where ana's old row (3 dollars) still sits in the UTC sets.
    await _put(admin, 0, "UTC")
    await _record(quota, "ana", 1 * DOLLAR, "a3")
    listed = await _top(stubs, period)
    assert listed == [("ana", 6 * DOLLAR), ("ben", 4 * DOLLAR)]
    assert listed == await _expected(stubs, ["ana", "ben"], period)
    # A reset hour that puts ana in another (yesterday's) quota day.
    await _put(admin, 9, "Europe/Berlin")
    await _record(quota, "ana", 1, "a4")
    listed = await _top(stubs, period)
    assert [name for name, _ in listed].count("ana") == 1
    assert listed == await _expected(stubs, ["ana", "ben"], period)


async def test_the_cut_still_finds_the_top_when_stale_rows_crowd_a_set(
    stubs: Stubs, clock: ManualClock
) -> None:
    """ana's stale UTC row ranks first in the UTC set; limit=1 must still find ben there."""
    quota, admin = stubs
    await _put(admin, 0, "UTC")
    await _record(quota, "ana", 9 * DOLLAR, "a1")
    await _record(quota, "ben", 8 * DOLLAR, "b1")
    await _put(admin, 9, "Europe/Berlin")  # ana's quota day is now 2026-11-19: nothing spent
    await _record(quota, "ana", 1 * DOLLAR, "a2")
    _, admin_stub = stubs
    reply = await admin_stub.ListTopSpenders(
        admin_pb2.ListTopSpendersRequest(scope=types_pb2.SCOPE_USER, limit=1),
        metadata=ADMIN_METADATA,
    )
    assert [(t.subject.identifier, t.cost_nanos) for t in reply.spenders] == [("ben", 8 * DOLLAR)]
    assert await _top(stubs, admin_pb2.SPEND_PERIOD_TODAY) == [
        ("ben", 8 * DOLLAR),
        ("ana", 1 * DOLLAR),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "2026-W49-1",  # an ISO week date: ten characters, and fromisoformat takes it
        "2026W491",
        "20261120",
        "2026-11-2",
        "2026-11-20T00:00",
        "2026-11-20 ",
        " 2026-11-20",
        "2026-11-20\n",
        "\uff12\uff10\uff12\uff16-11-20",  # full-width digits
        "+2026-11-20",
        "2026-1l-20",
    ],
)
@pytest.mark.parametrize("field", ["start_date", "end_date"])
async def test_history_dates_are_strictly_yyyy_mm_dd(stubs: Stubs, field: str, text: str) -> None:
    quota, _ = stubs
    request = quota_pb2.GetUsageHistoryRequest(subject=_user("ana"), **{field: text})
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await quota.GetUsageHistory(request)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (raised.value.details() or "").startswith(f"{field}:")
    assert "YYYY-MM-DD" in (raised.value.details() or "")


async def test_a_plain_date_is_still_taken(stubs: Stubs) -> None:
    quota, _ = stubs
    reply = await quota.GetUsageHistory(
        quota_pb2.GetUsageHistoryRequest(
            subject=_user("ana"), start_date="2026-11-18", end_date="2026-11-20"
        )
    )
    assert [d.day for d in reply.days] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    day = reply.days[1]
    length = day.ends_at.ToDatetime(tzinfo=UTC) - day.starts_at.ToDatetime(tzinfo=UTC)
    assert length == timedelta(days=1)
