"""HoldExtender: a hold grows while its call streams (ExtendReservation, extend.lua).

A streamed completion does not know its cost when it starts. Its hold is taken for a first
chunk, then extended to a new total as the stream goes on: every subject of the hold (the
user, the tool, the model, the run and its ancestors) grows to the new total in one atomic
script call, or none does, and a denial tells the caller to stop the stream. The extension
names the hold's new TOTAL, not an increment, so a retried extension whose reply was lost
changes nothing the second time.

On a Redis Cluster a hold's subjects may span slots: the slots are extended in the one global
order (ascending slot), and when a later slot denies, the slots already grown are set back to
the total they had ('restore'), so the outcome is still all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.errors import NotFound, StoreUnavailable
from quota_sidecar.domain.models import DenialCode, LimitKind, Subject
from quota_sidecar.domain.money import format_dollars
from quota_sidecar.domain.results import HoldExtension
from quota_sidecar.engine.cluster import SlotGroup, slot_groups
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.defaults import tenant_of
from quota_sidecar.engine.plan import SubjectPlan, plan_subjects
from quota_sidecar.engine.replies import exact_int
from quota_sidecar.engine.reservations import decode_reservation
from quota_sidecar.store.redis import Store

__all__ = ["HoldExtender"]

_STALE_RETRIES = 3
_SCRIPT = "extend.lua"


class HoldExtender:
    """Grows open holds to a new total, all subjects or none."""

    def __init__(self, store: Store, configs: ConfigRepository, clock: Clock) -> None:
        self._store = store
        self._configs = configs
        self._clock = clock

    async def extend(
        self,
        reservation_id: str,
        *,
        cost_nanos: int,
        lease: timedelta,
        timeout: float | None = None,
    ) -> HoldExtension:
        """Grow the hold to `cost_nanos` (a total; a smaller one only renews the lease).
        NotFound when the hold is no longer open (settled, released or its lease ended)."""
        hold_id, subjects = decode_reservation(reservation_id)
        lease_ms = int(lease / timedelta(milliseconds=1))
        for _ in range(_STALE_RETRIES):
            now = self._clock.now_ms()
            cached = await self._configs.get_many(subjects, timeout=timeout)
            plans = plan_subjects(subjects, cached, now)
            head: list[Any] = [now, cost_nanos, hold_id, lease_ms]
            if self._store.is_cluster:
                reply = await self._across_slots(plans, head, timeout)
            else:
                reply = await self._run(plans, head, "grow", timeout)
            if reply[0] != "stale":
                return _decode(reply, reservation_id, subjects)
            stale = [subjects[int(i) - 1] for i in reply[1]]
            await self._configs.refresh(stale, timeout=timeout, tenant=tenant_of(subjects))
        raise StoreUnavailable("quota configuration kept changing during the extension")

    async def _run(
        self, plans: Sequence[SubjectPlan], head: list[Any], mode: str, timeout: float | None
    ) -> list[Any]:
        keys = [k for p in plans for k in p.keys]
        args = [*head, len(plans), mode, *(a for p in plans for a in p.args)]
        reply: list[Any] = await self._store.run(_SCRIPT, keys, args, timeout=timeout)
        return reply

    async def _across_slots(
        self, plans: Sequence[SubjectPlan], head: list[Any], timeout: float | None
    ) -> list[Any]:
        grown: list[tuple[SlotGroup, int]] = []
        for group in slot_groups(plans):
            reply = await self._run(group.plans, head, "grow", timeout)
            if reply[0] == "ok":
                grown.append((group, exact_int(reply[1])))
                continue
            for done, before in grown:  # all or nothing: set the grown slots back
                await self._run(done.plans, [head[0], before, *head[2:]], "restore", None)
            if reply[0] in ("deny", "gone"):
                reply[2 if reply[0] == "deny" else 1] = group.global_index(
                    reply[2 if reply[0] == "deny" else 1]
                )
            elif reply[0] == "stale":
                reply[1] = [group.global_index(i) for i in reply[1]]
            return reply
        before = min((b for _, b in grown), default=0)
        return ["ok", before, max(before, int(head[1]))]


def _decode(reply: list[Any], reservation_id: str, subjects: Sequence[Subject]) -> HoldExtension:
    if reply[0] == "gone":
        raise NotFound(
            f"reservation {reservation_id} is not open on {subjects[int(reply[1]) - 1]}: it "
            "was settled, released, or its lease ended"
        )
    if reply[0] == "ok":
        return HoldExtension(extended=True, hold_cost_nanos=exact_int(reply[2]))
    _, code, index, limit, retry_ms, used, held, limit_value, before = reply[:9]
    subject = subjects[int(index) - 1]
    denial = DenialCode(code)
    kind = LimitKind(limit) if limit else None
    retry = exact_int(retry_ms)
    if denial is DenialCode.BLOCKED:
        reason = f"{subject} is blocked by an admin override"
    elif denial is DenialCode.PER_REQUEST_LIMIT_EXCEEDED:
        reason = (
            f"the stream's cost {format_dollars(exact_int(used))} would pass the per-request "
            f"limit {format_dollars(exact_int(limit_value))} of {subject}"
        )
    else:
        name = limit.replace("_", " ")
        reason = (
            f"{name} budget of {subject} exhausted: {format_dollars(exact_int(used))} spent and "
            f"{format_dollars(exact_int(held))} held of {format_dollars(exact_int(limit_value))}"
        )
    return HoldExtension(
        extended=False,
        hold_cost_nanos=exact_int(before),
        code=denial,
        reason=reason,
        denied_subject=subject,
        denied_limit=kind,
        retry_after=timedelta(milliseconds=retry) if retry >= 0 else None,
    )
