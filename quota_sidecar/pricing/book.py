"""The price book: which price is in force, and what a call costs.

Precedence: an explicit cost from the caller always wins; then the quota file's override in
force at the instant of the call (the one with the latest `effective_from` at or before it; an
override without `effective_from` is in force from the beginning of time); then the bundled
genai-prices snapshot. An override that is not yet in force leaves the model to genai-prices
until its instant, so a price change scheduled in the file takes effect exactly then.

Overrides are matched on (provider, model) exactly, case-insensitively: an override names the
model string the callers send, so no fuzzy matching can make it apply to another model.

Hot reload: `replace_overrides` builds the new index completely and then swaps one reference,
so a call in flight sees either the old overrides or the new ones, never a mix.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.money import check_nanos
from quota_sidecar.pricing.cost import cost_nanos
from quota_sidecar.pricing.genai import GenaiPrices
from quota_sidecar.pricing.table import (
    PricedCost,
    PriceOverride,
    PriceSource,
    PriceSourceKind,
    Quote,
)
from quota_sidecar.pricing.usage import TokenUsage

__all__ = ["CALLER", "OVERRIDE", "PriceBook"]

CALLER = PriceSource(PriceSourceKind.CALLER)
OVERRIDE = PriceSource(PriceSourceKind.OVERRIDE)
_BEGINNING = datetime.min.replace(tzinfo=UTC)

_Index = dict[tuple[str, str], tuple[tuple[datetime, ...], tuple[PriceOverride, ...]]]


def _index(overrides: Iterable[PriceOverride]) -> _Index:
    grouped: dict[tuple[str, str], list[PriceOverride]] = {}
    for override in overrides:
        grouped.setdefault((override.provider, override.model), []).append(override)
    index: _Index = {}
    for key, group in grouped.items():
        group.sort(key=lambda o: o.effective_from or _BEGINNING)
        starts = tuple(o.effective_from or _BEGINNING for o in group)
        if len(set(starts)) != len(starts):
            raise InvalidInput(
                "effective_from", f"two overrides for {key[0]}/{key[1]} start at the same instant"
            )
        index[key] = (starts, tuple(group))
    return index


class PriceBook:
    """Overrides (replaceable atomically) over the bundled genai-prices snapshot."""

    def __init__(
        self, overrides: Iterable[PriceOverride] = (), *, genai: GenaiPrices | None = None
    ) -> None:
        self._genai = genai if genai is not None else GenaiPrices()
        self._overrides = _index(overrides)

    @property
    def genai_source(self) -> PriceSource:
        return self._genai.source

    def replace_overrides(self, overrides: Iterable[PriceOverride]) -> None:
        """Install a new set of overrides (a hot reload); an invalid set changes nothing."""
        self._overrides = _index(overrides)  # one reference swap: readers see old or new

    def price(self, provider: str, model: str, at: datetime) -> Quote | None:
        """The price in force for provider/model at `at`, or None when nothing prices it."""
        if at.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")
        key = (provider.strip().lower(), model.strip().lower())
        entry = self._overrides.get(key)
        if entry is not None:
            starts, group = entry
            position = bisect_right(starts, at)
            if position:
                override = group[position - 1]
                return Quote(override.price, OVERRIDE, override.effective_from)
        genai_price = self._genai.price(provider, model, at)
        if genai_price is None:
            return None
        return Quote(genai_price, self._genai.source)

    def cost(
        self,
        provider: str,
        model: str,
        usage: TokenUsage,
        at: datetime,
        *,
        explicit_cost_nanos: int | None = None,
    ) -> PricedCost | None:
        """What the call costs, or None when it cannot be priced (the unpriced policy decides).

        An explicit cost wins over every price and is taken as given (validated, never
        re-rounded). A model whose price lacks a rate for tokens the usage has is unpriced."""
        if explicit_cost_nanos is not None:
            if isinstance(explicit_cost_nanos, bool) or not isinstance(explicit_cost_nanos, int):
                raise InvalidInput(
                    "cost_nanos", f"must be whole nanos, got {explicit_cost_nanos!r}"
                )
            return PricedCost(check_nanos(explicit_cost_nanos, "cost_nanos"), CALLER)
        quote = self.price(provider, model, at)
        if quote is None:
            return None
        nanos = cost_nanos(quote.price, usage)
        if nanos is None:
            return None
        return PricedCost(nanos, quote.source, quote.price)
