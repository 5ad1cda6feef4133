"""A record whose reply is lost is retried with the same idempotency key and counts once.

A small TCP proxy sits between the client and the sidecar. Once armed, it forwards the client's
next request to the sidecar and then, when the sidecar's reply starts (the first HTTP/2 HEADERS
or DATA frame after arming, so the record has been made), drops the connection instead of
forwarding it: the client sees UNAVAILABLE, reconnects and sends the record again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.errors import IdempotencyConflict
from quota_sidecar.server.app import Sidecar

from .conftest import DATA_TOKEN

# HTTP/2 frame types that carry a reply; SETTINGS, PING and WINDOW_UPDATE pass through, since
# the sidecar may send those as soon as the request arrives, before it has been handled.
_DATA, _HEADERS = 0x0, 0x1
_FRAME_HEADER = 9


class DroppingProxy:
    """Forwards 127.0.0.1:<port> to the sidecar; `arm()` makes it drop one reply."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.connections = 0
        self.drops = 0
        self._armed = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def arm(self) -> None:
        self._armed = True

    async def close(self) -> None:
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_r, upstream_w = await asyncio.open_connection(*self.upstream)
        self._writers |= {client_w, upstream_w}
        pipes = [
            asyncio.create_task(self._forward(client_r, upstream_w)),
            asyncio.create_task(self._forward_replies(upstream_r, client_w)),
        ]
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for task in pipes:
            task.cancel()
        for writer in (client_w, upstream_w):
            writer.close()
            self._writers.discard(writer)

    @staticmethod
    async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()

    async def _forward_replies(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Forward the sidecar's HTTP/2 frames one by one, dropping the connection at the
        first reply frame after arming."""
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                header = await reader.readexactly(_FRAME_HEADER)
                length, kind = int.from_bytes(header[:3], "big"), header[3]
                if self._armed and kind in (_DATA, _HEADERS):
                    self._armed = False
                    self.drops += 1
                    return  # the record was made; its reply never reaches the client
                writer.write(header + await reader.readexactly(length))
                await writer.drain()


@pytest.fixture
async def proxy(sidecar: Sidecar) -> AsyncIterator[DroppingProxy]:
    running = DroppingProxy(sidecar.host, sidecar.port)
    await running.start()
    yield running
    await running.close()


async def test_record_retried_after_a_dropped_connection_counts_once(
    proxy: DroppingProxy, user_id: str
) -> None:
    async with QuotaClient(f"127.0.0.1:{proxy.port}", token=DATA_TOKEN) as client:
        before = await client.get_quota_usage("user", user_id)  # the connection is up
        assert before.cost_today_nanos == 0 and proxy.connections == 1

        proxy.arm()
        result = await client.record_usage("user", user_id, cost=0.25, tool_name="search")

        assert proxy.drops == 1 and proxy.connections == 2  # dropped, then reconnected
        # The retry carried the first attempt's key, and the first attempt had been recorded.
        assert result.duplicate and not result.recorded
        usage = await client.get_quota_usage("user", user_id)
        assert usage.cost_today == Decimal("0.25")
        assert [(e.name, e.requests) for e in usage.by_tool_today] == [("search", 1)]


async def test_each_record_call_gets_its_own_key(client: QuotaClient, user_id: str) -> None:
    first = await client.record_usage("user", user_id, cost=0.1)
    second = await client.record_usage("user", user_id, cost=0.1)
    assert first.recorded and second.recorded
    same_key = await client.record_usage("user", user_id, cost=0.1, idempotency_key="k-1")
    repeat = await client.record_usage("user", user_id, cost=0.1, idempotency_key="k-1")
    assert same_key.recorded and repeat.duplicate
    with pytest.raises(IdempotencyConflict) as conflict:
        await client.record_usage("user", user_id, cost=0.2, idempotency_key="k-1")
    assert conflict.value.field == "idempotency_key"
    usage = await client.get_quota_usage("user", user_id)
    assert usage.cost_today == Decimal("0.3")
