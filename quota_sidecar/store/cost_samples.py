"""The recent costs of a tool or model (engine/samples.py reads them; record.lua writes them, in
the record's own script call). Owns the read of the sample list; imports only redis and the
rest of the store.
"""

from __future__ import annotations

from typing import Any

from quota_sidecar.store.redis import Store

__all__ = ["read_samples"]


async def read_samples(store: Store, key: str, count: int, timeout: float | None) -> list[Any]:
    """The newest `count` samples (LRANGE; [] when there are none), as the driver returns
    them (integer text: decode with exact_int)."""
    found = await store.call(lambda: store.client.lrange(key, 0, count - 1), timeout)
    return list(found)
