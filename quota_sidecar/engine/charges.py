"""What a call is charged: the caller's cost, else its tokens priced (pricing/), else the
unpriced policy of the budgets it touches.

Precedence: an explicit cost always wins, then a `prices:` override in force, then the bundled
genai-prices snapshot. A model nothing prices is never silently free: each subject's quota
says (`cost_quota.unpriced`, else the sidecar's default, `require_cost`), and only quotas with
a budget have a say. Across several subjects the strictest policy applies
(deny > require_cost > allow_zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from quota_sidecar.domain.clock import Clock, from_ms
from quota_sidecar.domain.errors import StoreUnavailable
from quota_sidecar.domain.models import (
    CostQuota,
    DenialCode,
    LimitKind,
    QuotaConfig,
    QuotaScope,
    Subject,
    UnpricedPolicy,
)
from quota_sidecar.domain.requests import model_name
from quota_sidecar.domain.results import CheckResult
from quota_sidecar.engine.configs import CachedConfig, ConfigRepository
from quota_sidecar.engine.defaults import tenant_of
from quota_sidecar.engine.model_subject import with_model_subject
from quota_sidecar.pricing import (
    DEFAULT_UNPRICED_POLICY,
    PriceBook,
    PriceOverride,
    PricingAction,
    TokenUsage,
    decide,
    unpriced_error,
)

__all__ = ["UNKNOWN_BUDGET", "Charge", "ChargeAsk", "Pricer", "charge_call", "unpriced_denial"]

_BUDGETS = (
    LimitKind.COST_PER_REQUEST,
    LimitKind.COST_DAILY,
    LimitKind.COST_MONTHLY,
    LimitKind.COST_WEEKLY,
    LimitKind.COST_LIFETIME,
)
# Stands for a quota that cannot be read now: assumed to have a budget under the default policy.
UNKNOWN_BUDGET = QuotaConfig(
    scope=QuotaScope.GLOBAL, identifier="(unknown)", cost_quota=CostQuota(daily_limit=Decimal(0))
)
_STRICTNESS = {UnpricedPolicy.ALLOW_ZERO: 0, UnpricedPolicy.REQUIRE_COST: 1, UnpricedPolicy.DENY: 2}


@dataclass(frozen=True, slots=True)
class Charge:
    """The cost a call counts at, and how it was priced ("" when there was nothing to price).
    `denied_by` is set when a check must be denied as unpriced (policy `deny`)."""

    cost_nanos: int
    priced_by: str = ""
    denied_by: Subject | None = None


class Pricer:
    """Prices calls for the engine; its price book and default policy follow the quota file."""

    def __init__(self, clock: Clock, book: PriceBook | None = None) -> None:
        self._clock = clock
        self.book = book if book is not None else PriceBook()
        self.default_policy: UnpricedPolicy = DEFAULT_UNPRICED_POLICY
        self.overrides: tuple[PriceOverride, ...] = ()

    def configure(
        self, overrides: Sequence[PriceOverride], default_policy: UnpricedPolicy | None
    ) -> None:
        """Install the quota file's prices and default policy (one swap each)."""
        self.book.replace_overrides(overrides)
        self.overrides = tuple(overrides)
        self.default_policy = default_policy or DEFAULT_UNPRICED_POLICY

    def describe(
        self,
        overrides: Sequence[PriceOverride] | None = None,
        default_policy: UnpricedPolicy | None = None,
    ) -> dict[str, object]:
        """What the audit log records of a price change (the current settings by default)."""
        chosen = self.overrides if overrides is None else overrides
        policy = self.default_policy if overrides is None else default_policy
        return {
            "unpriced": (policy or DEFAULT_UNPRICED_POLICY).value,
            "prices": [
                {
                    "model": f"{o.provider}/{o.model}",
                    "price": str(o.price),
                    "effective_from": o.effective_from.isoformat() if o.effective_from else None,
                }
                for o in chosen
            ],
        }

    def charge(
        self,
        *,
        provider: str,
        model: str,
        usage: TokenUsage,
        cost_nanos: int | None,
        configs: Sequence[CachedConfig],
        is_check: bool,
    ) -> Charge:
        """The charge of a check's estimate or a record's actual usage. Raises InvalidInput
        naming `model` when the policy refuses an unpriced call."""
        if cost_nanos is not None:
            return Charge(cost_nanos, "caller")
        priced = None
        if model and usage.has_tokens:
            at = from_ms(self._clock.now_ms())
            priced = self.book.cost(provider, model, usage, at)
        budgeted = [c.config for c in configs if c.config is not None and _has_budget(c.config)]
        policy, strictest = self._strictest(budgeted)
        action = decide(
            policy,
            is_check=is_check,
            has_budget=bool(budgeted),
            has_tokens=bool(model) and usage.has_tokens,
            cost_given=False,
            priced=priced is not None,
        )
        if action is PricingAction.PRICE and priced is not None:
            return Charge(priced.nanos, str(priced.priced_by))
        if action is PricingAction.ZERO:
            return Charge(0, "unpriced")
        if action is PricingAction.DENY:
            return Charge(0, "unpriced", denied_by=strictest)
        if action is PricingAction.REFUSE:
            raise unpriced_error(provider, model)
        return Charge(0)  # nothing to price, or no budget needs a cost

    def _strictest(self, budgeted: Sequence[QuotaConfig]) -> tuple[UnpricedPolicy, Subject | None]:
        chosen, subject = UnpricedPolicy.ALLOW_ZERO, None
        for config in budgeted:
            policy = config.cost_quota.unpriced or self.default_policy
            if subject is None or _STRICTNESS[policy] > _STRICTNESS[chosen]:
                chosen, subject = policy, config.subject
        return chosen, subject


def unpriced_denial(subject: Subject, model: str) -> CheckResult:
    """A check denied because its model has no price and `subject`'s budget says deny.
    Nothing is consumed: the check never reaches the store."""
    return CheckResult(
        allowed=False,
        code=DenialCode.UNPRICED_MODEL,
        reason=f"{model} has no price and the budget of {subject} denies unpriced calls",
        denied_subject=subject,
    )


def _has_budget(config: QuotaConfig) -> bool:
    limits = config.cost_quota.limits_nanos()
    return any(kind in limits for kind in _BUDGETS)


@dataclass(frozen=True, slots=True)
class ChargeAsk:
    """What a call asks to be charged: the caller's cost (`given`, None when none was given),
    else its tokens (input, output, cache read, cache write) priced for its provider and model.
    A check asks with its estimate, a record with its actual usage."""

    provider: str
    model: str
    given: int | None
    tokens: tuple[int, int, int, int] = (0, 0, 0, 0)
    skip_model_subject: bool = False
    is_check: bool = True

    @property
    def name(self) -> str:
        return model_name(self.provider, self.model)


async def charge_call(
    pricer: Pricer,
    configs: ConfigRepository,
    targets: list[Subject],
    ask: ChargeAsk,
    timeout: float | None,
) -> tuple[list[Subject], Charge]:
    """The subjects a call is charged to (the model's own quota joins unless skipped) and what
    it is charged. While the store is away a record includes an unknown model quota (it is
    spooled anyway) and a check leaves it out (it would deny by the failure modes)."""
    if not ask.skip_model_subject and ask.model:
        targets = await with_model_subject(
            configs, targets, ask.name, include_if_unknown=not ask.is_check, timeout=timeout
        )
    given = ask.given
    if given is not None or not (ask.model and (ask.tokens[0] or ask.tokens[1])):
        # Nothing to price: the hot path of a call with a cost, or without a model, needs no
        # quota lookup here (the check or record reads them once, itself).
        return targets, Charge(given or 0, "caller" if given is not None else "")
    charge = pricer.charge(
        provider=ask.provider,
        model=ask.model,
        usage=TokenUsage(*ask.tokens),
        cost_nanos=given,
        configs=await _configs_for_pricing(configs, targets, timeout),
        is_check=ask.is_check,
    )
    return targets, charge


async def _configs_for_pricing(
    configs: ConfigRepository, subjects: Sequence[Subject], timeout: float | None
) -> list[CachedConfig]:
    """The quotas whose unpriced policies apply; the cached ones while the store is away
    (an unknown quota then counts as having a budget under the default policy)."""
    try:
        return await configs.get_many(subjects, timeout=timeout)
    except StoreUnavailable:
        unknown = CachedConfig(UNKNOWN_BUDGET, "")
        tenant = tenant_of(subjects)
        return [
            configs.cached(s, tenant) or configs.under_known_default(s, tenant) or unknown
            for s in subjects
        ]
