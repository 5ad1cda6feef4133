"""Costs from the bundled genai-prices snapshot, against values worked out by hand here."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import data_snapshot

from quota_sidecar.pricing import GENAI_PRICES_VERSION, GenaiPrices, PriceBook, TokenUsage

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def test_openai_gpt_4o_with_cache_reads(book: PriceBook) -> None:
    # gpt-4o: $2.50 input, $1.25 cache read, $10 output per million tokens.
    usage = TokenUsage(input_tokens=12_345, output_tokens=678, cache_read_tokens=2_000)
    uncached = 10_345 * 2_500  # tokens x nanos per token (x1000: $/MTok -> nanos/token)
    cache_read = 2_000 * 1_250
    output = 678 * 10_000
    assert (uncached, cache_read, output) == (25_862_500, 2_500_000, 6_780_000)
    cost = book.cost("openai", "gpt-4o", usage, AT)
    assert cost is not None
    assert cost.nanos == 35_142_500
    assert str(cost.priced_by) == f"genai-prices {GENAI_PRICES_VERSION}" == "genai-prices 0.2.3"


def test_anthropic_claude_with_cache_write_and_read(book: PriceBook) -> None:
    # claude-sonnet-4 (dated name): $3 input, $0.30 cache read, $3.75 cache write, $15 output.
    usage = TokenUsage(
        input_tokens=10_000, output_tokens=500, cache_read_tokens=6_000, cache_write_tokens=3_000
    )
    expected = 1_000 * 3_000 + 6_000 * 300 + 3_000 * 3_750 + 500 * 15_000
    assert expected == 3_000_000 + 1_800_000 + 11_250_000 + 7_500_000 == 23_550_000
    cost = book.cost("anthropic", "claude-sonnet-4-20250514", usage, AT)
    assert cost is not None and cost.nanos == 23_550_000


def test_google_gemini_flash(book: PriceBook) -> None:
    # gemini-2.5-flash: $0.30 input, $0.03 cache read, $2.50 output.
    usage = TokenUsage(input_tokens=7, output_tokens=3, cache_read_tokens=1)
    assert 6 * 300 + 1 * 30 + 3 * 2_500 == 9_330
    cost = book.cost("google", "gemini-2.5-flash", usage, AT)
    assert cost is not None and cost.nanos == 9_330
    # genai-prices' own aliases for the provider reach the same model.
    for alias in ("gemini", "vertex"):
        again = book.cost(alias, "gemini-2.5-flash", usage, AT)
        assert again is not None and again.nanos == 9_330


def test_tiers_switch_all_tokens_strictly_above_the_threshold(book: PriceBook) -> None:
    # gemini-2.5-pro: $1.25 / $10 up to 200k input tokens, $2.50 / $15 above (the cliff rule).
    at_threshold = TokenUsage(input_tokens=200_000, output_tokens=1_000)
    above = TokenUsage(input_tokens=200_001, output_tokens=1_000)
    low = book.cost("google", "gemini-2.5-pro", at_threshold, AT)
    high = book.cost("google", "gemini-2.5-pro", above, AT)
    assert low is not None and low.nanos == 200_000 * 1_250 + 1_000 * 10_000 == 260_000_000
    assert high is not None and high.nanos == 200_001 * 2_500 + 1_000 * 15_000 == 515_002_500


def test_time_of_day_prices_apply_at_the_instant(book: PriceBook) -> None:
    # deepseek-chat: $0.27 input from 00:30 to 16:30 UTC, $0.135 otherwise.
    usage = TokenUsage(input_tokens=1_000_000)
    peak = book.cost("deepseek", "deepseek-chat", usage, datetime(2026, 6, 1, 0, 30, tzinfo=UTC))
    off = book.cost("deepseek", "deepseek-chat", usage, datetime(2026, 6, 1, 0, 29, tzinfo=UTC))
    assert peak is not None and peak.nanos == 270_000_000
    assert off is not None and off.nanos == 135_000_000


def test_a_per_request_fee_is_charged(book: PriceBook) -> None:
    # perplexity sonar: $1 / $1 per million tokens plus $12 per thousand requests.
    cost = book.cost("perplexity", "sonar", TokenUsage(input_tokens=1_000, output_tokens=1), AT)
    assert cost is not None and cost.nanos == 1_000 * 1_000 + 1 * 1_000 + 12_000_000


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        ("openai", "gpt-4o", TokenUsage(12_345, 678, 2_000)),
        ("anthropic", "claude-sonnet-4-20250514", TokenUsage(10_000, 500, 6_000, 3_000)),
        ("anthropic", "claude-3-5-haiku-latest", TokenUsage(9_999, 77, 1_234, 4_321)),
        ("google", "gemini-2.5-pro", TokenUsage(250_000, 9, 100_000)),
        ("google", "gemini-2.5-flash", TokenUsage(7, 3, 1)),
    ],
)
def test_the_same_exact_total_as_genai_prices_itself(
    book: PriceBook, provider: str, model: str, usage: TokenUsage
) -> None:
    theirs = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        model,
        provider_id=provider,
        genai_request_timestamp=AT,
    )
    ours = book.cost(provider, model, usage, AT)
    assert ours is not None
    assert Decimal(ours.nanos) == theirs.total_price * 1_000_000_000


def test_unknown_models_and_providers_are_unpriced(book: PriceBook) -> None:
    usage = TokenUsage(input_tokens=10)
    assert book.cost("openai", "no-such-model-xyz", usage, AT) is None
    assert book.cost("no-such-provider", "gpt-4o", usage, AT) is None
    assert book.cost("", "gpt-4o", usage, AT) is None
    # A speech model has no token prices at all.
    assert book.price("elevenlabs", "eleven_multilingual_v2", AT) is None


def test_tokens_without_a_rate_are_unpriced_never_free(book: PriceBook) -> None:
    # An embedding model has an input rate only: input is priced, output tokens are not.
    assert book.cost("openai", "text-embedding-3-small", TokenUsage(1_000), AT) is not None
    assert book.cost("openai", "text-embedding-3-small", TokenUsage(1_000, 1), AT) is None


def test_a_fetched_snapshot_never_replaces_the_bundled_one() -> None:
    # What genai-prices' auto-update does process-wide: install a fetched (here empty) snapshot.
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot([], from_auto_update=True))
    try:
        price = GenaiPrices().price("openai", "gpt-4o", AT)
        assert price is not None and price.input is not None
        assert price.input.base == Decimal("2.5")
    finally:
        data_snapshot.set_custom_snapshot(None)
    assert not any(t.name == "genai_prices:update" for t in threading.enumerate())


def test_naive_instants_are_refused(book: PriceBook) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        book.price("openai", "gpt-4o", datetime(2026, 1, 1))
