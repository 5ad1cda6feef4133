"""What a check answers when the store cannot decide: explicit, per quota.

The store cannot decide while it is unreachable, and, for one subject, while it is behind on
that subject's quota: it holds an older version than this engine has seen, or none, because a
failover lost the write (StoreBehind; see engine/configs.py, whose cache never replaces a known
quota with such a read, so "no quota" here always means the store said so from a state at
least as recent as any this engine saw).

Each quota says how its rate limits and its cost budgets fail (defaults: rate limits open,
cost budgets closed). Without the store the engine still knows the configs it has cached:
  * a per-request limit needs no store, so it is still enforced;
  * a subject whose quota has a budget failing closed (or rate limits failing closed) denies
    with STORE_UNAVAILABLE;
  * a subject known to have no quota allows;
  * a subject the engine has never seen denies: its quota might hold a budget, and money fails
    closed by default.
The result always says decided_without_store=True.
"""

from __future__ import annotations

from collections.abc import Sequence

from quota_sidecar.domain.models import DenialCode, FailureMode, LimitKind, Subject
from quota_sidecar.domain.results import CheckResult
from quota_sidecar.engine.configs import CachedConfig

__all__ = ["decide_without_store"]

_BUDGETS = (
    LimitKind.COST_DAILY,
    LimitKind.COST_MONTHLY,
    LimitKind.COST_WEEKLY,
    LimitKind.COST_LIFETIME,
)


def decide_without_store(
    subjects: Sequence[Subject], cached: Sequence[CachedConfig | None], estimated_cost_nanos: int
) -> CheckResult:
    for subject, entry in zip(subjects, cached, strict=True):
        if entry is None:
            return _deny(subject, f"the store is unreachable and the quota of {subject} is unknown")
        config = entry.config
        if config is None or config.shadow_mode:
            continue
        limits = config.limits()
        per_request = limits.get(LimitKind.COST_PER_REQUEST)
        if per_request is not None and estimated_cost_nanos > per_request:
            return CheckResult(
                allowed=False,
                code=DenialCode.PER_REQUEST_LIMIT_EXCEEDED,
                reason=f"estimated cost is above the per-request limit of {subject}",
                denied_subject=subject,
                denied_limit=LimitKind.COST_PER_REQUEST,
                decided_without_store=True,
            )
        has_budget = any(k in limits for k in _BUDGETS)
        if has_budget and config.cost_quota.failure_mode is FailureMode.CLOSED:
            return _deny(subject, f"the store is unreachable; the budgets of {subject} fail closed")
        has_rate = bool(config.rate_limits.limits())
        if has_rate and config.rate_limits.failure_mode is FailureMode.CLOSED:
            return _deny(
                subject, f"the store is unreachable; the rate limits of {subject} fail closed"
            )
    return CheckResult(allowed=True, decided_without_store=True)


def _deny(subject: Subject, reason: str) -> CheckResult:
    return CheckResult(
        allowed=False,
        code=DenialCode.STORE_UNAVAILABLE,
        reason=reason,
        denied_subject=subject,
        decided_without_store=True,
    )
