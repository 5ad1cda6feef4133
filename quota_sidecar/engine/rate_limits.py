"""RateLimitManager: admission. One check.lua call decides every subject's request and token
windows together with its budgets (block, bypass, per-request limit, daily and monthly
budgets), so a check across several subjects is atomic and consumes nothing when denied.

The window algorithm (see periods.py): sliding windows of SUB_BUCKETS buckets. Guarantee: no
interval of length T ever contains more admitted requests than the limit; capacity freed by old
requests returns at most T/SUB_BUCKETS later than an exact sliding log would return it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from quota_sidecar.domain.clock import Clock, from_ms
from quota_sidecar.domain.errors import (
    DeadlineExceeded,
    InvalidInput,
    StoreBehind,
    StoreUnavailable,
)
from quota_sidecar.domain.models import DenialCode, LimitKind, QuotaScope, Subject
from quota_sidecar.domain.money import format_dollars
from quota_sidecar.domain.results import CheckResult
from quota_sidecar.engine.cluster import check_across_slots
from quota_sidecar.engine.configs import CachedConfig, ConfigRepository
from quota_sidecar.engine.defaults import tenant_of
from quota_sidecar.engine.durability.failure import decide_without_store
from quota_sidecar.engine.durability.undo import CheckUndoer, new_check_id
from quota_sidecar.engine.leases import LeaseManager
from quota_sidecar.engine.plan import SubjectPlan, plan_subjects
from quota_sidecar.engine.replies import (
    decode_statuses,
    decode_warnings,
    window_length,
)
from quota_sidecar.engine.reservations import encode_reservation, new_hold_id
from quota_sidecar.store.keys import ALERTS, subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["RateLimitManager"]

log = logging.getLogger(__name__)
_STALE_RETRIES = 3


class RateLimitManager:
    """Runs checks. Alerts a check raises (request and token budgets per day, per-request
    limits) go to the alert streams inside the script; the check result does not carry them."""

    def __init__(self, store: Store, configs: ConfigRepository, clock: Clock) -> None:
        self._store = store
        self._configs = configs
        self._clock = clock
        self._undo = CheckUndoer(store)
        self.leases = LeaseManager(store, clock)  # exact local leases: engine/leases/

    @property
    def undos_pending(self) -> int:
        """Checks whose replies were lost, waiting to be undone."""
        return self._undo.pending

    async def close(self) -> None:
        """Give back open lease slices; send the undos still waiting (bounded)."""
        await self.leases.close()
        await self._undo.close()

    async def check(
        self,
        subjects: Sequence[Subject],
        *,
        estimated_cost_nanos: int = 0,
        estimated_tokens: int = 0,
        reserve: bool = False,
        lease: timedelta = timedelta(minutes=5),
        timeout: float | None = None,
        requests: int = 1,
    ) -> CheckResult:
        """Decide a check in Redis. `requests` is how many requests the check counts in the
        request windows (1 for a CheckQuota; a gateway's hits may be more; 0 only looks).
        Only while the store is unreachable is it decided without it, by the quotas' failure
        modes; a busy store or a passed timeout never decides (see
        store/redis.py). Overloaded and DeadlineExceeded reach the caller with nothing held."""
        try:
            return await self._check(
                subjects,
                estimated_cost_nanos,
                estimated_tokens,
                reserve,
                lease,
                timeout=timeout,
                requests=requests,
            )
        except StoreUnavailable as exc:
            # A store behind on a quota this engine knows (a failover lost the write) cannot
            # decide for it: the known quota's failure modes do, as in an outage.
            if self._store.reachable and not isinstance(exc, StoreBehind):
                raise  # Redis answered that it cannot serve now: nothing ran, nothing decided
            # Logged once per outage by the store; per check only at debug, to spare the log.
            log.debug("check decided without the store: %s", exc)
            tenant = tenant_of(subjects)
            cached = [
                self._configs.cached(s, tenant) or self._configs.under_known_default(s, tenant)
                for s in subjects
            ]
            return decide_without_store(subjects, cached, estimated_cost_nanos)

    async def _check(
        self,
        subjects: Sequence[Subject],
        cost: int,
        tokens: int,
        reserve: bool,
        lease: timedelta,
        *,
        timeout: float | None,
        requests: int = 1,
    ) -> CheckResult:
        hold_id = new_hold_id(subjects) if reserve else ""
        deadline = _deadline(timeout)
        for _ in range(_STALE_RETRIES):
            now = self._clock.now_ms()
            cached = await self._configs.get_many(subjects, timeout=_left(deadline))
            _refuse_ended_runs(subjects, cached)
            plans = plan_subjects(subjects, cached, now)
            leased = await self.leases.admit(
                plans, now, reserve=reserve, requests=requests, timeout=_left(deadline)
            )
            if leased is not None:  # decided from this replica's lease slices
                return leased
            check_id = "" if self._store.is_cluster else new_check_id()
            keys = [k for p in plans for k in p.keys]
            shared = not self._store.is_cluster
            if shared:
                keys += [ALERTS, subject_keys(subjects[0]).check_mark(check_id)]
            args: list[Any] = [now, cost, tokens, int(reserve), hold_id, _ms(lease), check_id]
            args += [requests, len(plans), int(shared), *(a for p in plans for a in p.args)]
            try:
                if self._store.is_cluster:  # subjects may span slots: see engine/cluster.py
                    reply = await check_across_slots(self._store, plans, head=args[:8])
                else:
                    reply = await self._store.run("check.lua", keys, args, timeout=_left(deadline))
            except (StoreUnavailable, DeadlineExceeded) as exc:
                if exc.maybe_applied and check_id:
                    self._undo.undo(
                        plans,
                        now=now,
                        tokens=tokens,
                        hold_id=hold_id,
                        check_id=check_id,
                        requests=requests,
                    )
                raise
            if reply[0] != "stale":
                return self._decode(reply, plans, subjects, now)
            await self._configs.refresh(
                [subjects[int(i) - 1] for i in reply[1]],
                timeout=_left(deadline),
                tenant=tenant_of(subjects),
            )
        raise StoreUnavailable("quota configuration kept changing during the check")

    def _decode(
        self, reply: list[Any], plans: list[SubjectPlan], subjects: Sequence[Subject], now: int
    ) -> CheckResult:
        verdict, code, index, limit, retry_ms, reset_ms, shadow, hold_id = reply[:8]
        statuses = decode_statuses(reply[8], plans)
        warnings = decode_warnings(reply[9], plans)
        reservation = encode_reservation(hold_id, subjects) if hold_id else None
        if not code:
            return CheckResult(
                allowed=True,
                limits=statuses,
                warnings=warnings,
                reservation_id=reservation,
            )
        plan = plans[int(index) - 1]
        kind = LimitKind(limit) if limit else None
        denial = DenialCode(code)
        return CheckResult(
            allowed=verdict == "ok",
            code=denial if verdict == "deny" else None,
            reason=_reason(
                denial,
                subject=plan.subject,
                limit=kind,
                statuses=statuses,
                retry_ms=int(retry_ms),
                verdict=verdict,
            ),
            denied_subject=plan.subject,
            denied_limit=kind,
            denied_window=window_length(kind, plan) if kind else None,
            limits=statuses,
            retry_after=timedelta(milliseconds=int(retry_ms)) if int(retry_ms) >= 0 else None,
            reset_at=from_ms(int(reset_ms)) if int(reset_ms) > 0 else None,
            warnings=warnings,
            reservation_id=reservation,
            shadow_denied=bool(int(shadow)),
        )


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else asyncio.get_running_loop().time() + timeout


def _left(deadline: float | None) -> float | None:
    """Seconds left before the caller's deadline (None: no deadline)."""
    return None if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())


def _ms(delta: timedelta) -> int:
    return int(delta / timedelta(milliseconds=1))


def _reason(
    code: DenialCode,
    *,
    subject: Subject,
    limit: LimitKind | None,
    statuses: Sequence[Any],
    retry_ms: int,
    verdict: str,
) -> str:
    prefix = "shadow mode would deny: " if verdict != "deny" else ""
    status = next((s for s in statuses if s.subject == subject and s.limit == limit), None)
    if code is DenialCode.BLOCKED:
        text = f"{subject} is blocked by an admin override"
    elif code is DenialCode.PER_REQUEST_LIMIT_EXCEEDED and status is not None:
        text = (
            f"estimated cost {format_dollars(status.used)} is above the per-request limit "
            f"{format_dollars(status.limit_value)} of {subject}"
        )
    elif code is DenialCode.BUDGET_EXHAUSTED and status is not None and limit is not None:
        text = (
            f"{limit.value.replace('_', ' ')} budget of {subject} exhausted: "
            f"{format_dollars(status.used)} spent and {format_dollars(status.held)} held "
            f"of {format_dollars(status.limit_value)}"
        )
    elif code is DenialCode.CONCURRENCY_LIMITED and status is not None:
        # retry_after, when known, is only the latest a slot frees: a settle may come sooner.
        wait = f"; the first lease ends in {retry_ms / 1000:.3f}s" if retry_ms >= 0 else ""
        text = (
            f"max concurrent limit of {subject} reached "
            f"({status.used} of {status.limit_value} holds open){wait}"
        )
    elif limit is not None and status is not None:
        wait = f"; retry in {retry_ms / 1000:.3f}s" if retry_ms >= 0 else ""
        text = (
            f"{limit.value.replace('_', ' ')} limit of {subject} reached "
            f"({status.used} of {status.limit_value}){wait}"
        )
    else:
        text = f"{code.value} for {subject}"
    return prefix + text


def _refuse_ended_runs(subjects: Sequence[Subject], cached: Sequence[CachedConfig]) -> None:
    """A run's config goes with its keys when it expires. A check that meets that (it raced the
    expiry) is refused like a check on an ended run, never let through with no limits."""
    for subject, entry in zip(subjects, cached, strict=True):
        if subject.scope is QuotaScope.RUN and entry.config is None:
            raise InvalidInput("run_id", f"run {subject.identifier} has ended")
