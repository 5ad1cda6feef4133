"""LeaseManager: admits checks from exact local leases, and takes and gives back their slices.

The hook is one call in the check path (engine/rate_limits.py), before the check goes to Redis:
`admit()` answers a check from this replica's slices, or says None and the check goes to
Redis as before. It answers only checks that a slice can decide exactly: no hold, at least
one request, every subject under a `lease: auto` quota whose only limits are request windows,
hot on this replica (LeaseSettings.hot_checks), on a single Redis or Sentinel (not Cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import Sequence

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.errors import DeadlineExceeded, Overloaded, StoreUnavailable
from quota_sidecar.domain.models import LimitKind, QuotaScope, Subject
from quota_sidecar.domain.results import CheckResult
from quota_sidecar.engine.leases._results import allowed, denied, warnings_of
from quota_sidecar.engine.leases._script import (
    GiveBack,
    LeaseAsk,
    LeaseReply,
    decode_reply,
    lease_call,
)
from quota_sidecar.engine.leases._settings import LeaseSettings
from quota_sidecar.engine.leases._state import HotSubjects, Lease
from quota_sidecar.engine.plan import SubjectPlan
from quota_sidecar.store.redis import Store

__all__ = ["LeaseManager"]

log = logging.getLogger(__name__)

_REQUEST_WINDOWS = {
    LimitKind.REQUESTS_PER_MINUTE: 60_000,
    LimitKind.REQUESTS_PER_HOUR: 3_600_000,
    LimitKind.REQUESTS_PER_DAY: 86_400_000,
}
_BUCKETS = 10  # as _lib.lua's SUB_BUCKETS
_ATTEMPTS = 5  # lease steps one check may wait for before it goes to Redis instead
_STORE_ERRORS = (StoreUnavailable, DeadlineExceeded, Overloaded)


class LeaseManager:
    """One per engine (replica). `steps` counts lease.lua calls, `fallbacks` the checks of hot
    leased subjects that went to Redis after all (a renewal failed, or kept being drained by
    other checks), for tests and the bench."""

    def __init__(self, store: Store, clock: Clock, settings: LeaseSettings | None = None) -> None:
        self.settings = settings or LeaseSettings()
        self._store = store
        self._clock = clock
        self.holder = uuid.uuid4().hex[:16]
        self._leases: dict[Subject, Lease] = {}
        self._inflight: dict[Subject, asyncio.Future[None]] = {}
        self._hot = HotSubjects()
        self._buckets: dict[tuple[Subject, str], int] = {}  # 0: not leasable
        self._sweeper: asyncio.Task[None] | None = None
        self.steps = 0
        self.fallbacks = 0

    # --- the check path -------------------------------------------------------------------
    async def admit(
        self,
        plans: Sequence[SubjectPlan],
        now: int,
        *,
        reserve: bool,
        requests: int,
        timeout: float | None,
    ) -> CheckResult | None:
        """The check's answer from this replica's slices, or None: decide it in Redis."""
        if reserve or requests < 1 or not plans or self._store.is_cluster:
            return None
        if any(self._bucket_ms(p) == 0 for p in plans):
            return None
        if len({p.subject for p in plans}) != len(plans):
            return None
        # Every subject counts the check, so the subjects of one hot call become hot together.
        rates = [self._hot.rate(p.subject, now) for p in plans]
        if min(rates) < self.settings.hot_checks:
            return None
        for _ in range(_ATTEMPTS):
            found = self._decide(plans, now, requests)
            if found is not None or self._unleasable(plans, now):
                return found
            if not await self._step(plans, rates, now, requests, timeout):
                self.fallbacks += 1
                return None
            now = self._clock.now_ms()
        self.fallbacks += 1
        return None

    def _decide(self, plans: Sequence[SubjectPlan], now: int, need: int) -> CheckResult | None:
        """Synchronous, so all subjects admit together or none does (no await in between)."""
        leases = [self._leases.get(p.subject) for p in plans]
        for plan, lease in zip(plans, leases, strict=True):
            if lease is not None and lease.denies(plan.cached.version, now, need):
                return denied([p.subject for p in plans], leases, now)
        ready: list[Lease] = []
        for plan, lease in zip(plans, leases, strict=True):
            if lease is None or not lease.usable(plan.cached.version, now, need):
                return None
            ready.append(lease)
        for lease in ready:
            lease.left -= need
        return allowed(ready)

    def _unleasable(self, plans: Sequence[SubjectPlan], now: int) -> bool:
        for plan in plans:
            lease = self._leases.get(plan.subject)
            if lease is not None and not lease.leasable and now < lease.until:
                return True
        return False

    def _bucket_ms(self, plan: SubjectPlan) -> int:
        """The shortest request window's bucket; 0 when the quota cannot be leased."""
        key = (plan.subject, plan.cached.version)
        found = self._buckets.get(key)
        if found is None:
            found = _leasable_bucket(plan)
            if len(self._buckets) > 100_000:
                self._buckets.clear()
            self._buckets[key] = found
        return found

    # --- lease steps ----------------------------------------------------------------------
    async def _step(
        self,
        plans: Sequence[SubjectPlan],
        rates: Sequence[int],
        now: int,
        need: int,
        timeout: float | None,
    ) -> bool:
        """Renew the slices this check lacks: one lease.lua call for all of them, unless
        another check is renewing them already (then wait for it). False: go to Redis."""
        waiting = {self._inflight[p.subject] for p in plans if p.subject in self._inflight}
        asks: list[tuple[SubjectPlan, int]] = []
        for plan, rate in zip(plans, rates, strict=True):
            lease = self._leases.get(plan.subject)
            usable = lease is not None and lease.usable(plan.cached.version, now, need)
            if plan.subject not in self._inflight and not usable:
                asks.append((plan, rate))
        ok = True
        if asks:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            for plan, _ in asks:
                self._inflight[plan.subject] = done
            try:
                ok = await self._renew(asks, now, need, timeout)
            finally:
                for plan, _ in asks:
                    del self._inflight[plan.subject]
                done.set_result(None)
        if waiting:
            await asyncio.gather(*(asyncio.shield(w) for w in waiting))
        return ok

    async def _renew(
        self,
        asks: Sequence[tuple[SubjectPlan, int]],
        now: int,
        need: int,
        timeout: float | None,
    ) -> bool:
        old_versions = [
            lease
            for plan, _ in asks
            if (lease := self._leases.get(plan.subject)) is not None
            and lease.version != plan.cached.version
        ]
        if old_versions:  # a config changed: its slices go back through their own keys first
            with contextlib.suppress(*_STORE_ERRORS):  # else they stay counted: an under-count
                await self._give_back(old_versions, now, timeout)
        lease_asks = [
            LeaseAsk(plan, self._detach(plan.subject), self._wanted(plan, rate, now, need), need)
            for plan, rate in asks
        ]
        keys, args = lease_call(lease_asks, self.holder, now, self.settings.k)
        try:
            reply = await self._store.run("lease.lua", keys, args, timeout=timeout)
        except _STORE_ERRORS:
            # The rests may or may not have gone back: never use them again (an under-count
            # at worst, until their buckets leave the windows).
            for ask in lease_asks:
                self._leases.pop(ask.plan.subject, None)
            return False
        self.steps += 1
        decoded = decode_reply(reply, lease_asks)
        if decoded is None:  # a config changed: nothing ran; the check path refreshes it
            for ask in lease_asks:
                self._reattach(ask)
            return False
        for ask, answer in zip(lease_asks, decoded, strict=True):
            self._leases[ask.plan.subject] = self._lease_of(ask, answer, now)
        self._ensure_sweeper()
        return True

    def _detach(self, subject: Subject) -> GiveBack:
        """Take the unused rest off a lease before it is sent back, so no check admits from
        what Redis may already have been given."""
        lease = self._leases.get(subject)
        if lease is None or lease.left <= 0:
            return GiveBack()
        back = GiveBack(lease.left, lease.taken_at, lease.day_id)
        lease.left = 0
        return back

    def _reattach(self, ask: LeaseAsk) -> None:
        lease = self._leases.get(ask.plan.subject)
        if lease is not None and ask.back.amount:
            lease.left += ask.back.amount

    def _wanted(self, plan: SubjectPlan, rate: int, now: int, need: int) -> int:
        """What this replica will likely admit before the bucket ends (and a quarter more)."""
        g = self._bucket_ms(plan)
        left_ms = (now // g + 1) * g - now
        demand = math.ceil(rate * need * left_ms * 1.25 / 1000)
        return min(max(self.settings.max_slice, need), max(need, demand))

    def _lease_of(self, ask: LeaseAsk, answer: LeaseReply, now: int) -> Lease:
        plan = ask.plan
        version = plan.cached.version
        if answer.kind == "ok":
            config = plan.cached.config
            thresholds = config.alert_thresholds if config is not None else ()
            return Lease(
                plan, version, answer.until, now, plan.day.id, answer.slice,
                statuses=answer.statuses, warnings=warnings_of(answer.statuses, thresholds),
            )  # fmt: skip
        if answer.kind == "deny":
            return Lease(
                plan, version, answer.until, denied=answer.denied, denied_need=ask.need,
                retry_at=answer.retry_at, statuses=answer.statuses,
            )  # fmt: skip
        # Not leasable now (an override in force): ask again after one bucket.
        return Lease(plan, version, now + self._bucket_ms(plan), leasable=False)

    # --- giving back ----------------------------------------------------------------------
    async def flush(self, *, everything: bool = False) -> int:
        """Give back the unused rest of every slice whose bucket has ended (`everything`: of
        every slice); returns how much went back. The sweeper calls it; so does close()."""
        now = self._clock.now_ms()
        due = []
        for subject, lease in list(self._leases.items()):
            if subject in self._inflight or not (everything or now >= lease.until):
                continue
            if lease.left > 0:
                due.append(lease)
            elif now >= lease.until:
                del self._leases[subject]  # nothing left to give: forget it
        total = sum(lease.left for lease in due)
        if due:
            await self._give_back(due, now, None)
        return total

    async def _give_back(self, leases: Sequence[Lease], now: int, timeout: float | None) -> None:
        asks = []
        for lease in leases:
            back = GiveBack(lease.left, lease.taken_at, lease.day_id)
            lease.left = 0
            asks.append(LeaseAsk(lease.plan, back, 0, 0))
            if self._leases.get(lease.plan.subject) is lease and now >= lease.until:
                del self._leases[lease.plan.subject]
        if not asks:
            return
        keys, args = lease_call(asks, self.holder, now, self.settings.k)
        self.steps += 1
        await self._store.run("lease.lua", keys, args, timeout=timeout)

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await self.flush()
            except _STORE_ERRORS as exc:  # the rests stay counted: an under-count, never more
                log.debug("lease give-back failed: %s", exc)

    async def close(self) -> None:
        """Give back every open slice (bounded by the store's own timeouts)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        with contextlib.suppress(*_STORE_ERRORS):
            await self.flush(everything=True)


def _leasable_bucket(plan: SubjectPlan) -> int:
    config = plan.cached.config
    if config is None or config.lease != "auto" or config.shadow_mode:
        return 0
    if plan.cached.expires_at_ms is not None or plan.subject.scope is QuotaScope.RUN:
        return 0
    limits = config.limits()
    if not limits or any(kind not in _REQUEST_WINDOWS for kind in limits):
        return 0
    return min(_REQUEST_WINDOWS[kind] for kind in limits) // _BUCKETS
