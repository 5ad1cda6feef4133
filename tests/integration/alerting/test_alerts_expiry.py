"""The override expiry sweeper: due overrides are removed and OVERRIDE_EXPIRED is raised exactly
once, even when several replicas sweep at the same moment."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from quota_sidecar.alerting.expiry import OverrideExpirySweeper
from quota_sidecar.domain.clock import ManualClock, to_ms
from quota_sidecar.domain.models import LimitKind, QuotaScope, Subject
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.store.alert_codec import ALERTS_STREAM, decode_alert, subject_stream
from quota_sidecar.store.keys import OVERRIDE_EXPIRY, subject_keys
from quota_sidecar.store.redis import Store
from tests.integration.alerting.conftest import until

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def grant(store: Store, subject: Subject, override_id: str, expires: datetime) -> None:
    """Write an override the way the engine's grant does (hash, metadata, expiry index)."""
    keys = subject_keys(subject)
    expiry = to_ms(expires)
    await store.client.hset(keys.overrides, override_id, f"RAISE_LIMIT|cost_daily|5000|{expiry}|")
    await store.client.hset(keys.override_meta, override_id, json.dumps({"actor": "ops"}))
    await store.client.zadd(OVERRIDE_EXPIRY, {f"{subject}|{override_id}": expiry})


async def test_due_overrides_expire_exactly_once_across_replicas(redis_url: str) -> None:
    clock = ManualClock(NOW)
    stores = [Store.from_url(redis_url) for _ in range(4)]
    alice, bob = Subject(QuotaScope.USER, "alice"), Subject(QuotaScope.TENANT, "acme|corp")
    for n in range(20):
        await grant(stores[0], alice, f"ov{n}", NOW + timedelta(minutes=n))
    await grant(stores[0], bob, "ovb", NOW + timedelta(minutes=5))
    await grant(stores[0], bob, "later", NOW + timedelta(hours=2))

    clock.advance(timedelta(minutes=10))  # ov0..ov10 and ovb are due
    sweepers = [OverrideExpirySweeper(store, clock) for store in stores]
    raised = await asyncio.gather(*[s.sweep_once() for s in sweepers for _ in range(3)])
    assert sum(raised) == 12

    client = stores[0].client
    entries = await client.xrange(ALERTS_STREAM)
    alerts = [decode_alert(entry_id, fields) for entry_id, fields in entries]
    assert {a.kind for a in alerts} == {AlertKind.OVERRIDE_EXPIRED}
    expired = sorted(a.message.split()[2] for a in alerts)
    assert expired == sorted([f"ov{n}" for n in range(11)] + ["ovb"])
    assert {a.limit for a in alerts} == {LimitKind.COST_DAILY}
    assert sorted(await client.hkeys(subject_keys(alice).overrides)) == sorted(
        f"ov{n}" for n in range(11, 20)
    )
    assert await client.hkeys(subject_keys(alice).override_meta) == await client.hkeys(
        subject_keys(alice).overrides
    )
    assert await client.hkeys(subject_keys(bob).overrides) == ["later"]
    assert await client.zcard(OVERRIDE_EXPIRY) == 10
    # The subject's own stream has the same alerts under the same ids (check_quota_alerts).
    bob_stream = await client.xrange(subject_stream(bob))
    assert [entry_id for entry_id, _ in bob_stream] == [a.id for a in alerts if a.subject == bob]

    assert await sweepers[0].sweep_once() == 0  # nothing due any more
    for store in stores:
        await store.close()


async def test_a_revoked_override_does_not_expire_again(redis_url: str) -> None:
    clock = ManualClock(NOW)
    store = Store.from_url(redis_url)
    alice = Subject(QuotaScope.USER, "alice")
    await grant(store, alice, "gone", NOW + timedelta(minutes=1))
    await store.client.hdel(subject_keys(alice).overrides, "gone")  # revoked, index left behind
    clock.advance(timedelta(minutes=2))
    sweeper = OverrideExpirySweeper(store, clock, interval=0.01).start()

    async def index_drained() -> bool:
        return int(await store.client.zcard(OVERRIDE_EXPIRY)) == 0

    await until(index_drained)
    await sweeper.close()
    assert await store.client.xlen(ALERTS_STREAM) == 0
    await store.close()
