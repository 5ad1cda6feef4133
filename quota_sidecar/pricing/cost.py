"""The arithmetic: tokens x rates, exact, rounded once.

The rounding rule, applied exactly once per call, to the exact total: the sum over every kind of
token of tokens x (USD per million) / 1_000_000, plus any per-request fee, is computed as an exact
rational number (`Fraction`, which no Decimal context can round or trap), converted to nanos,
and rounded UP to the next whole nano-dollar if it is not whole already. Up, because a budget
tool must never under-charge: the bias is below one nano-dollar per call (a dollar per billion
calls), while rounding each part, or rounding half-down, would let many small calls slip under a
budget. Prices with at most three decimal places per million tokens give whole nanos anyway, so
for most models the rule never has to act.
"""

from __future__ import annotations

from fractions import Fraction

from quota_sidecar.domain.money import MAX_AMOUNT_NANOS, NANOS_PER_DOLLAR, check_nanos
from quota_sidecar.pricing.table import ModelPrice, Rate
from quota_sidecar.pricing.usage import TokenUsage

__all__ = ["cost_nanos", "exact_cost_usd"]

_TOKENS_PER_RATE_UNIT = 1_000_000


def exact_cost_usd(price: ModelPrice, usage: TokenUsage) -> Fraction | None:
    """The exact USD cost, or None when the usage has tokens of a kind the price lacks."""
    total = Fraction(0)
    # A missing cache rate bills those tokens as ordinary input, as genai-prices does.
    parts: list[tuple[int, Rate | None]] = [
        (usage.uncached_input_tokens, price.input),
        (usage.cache_read_tokens, price.cache_read or price.input),
        (usage.cache_write_tokens, price.cache_write or price.input),
        (usage.output_tokens, price.output),
    ]
    for tokens, rate in parts:
        if tokens == 0:
            continue
        if rate is None:
            return None  # tokens with no rate are unpriced, never free
        # Tiers are chosen by the whole input, cache included (genai-prices' threshold).
        total += tokens * Fraction(rate.per_mtok(usage.input_tokens)) / _TOKENS_PER_RATE_UNIT
    if price.per_request is not None:
        total += Fraction(price.per_request)
    return total


def cost_nanos(price: ModelPrice, usage: TokenUsage) -> int | None:
    """The cost in nanos by the one rounding rule (up, once), or None when unpriced.

    A cost beyond the largest amount a record may carry is InvalidInput naming `cost`."""
    exact = exact_cost_usd(price, usage)
    if exact is None:
        return None
    nanos = exact * NANOS_PER_DOLLAR
    rounded_up = -(-nanos.numerator // nanos.denominator)
    return check_nanos(rounded_up, "cost", maximum=MAX_AMOUNT_NANOS)
