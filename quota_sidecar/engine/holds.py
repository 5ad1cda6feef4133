"""The open holds of one subject, for reading (the dashboard's subject page).

A plain read (store/holds.py): a hold whose lease has ended but that no script has returned
yet is left out rather than shown as open, and nothing is written.
"""

from __future__ import annotations

from quota_sidecar.domain.clock import Clock, to_ms
from quota_sidecar.domain.models import Subject
from quota_sidecar.store.holds import OpenHold, read_holds
from quota_sidecar.store.redis import Store

__all__ = ["OpenHold", "open_holds"]

_READ_TIMEOUT = 2.0
MAX_LISTED = 1000  # a page shows at most this many, soonest expiry first


async def open_holds(store: Store, clock: Clock, subject: Subject) -> tuple[OpenHold, ...]:
    """The subject's unexpired holds, soonest expiry first (at most MAX_LISTED)."""
    found = await read_holds(store, subject, _READ_TIMEOUT)
    now = clock.now_ms()
    holds = [h for h in found if to_ms(h.expires_at) > now]
    holds.sort(key=lambda h: (h.expires_at, h.hold_id))
    return tuple(holds[:MAX_LISTED])
