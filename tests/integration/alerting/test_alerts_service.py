"""QuotaAlertService on a real Redis: check_quota_alerts delivers each alert once per service
name (even across processes), handlers run once per alert and a failing one does not stop the
others, and subscribe() tails the live stream with filters."""

from __future__ import annotations

import asyncio
import logging

import pytest

from quota_sidecar.alerting.service import QuotaAlertService
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope
from quota_sidecar.domain.results import Alert, AlertKind
from quota_sidecar.store.redis import Store
from tests.integration.alerting.conftest import RaiseAlert, until


async def test_check_returns_new_alerts_once_even_across_instances(
    store: Store, redis_url: str, raise_alert: RaiseAlert
) -> None:
    first_id = await raise_alert(identifier="user-123")
    await raise_alert(identifier="someone-else")
    one = QuotaAlertService(store=store)
    other_store = Store.from_url(redis_url)  # another process, as far as Redis can tell
    other = QuotaAlertService(store=other_store)

    got = await one.check_quota_alerts(scope=QuotaScope.USER, identifier="user-123")
    assert [a.id for a in got] == [first_id]
    assert got[0].subject.identifier == "user-123"
    assert await other.check_quota_alerts(scope="user", identifier="user-123") == []

    second_id = await raise_alert(AlertKind.EXHAUSTED, identifier="user-123", percent=100)
    asks = await asyncio.gather(
        *[
            service.check_quota_alerts(scope=QuotaScope.USER, identifier="user-123")
            for service in (one, other) * 10
        ]
    )
    delivered = [a.id for batch in asks for a in batch]
    assert delivered == [second_id]  # twenty concurrent asks, one delivery
    await other_store.close()


async def test_each_service_name_keeps_its_own_cursor(
    store: Store, raise_alert: RaiseAlert
) -> None:
    alert_id = await raise_alert(identifier="bob")
    billing = QuotaAlertService(store=store, name="billing")
    ops = QuotaAlertService(store=store, name="ops")
    assert [a.id for a in await billing.check_quota_alerts("user", "bob")] == [alert_id]
    assert [a.id for a in await ops.check_quota_alerts("user", "bob")] == [alert_id]
    with pytest.raises(InvalidInput) as caught:
        QuotaAlertService(store=store, name="has space")
    assert caught.value.field == "name"


async def test_handlers_run_once_per_alert_and_a_failing_one_does_not_stop_others(
    store: Store, raise_alert: RaiseAlert, caplog: pytest.LogCaptureFixture
) -> None:
    service = QuotaAlertService(store=store)
    seen_async: list[str] = []
    seen_plain: list[str] = []

    async def broken(alert: Alert) -> None:
        raise RuntimeError("mail server down")

    async def record(alert: Alert) -> None:
        seen_async.append(alert.id)

    service.register_alert_handler(broken)
    service.register_alert_handler(record)
    service.register_alert_handler(lambda alert: seen_plain.append(alert.id))
    ids = [await raise_alert(identifier="carol", percent=p) for p in (80, 90)]

    with caplog.at_level(logging.ERROR, logger="quota_sidecar.alerting.service"):
        got = await service.check_quota_alerts(scope=QuotaScope.USER, identifier="carol")
        again = await service.check_quota_alerts(scope=QuotaScope.USER, identifier="carol")
    assert [a.id for a in got] == ids and again == []
    assert seen_async == ids and seen_plain == ids
    failures = [
        r for r in caplog.records if r.exc_info and "mail server down" in str(r.exc_info[1])
    ]
    assert len(failures) == 2  # logged once per alert


async def test_bad_subjects_are_invalid_input(store: Store) -> None:
    service = QuotaAlertService(store=store)
    with pytest.raises(InvalidInput) as caught:
        await service.check_quota_alerts(scope="planet", identifier="x")
    assert caught.value.field == "scope"
    with pytest.raises(InvalidInput) as caught:
        await service.check_quota_alerts(scope="user", identifier="")
    assert caught.value.field == "identifier"


async def test_subscribe_tails_live_alerts_with_filters(
    store: Store, raise_alert: RaiseAlert
) -> None:
    service = QuotaAlertService(store=store)
    received: list[Alert] = []
    handled: list[str] = []
    service.register_alert_handler(lambda alert: handled.append(alert.id))
    old = await raise_alert(identifier="dave")

    async def follow() -> None:
        async for alert in service.subscribe(
            identifiers=["dave"], min_severity="CRITICAL", handle=True
        ):
            received.append(alert)
            if len(received) == 2:
                return

    task = asyncio.create_task(follow())
    # Wait until attached to the live tail.
    await until(lambda: service._hub is not None and service._hub.subscriber_count > 0)
    await raise_alert(AlertKind.EXHAUSTED, identifier="erin", percent=100)  # other identifier
    await raise_alert(AlertKind.THRESHOLD_WARNING, identifier="dave")  # not severe enough
    wanted = [
        await raise_alert(AlertKind.EXHAUSTED, identifier="dave", percent=100),
        await raise_alert(AlertKind.PER_REQUEST_LIMIT_EXCEEDED, identifier="dave", percent=0),
    ]
    async with asyncio.timeout(5):
        await task
    assert [a.id for a in received] == wanted == handled
    assert old not in handled

    replayed = []
    async for alert in service.subscribe(identifiers=["dave"], cursor="0"):
        replayed.append(alert.id)
        if len(replayed) == 4:
            break
    assert replayed[0] == old and replayed[-2:] == wanted
    await service.close()
