"""Pricing: what an LLM call costs, exactly, and where the price came from.

    usage.py      TokenUsage: input (cache included), output, cache read, cache write
    table.py      Rate, ModelPrice, PriceOverride, PriceSource, Quote, PricedCost
    cost.py       the arithmetic and its one rounding rule (up to the next nano, once per call)
    genai.py      the bundled genai-prices snapshot, offline, with its version as provenance
    book.py       PriceBook: caller cost > override in force > genai-prices
    overrides.py  the quota file's `prices:` section
    policy.py     UnpricedPolicy and what to do with a call nothing prices

Beside the domain, on a contract of its own: may import the domain, genai-prices and the YAML
nodes of its quota-file section; never a layer, the quota file's parser (config/) or gRPC.
"""

from __future__ import annotations

from quota_sidecar.pricing.book import CALLER, OVERRIDE, PriceBook
from quota_sidecar.pricing.cost import cost_nanos, exact_cost_usd
from quota_sidecar.pricing.genai import GENAI_PRICES_VERSION, GenaiPrices
from quota_sidecar.pricing.overrides import parse_overrides, parse_overrides_node
from quota_sidecar.pricing.policy import (
    DEFAULT_UNPRICED_POLICY,
    UNPRICED_DENIAL_CODE,
    PricingAction,
    UnpricedPolicy,
    decide,
    parse_unpriced_policy,
    unpriced_error,
)
from quota_sidecar.pricing.table import (
    ModelPrice,
    PricedCost,
    PriceOverride,
    PriceSource,
    PriceSourceKind,
    Quote,
    Rate,
    Tier,
)
from quota_sidecar.pricing.usage import MAX_TOKENS, TokenUsage

__all__ = [
    "CALLER",
    "DEFAULT_UNPRICED_POLICY",
    "GENAI_PRICES_VERSION",
    "MAX_TOKENS",
    "OVERRIDE",
    "UNPRICED_DENIAL_CODE",
    "GenaiPrices",
    "ModelPrice",
    "PriceBook",
    "PriceOverride",
    "PriceSource",
    "PriceSourceKind",
    "PricedCost",
    "PricingAction",
    "Quote",
    "Rate",
    "Tier",
    "TokenUsage",
    "UnpricedPolicy",
    "cost_nanos",
    "decide",
    "exact_cost_usd",
    "parse_overrides",
    "parse_overrides_node",
    "parse_unpriced_policy",
    "unpriced_error",
]
