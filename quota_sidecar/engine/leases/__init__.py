"""Exact local leases for hot subjects (docs/semantics.md, Leases).

A replica takes a slice of a subject's request windows in one atomic script (lease.lua): the
slice counts in Redis at once, as that many admitted checks in the current bucket, so no
interval of a window's length ever admits more than its limit, whoever admits from the slice.
The replica then admits checks from its slices without Redis (all subjects of a check, or
none), until the bucket ends, and gives back what it did not use.

Part of the engine: may import the store and the domain (and the engine's plans), never the
server or wire.
"""

from __future__ import annotations

from quota_sidecar.engine.leases._manager import LeaseManager
from quota_sidecar.engine.leases._settings import LeaseSettings

__all__ = ["LeaseManager", "LeaseSettings"]
