"""Unpriced models are never silently free: what to do when a call has tokens but no price.

    policy        record                        check
    deny          refuse: InvalidInput(model)   denied, code UNPRICED_MODEL
    require_cost  refuse: InvalidInput(model)   refuse: InvalidInput(model)   (the default)
    allow_zero    counted at $0                 priced at $0

Only a call that has tokens, no explicit cost, and no price is unpriced. The policy never
applies to a quota without a budget: the cost is not needed there, so the call goes on with no
cost. A record under `deny` is refused rather than denied because a record reports usage that
already happened; there is nothing to deny, and counting it at a made-up cost would break
"exact or refused".
"""

from __future__ import annotations

from enum import StrEnum

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import UnpricedPolicy  # the domain's: quotas carry it

__all__ = [
    "DEFAULT_UNPRICED_POLICY",
    "UNPRICED_DENIAL_CODE",
    "PricingAction",
    "UnpricedPolicy",
    "decide",
    "parse_unpriced_policy",
    "unpriced_error",
]

# The DenialCode the lead adds to models.DenialCode and the contract for `deny`.
UNPRICED_DENIAL_CODE = "UNPRICED_MODEL"


DEFAULT_UNPRICED_POLICY = UnpricedPolicy.REQUIRE_COST


class PricingAction(StrEnum):
    USE_CALLER_COST = "use_caller_cost"  # the explicit cost, as given
    PRICE = "price"  # the price book's cost
    NO_COST = "no_cost"  # nothing to price (no tokens), or no budget needs a cost
    ZERO = "zero"  # unpriced, and allow_zero says $0
    REFUSE = "refuse"  # raise unpriced_error(): INVALID_ARGUMENT naming `model`
    DENY = "deny"  # a check's denial with UNPRICED_DENIAL_CODE


def parse_unpriced_policy(value: object, field: str = "unpriced") -> UnpricedPolicy:
    if isinstance(value, UnpricedPolicy):
        return value
    try:
        return UnpricedPolicy(str(value).strip().lower())
    except ValueError:
        names = ", ".join(p.value for p in UnpricedPolicy)
        raise InvalidInput(field, f"unknown policy {value!r} (one of {names})") from None


def decide(
    policy: UnpricedPolicy,
    *,
    is_check: bool,
    has_budget: bool,
    has_tokens: bool,
    cost_given: bool,
    priced: bool,
) -> PricingAction:
    """What to do with a call's cost. `priced`: the price book could price it."""
    if cost_given:
        return PricingAction.USE_CALLER_COST
    if not has_tokens:
        return PricingAction.NO_COST
    if priced:
        return PricingAction.PRICE
    if not has_budget:
        return PricingAction.NO_COST
    if policy is UnpricedPolicy.ALLOW_ZERO:
        return PricingAction.ZERO
    if policy is UnpricedPolicy.DENY and is_check:
        return PricingAction.DENY
    return PricingAction.REFUSE


def unpriced_error(provider: str, model: str) -> InvalidInput:
    """The INVALID_ARGUMENT for an unpriced model: it names `model` and says how to fix it."""
    return InvalidInput(
        "model",
        f"no price for {provider}/{model}: give the cost, add a prices: override for it, "
        "or set unpriced: allow_zero",
    )
