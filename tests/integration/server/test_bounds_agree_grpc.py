"""One set of bounds for every field: the wire (CheckQuota, ExtendReservation on a real server),
the in-process engine's keyword API and the Python client accept and refuse the same values,
and a refusal names the field (INVALID_ARGUMENT over gRPC). Before issue 22 they disagreed:
tokens were capped at 10**12 by the wire and 10**10 by the engine, a 0.5 s lease passed the wire
and failed the engine, and a run's cost went nanos -> Decimal -> nanos under two bounds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration

from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.validation import MAX_COUNT, MAX_RUN_COST_NANOS
from quota_sidecar.server.app import Sidecar
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_TOKEN, running_sidecar

NANOS = 10**9
USER = Subject(QuotaScope.USER, "bounds")
WIRE_USER = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="bounds")
RUNS = "runs:\n  default: {max_cost: 1000000, ttl: 2h}\n"


@pytest.fixture
async def sidecar(redis_url: str, tmp_path: Path) -> AsyncIterator[Sidecar]:
    path = tmp_path / "quotas.yaml"
    path.write_text(RUNS)
    async with running_sidecar(redis_url, config_path=path) as s:
        yield s


@pytest.fixture
async def stub(sidecar: Sidecar) -> AsyncIterator[quota_pb2_grpc.QuotaServiceStub]:
    async with grpc.aio.insecure_channel(sidecar.target) as channel:
        yield quota_pb2_grpc.QuotaServiceStub(channel)


@pytest.fixture
async def client(sidecar: Sidecar) -> AsyncIterator[QuotaClient]:
    async with QuotaClient(sidecar.target, admin_token=ADMIN_TOKEN) as c:
        yield c


async def _refused(call: Callable[[], Awaitable[Any]]) -> str | None:
    """The field a call is refused naming, or None when it is accepted."""
    try:
        await call()
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        return (exc.details() or "").split(":")[0]
    except InvalidInput as exc:
        return exc.field
    return None


def _lease(seconds: float) -> Duration:
    duration = Duration()
    duration.FromTimedelta(timedelta(seconds=seconds))
    return duration


@pytest.mark.parametrize(
    ("tokens", "refused"),
    [(10**11, None), (MAX_COUNT, None), (MAX_COUNT + 1, "estimated_tokens")],
)
async def test_every_surface_caps_tokens_alike(
    sidecar: Sidecar,
    stub: quota_pb2_grpc.QuotaServiceStub,
    client: QuotaClient,
    tokens: int,
    refused: str | None,
) -> None:
    wire = quota_pb2.CheckQuotaRequest(subjects=[WIRE_USER], estimated_tokens=tokens)
    assert await _refused(lambda: stub.CheckQuota(wire)) == refused
    engine = sidecar.service
    assert await _refused(lambda: engine.check_quota(subjects=[USER], estimated_tokens=tokens)) == (
        refused
    )
    assert await _refused(lambda: client.check_quota(subjects=[USER], estimated_tokens=tokens)) == (
        refused
    )
    record = quota_pb2.RecordUsageRequest(subjects=[WIRE_USER], input_tokens=tokens)
    refused_record = None if refused is None else "input_tokens"
    assert await _refused(lambda: stub.RecordUsage(record)) == refused_record
    assert await _refused(lambda: engine.record_usage(subjects=[USER], input_tokens=tokens)) == (
        refused_record
    )


@pytest.mark.parametrize(("seconds", "refused"), [(0.5, "reservation_lease"), (1, None)])
async def test_every_surface_bounds_a_lease_alike(
    sidecar: Sidecar,
    stub: quota_pb2_grpc.QuotaServiceStub,
    client: QuotaClient,
    seconds: float,
    refused: str | None,
) -> None:
    lease = timedelta(seconds=seconds)
    wire = quota_pb2.CheckQuotaRequest(
        subjects=[WIRE_USER], reserve=True, reservation_lease=_lease(seconds)
    )
    assert await _refused(lambda: stub.CheckQuota(wire)) == refused
    engine = sidecar.service
    assert (
        await _refused(
            lambda: engine.check_quota(subjects=[USER], reserve=True, reservation_lease=lease)
        )
        == refused
    )
    assert (
        await _refused(
            lambda: client.check_quota(subjects=[USER], reserve=True, reservation_lease=lease)
        )
        == refused
    )
    held = await engine.check_quota(subjects=[USER], reserve=True)
    assert held.reservation_id
    extend = quota_pb2.ExtendReservationRequest(
        reservation_id=held.reservation_id, hold_cost_nanos=5, reservation_lease=_lease(seconds)
    )
    assert await _refused(lambda: stub.ExtendReservation(extend)) == refused
    assert (
        await _refused(
            lambda: client.extend_reservation(
                held.reservation_id or "", hold_cost_nanos=6, reservation_lease=lease
            )
        )
        == refused
    )


async def test_a_runs_cost_is_exact_and_bounded_alike(
    sidecar: Sidecar, stub: quota_pb2_grpc.QuotaServiceStub, client: QuotaClient
) -> None:
    nanos = 1_234_567_891  # $1.234567891, to the nano
    wire = quota_pb2.CheckQuotaRequest(subjects=[WIRE_USER], run_id="wire-run")
    wire.run_max_cost_nanos = nanos
    assert (await stub.CheckQuota(wire)).allowed
    dollars_asked = "1.234567891"
    await client.check_quota(subjects=[USER], run_id="client-run", run_max_cost=dollars_asked)
    engine = sidecar.service
    await engine.check_quota(subjects=[USER], run_id="engine-run", run_max_cost=dollars_asked)
    for run in ("wire-run", "client-run", "engine-run"):
        tree = await sidecar.service.run_usage(run)
        assert tree.max_cost_nanos == nanos, run
    # Past the bound: refused by the wire as by the engine (which once took it past the wire).
    over = quota_pb2.CheckQuotaRequest(subjects=[WIRE_USER], run_id="too-big")
    over.run_max_cost_nanos = MAX_RUN_COST_NANOS + 1
    assert await _refused(lambda: stub.CheckQuota(over)) == "run_max_cost_nanos"
    dollars = (MAX_RUN_COST_NANOS + NANOS) // NANOS
    assert (
        await _refused(
            lambda: client.check_quota(subjects=[USER], run_id="too-big", run_max_cost=dollars)
        )
        == "run_max_cost"
    )
    assert (
        await _refused(
            lambda: sidecar.service.check_quota(
                subjects=[USER], run_id="too-big", run_max_cost=dollars
            )
        )
        == "run_max_cost"
    )
