"""The open holds of one subject, for reading (the dashboard's subject page).

A hold lives in the subject's `holds` hash as id -> "cost|tokens|expiry|placed|charged" (written
by check.lua). This is a plain read: a hold whose lease has ended but that no script has
returned yet is left out rather than shown as open, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quota_sidecar.domain.clock import Clock, from_ms
from quota_sidecar.domain.models import Subject
from quota_sidecar.engine.replies import exact_int
from quota_sidecar.store.keys import subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["OpenHold", "open_holds"]

_SUM_FIELD = "_sum"  # the running total of the hash, not a hold
_READ_TIMEOUT = 2.0
MAX_LISTED = 1000  # a page shows at most this many, soonest expiry first


@dataclass(frozen=True, slots=True)
class OpenHold:
    """One reservation holding its estimated cost until it is settled, released or expires."""

    hold_id: str
    cost_nanos: int
    tokens: int
    placed_at: datetime
    expires_at: datetime


async def open_holds(store: Store, clock: Clock, subject: Subject) -> tuple[OpenHold, ...]:
    """The subject's unexpired holds, soonest expiry first (at most MAX_LISTED)."""
    key = subject_keys(subject).holds
    fields = await store.call(lambda: store.client.hgetall(key), _READ_TIMEOUT)
    now = clock.now_ms()
    holds = []
    for hold_id, value in fields.items():
        if hold_id == _SUM_FIELD:
            continue
        parts = value.split("|")
        if len(parts) < 4:
            continue  # not a hold this version wrote; reading must not fail on it
        cost, tokens, expiry, placed = (exact_int(p) for p in parts[:4])
        if expiry <= now:
            continue
        holds.append(OpenHold(hold_id, cost, tokens, from_ms(placed), from_ms(expiry)))
    holds.sort(key=lambda h: (h.expires_at, h.hold_id))
    return tuple(holds[:MAX_LISTED])
