"""StreamAlerts over a real gRPC server on a real Redis: replay then live with no gap and no
duplicate, resume from a cursor, every filter, heartbeats, slow subscribers, clean shutdown."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from quota_sidecar.alerting.hub import AlertHub, SubscriberTooSlow
from quota_sidecar.domain.alert_filters import AlertFilter
from quota_sidecar.domain.models import QuotaScope
from quota_sidecar.domain.results import Alert, AlertKind
from quota_sidecar.store.alert_codec import ALERTS_STREAM
from quota_sidecar.store.redis import Store
from quota_sidecar.v1 import quota_pb2, types_pb2
from tests.integration.alerting.conftest import (
    RaiseAlert,
    StartServer,
    read_alerts,
    until,
    wait_for_subscribers,
)


async def all_ids(store: Store) -> list[str]:
    return [entry_id for entry_id, _ in await store.client.xrange(ALERTS_STREAM)]


async def test_replay_then_live_has_no_gap_and_no_duplicate_at_the_seam(
    store: Store, raise_alert: RaiseAlert, start_alert_server: StartServer
) -> None:
    server = await start_alert_server()
    for n in range(20):
        await raise_alert(identifier=f"u{n}")

    async def keep_raising() -> None:
        # Alerts keep arriving while the subscriber replays and attaches to the live tail.
        for n in range(200):
            await raise_alert(identifier=f"live{n}")

    raiser = asyncio.create_task(keep_raising())
    call = server.stub.StreamAlerts(quota_pb2.StreamAlertsRequest(cursor="0"))
    received = await read_alerts(call, 220)
    await raiser
    call.cancel()
    ids = [event.alert.id for event in received]
    assert ids == await all_ids(store)
    assert len(set(ids)) == 220


async def test_resume_from_a_cursor_loses_nothing_and_repeats_nothing(
    store: Store, raise_alert: RaiseAlert, start_alert_server: StartServer
) -> None:
    server = await start_alert_server()
    call = server.stub.StreamAlerts(quota_pb2.StreamAlertsRequest())
    await wait_for_subscribers(server.streamer)
    for n in range(10):
        await raise_alert(identifier=f"u{n}")
    first = await read_alerts(call, 4)
    call.cancel()
    for n in range(10, 15):  # raised while the subscriber is away
        await raise_alert(identifier=f"u{n}")

    resumed = server.stub.StreamAlerts(quota_pb2.StreamAlertsRequest(cursor=first[-1].alert.id))
    rest = await read_alerts(resumed, 11)
    await wait_for_subscribers(server.streamer)
    await raise_alert(identifier="after-resume")
    rest += await read_alerts(resumed, 1)
    resumed.cancel()

    ids = [event.alert.id for event in first + rest]
    assert ids == await all_ids(store)
    assert [event.alert.subject.identifier for event in rest][-1] == "after-resume"


FILTER_CASES = {
    "scope": (quota_pb2.StreamAlertsRequest(scopes=[types_pb2.SCOPE_TENANT]), {"t-acme"}),
    "identifier": (quota_pb2.StreamAlertsRequest(identifiers=["bob", "carol"]), {"bob", "carol"}),
    "kind": (
        quota_pb2.StreamAlertsRequest(kinds=[types_pb2.ALERT_KIND_USAGE_RESET]),
        {"carol"},
    ),
    "min_severity": (
        quota_pb2.StreamAlertsRequest(min_severity=types_pb2.SEVERITY_CRITICAL),
        {"bob"},
    ),
}


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
async def test_each_filter_passes_only_matching_alerts(
    case: str, store: Store, raise_alert: RaiseAlert, start_alert_server: StartServer
) -> None:
    request, expected = FILTER_CASES[case]
    server = await start_alert_server(heartbeat_interval=0.2)
    await raise_alert(AlertKind.THRESHOLD_WARNING, "alice")  # WARNING
    await raise_alert(AlertKind.EXHAUSTED, "bob")  # CRITICAL
    await raise_alert(AlertKind.USAGE_RESET, "carol")  # INFO
    await raise_alert(AlertKind.THRESHOLD_WARNING, "acme", scope=QuotaScope.TENANT)
    last = await raise_alert(AlertKind.QUOTA_CHANGED, "dave")  # matches no case

    request.cursor = "0"
    call = server.stub.StreamAlerts(request)
    got = await read_alerts(call, len(expected))
    seen = {
        ("t-" if e.alert.subject.scope == types_pb2.SCOPE_TENANT else "")
        + e.alert.subject.identifier
        for e in got
    }
    assert seen == expected
    # Nothing else comes: the next event is a heartbeat whose cursor has passed the filtered-out
    # alerts, so a resume from it would not replay them.
    async with asyncio.timeout(5):
        event = await call.read()
    assert event.WhichOneof("event") == "heartbeat"
    assert event.heartbeat.cursor == last
    call.cancel()


async def test_idle_live_streams_get_heartbeats_with_the_last_cursor(
    raise_alert: RaiseAlert, start_alert_server: StartServer
) -> None:
    before = await raise_alert(identifier="earlier")
    server = await start_alert_server(heartbeat_interval=0.05)
    call = server.stub.StreamAlerts(quota_pb2.StreamAlertsRequest())
    async with asyncio.timeout(5):
        first = await call.read()
        second = await call.read()
    assert first.WhichOneof("event") == second.WhichOneof("event") == "heartbeat"
    assert first.heartbeat.cursor == before  # live-only: it starts at the stream's end
    assert first.heartbeat.time.seconds > 0
    call.cancel()


async def test_bad_filters_are_invalid_argument_naming_the_field(
    start_alert_server: StartServer,
) -> None:
    server = await start_alert_server()
    bad = {
        "scopes": quota_pb2.StreamAlertsRequest(scopes=[types_pb2.SCOPE_UNSPECIFIED]),
        "kinds": quota_pb2.StreamAlertsRequest(kinds=[types_pb2.ALERT_KIND_UNSPECIFIED]),
        "cursor": quota_pb2.StreamAlertsRequest(cursor="yesterday"),
    }
    for field, request in bad.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await read_alerts(server.stub.StreamAlerts(request), 1)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (caught.value.details() or "")


async def test_close_ends_open_streams_with_status_ok(start_alert_server: StartServer) -> None:
    server = await start_alert_server()
    calls = [server.stub.StreamAlerts(quota_pb2.StreamAlertsRequest()) for _ in range(3)]
    await wait_for_subscribers(server.streamer, 3)
    await server.streamer.close()
    for call in calls:
        async with asyncio.timeout(5):
            assert await call.read() is grpc.aio.EOF
        assert await call.code() == grpc.StatusCode.OK


async def test_a_slow_subscriber_is_cut_off_without_holding_up_others_and_resumes(
    store: Store, raise_alert: RaiseAlert
) -> None:
    hub = AlertHub(store, queue_size=5)
    slow = hub.events(AlertFilter())
    fast = hub.events(AlertFilter())
    slow_first = asyncio.create_task(anext(slow))
    fast_first = asyncio.create_task(anext(fast))
    await until(lambda: hub.subscriber_count == 2)
    ids = [await raise_alert(identifier="u0")]
    assert (await slow_first).id == (await fast_first).id == ids[0]

    async def consume_fast() -> list[str]:
        seen = []
        while len(seen) < 50:
            event = await anext(fast)
            assert isinstance(event, Alert)
            seen.append(event.id)
        return seen

    fast_task = asyncio.create_task(consume_fast())  # keeps up while the slow one sleeps
    for n in range(1, 51):
        ids.append(await raise_alert(identifier=f"u{n}"))
    async with asyncio.timeout(5):
        assert await fast_task == ids[1:]

    slow_seen = []
    with pytest.raises(SubscriberTooSlow) as caught:
        async with asyncio.timeout(5):
            while True:
                event = await anext(slow)
                assert isinstance(event, Alert)
                slow_seen.append(event.id)
    assert slow_seen == ids[1:6]  # what its bounded queue held
    assert caught.value.cursor == ids[5]

    resumed = hub.events(AlertFilter(), caught.value.cursor)
    rest = [(await anext(resumed)).id for _ in range(45)]  # type: ignore[union-attr]
    assert rest == ids[6:]
    await hub.close()
    await slow.aclose()
    await fast.aclose()
    await resumed.aclose()
