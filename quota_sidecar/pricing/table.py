"""Prices as data: a model's rates, an override of them, and where a cost came from.

Rates are exact `Decimal` USD per million tokens (the unit every provider publishes), never
float. A rate may be tiered the way genai-prices models it: the "cliff" rule, where a call whose
total input tokens are above a tier's start pays that tier's rate for ALL its tokens of that
kind (not only the tokens above the threshold), which is how Anthropic, Google and OpenAI bill
long prompts. Overrides from the quota file are flat rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from quota_sidecar.domain.errors import InvalidInput

__all__ = [
    "MAX_RATE",
    "MAX_RATE_PLACES",
    "ModelPrice",
    "PriceOverride",
    "PriceSource",
    "PriceSourceKind",
    "PricedCost",
    "Quote",
    "Rate",
    "Tier",
    "check_rate",
]


# Bounds that keep the exact arithmetic small: a million dollars per million tokens is far
# above any real price, and 12 decimal places per million tokens is a millionth of a nano per
# token. Without them "1e-999999" would make a Fraction with a million-digit denominator.
MAX_RATE = Decimal(1_000_000)
MAX_RATE_PLACES = 12


def check_rate(value: Decimal, field_name: str) -> Decimal:
    """A rate is a finite, non-negative, bounded Decimal; anything else is refused by name."""
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise InvalidInput(field_name, f"must be a Decimal price, got {value!r}")
    if not value.is_finite():
        raise InvalidInput(field_name, f"must be finite, got {value}")
    if value < 0:
        raise InvalidInput(field_name, f"must not be negative, got {value}")
    if value > MAX_RATE:
        raise InvalidInput(field_name, f"is absurdly large ({value} USD per million)")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    digits = value.as_tuple().digits
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    if value and exponent + trailing_zeros < -MAX_RATE_PLACES:
        raise InvalidInput(field_name, f"has more than {MAX_RATE_PLACES} decimal places: {value}")
    return value


@dataclass(frozen=True, slots=True)
class Tier:
    """From more than `start` total input tokens on, every token pays `per_mtok`."""

    start: int
    per_mtok: Decimal


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per million tokens: `base`, or the highest tier whose start the input exceeds."""

    base: Decimal
    tiers: tuple[Tier, ...] = ()

    def __post_init__(self) -> None:
        check_rate(self.base, "rate")
        previous = -1
        for tier in self.tiers:
            check_rate(tier.per_mtok, "rate.tiers")
            if isinstance(tier.start, bool) or not isinstance(tier.start, int):
                raise InvalidInput("rate.tiers", f"start must be a whole number: {tier.start!r}")
            if tier.start <= previous:
                raise InvalidInput("rate.tiers", "tiers must have increasing starts")
            previous = tier.start

    def per_mtok(self, input_tokens: int) -> Decimal:
        """The rate in force for a call with this many input tokens (cache included)."""
        for tier in reversed(self.tiers):
            if input_tokens > tier.start:  # genai-prices' rule: strictly above the start
                return tier.per_mtok
        return self.base

    def __str__(self) -> str:
        tiers = "".join(f", {t.per_mtok} above {t.start} input tokens" for t in self.tiers)
        return f"${self.base}/MTok{tiers}"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A model's rates. None means the model has no such rate.

    A missing cache rate means cache tokens are billed as ordinary input (genai-prices does the
    same); a missing input or output rate means tokens of that kind cannot be priced at all.
    `per_request` is a flat USD fee per call (Perplexity's, for instance).
    """

    input: Rate | None = None
    output: Rate | None = None
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    per_request: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cache_read", "cache_write"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Rate):
                raise InvalidInput(name, f"must be a Rate, got {value!r}")
        if self.per_request is not None:
            check_rate(self.per_request, "per_request")

    @classmethod
    def flat(
        cls,
        input: Decimal | None = None,
        output: Decimal | None = None,
        cache_read: Decimal | None = None,
        cache_write: Decimal | None = None,
        per_request: Decimal | None = None,
    ) -> ModelPrice:
        """Untiered rates in USD per million tokens."""

        def rate(value: Decimal | None, name: str) -> Rate | None:
            return None if value is None else Rate(check_rate(value, name))

        return cls(
            rate(input, "input"),
            rate(output, "output"),
            rate(cache_read, "cache_read"),
            rate(cache_write, "cache_write"),
            per_request,
        )

    def __str__(self) -> str:
        parts = [
            f"{name} {value}"
            for name in ("input", "output", "cache_read", "cache_write")
            if (value := getattr(self, name)) is not None
        ]
        if self.per_request is not None:
            parts.append(f"per request ${self.per_request}")
        return ", ".join(parts) or "no rates"


class PriceSourceKind(StrEnum):
    CALLER = "caller"
    OVERRIDE = "override"
    GENAI_PRICES = "genai-prices"


@dataclass(frozen=True, slots=True)
class PriceSource:
    """How a cost was priced: `caller`, `override`, or `genai-prices 0.2.3` (its version)."""

    kind: PriceSourceKind
    version: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value} {self.version}" if self.version else self.kind.value


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A price from the quota file, in force from `effective_from` (None: always)."""

    provider: str
    model: str
    price: ModelPrice
    effective_from: datetime | None = None

    def __post_init__(self) -> None:
        if self.effective_from is not None and self.effective_from.tzinfo is None:
            raise InvalidInput("effective_from", "must carry a time zone")
        object.__setattr__(self, "provider", self.provider.strip().lower())
        object.__setattr__(self, "model", self.model.strip().lower())


@dataclass(frozen=True, slots=True)
class Quote:
    """The price in force for a model at an instant, and where it comes from."""

    price: ModelPrice
    source: PriceSource
    effective_from: datetime | None = None  # an override's, when it has one


@dataclass(frozen=True, slots=True)
class PricedCost:
    """The cost of one call in whole nanos, how it was priced, and the price used (None when
    the caller gave the cost)."""

    nanos: int
    priced_by: PriceSource
    price: ModelPrice | None = None
