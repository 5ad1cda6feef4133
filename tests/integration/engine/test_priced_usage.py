"""The sidecar prices calls itself, exactly: records and estimates from tokens through the
engine and real Redis, the precedence caller > override > genai-prices, effective_from, and
each unpriced policy. Expected amounts are worked out by hand from the per-million prices."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from quota_sidecar import CostQuota, InvalidInput, QuotaConfig, QuotaScope, QuotaService
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.models import UnpricedPolicy
from quota_sidecar.pricing import GENAI_PRICES_VERSION, ModelPrice, PriceOverride

GENAI = f"genai-prices {GENAI_PRICES_VERSION}"
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _engine(url: str) -> tuple[QuotaService, ManualClock]:
    clock = ManualClock(START)
    return QuotaService(url, clock=clock), clock


async def _budget(engine: QuotaService, name: str, policy: UnpricedPolicy | None = None) -> None:
    quota = CostQuota(daily_limit=Decimal(100), unpriced=policy)
    await engine.put_quota(QuotaConfig(scope=QuotaScope.USER, identifier=name, cost_quota=quota))


async def test_records_are_priced_for_three_providers(any_redis_url: str) -> None:
    engine, _ = _engine(any_redis_url)
    # gpt-4o: $2.50 input, $1.25 cache read, $10 output per million tokens.
    openai = await engine.record_usage(
        scope="user", identifier="p", provider="openai", model="gpt-4o",
        input_tokens=12_345, output_tokens=678, cache_read_tokens=2_000,
    )  # fmt: skip
    assert openai.cost_nanos == 10_345 * 2_500 + 2_000 * 1_250 + 678 * 10_000 == 35_142_500
    assert openai.priced_by == GENAI
    # claude-sonnet-4: $3 input, $0.30 cache read, $3.75 cache write, $15 output.
    anthropic = await engine.record_usage(
        scope="user", identifier="p", provider="anthropic", model="claude-sonnet-4-20250514",
        input_tokens=10_000, output_tokens=500, cache_read_tokens=6_000, cache_write_tokens=3_000,
    )  # fmt: skip
    assert anthropic.cost_nanos == 1_000 * 3_000 + 6_000 * 300 + 3_000 * 3_750 + 500 * 15_000
    # gemini-2.5-flash: $0.30 input, $0.03 cache read, $2.50 output.
    google = await engine.record_usage(
        scope="user", identifier="p", provider="google", model="gemini-2.5-flash",
        input_tokens=7, output_tokens=3, cache_read_tokens=1,
    )  # fmt: skip
    assert google.cost_nanos == 6 * 300 + 1 * 30 + 3 * 2_500 == 9_330
    usage = await engine.get_quota_usage("user", "p")
    assert usage.cost_today_nanos == 35_142_500 + 23_550_000 + 9_330
    assert {e.name: e.cost_nanos for e in usage.by_model_today} == {
        "openai/gpt-4o": 35_142_500,
        "anthropic/claude-sonnet-4-20250514": 23_550_000,
        "google/gemini-2.5-flash": 9_330,
    }
    await engine.close()


async def test_an_override_beats_genai_prices_from_its_instant_and_a_cost_beats_both(
    any_redis_url: str,
) -> None:
    engine, clock = _engine(any_redis_url)
    switch = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    engine.pricer.book.replace_overrides(
        [
            PriceOverride(
                "openai", "gpt-4o", ModelPrice.flat(input=Decimal(2), output=Decimal(8)), switch
            )
        ]
    )

    async def record(**extra: object) -> tuple[int, str]:
        result = await engine.record_usage(
            scope="user", identifier="o", provider="openai", model="gpt-4o",
            input_tokens=1_000, output_tokens=100, **extra,  # type: ignore[arg-type]
        )  # fmt: skip
        return result.cost_nanos, result.priced_by

    assert await record() == (1_000 * 2_500 + 100 * 10_000, GENAI)  # before the switch
    clock.set(switch)
    assert await record() == (1_000 * 2_000 + 100 * 8_000, "override")  # at the instant
    assert await record(cost=Decimal("0.5")) == (500_000_000, "caller")
    assert await record(cost_nanos=0) == (1_000 * 2_000 + 100 * 8_000, "override")  # 0: price it
    await engine.close()


async def test_an_estimate_reserves_a_priced_hold_and_the_settle_prices_the_actual(
    any_redis_url: str,
) -> None:
    engine, _ = _engine(any_redis_url)
    await _budget(engine, "e")
    check = await engine.check_quota(
        scope="user", identifier="e", provider="openai", model="gpt-4o",
        estimated_input_tokens=10_000, estimated_output_tokens=1_000, reserve=True,
    )  # fmt: skip
    assert check.allowed and check.reservation_id
    held = (await engine.get_quota_usage("user", "e")).held_nanos
    assert held == 10_000 * 2_500 + 1_000 * 10_000 == 35_000_000
    settled = await engine.record_usage(
        scope="user", identifier="e", provider="openai", model="gpt-4o",
        input_tokens=4_000, output_tokens=200, reservation_id=check.reservation_id,
    )  # fmt: skip
    assert settled.hold_settled
    usage = await engine.get_quota_usage("user", "e")
    assert (usage.held_nanos, usage.cost_today_nanos) == (0, 4_000 * 2_500 + 200 * 10_000)
    await engine.close()


async def test_each_unpriced_policy(any_redis_url: str) -> None:
    engine, _ = _engine(any_redis_url)
    await _budget(engine, "strict")  # the default: require_cost
    await _budget(engine, "deny", UnpricedPolicy.DENY)
    await _budget(engine, "free", UnpricedPolicy.ALLOW_ZERO)
    call = {"provider": "acme", "model": "mystery-1"}
    for name in ("strict", "deny"):
        with pytest.raises(InvalidInput) as refused:
            await engine.record_usage(scope="user", identifier=name, input_tokens=5, **call)
        assert refused.value.field == "model"
    with pytest.raises(InvalidInput) as refused:
        await engine.check_quota(
            scope="user", identifier="strict", estimated_input_tokens=5, **call
        )
    assert refused.value.field == "model"
    denied = await engine.check_quota(
        scope="user", identifier="deny", estimated_input_tokens=5, **call
    )
    assert (denied.allowed, denied.code) == (False, "UNPRICED_MODEL")
    assert (await engine.get_quota_usage("user", "deny")).requests_today == 0  # nothing consumed
    free = await engine.record_usage(scope="user", identifier="free", input_tokens=5, **call)
    assert (free.recorded, free.cost_nanos, free.priced_by) == (True, 0, "unpriced")
    # With the cost given, any policy records it; a quota with no budget needs no price.
    given = await engine.record_usage(
        scope="user", identifier="strict", input_tokens=5, cost=Decimal("0.01"), **call
    )
    assert (given.cost_nanos, given.priced_by) == (10_000_000, "caller")
    no_budget = await engine.record_usage(scope="user", identifier="nobody", input_tokens=5, **call)
    assert no_budget.recorded and no_budget.cost_nanos == 0
    await engine.close()
