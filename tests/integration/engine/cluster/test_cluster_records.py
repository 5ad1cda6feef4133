"""Records, idempotency, alerts and the seed's Quick Start on a real three-master Redis Cluster,
with subjects on different slots."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService, RateLimitConfig
from quota_sidecar.alerting.hub import AlertHub
from quota_sidecar.domain.alert_filters import AlertFilter
from quota_sidecar.domain.errors import IdempotencyConflict, StoreUnavailable
from quota_sidecar.domain.models import Subject
from quota_sidecar.domain.results import Alert, AlertKind
from quota_sidecar.store.alert_codec import ALERTS_STREAM, subject_stream
from tests.integration.engine.cluster.conftest import ClusterFactory, RedisCluster, slot_of, spread
from tests.support.seed import QUICK_START_OUTPUT, seed_quick_start


async def _budget(
    engine: QuotaService,
    subject: Subject,
    daily: str,
    *,
    requests_per_minute: int | None = None,
    requests_per_day: int | None = None,
) -> None:
    await engine.register_quota(
        QuotaConfig(
            scope=subject.scope,
            identifier=subject.identifier,
            rate_limits=RateLimitConfig(
                requests_per_minute=requests_per_minute, requests_per_day=requests_per_day
            ),
            cost_quota=CostQuota(daily_limit=Decimal(daily)),
        )
    )


async def _costs(engine: QuotaService, subjects: list[Subject]) -> list[int]:
    return [(await engine.get_usage(s)).cost_today_nanos for s in subjects]


async def test_a_retried_record_counts_once(engine: QuotaService) -> None:
    subjects = spread(QuotaScope.USER, "idem", 3)
    for subject in subjects:
        await _budget(engine, subject, "10")

    first = await engine.record_usage(subjects=subjects, cost=0.25, idempotency_key="call-1")
    again = await engine.record_usage(subjects=subjects, cost=0.25, idempotency_key="call-1")

    assert (first.recorded, first.duplicate) == (True, False)
    assert (again.recorded, again.duplicate) == (False, True)
    assert [t.cost_today_nanos for t in again.totals] == [250_000_000] * 3
    assert await _costs(engine, subjects) == [250_000_000] * 3
    with pytest.raises(IdempotencyConflict):
        await engine.record_usage(subjects=subjects, cost=0.30, idempotency_key="call-1")
    assert await _costs(engine, subjects) == [250_000_000] * 3
    requests = [(await engine.get_usage(s)).requests_today for s in subjects]
    assert requests == [0, 0, 0]  # records count cost, checks count requests


async def test_a_retry_after_a_partial_failure_completes_the_missing_group(
    make_engine: ClusterFactory, redis_cluster: RedisCluster
) -> None:
    """The master of the second slot group dies: the record fails after the first group
    recorded. Retried with the same idempotency key once the master is back, the first group
    answers "duplicate" and the second records: each subject counts exactly once."""
    engine = make_engine(store_timeout=2.0)
    low, high = spread(QuotaScope.TENANT, "partial", 2)
    low_port, high_port = (redis_cluster.port_of(slot_of(s)) for s in (low, high))
    assert low_port != high_port
    for subject in (low, high):
        await _budget(engine, subject, "10")
    redis_cluster.kill(high_port)
    try:
        with pytest.raises(StoreUnavailable):
            await engine.record_usage(subjects=[low, high], cost=0.5, idempotency_key="k")
    finally:
        redis_cluster.revive(high_port)  # back with its slots, and empty (no persistence)
    assert await engine.ping()  # the store is reachable again once a probe answers
    # The empty master lost the quota of `high` too: the engine keeps the one it knows and
    # decides nothing for `high` by the store until the quota is put again (docs/semantics.md:
    # "A store behind a quota"), as an operator does after losing Redis data.
    with pytest.raises(StoreUnavailable):
        await engine.get_usage(high)
    await _budget(engine, high, "10")
    assert (await engine.get_usage(low)).cost_today_nanos == 500_000_000
    assert (await engine.get_usage(high)).cost_today_nanos == 0

    retry = await engine.record_usage(subjects=[low, high], cost=0.5, idempotency_key="k")

    assert (retry.recorded, retry.duplicate) == (True, False)
    assert [t.cost_today_nanos for t in retry.totals] == [500_000_000, 500_000_000]
    assert await _costs(engine, [low, high]) == [500_000_000, 500_000_000]
    again = await engine.record_usage(subjects=[low, high], cost=0.5, idempotency_key="k")
    assert again.duplicate


async def _stream(engine: QuotaService, key: str) -> list[tuple[str, dict[str, str]]]:
    entries: Any = await engine.store.client.xrange(key)  # decode_responses: all str
    return [(entry_id, dict(fields)) for entry_id, fields in entries]


async def _shared_alerts(engine: QuotaService, kind: AlertKind) -> set[tuple[str, str]]:
    """(id, "scope:identifier") of the alerts of `kind` in the shared stream qs:alerts."""
    return {
        (entry_id, f"{fields['s']}:{fields['i']}")
        for entry_id, fields in await _stream(engine, ALERTS_STREAM)
        if fields["k"] == kind.value
    }


async def test_alerts_raised_by_a_record_reach_the_shared_stream(engine: QuotaService) -> None:
    """The scripts append to each subject's own stream (its slot); the engine then adds each
    alert to qs:alerts, and the record returns the shared stream's ids."""
    subjects = spread(QuotaScope.PROVIDER, "alerting", 3)
    for subject in subjects:
        await _budget(engine, subject, "1")

    result = await engine.record_usage(subjects=subjects, cost=0.85, provider="openai")

    names = {str(s) for s in subjects}
    assert {str(a.subject) for a in result.alerts} == names
    assert {a.threshold_percent for a in result.alerts} == {80}
    shared = await _shared_alerts(engine, AlertKind.THRESHOLD_WARNING)
    assert shared == {(a.id, str(a.subject)) for a in result.alerts}
    for subject in subjects:
        own = await _stream(engine, subject_stream(subject))
        # Admin events (QUOTA_CHANGED) go to the shared stream only.
        assert [f["k"] for _, f in own] == ["THRESHOLD_WARNING"]

    # StreamAlerts' reader (the AlertHub tailing qs:alerts) delivers them.
    hub = AlertHub(engine.store)
    seen: list[Alert] = []
    flt = AlertFilter.of(kinds=[AlertKind.THRESHOLD_WARNING])
    try:
        async with asyncio.timeout(10):
            async for event in hub.events(flt, cursor="0"):
                if isinstance(event, Alert):
                    seen.append(event)
                if len(seen) == len(subjects):
                    break
    finally:
        await hub.close()
    assert {str(a.subject) for a in seen} == names


async def test_alerts_raised_by_a_check_reach_the_shared_stream(engine: QuotaService) -> None:
    low, high = spread(QuotaScope.USER, "check-alert", 2)
    for subject in (low, high):
        await _budget(engine, subject, "10", requests_per_day=5)

    for _ in range(4):  # 4 of 5 requests a day: 80%
        assert (await engine.check_quota(subjects=[low, high])).allowed

    shared = await _shared_alerts(engine, AlertKind.THRESHOLD_WARNING)
    assert {name for _, name in shared} == {str(low), str(high)}


async def test_seed_quick_start_on_the_cluster(
    cluster_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed README's Quick Start as written, with QUOTA_SIDECAR_REDIS_URL naming the
    cluster."""
    monkeypatch.setenv("QUOTA_SIDECAR_REDIS_URL", cluster_url)
    quota_service = await seed_quick_start()
    assert capsys.readouterr().out.splitlines() == QUICK_START_OUTPUT
    assert quota_service.store.is_cluster
    await quota_service.close()


async def test_seed_multi_subject_check_on_the_cluster(engine: QuotaService) -> None:
    """A user + tool + provider + tenant + global check (five subjects, several slots)."""
    subjects = [
        Subject(QuotaScope.USER, "user-123"),
        Subject(QuotaScope.TOOL, "createIssues"),
        Subject(QuotaScope.PROVIDER, "openai"),
        Subject(QuotaScope.TENANT, "acme"),
        Subject(QuotaScope.GLOBAL, "global"),
    ]
    assert len({slot_of(s) for s in subjects}) == 5
    for subject in subjects:
        await _budget(engine, subject, "1", requests_per_minute=10)
    held = await engine.check_quota(subjects=subjects, estimated_cost=0.4, reserve=True)
    assert held.allowed and held.reservation_id
    denied = await engine.check_quota(subjects=subjects, estimated_cost=0.7, reserve=True)
    assert not denied.allowed
    await engine.record_usage(subjects=subjects, cost=0.3, reservation_id=held.reservation_id)
    for subject in subjects:
        usage = await engine.get_usage(subject)
        assert (usage.requests_today, usage.held_nanos, usage.cost_today_nanos) == (
            1,
            0,
            300_000_000,
        ), subject
