"""Usage history (day and month rollups written by record.lua) and top spenders, on a real
Redis with the clock moved across quota-day and quota-month boundaries."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.clock import ManualClock, to_ms
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.history import HistoryRetention
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.keys import subject_keys
from tests.support.engines import EngineFactory

NANOS = 10**9
NEW_YORK = ZoneInfo("America/New_York")

# Top spenders are a single-Redis feature: the history's engine refuses them on a cluster
# (NotImplementedError in engine/history.py): a scope's sets would span every slot.
NO_TOP_ON_CLUSTER = pytest.mark.not_on(
    "cluster", reason="top spenders are not kept on Redis Cluster (engine/history.py)"
)


def _ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


async def _new_york_user(engine: QuotaService, name: str, **limits: object) -> Subject:
    user = Subject(QuotaScope.USER, name)
    quota = CostQuota(reset_hour=6, time_zone="America/New_York", **limits)  # type: ignore[arg-type]
    await engine.put_quota(QuotaConfig(scope=user.scope, identifier=name, cost_quota=quota))
    return user


async def test_rollups_follow_the_quota_day_and_month_in_new_york_with_reset_hour_6(
    engine: QuotaService, clock: ManualClock
) -> None:
    user = await _new_york_user(engine, "alice")
    # 05:59 on Nov 1 in New York is still the quota day of Oct 31 (and the month of October);
    # New York leaves summer time at 02:00 on Nov 1, so the quota day of Oct 31 is 25 hours.
    steps = [
        (_ny(2026, 10, 31, 12, 0), "1.25", "openai", 100),
        (_ny(2026, 11, 1, 5, 59), "2", "anthropic", 10),
        (_ny(2026, 11, 1, 6, 0), "0.000000001", "openai", 1),
        (_ny(2026, 11, 2, 5, 0), "3", "openai", 5),
        (_ny(2026, 11, 2, 6, 30), "4", "openai", 7),
    ]
    for i, (when, cost, provider, tokens) in enumerate(steps):
        clock.set(when)
        await engine.record_usage(
            subjects=[user], cost=Decimal(cost), provider=provider, tool_name="search",
            input_tokens=tokens, idempotency_key=f"k{i}",
        )  # fmt: skip
    # A retry of the same record is a duplicate and must not count in the rollup.
    await engine.record_usage(
        subjects=[user], cost=Decimal("4"), provider="openai", tool_name="search",
        input_tokens=7, idempotency_key="k4",
    )  # fmt: skip
    history = await engine.usage_history(user, start=date(2026, 10, 30), end=date(2026, 11, 3))
    rows = {d.day: d for d in history.days}
    assert [d.day for d in history.days] == [
        date(2026, 10, 30) + timedelta(days=i) for i in range(4)
    ]
    # Nov 3 is after today (Nov 2): not listed.
    assert rows[date(2026, 10, 30)].cost_nanos == 0 and rows[date(2026, 10, 30)].requests == 0
    oct31 = rows[date(2026, 10, 31)]
    assert (oct31.cost_nanos, oct31.requests, oct31.tokens) == (3_250_000_000, 2, 110)
    assert oct31.starts_at == _ny(2026, 10, 31, 6, 0)
    assert oct31.ends_at == _ny(2026, 11, 1, 6, 0)
    assert oct31.ends_at - oct31.starts_at == timedelta(hours=25)
    assert {e.name: e.cost_nanos for e in oct31.by_provider} == {
        "anthropic": 2 * NANOS, "openai": 1_250_000_000,
    }  # fmt: skip
    assert [(e.name, e.cost_nanos, e.requests) for e in oct31.by_tool] == [
        ("search", 3_250_000_000, 2)
    ]
    nov1 = rows[date(2026, 11, 1)]
    assert (nov1.cost_nanos, nov1.requests, nov1.tokens) == (3 * NANOS + 1, 2, 6)
    assert nov1.ends_at - nov1.starts_at == timedelta(hours=24)
    nov2 = rows[date(2026, 11, 2)]
    assert (nov2.cost_nanos, nov2.requests, nov2.tokens) == (4 * NANOS, 1, 7)
    assert [m.month for m in history.months] == ["2026-10", "2026-11"]
    october, november = history.months
    assert (october.cost_nanos, october.requests, october.tokens) == (3_250_000_000, 2, 110)
    assert october.ends_at == _ny(2026, 11, 1, 6, 0)
    assert (november.cost_nanos, november.requests) == (7 * NANOS + 1, 3)
    assert november.starts_at == _ny(2026, 11, 1, 6, 0)
    # Today's row equals what GetUsage reports for the quota day and month.
    usage = await engine.get_usage(user)
    assert usage.cost_today_nanos == nov2.cost_nanos
    assert usage.tokens_today == nov2.tokens
    assert usage.cost_this_month_nanos == november.cost_nanos


async def test_a_usage_reset_forgives_the_budget_but_keeps_the_history(
    engine: QuotaService, clock: ManualClock
) -> None:
    user = await _new_york_user(engine, "reset-me", daily_limit=Decimal(10))
    await engine.record_usage(subjects=[user], cost=Decimal(6), idempotency_key="a")
    await engine.reset_usage(user, actor="ops", reason="test")
    assert (await engine.get_usage(user)).cost_today_nanos == 0
    (today,) = (await engine.usage_history(user, start=None)).days[-1:]
    assert today.cost_nanos == 6 * NANOS


async def test_a_subject_without_a_quota_keeps_utc_days(
    engine: QuotaService, clock: ManualClock
) -> None:
    user = Subject(QuotaScope.USER, "no-quota")
    clock.set(datetime(2026, 11, 18, 23, 59, 59, tzinfo=UTC))
    await engine.record_usage(subjects=[user], cost=Decimal(1), idempotency_key="a")
    clock.set(datetime(2026, 11, 19, 0, 0, 0, tzinfo=UTC))
    await engine.record_usage(subjects=[user], cost=Decimal(2), idempotency_key="b")
    history = await engine.usage_history(user, start=date(2026, 11, 18))
    assert [(d.day, d.cost_nanos) for d in history.days] == [
        (date(2026, 11, 18), NANOS), (date(2026, 11, 19), 2 * NANOS),
    ]  # fmt: skip
    assert history.days[1].starts_at == datetime(2026, 11, 19, tzinfo=UTC)


async def test_the_default_range_is_the_whole_retention_and_older_days_are_absent(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    engine = make_engine(history=HistoryRetention(days=timedelta(days=3), months=2))
    redis_client = engine.store.client
    user = await _new_york_user(engine, "kept")
    clock.set(_ny(2026, 11, 10, 12, 0))
    await engine.record_usage(subjects=[user], cost=Decimal(5), idempotency_key="a")
    keys = subject_keys(user)
    day_ttl = await redis_client.pttl(keys.history_day("2026-11-10"))
    # The day ends at 06:00 Nov 11 (18 hours on), then 3 days of retention.
    expected = to_ms(_ny(2026, 11, 11, 6, 0)) - to_ms(_ny(2026, 11, 10, 12, 0)) + 3 * 86_400_000
    assert expected - 60_000 < day_ttl <= expected
    month_ttl = await redis_client.pttl(keys.history_month("2026-11"))
    month_end = to_ms(_ny(2026, 12, 1, 6, 0)) - to_ms(_ny(2026, 11, 10, 12, 0))
    assert month_end + 31 * 86_400_000 < month_ttl <= month_end + 32 * 86_400_000
    clock.set(_ny(2026, 11, 13, 7, 0))
    history = await engine.usage_history(user)
    assert [d.day for d in history.days] == [
        date(2026, 11, 10) + timedelta(days=i) for i in range(4)
    ]
    assert history.days[0].cost_nanos == 5 * NANOS
    clock.set(_ny(2026, 11, 14, 7, 0))
    later = await engine.usage_history(user, start=date(2026, 11, 1))
    assert later.days[0].day == date(2026, 11, 11)  # Nov 10 has left the retention
    assert sum(d.cost_nanos for d in later.days) == 0


async def test_an_expired_rollup_reads_as_zero(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    # A real expiry: a retention of 300 ms, recorded 200 ms before the quota day ends.
    engine = make_engine(history=HistoryRetention(days=timedelta(milliseconds=300)))
    redis_client = engine.store.client
    user = Subject(QuotaScope.USER, "fleeting")
    clock.set(datetime(2026, 11, 18, 23, 59, 59, 800_000, tzinfo=UTC))
    await engine.record_usage(subjects=[user], cost=Decimal(1), idempotency_key="a")
    key = subject_keys(user).history_day("2026-11-18")
    assert 0 < await redis_client.pttl(key) <= 500
    assert (await engine.usage_history(user)).days[-1].cost_nanos == NANOS
    for _ in range(100):
        if not await redis_client.exists(key):
            break
        await asyncio.sleep(0.05)
    assert not await redis_client.exists(key)
    (day,) = (
        await engine.usage_history(user, start=date(2026, 11, 18), end=date(2026, 11, 18))
    ).days
    assert (day.cost_nanos, day.requests, day.by_provider) == (0, 0, ())


async def test_history_refuses_a_range_that_ends_before_it_starts(engine: QuotaService) -> None:
    user = Subject(QuotaScope.USER, "bob")
    with pytest.raises(InvalidInput) as raised:
        await engine.usage_history(user, start=date(2026, 11, 10), end=date(2026, 11, 9))
    assert raised.value.field == "start"


@NO_TOP_ON_CLUSTER
async def test_top_spenders_are_exact_under_500_concurrent_records_across_50_users(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    replicas = [make_engine(), make_engine()]
    users = [Subject(QuotaScope.USER, f"u{i:02d}") for i in range(50)]
    for i, user in enumerate(users[:10]):
        config = QuotaConfig(
            scope=user.scope, identifier=user.identifier,
            cost_quota=CostQuota(daily_limit=Decimal(100 + i), monthly_limit=Decimal(1000)),
        )  # fmt: skip
        await replicas[0].put_quota(config)
    rng = random.Random(14)
    records = [(users[i % 50], rng.randint(1, 10_000) * 1_000_003) for i in range(500)]
    expected: dict[Subject, int] = {}
    for user, nanos in records:
        expected[user] = expected.get(user, 0) + nanos
    # Two users tie, to check the order of ties (by identifier).
    await asyncio.gather(
        *(
            replicas[n % 2].record_usage(subjects=[u], cost_nanos=c, idempotency_key=f"r{n}")
            for n, (u, c) in enumerate(records)
        )
    )
    tie = max(expected.values()) + 1
    for user in (users[49], users[48]):
        await replicas[0].record_usage(
            subjects=[user], cost_nanos=tie - expected[user], idempotency_key="tie"
        )
        expected[user] = tie
    ranked = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0].identifier))
    for period in ("today", "month"):
        top = await replicas[1].top_spenders(QuotaScope.USER, period=period, limit=50)
        assert [(t.subject, t.cost_nanos) for t in top] == ranked
    top10 = await replicas[0].top_spenders(QuotaScope.USER, period="today", limit=10)
    assert [t.subject for t in top10] == [s for s, _ in ranked[:10]]
    assert [t.subject for t in top10[:2]] == [users[48], users[49]]
    limits = {t.subject: t.limit_nanos for t in top10}
    for subject, value in limits.items():
        index = int(subject.identifier[1:])
        assert value == ((100 + index) * NANOS if index < 10 else None)
    month = await replicas[0].top_spenders(QuotaScope.USER, period="month", limit=50)
    assert {t.limit_nanos for t in month if int(t.subject.identifier[1:]) < 10} == {1000 * NANOS}
    # The next quota day starts empty; the month keeps counting.
    clock.advance(timedelta(days=1))
    assert await replicas[0].top_spenders(QuotaScope.USER, period="today") == ()
    assert len(await replicas[0].top_spenders(QuotaScope.USER, period="month", limit=60)) == 50


@NO_TOP_ON_CLUSTER
async def test_top_spenders_merge_calendars(engine: QuotaService, clock: ManualClock) -> None:
    ny = await _new_york_user(engine, "east", daily_limit=Decimal(50))
    utc = Subject(QuotaScope.USER, "west")
    clock.set(_ny(2026, 11, 18, 5, 0))  # before 06:00: New York's quota day of Nov 17
    await engine.record_usage(subjects=[ny], cost=Decimal(3), idempotency_key="a")
    await engine.record_usage(subjects=[utc], cost=Decimal(4), idempotency_key="b")
    clock.set(_ny(2026, 11, 18, 6, 0))  # New York's new day; UTC's day of Nov 18 goes on
    await engine.record_usage(subjects=[ny], cost=Decimal(1), idempotency_key="c")
    top = await engine.top_spenders(QuotaScope.USER, period="today")
    assert [(t.subject, t.cost_nanos, t.limit_nanos) for t in top] == [
        (utc, 4 * NANOS, None), (ny, 1 * NANOS, 50 * NANOS),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("period", "limit", "field"),
    [("week", 10, "period"), ("today", 0, "limit"), ("month", 1001, "limit")],
)
async def test_top_spenders_refuse_bad_input(
    engine: QuotaService, period: str, limit: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await engine.top_spenders(QuotaScope.USER, period=period, limit=limit)
    assert raised.value.field == field


@NO_TOP_ON_CLUSTER
async def test_large_amounts_stay_exact_in_history_and_top_spenders(engine: QuotaService) -> None:
    # 100,000 dollars and a nano: Lua's %.14g would print 1e+14 and lose the nano.
    user = Subject(QuotaScope.USER, "whale")
    amount = 100_000 * NANOS + 1
    await engine.record_usage(subjects=[user], cost_nanos=amount, idempotency_key="a")
    await engine.record_usage(subjects=[user], cost_nanos=amount, idempotency_key="b")
    assert (await engine.usage_history(user)).days[-1].cost_nanos == 2 * amount
    (top,) = await engine.top_spenders(QuotaScope.USER, period="month")
    assert (top.subject, top.cost_nanos) == (user, 2 * amount)
