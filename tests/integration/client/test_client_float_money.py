"""Issue 20 D through the public Python API: a float amount is approximate by nature and is taken
to the nearest nano (round half even on its exact binary value), in the in-process service (the
seed facade), the remote client and the guard alike; str, Decimal and int stay exact or refused;
nan, inf and bool are refused naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from quota_sidecar import QuotaScope, QuotaService
from quota_sidecar.client import QuotaClient
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.money import to_nanos

# cost computed from a price per token, as the seed's README does: 0.015000000000000001
PRICED = 15 / 1e6 * 1000


@pytest.fixture
async def service(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[QuotaService]:
    monkeypatch.setenv("QUOTA_SIDECAR_REDIS_URL", redis_url)
    quota_service = QuotaService()
    yield quota_service
    await quota_service.close()


@pytest.mark.parametrize(
    ("cost", "nanos"),
    [
        (PRICED, 15_000_000),
        (0.1 + 0.2, 300_000_000),
        (1.0000000005, 1_000_000_001),
    ],  # its binary value is above the half,
)
async def test_float_costs_are_taken_to_the_nearest_nano_in_process(
    service: QuotaService, user_id: str, cost: float, nanos: int
) -> None:
    check = await service.check_quota(
        scope=QuotaScope.USER, identifier=user_id, estimated_cost=cost
    )
    assert check.allowed
    await service.record_usage(scope=QuotaScope.USER, identifier=user_id, cost=cost)
    usage = await service.get_quota_usage(scope=QuotaScope.USER, identifier=user_id)
    assert usage.cost_today == Decimal(nanos).scaleb(-9)


@pytest.mark.parametrize(
    ("cost", "nanos"),
    [(PRICED, 15_000_000), (0.1 + 0.2, 300_000_000)],
)
async def test_float_costs_are_taken_to_the_nearest_nano_remotely(
    client: QuotaClient, user_id: str, cost: float, nanos: int
) -> None:
    check = await client.check_quota(scope=QuotaScope.USER, identifier=user_id, estimated_cost=cost)
    assert check.allowed
    await client.record_usage(scope=QuotaScope.USER, identifier=user_id, cost=cost)
    usage = await client.get_quota_usage(scope=QuotaScope.USER, identifier=user_id)
    assert usage.cost_today == Decimal(nanos).scaleb(-9)
    async with client.guard(user_id=user_id, tool_name="search", estimated_cost=cost) as guard:
        await guard.record(cost=cost)
    usage = await client.get_quota_usage(scope=QuotaScope.USER, identifier=user_id)
    assert usage.cost_today == 2 * Decimal(nanos).scaleb(-9)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), True, -0.01])
async def test_non_finite_negative_and_boolean_costs_are_refused_naming_the_field(
    service: QuotaService, client: QuotaClient, user_id: str, bad: object
) -> None:
    for api in (service, client):
        with pytest.raises(InvalidInput) as caught:
            await api.record_usage(scope=QuotaScope.USER, identifier=user_id, cost=bad)  # type: ignore[arg-type]
        assert caught.value.field == "cost"
    usage = await service.get_quota_usage(scope=QuotaScope.USER, identifier=user_id)
    assert usage.cost_today == 0 and usage.requests_today == 0


@pytest.mark.parametrize("exact", ["0.0150000000001", Decimal("0.0150000000001")])
def test_text_and_decimal_stay_exact_or_refused(exact: object) -> None:
    with pytest.raises(InvalidInput, match="nano"):
        to_nanos(exact, "cost")  # type: ignore[arg-type]
