"""Admin overrides and usage resets.

An override is one field of the subject's `ovr` hash, "KIND|limit|value|expiry_ms|period",
which check.lua and record.lua honour inside the same atomic step as everything else; its
reason, actor and times sit beside it in `ovrmeta`, and `qs:ovrexp` indexes every override by
expiry so the expiry sweeper (alerting/expiry.py) can announce and delete it exactly once. A
bonus credit names its period, so it ends with the period even before its expiry. A bonus on
the lifetime budget is prepaid credit: it never expires (its expiry is NEVER, whatever was
asked) and lasts until revoked.

After a change that lowers usage relative to a limit (a bonus, a raised limit, a reset) the
threshold claims the usage no longer reaches are released, each with a RESOLVED alert; a new
crossing then alerts again.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from quota_sidecar.domain.clock import Clock, from_ms, to_ms
from quota_sidecar.domain.errors import InvalidInput, NotFound
from quota_sidecar.domain.models import LimitKind, Subject
from quota_sidecar.domain.money import MAX_LIMIT_NANOS
from quota_sidecar.domain.results import AlertKind, Override, OverrideKind
from quota_sidecar.engine.audit import audit_entry, publish_alert
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.costs import CostTracker
from quota_sidecar.engine.plan import SubjectPlan, plan_subject
from quota_sidecar.store.overrides import (
    override_record,
    read_override,
    read_overrides,
    remove_override,
    reset_usage,
    write_override,
)
from quota_sidecar.store.redis import Store
from quota_sidecar.store.threshold_claims import ThresholdClaim, read_claims, release_claim

__all__ = ["OverrideManager"]

_ADMIN_TIMEOUT = 2.0
# The periods ResetUsage clears (with the rate windows): the day and the month.
_RESET_PERIODS = ("day:", "month:")
_BONUS_LIMITS = (
    LimitKind.COST_DAILY,
    LimitKind.COST_MONTHLY,
    LimitKind.COST_WEEKLY,
    LimitKind.COST_LIFETIME,
)
# The expiry of what never expires (prepaid credit): the last instant a datetime can name.
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


def _validate(override: Override, now_ms: int) -> None:
    if not override.reason:
        raise InvalidInput("override.reason", "is required")
    if not override.actor:
        raise InvalidInput("override.actor", "is required")
    if override.expires_at.tzinfo is None or to_ms(override.expires_at) <= now_ms:
        raise InvalidInput("override.expires_at", "must be a time in the future")
    if override.kind is OverrideKind.RAISE_LIMIT:
        if override.limit is None:
            raise InvalidInput("override.limit", "is required to raise a limit")
        if not 0 <= override.value <= MAX_LIMIT_NANOS:
            raise InvalidInput("override.value", "must be a limit between 0 and the maximum")
    if override.kind is OverrideKind.BONUS_CREDIT:
        if override.limit not in _BONUS_LIMITS:
            raise InvalidInput(
                "override.limit",
                "a bonus credits cost_daily, cost_monthly, cost_weekly or cost_lifetime",
            )
        if not 0 < override.value <= MAX_LIMIT_NANOS:
            raise InvalidInput("override.value", "must be a positive amount of nanos")


def _check_raise(override: Override, plan: SubjectPlan) -> None:
    """A raise only ever loosens a limit the quota has: raising an unlimited limit would
    create one (an unlimited requests-per-minute "raised" to 2 throttles the user)."""
    config = plan.cached.config
    current = config.limits().get(override.limit) if config and override.limit else None
    if current is None:
        raise InvalidInput(
            "override.limit", f"{plan.subject} has no {override.limit} limit to raise"
        )
    if override.value <= current:
        raise InvalidInput(
            "override.value", f"must be above the current {override.limit} limit of {current}"
        )


class OverrideManager:
    """Grants, revokes and lists overrides; resets usage; resolves released thresholds."""

    def __init__(
        self, store: Store, configs: ConfigRepository, costs: CostTracker, clock: Clock
    ) -> None:
        self._store = store
        self._configs = configs
        self._costs = costs
        self._clock = clock

    async def _plan(self, subject: Subject, now: int) -> SubjectPlan:
        (cached,) = await self._configs.get_many([subject])
        return plan_subject(subject, cached, now)

    async def grant(self, override: Override) -> Override:
        now = self._clock.now_ms()
        _validate(override, now)
        subject = override.subject
        plan = await self._plan(subject, now)
        if override.kind is OverrideKind.RAISE_LIMIT:
            _check_raise(override, plan)
        period, expires_at = "", override.expires_at
        if override.kind is OverrideKind.BONUS_CREDIT:
            period = {
                LimitKind.COST_DAILY: f"day:{plan.day.id}",
                LimitKind.COST_MONTHLY: f"month:{plan.month.id}",
                LimitKind.COST_WEEKLY: f"week:{plan.week.id}",
                LimitKind.COST_LIFETIME: "lifetime",
            }[override.limit or LimitKind.COST_DAILY]
            if override.limit is LimitKind.COST_LIFETIME:
                expires_at = NEVER
        granted = Override(
            id="o" + secrets.token_hex(6),
            subject=subject,
            kind=override.kind,
            limit=override.limit,
            value=override.value,
            expires_at=expires_at,
            reason=override.reason,
            actor=override.actor,
            created_at=from_ms(now),
        )
        expiry = to_ms(granted.expires_at)
        keep_until = max([expiry, *(to_ms(o.expires_at) for o in await self.in_force(subject))])
        ttl = keep_until - now + 60_000
        if plan.cached.expires_at_ms is not None:  # a run: nothing of it outlives it
            ttl = min(ttl, max(plan.cached.expires_at_ms - now, 1))
        audit = audit_entry(
            now_ms=now, action="override.grant", subject=subject, actor=granted.actor,
            reason=granted.reason, before=None, after=override_record(granted),
        )  # fmt: skip
        await write_override(
            self._store, granted, period=period, ttl_ms=ttl, audit=audit, timeout=_ADMIN_TIMEOUT
        )
        message = (
            f"{granted.kind.value} override {granted.id} granted on {subject} by "
            f"{granted.actor} until {granted.expires_at.isoformat()}"
        )
        await publish_alert(
            self._store, AlertKind.OVERRIDE_GRANTED, subject, now, message,
            limit=granted.limit, limit_value=granted.value,
        )  # fmt: skip
        if granted.kind in (OverrideKind.BONUS_CREDIT, OverrideKind.RAISE_LIMIT):
            await self.resolve_released_thresholds(subject)
        return granted

    async def revoke(
        self, subject: Subject, override_id: str, *, actor: str, reason: str
    ) -> Override:
        if not actor:
            raise InvalidInput("actor", "is required for admin changes")
        stored = await read_override(self._store, subject, override_id, _ADMIN_TIMEOUT)
        if stored is None:
            raise NotFound(f"no override {override_id!r} is in force for {subject}")
        revoked = stored.override
        now = self._clock.now_ms()
        audit = audit_entry(
            now_ms=now, action="override.revoke", subject=subject, actor=actor, reason=reason,
            before=stored.record, after=None,
        )  # fmt: skip
        await remove_override(
            self._store, subject, override_id, audit=audit, timeout=_ADMIN_TIMEOUT
        )
        message = f"{revoked.kind.value} override {override_id} on {subject} revoked by {actor}"
        await publish_alert(self._store, AlertKind.OVERRIDE_REVOKED, subject, now, message)
        return revoked

    async def in_force(self, subject: Subject) -> list[Override]:
        """Overrides in force, soonest expiry first."""
        stored = await read_overrides(self._store, subject, _ADMIN_TIMEOUT)
        now = self._clock.now_ms()
        live = [o for o in stored if to_ms(o.expires_at) > now]
        return sorted(live, key=lambda o: (o.expires_at, o.id))

    async def reset(self, subject: Subject, *, actor: str, reason: str) -> tuple[int, int]:
        """Clear the rate windows and this day's and month's usage (open holds stay)."""
        if not actor:
            raise InvalidInput("actor", "is required for admin changes")
        before = await self._costs.usage(subject)
        now = self._clock.now_ms()
        plan = await self._plan(subject, now)
        claims = await self._claims(plan)
        snapshot = {
            "cost_today_nanos": before.cost_today_nanos,
            "cost_this_month_nanos": before.cost_this_month_nanos,
            "requests_today": before.requests_today,
        }
        audit = audit_entry(
            now_ms=now, action="usage.reset", subject=subject, actor=actor, reason=reason,
            before=snapshot, after=None,
        )  # fmt: skip
        await reset_usage(
            self._store, subject, day_id=plan.day.id, month_id=plan.month.id, audit=audit,
            timeout=_ADMIN_TIMEOUT,
        )  # fmt: skip
        message = f"usage of {subject} reset by {actor}"
        await publish_alert(self._store, AlertKind.USAGE_RESET, subject, now, message)
        for limit, pct, period in claims:
            # Only what the reset cleared: the week and the lifetime keep their usage and their
            # claims, so announcing them back under a threshold would be a false alert.
            if period.startswith(_RESET_PERIODS):
                await self._publish_resolved(
                    subject, now, limit=limit, pct=pct, used=0, period=period
                )
        return before.cost_today_nanos, before.cost_this_month_nanos

    async def _claims(self, plan: SubjectPlan) -> list[ThresholdClaim]:
        """The threshold claims of the current day, month and week, and of the lifetime."""
        return await read_claims(
            self._store, plan.subject, day_id=plan.day.id, month_id=plan.month.id,
            week_id=plan.week.id, timeout=_ADMIN_TIMEOUT,
        )  # fmt: skip

    async def _publish_resolved(
        self, subject: Subject, now: int, *, limit: str, pct: int, used: int, period: str
    ) -> None:
        message = f"{subject} is back under {pct}% of {limit} in {period}"
        await publish_alert(
            self._store, AlertKind.RESOLVED, subject, now, message,
            limit=LimitKind(limit), percent=pct, used=used, period=period,
        )  # fmt: skip

    async def resolve_released_thresholds(self, subject: Subject) -> None:
        """Release the claims that usage no longer reaches and announce each as RESOLVED.
        HDEL decides races: only the caller that removes a claim announces it."""
        usage = await self._costs.usage(subject)
        now = self._clock.now_ms()
        plan = await self._plan(subject, now)
        statuses = {s.limit.value: s for s in usage.limits}
        for claim in await self._claims(plan):
            limit, pct, period = claim
            status = statuses.get(limit)
            if status is not None and status.used * 100 >= pct * status.limit_value:
                continue
            if await release_claim(self._store, subject, claim, None):
                used = status.used if status else 0
                await self._publish_resolved(
                    subject, now, limit=limit, pct=pct, used=used, period=period
                )
