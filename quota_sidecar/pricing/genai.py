"""The default prices: the snapshot that ships inside the genai-prices wheel, and nothing else.

Offline by construction. genai-prices can replace its data at run time (`UpdatePrices` starts a
thread that downloads a new snapshot and installs it process-wide with `set_custom_snapshot`);
we never start it, and we do not read the process-wide snapshot either: this adapter builds
its own `DataSnapshot` over the provider data bundled in the wheel (`genai_prices.data`), so
even another library in the same process turning auto-update on cannot change our prices. The
price in force is therefore a pure function of the pinned package version, which is why the
provenance string carries it (`genai-prices 0.2.3`).

Lookup: our provider ids (`openai`, `anthropic`, `google`, ...) and model names go through
genai-prices' own matching, which knows the aliases (`gemini` and `vertex` for google, dated
model names, `aws` falling back to anthropic's models, ...).

What is read from a genai-prices price: its input, output, cache read and cache write rates
(`*_mtok`, Decimal USD per million tokens; a `TieredPrices` becomes a tiered `Rate` with the
same cliff rule) and its per-request fee (`requests_kcount`, divided by 1000 exactly). Its
conditional prices (a start date, DeepSeek's off-peak hours) are resolved at the instant asked
about. Prices for units a `TokenUsage` does not carry (web searches, audio/image/video tokens,
1-hour cache writes, characters, pages) are not applied: such tokens arrive as plain input or
output or cache-write tokens and are billed at those rates. Request-specific price variants
(service tiers such as OpenAI's flex or priority) are not applied; the standard price is used.
A model with neither an input nor an output rate (a speech or search model) is unpriced here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from importlib.metadata import version

from genai_prices import types as genai_types
from genai_prices.data import providers as bundled_providers
from genai_prices.data_snapshot import DataSnapshot

from quota_sidecar.pricing.table import ModelPrice, PriceSource, PriceSourceKind, Rate, Tier

__all__ = ["GENAI_PRICES_VERSION", "GenaiPrices"]

GENAI_PRICES_VERSION = version("genai-prices")
_PER_REQUEST_EXPONENT = 3  # genai-prices prices requests per thousand (10**3)


class GenaiPrices:
    """Look-ups in the bundled genai-prices snapshot (never a fetched one)."""

    def __init__(self) -> None:
        self._snapshot = DataSnapshot(providers=bundled_providers, from_auto_update=False)
        self.source = PriceSource(PriceSourceKind.GENAI_PRICES, GENAI_PRICES_VERSION)

    def model_id(self, provider: str, model: str) -> tuple[str, str] | None:
        """genai-prices' own (provider id, model id) for ours, or None when it has no match."""
        found = self._find(provider, model)
        return None if found is None else (found[0].id, found[1].id)

    def price(self, provider: str, model: str, at: datetime) -> ModelPrice | None:
        """The model's price in force at `at`, or None when genai-prices cannot price it."""
        if at.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")
        found = self._find(provider, model)
        if found is None:
            return None
        return _to_model_price(found[1].get_prices(at))

    def _find(
        self, provider: str, model: str
    ) -> tuple[genai_types.Provider, genai_types.ModelInfo] | None:
        if not provider.strip() or not model.strip():
            return None
        try:
            return self._snapshot.find_provider_model(model.strip(), None, provider.strip(), None)
        except LookupError:
            return None


def _to_model_price(price: genai_types.ModelPrice) -> ModelPrice | None:
    rates = {
        name: _rate(getattr(price, f"{name}_mtok"))
        for name in ("input", "output", "cache_read", "cache_write")
    }
    if rates["input"] is None and rates["output"] is None:
        return None
    per_k = getattr(price, "requests_kcount", None)
    per_request = None
    if per_k is not None:
        if not isinstance(per_k, Decimal):  # a tiered per-request fee has no meaning: refuse
            return None
        per_request = per_k.scaleb(-_PER_REQUEST_EXPONENT)  # per thousand to per one, exactly
    return ModelPrice(per_request=per_request, **rates)


def _rate(value: object) -> Rate | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return Rate(value)
    if isinstance(value, genai_types.TieredPrices):
        tiers = sorted(value.tiers, key=lambda tier: tier.start)
        return Rate(value.base, tuple(Tier(t.start, t.price) for t in tiers))
    raise TypeError(f"genai-prices gave an unexpected price: {value!r}")
