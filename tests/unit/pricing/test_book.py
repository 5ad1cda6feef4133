"""Precedence (caller > override in force > genai-prices), effective_from, hot reload, rounding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.pricing import (
    CALLER,
    OVERRIDE,
    ModelPrice,
    PriceBook,
    PriceOverride,
    PriceSourceKind,
    Rate,
    TokenUsage,
    cost_nanos,
    exact_cost_usd,
)

SWITCH = datetime(2026, 7, 1, tzinfo=UTC)
USAGE = TokenUsage(input_tokens=1_000, output_tokens=100)  # gpt-4o: 2_500_000 + 1_000_000


def _override(input_: str, output: str, effective_from: datetime | None = None) -> PriceOverride:
    price = ModelPrice.flat(input=Decimal(input_), output=Decimal(output))
    return PriceOverride("OpenAI", "GPT-4o", price, effective_from)


def test_an_override_beats_genai_prices() -> None:
    book = PriceBook([_override("1", "2")])
    cost = book.cost("openai", "gpt-4o", USAGE, SWITCH)
    assert cost is not None and cost.priced_by == OVERRIDE and str(cost.priced_by) == "override"
    assert cost.nanos == 1_000 * 1_000 + 100 * 2_000 == 1_200_000


def test_effective_from_switches_the_price_at_the_exact_instant() -> None:
    book = PriceBook([_override("1", "2", SWITCH)])
    before = book.cost("openai", "gpt-4o", USAGE, SWITCH - timedelta(microseconds=1))
    at = book.cost("openai", "gpt-4o", USAGE, SWITCH)
    # Before its instant the override is not in force: genai-prices prices the call.
    assert before is not None and before.priced_by.kind is PriceSourceKind.GENAI_PRICES
    assert before.nanos == 3_500_000
    assert at is not None and at.priced_by == OVERRIDE and at.nanos == 1_200_000


def test_the_latest_override_in_force_wins_and_zones_are_instants() -> None:
    later = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)
    same_instant_in_berlin = datetime(2026, 8, 1, 4, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    book = PriceBook([_override("3", "3", later), _override("1", "1"), _override("2", "2", SWITCH)])
    prices = [
        book.price("openai", "gpt-4o", when)
        for when in (SWITCH - timedelta(days=1), SWITCH, later - timedelta(seconds=1), later)
    ]
    assert [q.price.input.base if q and q.price.input else None for q in prices] == [
        Decimal(1),
        Decimal(2),
        Decimal(2),
        Decimal(3),
    ]
    quote = book.price("openai", "gpt-4o", same_instant_in_berlin)
    assert quote is not None and quote.effective_from == later


def test_an_explicit_cost_beats_both() -> None:
    book = PriceBook([_override("1", "2")])
    cost = book.cost("openai", "gpt-4o", USAGE, SWITCH, explicit_cost_nanos=42)
    assert cost is not None and cost.nanos == 42 and cost.priced_by == CALLER
    assert cost.price is None
    # Even for a model nothing prices, and even zero.
    unknown = book.cost("acme", "unknown", USAGE, SWITCH, explicit_cost_nanos=0)
    assert unknown is not None and unknown.nanos == 0 and str(unknown.priced_by) == "caller"


@pytest.mark.parametrize("bad", [-1, 10**18, True, 1.5])
def test_an_explicit_cost_is_validated_by_name(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        PriceBook().cost("openai", "gpt-4o", USAGE, SWITCH, explicit_cost_nanos=bad)  # type: ignore[arg-type]
    assert err.value.field == "cost_nanos"


def test_hot_reload_replaces_all_overrides_and_a_bad_set_changes_nothing() -> None:
    book = PriceBook([_override("1", "2")])
    book.replace_overrides([_override("5", "5")])
    quote = book.price("openai", "gpt-4o", SWITCH)
    assert quote is not None and quote.price.input == Rate(Decimal(5))
    with pytest.raises(InvalidInput, match="same instant"):
        book.replace_overrides([_override("7", "7", SWITCH), _override("8", "8", SWITCH)])
    quote = book.price("openai", "gpt-4o", SWITCH)
    assert quote is not None and quote.price.input == Rate(Decimal(5))
    book.replace_overrides([])
    quote = book.price("openai", "gpt-4o", SWITCH)
    assert quote is not None and quote.source.kind is PriceSourceKind.GENAI_PRICES


def test_an_override_prices_a_model_genai_prices_does_not_know() -> None:
    price = ModelPrice.flat(input=Decimal("0.5"), output=Decimal("0.5"))
    book = PriceBook([PriceOverride("acme", "in-house-7b", price)])
    cost = book.cost("acme", "in-house-7b", TokenUsage(2, 2), SWITCH)
    assert cost is not None and cost.nanos == 2_000


# The rounding rule: the exact total, rounded up to a whole nano, once per call.


def test_rounding_is_up_once_on_the_total_not_per_part() -> None:
    # $0.0001875 per million tokens is 0.1875 nanos per token.
    price = ModelPrice.flat(input=Decimal("0.0001875"), output=Decimal("0.0001875"))
    one_each = TokenUsage(input_tokens=1, output_tokens=1)  # 0.375 nanos exactly
    assert exact_cost_usd(price, one_each) == Decimal("0.000000000375")
    assert cost_nanos(price, one_each) == 1  # rounded per part it would be 2
    assert cost_nanos(price, TokenUsage(input_tokens=8, output_tokens=8)) == 3  # exactly 3
    assert cost_nanos(price, TokenUsage(input_tokens=8, output_tokens=9)) == 4  # 3.1875 -> 4


def test_gemini_flash_cache_reads_round_up_to_the_next_nano() -> None:
    # gemini-1.5-flash cache reads: $0.01875/MTok = 18.75 nanos per token.
    price = ModelPrice.flat(input=Decimal("0.075"), cache_read=Decimal("0.01875"))
    assert cost_nanos(price, TokenUsage(input_tokens=1, cache_read_tokens=1)) == 19
    assert cost_nanos(price, TokenUsage(input_tokens=4, cache_read_tokens=4)) == 75
    assert cost_nanos(price, TokenUsage()) == 0


def test_missing_cache_rates_bill_cache_tokens_as_input() -> None:
    price = ModelPrice.flat(input=Decimal(2), output=Decimal(4))
    usage = TokenUsage(input_tokens=10, cache_read_tokens=3, cache_write_tokens=3)
    assert cost_nanos(price, usage) == 10 * 2_000


def test_a_cost_past_the_largest_amount_is_refused_by_name() -> None:
    price = ModelPrice.flat(input=Decimal(1_000_000))
    with pytest.raises(InvalidInput) as err:
        cost_nanos(price, TokenUsage(input_tokens=10**12))
    assert err.value.field == "cost"
