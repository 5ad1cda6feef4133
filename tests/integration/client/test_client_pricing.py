"""QuotaClient, guard and the quota checker with model=, against a real sidecar: the sidecar
prices tokens when the client gives no cost, says how (priced_by), holds a priced estimate and
settles it, and a per-model quota applies to a guarded call. gpt-4o costs $2.50 input and $10
output per million tokens in the bundled genai-prices, so 1 000 in + 100 out = $0.0035."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quota_sidecar.client import QuotaClient, SyncQuotaClient, make_quota_checker
from quota_sidecar.domain.errors import InvalidInput, QuotaExceeded
from quota_sidecar.domain.models import CostQuota, DenialCode, QuotaConfig, QuotaScope, Subject
from quota_sidecar.pricing import GENAI_PRICES_VERSION
from quota_sidecar.server.app import Sidecar
from tests.integration.client.conftest import ADMIN_TOKEN, DATA_TOKEN

GENAI = f"genai-prices {GENAI_PRICES_VERSION}"
COST_1000_IN_100_OUT = 1_000 * 2_500 + 100 * 10_000  # nanos


async def budget(client: QuotaClient, scope: QuotaScope, name: str, daily: str = "1") -> None:
    await client.register_quota(
        QuotaConfig(scope, name, cost_quota=CostQuota(daily_limit=Decimal(daily)))
    )


async def test_a_record_without_a_cost_is_priced_by_the_sidecar(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, QuotaScope.USER, user_id)
    result = await client.record_usage(
        scope="user", identifier=user_id, provider="openai", model="gpt-4o",
        input_tokens=1_000, output_tokens=100, idempotency_key=f"k-{user_id}",
    )  # fmt: skip
    assert result.recorded
    assert (result.cost_nanos, result.priced_by) == (COST_1000_IN_100_OUT, GENAI)
    assert result.idempotency_key == f"k-{user_id}"
    usage = await client.get_quota_usage("user", user_id)
    assert usage.cost_today_nanos == COST_1000_IN_100_OUT
    assert [(e.name, e.cost_nanos, e.requests) for e in usage.by_model_today] == [
        ("openai/gpt-4o", COST_1000_IN_100_OUT, 1)
    ]
    assert [(e.name, e.cost_nanos) for e in usage.by_model_month] == [
        ("openai/gpt-4o", COST_1000_IN_100_OUT)
    ]


async def test_cache_tokens_are_priced_at_the_cache_rate(client: QuotaClient, user_id: str) -> None:
    # gpt-4o cache read: $1.25 per million; cache tokens are part of input_tokens.
    result = await client.record_usage(
        scope="user", identifier=user_id, provider="openai", model="gpt-4o",
        input_tokens=1_000, output_tokens=100, cache_read_tokens=400,
    )  # fmt: skip
    assert result.cost_nanos == 600 * 2_500 + 400 * 1_250 + 100 * 10_000
    assert result.idempotency_key.startswith("qc-")  # the generated key is returned


async def test_an_explicit_cost_wins_and_a_zero_cost_asks_for_pricing(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, QuotaScope.USER, user_id)
    tokens = {"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000, "output_tokens": 100}
    given = await client.record_usage(scope="user", identifier=user_id, cost="0.25", **tokens)  # type: ignore[arg-type]
    assert (given.cost_nanos, given.priced_by) == (250_000_000, "caller")
    # 0 is "no cost given" (the contract's plain int64): the tokens are priced.
    zero = await client.record_usage(scope="user", identifier=user_id, cost=0, **tokens)  # type: ignore[arg-type]
    nanos = await client.record_usage(scope="user", identifier=user_id, cost_nanos=0, **tokens)  # type: ignore[arg-type]
    priced = 1_000 * 2_500 + 100 * 10_000
    for result in (zero, nanos):
        assert result.cost_nanos == priced and result.priced_by.startswith("genai-prices ")
    usage = await client.get_quota_usage("user", user_id)
    assert usage.cost_today_nanos == 250_000_000 + 2 * priced


async def test_an_unpriced_model_is_refused_naming_model(client: QuotaClient, user_id: str) -> None:
    await budget(client, QuotaScope.USER, user_id)
    with pytest.raises(InvalidInput) as refused:
        await client.record_usage(
            scope="user", identifier=user_id, provider="openai", model="no-such-model-xyz",
            input_tokens=10, output_tokens=1,
        )  # fmt: skip
    assert refused.value.field == "model"
    assert (await client.get_quota_usage("user", user_id)).requests_today == 0


async def test_a_priced_estimate_holds_its_price_and_the_settle_prices_the_actual(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, QuotaScope.USER, user_id)
    check = await client.check_quota(
        scope="user", identifier=user_id, provider="openai", model="gpt-4o",
        estimated_input_tokens=10_000, estimated_output_tokens=1_000, reserve=True,
    )  # fmt: skip
    assert check.allowed and check.reservation_id
    held = await client.get_quota_usage("user", user_id)
    assert held.held_nanos == 10_000 * 2_500 + 1_000 * 10_000
    settled = await client.record_usage(
        scope="user", identifier=user_id, provider="openai", model="gpt-4o",
        input_tokens=1_000, output_tokens=100, reservation_id=check.reservation_id,
    )  # fmt: skip
    assert settled.hold_settled and settled.cost_nanos == COST_1000_IN_100_OUT
    after = await client.get_quota_usage("user", user_id)
    assert (after.held_nanos, after.cost_today_nanos) == (0, COST_1000_IN_100_OUT)


async def test_guard_with_a_model_prices_the_call_and_a_model_quota_applies(
    client: QuotaClient, user_id: str
) -> None:
    # The model's own budget: room for one priced estimate of 11 000 in + 1 000 out ($0.0375).
    await budget(client, QuotaScope.MODEL, "openai/gpt-4o", daily="0.05")
    estimate = {"estimated_input_tokens": 11_000, "estimated_output_tokens": 1_000}
    async with client.guard(
        user_id=user_id, tool_name="chat", provider="openai", model="gpt-4o", **estimate
    ) as g:
        model = await client.get_quota_usage("model", "openai/gpt-4o")
        assert model.held_nanos == 11_000 * 2_500 + 1_000 * 10_000
        recorded = await g.record(input_tokens=10_000, output_tokens=1_000)
    assert recorded.priced_by == GENAI and recorded.cost_nanos == 35_000_000
    assert {t.subject for t in recorded.totals} == {
        Subject(QuotaScope.USER, user_id),
        Subject(QuotaScope.TOOL, "chat"),
        Subject(QuotaScope.PROVIDER, "openai"),
        Subject(QuotaScope.MODEL, "openai/gpt-4o"),
    }
    # $0.035 spent of $0.05: the same estimate no longer fits the model's budget.
    with pytest.raises(QuotaExceeded) as denied:
        async with client.guard(
            user_id=user_id, tool_name="chat", provider="openai", model="gpt-4o", **estimate
        ):
            pass
    assert denied.value.code == DenialCode.BUDGET_EXHAUSTED.value
    # skip_model_subject leaves the model's budget out of the check.
    async with client.guard(
        user_id=user_id, tool_name="chat", provider="openai", model="gpt-4o",
        skip_model_subject=True, **estimate,
    ) as g:  # fmt: skip
        skipped = await g.record(input_tokens=1_000, output_tokens=100)
    assert Subject(QuotaScope.MODEL, "openai/gpt-4o") not in {t.subject for t in skipped.totals}
    model = await client.get_quota_usage("model", "openai/gpt-4o")
    assert (model.cost_today_nanos, model.held_nanos) == (35_000_000, 0)


async def test_guard_with_a_dollar_estimate_still_records_a_given_cost(
    client: QuotaClient, user_id: str
) -> None:
    await budget(client, QuotaScope.USER, user_id)
    async with client.guard(
        user_id=user_id, tool_name="chat", provider="openai", model="gpt-4o", estimated_cost=0.2
    ) as g:
        recorded = await g.record(cost=0.1, input_tokens=1_000, output_tokens=100)
    assert (recorded.cost_nanos, recorded.priced_by) == (100_000_000, "caller")


async def test_the_quota_checker_checks_the_model_quota(client: QuotaClient, user_id: str) -> None:
    await budget(client, QuotaScope.MODEL, "openai/gpt-4o", daily="0.01")
    checker = make_quota_checker(
        client, provider="openai", model="gpt-4o", estimated_input_tokens=4_000
    )
    assert (await checker("search", user_id, 0)).allowed  # 4 000 x $2.50/M = $0.01
    with pytest.raises(QuotaExceeded) as denied:
        await make_quota_checker(
            client, provider="openai", model="gpt-4o", estimated_input_tokens=4_001
        )("search", user_id, 0)
    assert denied.value.code == DenialCode.BUDGET_EXHAUSTED.value


async def test_the_sync_client_prices_records_and_guards(sidecar: Sidecar, user_id: str) -> None:
    import asyncio

    def run() -> tuple[int, str, int]:
        with SyncQuotaClient(sidecar.target, token=DATA_TOKEN, admin_token=ADMIN_TOKEN) as quota:
            with quota.guard(
                user_id=user_id, tool_name="chat", provider="openai", model="gpt-4o",
                estimated_input_tokens=1_000, estimated_output_tokens=100,
            ) as g:  # fmt: skip
                recorded = g.record(input_tokens=1_000, output_tokens=100, cache_read_tokens=0)
            usage = quota.get_quota_usage("user", user_id)
            return recorded.cost_nanos, recorded.priced_by, usage.by_model_today[0].cost_nanos

    assert await asyncio.to_thread(run) == (COST_1000_IN_100_OUT, GENAI, COST_1000_IN_100_OUT)
