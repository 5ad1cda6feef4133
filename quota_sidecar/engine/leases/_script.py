"""lease.lua's KEYS/ARGV and reply, in one place (see the script's header)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from quota_sidecar.domain.clock import from_ms
from quota_sidecar.domain.models import LimitKind
from quota_sidecar.domain.results import LimitStatus
from quota_sidecar.engine.plan import SubjectPlan
from quota_sidecar.store.keys import ALERTS, subject_keys

__all__ = ["GiveBack", "LeaseAsk", "LeaseReply", "decode_reply", "lease_call"]

_WINDOWS = {
    LimitKind.REQUESTS_PER_MINUTE: timedelta(minutes=1),
    LimitKind.REQUESTS_PER_HOUR: timedelta(hours=1),
    LimitKind.REQUESTS_PER_DAY: timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class GiveBack:
    """The unused rest of a slice: how much, when it was counted, in which quota day."""

    amount: int = 0
    taken_at: int = 0
    day_id: str = "-"


@dataclass(frozen=True, slots=True)
class LeaseAsk:
    """One subject's part of a lease step: what to give back, what to take (0: nothing)."""

    plan: SubjectPlan
    back: GiveBack
    wanted: int
    need: int


@dataclass(frozen=True, slots=True)
class LeaseReply:
    """One subject's answer. `kind`: ok, deny, no (not leasable now), back (given back only)."""

    kind: str
    slice: int = 0
    until: int = 0
    denied: LimitKind | None = None
    retry_at: int = -1
    statuses: tuple[LimitStatus, ...] = ()


def lease_call(
    asks: Sequence[LeaseAsk], holder: str, now: int, k: int
) -> tuple[list[str], list[Any]]:
    keys = [key for a in asks for key in a.plan.keys]
    keys += [subject_keys(a.plan.subject).lease_registry for a in asks]
    keys.append(ALERTS)
    args: list[Any] = [now, holder, len(asks), *(a.plan.args[0] for a in asks)]
    for a in asks:
        args += [a.back.amount, a.back.taken_at, a.back.day_id or "-"]
    for a in asks:
        args += [a.wanted, a.need, k]
    return keys, args


def decode_reply(reply: Sequence[Any], asks: Sequence[LeaseAsk]) -> list[LeaseReply] | None:
    """None when a config changed since the caller planned (the check path refreshes it)."""
    if reply and reply[0] == "stale":
        return None
    out = []
    for entry, ask in zip(reply, asks, strict=True):
        kind = entry[0]
        if kind == "ok":
            statuses = _statuses(entry[3], ask.plan)
            out.append(LeaseReply(kind, int(entry[1]), int(entry[2]), statuses=statuses))
        elif kind == "deny":
            statuses = _statuses(entry[4], ask.plan)
            denied = LimitKind(entry[1])
            out.append(LeaseReply(kind, 0, int(entry[3]), denied, int(entry[2]), statuses=statuses))
        else:
            out.append(LeaseReply(kind))
    return out


def _statuses(flat: Sequence[Any], plan: SubjectPlan) -> tuple[LimitStatus, ...]:
    out = []
    for at in range(0, len(flat), 5):
        kind = LimitKind(flat[at])
        limit, used, held, reset_ms = (int(v) for v in flat[at + 1 : at + 5])
        reset = from_ms(reset_ms) if reset_ms > 0 else None
        remaining = max(0, limit - used - held)
        out.append(
            LimitStatus(plan.subject, kind, limit, used, held, remaining, reset, _WINDOWS[kind])
        )
    return tuple(out)
