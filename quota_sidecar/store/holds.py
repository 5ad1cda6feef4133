"""A subject's holds (reservations placed by check.lua), read and released outside the hot path.

Owns: the `holds` hash's format, id -> "cost|tokens|expiry|placed|charged" beside its running
total `_sum`, and its decoding; releasing holds by id (release_holds.lua, with the hold-expiry
set and the lifetime hash). Imports only the domain, redis and the rest of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from quota_sidecar.domain.clock import from_ms
from quota_sidecar.domain.models import Subject
from quota_sidecar.store.decoding import exact_int
from quota_sidecar.store.keys import subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["OpenHold", "hold_ids", "read_holds", "release_holds"]

_SUM_FIELD = "_sum"  # the running total of the hash, not a hold


@dataclass(frozen=True, slots=True)
class OpenHold:
    """One reservation holding its estimated cost until it is settled, released or expires."""

    hold_id: str
    cost_nanos: int
    tokens: int
    placed_at: datetime
    expires_at: datetime


async def read_holds(store: Store, subject: Subject, timeout: float | None) -> list[OpenHold]:
    """Every hold in the subject's hash, expired or not, in no order. An entry this version
    did not write is left out: reading must not fail on it."""
    key = subject_keys(subject).holds
    fields = await store.call(lambda: store.client.hgetall(key), timeout)
    holds = []
    for hold_id, value in fields.items():
        if hold_id == _SUM_FIELD:
            continue
        parts = value.split("|")
        if len(parts) < 4:
            continue
        cost, tokens, expiry, placed = (exact_int(p) for p in parts[:4])
        holds.append(OpenHold(hold_id, cost, tokens, from_ms(placed), from_ms(expiry)))
    return holds


async def hold_ids(store: Store, subject: Subject, timeout: float | None) -> list[str]:
    """The ids of the subject's holds (open or expired but not yet returned)."""
    key = subject_keys(subject).holds
    found = await store.call(lambda: store.client.hkeys(key), timeout)
    return [str(h) for h in found if str(h) != _SUM_FIELD]


async def release_holds(
    store: Store, subject: Subject, ids: Sequence[str], timeout: float | None
) -> int:
    """Release the subject's holds among `ids` (one already settled or released is skipped);
    how many were released."""
    k = subject_keys(subject)
    count = await store.run(
        "release_holds.lua", [k.holds, k.hold_expiry, k.lifetime], list(ids), timeout=timeout
    )
    return exact_int(count)
