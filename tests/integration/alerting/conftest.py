"""Fixtures of the alert tests: a Store on the test Redis, a helper that raises alerts the way
the engine's scripts do (both streams, codec format), and a real gRPC server on port 0 that
serves StreamAlerts through the AlertStreamer (the full sidecar is used where the engine is
needed)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
import pytest

from quota_sidecar.domain.clock import SystemClock
from quota_sidecar.domain.models import LimitKind, QuotaScope, Subject
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.server.alert_stream import AlertStreamer
from quota_sidecar.store.alert_codec import (
    ALERTS_STREAM,
    NewAlert,
    encode_alert,
    subject_stream,
)
from quota_sidecar.store.redis import Store
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc

RaiseAlert = Callable[..., Awaitable[str]]


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    store = Store.from_url(redis_url)
    yield store
    await store.close()


@pytest.fixture
def raise_alert(store: Store) -> RaiseAlert:
    """XADD an alert to the shared and the subject stream, as the engine's scripts do."""

    async def raise_(
        kind: AlertKind = AlertKind.THRESHOLD_WARNING,
        identifier: str = "alice",
        scope: QuotaScope = QuotaScope.USER,
        percent: int = 80,
        message: str = "",
    ) -> str:
        subject = Subject(scope, identifier)
        fields = encode_alert(
            NewAlert(
                kind,
                subject,
                SystemClock().now_ms(),
                message or f"{kind.value} for {subject}",
                limit=LimitKind.COST_DAILY,
                percent=percent,
                used=8_000_000_000,
                limit_value=10_000_000_000,
                period="day:2026-11-28",
            )
        )
        entry_id: str = await store.client.xadd(ALERTS_STREAM, fields)  # type: ignore[arg-type]
        await store.client.xadd(subject_stream(subject), fields, id=entry_id)  # type: ignore[arg-type]
        return entry_id

    return raise_


class _StreamOnly(quota_pb2_grpc.QuotaServiceServicer):
    def __init__(self, streamer: AlertStreamer) -> None:
        self.streamer = streamer

    async def StreamAlerts(
        self, request: quota_pb2.StreamAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[quota_pb2.StreamAlertsResponse]:
        async for event in self.streamer.stream(request, context):
            yield event


@dataclass
class AlertServer:
    streamer: AlertStreamer
    server: grpc.aio.Server
    channel: grpc.aio.Channel
    stub: quota_pb2_grpc.QuotaServiceStub


StartServer = Callable[..., Awaitable[AlertServer]]


@pytest.fixture
async def start_alert_server(redis_url: str) -> AsyncIterator[StartServer]:
    """Start a real gRPC server (port 0) with its own Store and AlertStreamer on the test Redis."""
    started: list[tuple[AlertServer, Store]] = []

    async def start(heartbeat_interval: float = 15.0, queue_size: int = 1000) -> AlertServer:
        server_store = Store.from_url(redis_url)
        streamer = AlertStreamer(
            server_store, heartbeat_interval=heartbeat_interval, queue_size=queue_size
        )
        server = grpc.aio.server()
        quota_pb2_grpc.add_QuotaServiceServicer_to_server(_StreamOnly(streamer), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        running = AlertServer(streamer, server, channel, quota_pb2_grpc.QuotaServiceStub(channel))
        started.append((running, server_store))
        return running

    yield start
    for running, server_store in started:
        await running.streamer.close()
        await running.channel.close()
        await running.server.stop(0)
        await server_store.close()


async def read_alerts(
    call: grpc.aio.UnaryStreamCall[quota_pb2.StreamAlertsRequest, quota_pb2.StreamAlertsResponse],
    count: int,
    timeout: float = 5.0,
) -> list[quota_pb2.StreamAlertsResponse]:
    """The next `count` alert events of a stream (heartbeats skipped)."""
    alerts: list[quota_pb2.StreamAlertsResponse] = []
    async with asyncio.timeout(timeout):
        while len(alerts) < count:
            event = await call.read()
            assert event is not grpc.aio.EOF, "stream ended early"
            if event.WhichOneof("event") == "alert":
                alerts.append(event)
    return alerts


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll a condition of asynchronous delivery (sync or async predicate) until it holds."""
    async with asyncio.timeout(timeout):
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.005)


async def wait_for_subscribers(streamer: AlertStreamer, count: int = 1) -> None:
    """Wait until the streamer has attached `count` live subscribers."""
    await until(lambda: streamer.open_streams >= count)
