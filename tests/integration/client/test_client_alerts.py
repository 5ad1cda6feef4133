"""QuotaClient.subscribe_alerts: replay from a cursor, live alerts, filters, domain types."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.models import CostQuota, LimitKind, QuotaConfig, QuotaScope
from quota_sidecar.domain.results import Alert, AlertKind, Severity


async def take(stream: AsyncIterator[Alert], count: int) -> list[Alert]:
    alerts: list[Alert] = []
    async with asyncio.timeout(10):
        async for alert in stream:
            alerts.append(alert)
            if len(alerts) == count:
                break
    return alerts


async def test_threshold_alerts_replayed_and_resumed(client: QuotaClient, user_id: str) -> None:
    await client.register_quota(
        QuotaConfig(QuotaScope.USER, user_id, cost_quota=CostQuota(daily_limit=1))
    )
    result = await client.record_usage("user", user_id, cost=0.85)
    assert [(a.kind, a.threshold_percent) for a in result.alerts] == [
        (AlertKind.THRESHOLD_WARNING, 80)
    ]

    stream = client.subscribe_alerts(
        identifiers=[user_id], kinds=[AlertKind.THRESHOLD_WARNING], cursor="0"
    )
    (replayed,) = await take(stream, 1)
    await stream.aclose()  # type: ignore[attr-defined]
    assert replayed.id == result.alerts[0].id
    assert replayed.severity is Severity.WARNING
    assert replayed.limit is LimitKind.COST_DAILY
    assert replayed.subject.identifier == user_id

    # Resume after the replayed alert: only what came later arrives, nothing twice.
    resumed = client.subscribe_alerts(identifiers=[user_id], cursor=replayed.id)
    later = asyncio.create_task(take(resumed, 3))
    crossing = await client.record_usage("user", user_id, cost=0.20)  # 85 % -> 105 %
    received = await later
    assert [a.id for a in received] == [a.id for a in crossing.alerts]
    assert sorted((a.kind.value, a.threshold_percent) for a in received) == [
        ("EXHAUSTED", 100),
        ("THRESHOLD_WARNING", 90),
        ("THRESHOLD_WARNING", 95),
    ]


async def test_min_severity_filters_out_info_events(client: QuotaClient, user_id: str) -> None:
    await client.register_quota(  # raises an INFO QUOTA_CHANGED event
        QuotaConfig(QuotaScope.USER, user_id, cost_quota=CostQuota(daily_limit=1))
    )
    await client.record_usage("user", user_id, cost=1.5)
    stream = client.subscribe_alerts(
        identifiers=[user_id], min_severity=Severity.CRITICAL, cursor="0"
    )
    (alert,) = await take(stream, 1)
    assert alert.kind is AlertKind.EXHAUSTED and alert.severity is Severity.CRITICAL
