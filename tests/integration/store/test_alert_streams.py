"""The alert streams' typed operations on a real Redis: a consumer group that exists already is
an outcome, not an error; Redis' refusals leave as the domain's StoreUnavailable, never as the
driver's ResponseError; the claim and expiry scripts answer in domain values."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from quota_sidecar.domain.clock import SystemClock
from quota_sidecar.domain.errors import StoreUnavailable
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.store.alert_codec import NewAlert, encode_alert, subject_stream
from quota_sidecar.store.alert_streams import AlertStreams
from quota_sidecar.store.keys import subject_keys
from quota_sidecar.store.redis import Store


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store.from_url(redis_url)
    yield store
    await store.close()


def fresh(name: str) -> str:
    return f"qs:test:{name}:{secrets.token_hex(4)}"


async def test_a_group_that_exists_already_is_an_outcome(store: Store) -> None:
    streams = AlertStreams(store, fresh("alerts"))
    assert await streams.ensure_group("g") is True
    assert await streams.ensure_group("g") is False


async def test_a_refusal_is_store_unavailable_not_the_drivers_error(store: Store) -> None:
    key = fresh("not-a-stream")
    await store.client.set(key, "x", ex=60)
    streams = AlertStreams(store, key)
    with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
        await streams.ensure_group("g")
    with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
        await streams.read_range("0")


async def test_claims_and_group_reads_answer_alerts(store: Store) -> None:
    subject = Subject(QuotaScope.USER, fresh("alice").replace(":", "-"))
    streams = AlertStreams(store, fresh("alerts"))
    assert await streams.ensure_group("g")
    fields = encode_alert(NewAlert(AlertKind.USAGE_RESET, subject, SystemClock().now_ms(), "reset"))
    entry_id = await store.client.xadd(streams.stream, fields)  # type: ignore[arg-type]
    await store.client.xadd(subject_stream(subject), fields, id=entry_id)  # type: ignore[arg-type]
    await store.client.xadd(streams.stream, {"k": "NOT_A_KIND"})

    (read, malformed) = await streams.read_group("g", "c1", count=10, block_ms=10)
    assert read.id == entry_id and read.alert is not None and read.alert.subject == subject
    assert malformed.alert is None  # still handed over, so the reader can acknowledge it
    await streams.ack("g", read.id)
    claimed = await streams.claim_stale("g", "c2", min_idle_ms=0, count=10)
    assert [e.id for e in claimed.entries] == [malformed.id] and claimed.gone == []

    (alert,) = await streams.claim_new_alerts(subject, "svc", 10)
    assert alert.id == entry_id and alert.kind is AlertKind.USAGE_RESET
    assert await streams.claim_new_alerts(subject, "svc", 10) == []  # the cursor moved


async def test_an_override_expires_once_with_its_alert(store: Store) -> None:
    subject = Subject(QuotaScope.USER, fresh("bob").replace(":", "-"))
    streams = AlertStreams(store, fresh("alerts"))
    keys = subject_keys(subject)
    await store.client.hset(keys.overrides, "o1", "BOOST|cost_daily|5|1")
    now = SystemClock().now_ms()
    fields = encode_alert(NewAlert(AlertKind.OVERRIDE_EXPIRED, subject, now, "expired"))
    assert await streams.stored_override(subject, "o1") == "BOOST|cost_daily|5|1"
    assert await streams.expire_override(subject, "o1", "something else", now, fields) is None
    alert_id = await streams.expire_override(subject, "o1", "BOOST|cost_daily|5|1", now, fields)
    assert alert_id is not None
    assert await streams.stored_override(subject, "o1") is None
    assert await streams.expire_override(subject, "o1", "BOOST|cost_daily|5|1", now, fields) is None
    (entry,) = await streams.read_range("0")
    assert entry.id == alert_id and entry.alert is not None
    assert entry.alert.kind is AlertKind.OVERRIDE_EXPIRED
