"""The store's pool packs in C, and what it sends reaches Redis intact: scripts and plain
commands with non-ASCII text, big integers and empty strings round-trip unchanged."""

from __future__ import annotations

from quota_sidecar.store.packing import c_packing_class
from quota_sidecar.store.redis import Store


async def test_the_store_packs_in_c_and_redis_reads_it(redis_url: str) -> None:
    store = Store.from_url(redis_url)
    try:
        pool = store.client.connection_pool  # type: ignore[union-attr]
        assert pool.connection_class is c_packing_class(pool.connection_class.__mro__[1])
        values = ["värde ✓", "", str(2**70), "-5", "a b c"]
        echoed = await store.client.eval(  # type: ignore[misc]
            "return ARGV", 0, *values
        )
        assert echoed == values
        await store.client.set("qs:test:é", 2**63 - 1)
        assert await store.client.get("qs:test:é") == str(2**63 - 1)
    finally:
        await store.close()
