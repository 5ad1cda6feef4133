"""StreamAlerts refuses a hostile resume cursor with INVALID_ARGUMENT naming `cursor`: numbers
past a stream id's 64-bit parts and digits that are not ASCII (Python's int() and \\d accept
fullwidth and Arabic-Indic digits, Redis does not) never reach Redis, so never INTERNAL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc
from tests.support.sidecar import running_sidecar

MAX_PART = 2**64 - 1
HOSTILE_CURSORS = [
    "99999999999999999999",  # 20 digits, past 2**64 - 1
    f"{MAX_PART + 1}-0",  # 18446744073709551616-0
    f"0-{MAX_PART + 1}",
    "\uff11\uff12\uff13",  # fullwidth digits
    "\u0663",  # an Arabic-Indic digit
    "1-\u0663",
    "5\n",  # a regex `$` matches before a trailing newline
    "-1",
    "1-",
]


@pytest.fixture
async def sidecar(redis_url: str) -> AsyncIterator[Sidecar]:
    async with running_sidecar(redis_url, alert_heartbeat=0.1) as s:
        yield s


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS)
async def test_a_hostile_cursor_is_invalid_argument_naming_the_field(
    sidecar: Sidecar, cursor: str
) -> None:
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        call = stub.StreamAlerts(quota_pb2.StreamAlertsRequest(cursor=cursor))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert (caught.value.details() or "").startswith("cursor: "), caught.value.details()


@pytest.mark.parametrize("cursor", [f"{MAX_PART}-{MAX_PART}", str(MAX_PART), "0", "0-0"])
async def test_the_largest_and_smallest_valid_cursors_are_served(
    sidecar: Sidecar, cursor: str
) -> None:
    """The bounds themselves are stream ids: a resume from them waits for live alerts (here a
    heartbeat comes), it is not an error."""
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        call = stub.StreamAlerts(quota_pb2.StreamAlertsRequest(cursor=cursor))
        event = await call.read()
        assert event is not grpc.aio.EOF and event.WhichOneof("event") == "heartbeat"
        call.cancel()
