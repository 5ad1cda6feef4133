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

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from quota_sidecar.domain.clock import Clock, from_ms, to_ms
from quota_sidecar.domain.errors import InvalidInput, NotFound
from quota_sidecar.domain.models import LimitKind, QuotaScope, Subject
from quota_sidecar.domain.money import MAX_LIMIT_NANOS
from quota_sidecar.domain.results import AlertKind, Override, OverrideKind
from quota_sidecar.engine.audit import append_audit, publish_alert
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.costs import CostTracker
from quota_sidecar.engine.plan import SubjectPlan, plan_subject
from quota_sidecar.store.keys import (
    OVERRIDE_EXPIRY,
    OVERRIDES_FLAG,
    WINDOWS_CACHED_FIELDS,
    subject_keys,
)
from quota_sidecar.store.redis import Store

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


def _to_json(override: Override) -> str:
    return json.dumps(
        {
            "id": override.id,
            "kind": override.kind.value,
            "limit": override.limit.value if override.limit else None,
            "value": override.value,
            "expires_at": to_ms(override.expires_at),
            "created_at": to_ms(override.created_at or datetime.now(UTC)),
            "reason": override.reason,
            "actor": override.actor,
        },
        sort_keys=True,
    )


def _from_json(subject: Subject, document: str) -> Override:
    data: dict[str, Any] = json.loads(document)
    return Override(
        id=data["id"],
        subject=subject,
        kind=OverrideKind(data["kind"]),
        limit=LimitKind(data["limit"]) if data.get("limit") else None,
        value=int(data["value"]),
        expires_at=from_ms(int(data["expires_at"])),
        created_at=from_ms(int(data["created_at"])),
        reason=data["reason"],
        actor=data["actor"],
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
        limit = granted.limit.value if granted.limit else ""
        keys = subject_keys(subject)
        keep_until = max([expiry, *(to_ms(o.expires_at) for o in await self.in_force(subject))])
        ttl = keep_until - now + 60_000
        if plan.cached.expires_at_ms is not None:  # a run: nothing of it outlives it
            ttl = min(ttl, max(plan.cached.expires_at_ms - now, 1))

        async def write() -> object:
            pipe = self._store.client.pipeline(transaction=not self._store.is_cluster)
            spec = f"{granted.kind.value}|{limit}|{granted.value}|{expiry}|{period}"
            if subject.scope is not QuotaScope.RUN:
                # The flag that makes the scripts read the overrides at all (see _lib.lua's
                # apply_overrides), written before the override (a Cluster pipeline is no
                # transaction), so no script sees the override without it. Never removed: a
                # config hash lives as long as its subject. A run's config hash ends with the
                # run, so a run's scripts read its overrides without a flag.
                pipe.hset(keys.config, OVERRIDES_FLAG, 1)
                pipe.hdel(keys.windows, *WINDOWS_CACHED_FIELDS)  # after the flag: see keys.py
            pipe.hset(keys.overrides, granted.id, spec)
            pipe.hset(keys.override_meta, granted.id, _to_json(granted))
            pipe.pexpire(keys.overrides, ttl)
            pipe.pexpire(keys.override_meta, ttl)
            pipe.zadd(OVERRIDE_EXPIRY, {f"{subject}|{granted.id}": expiry})
            append_audit(
                pipe,
                now_ms=now,
                action="override.grant",
                subject=subject,
                actor=granted.actor,
                reason=granted.reason,
                before=None,
                after=json.loads(_to_json(granted)),
            )
            return await pipe.execute()

        await self._store.call(write, _ADMIN_TIMEOUT)
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
        keys = subject_keys(subject)
        document = await self._store.call(
            lambda: self._store.client.hget(keys.override_meta, override_id), _ADMIN_TIMEOUT
        )
        if not document:
            raise NotFound(f"no override {override_id!r} is in force for {subject}")
        revoked = _from_json(subject, document)
        now = self._clock.now_ms()

        async def write() -> object:
            pipe = self._store.client.pipeline(transaction=not self._store.is_cluster)
            pipe.hdel(keys.overrides, override_id)
            pipe.hdel(keys.override_meta, override_id)
            pipe.zrem(OVERRIDE_EXPIRY, f"{subject}|{override_id}")
            append_audit(
                pipe,
                now_ms=now,
                action="override.revoke",
                subject=subject,
                actor=actor,
                reason=reason,
                before=json.loads(document),
                after=None,
            )
            return await pipe.execute()

        await self._store.call(write, _ADMIN_TIMEOUT)
        message = f"{revoked.kind.value} override {override_id} on {subject} revoked by {actor}"
        await publish_alert(self._store, AlertKind.OVERRIDE_REVOKED, subject, now, message)
        return revoked

    async def in_force(self, subject: Subject) -> list[Override]:
        """Overrides in force, soonest expiry first."""
        meta: dict[str, str] = await self._store.call(
            lambda: self._store.client.hgetall(subject_keys(subject).override_meta),
            _ADMIN_TIMEOUT,
        )
        now = self._clock.now_ms()
        live = [
            o for o in (_from_json(subject, d) for d in meta.values()) if to_ms(o.expires_at) > now
        ]
        return sorted(live, key=lambda o: (o.expires_at, o.id))

    async def reset(self, subject: Subject, *, actor: str, reason: str) -> tuple[int, int]:
        """Clear the rate windows and this day's and month's usage (open holds stay)."""
        if not actor:
            raise InvalidInput("actor", "is required for admin changes")
        before = await self._costs.usage(subject)
        now = self._clock.now_ms()
        plan = await self._plan(subject, now)
        keys = subject_keys(subject)
        claims = await self._claims(plan)
        snapshot = {
            "cost_today_nanos": before.cost_today_nanos,
            "cost_this_month_nanos": before.cost_this_month_nanos,
            "requests_today": before.requests_today,
        }

        async def write() -> object:
            pipe = self._store.client.pipeline(transaction=not self._store.is_cluster)
            pipe.delete(keys.windows, keys.day(plan.day.id), keys.month(plan.month.id))
            append_audit(
                pipe,
                now_ms=now,
                action="usage.reset",
                subject=subject,
                actor=actor,
                reason=reason,
                before=snapshot,
                after=None,
            )
            return await pipe.execute()

        await self._store.call(write, _ADMIN_TIMEOUT)
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

    async def _claims(self, plan: SubjectPlan) -> list[tuple[str, int, str]]:
        """The threshold claims (limit, percent, period) of the current day and month."""
        keys = subject_keys(plan.subject)
        periods = ((keys.day(plan.day.id), f"day:{plan.day.id}"),
                   (keys.month(plan.month.id), f"month:{plan.month.id}"),
                   (keys.week(plan.week.id), f"week:{plan.week.id}"),
                   (keys.lifetime, "lifetime"))  # fmt: skip

        async def read() -> list[list[str]]:
            pipe = self._store.client.pipeline(transaction=False)
            for key, _ in periods:
                pipe.hkeys(key)
            return await pipe.execute()

        found = []
        for (_, period), fields in zip(
            periods, await self._store.call(read, _ADMIN_TIMEOUT), strict=True
        ):
            for field in fields:
                if field.startswith("a:") and not field.startswith("a:cost_per_request"):
                    _, limit, pct = field.split(":")
                    found.append((limit, int(pct), period))
        return found

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
        keys = subject_keys(subject)
        statuses = {s.limit.value: s for s in usage.limits}
        for limit, pct, period in await self._claims(plan):
            status = statuses.get(limit)
            if status is not None and status.used * 100 >= pct * status.limit_value:
                continue
            key = {
                "day": keys.day(plan.day.id),
                "month": keys.month(plan.month.id),
                "week": keys.week(plan.week.id),
                "lifetime": keys.lifetime,
            }[period.split(":", 1)[0]]
            field = f"a:{limit}:{pct}"
            if await self._store.call(lambda k=key, f=field: self._store.client.hdel(k, f)):
                used = status.used if status else 0
                await self._publish_resolved(
                    subject, now, limit=limit, pct=pct, used=used, period=period
                )
