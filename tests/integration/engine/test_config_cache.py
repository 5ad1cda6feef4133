"""The config cache forgets a subject's entries after an admin change, its own and one per
tenant it was resolved for, without touching anyone else's, and without scanning the cache: an
index of the tenants each subject is cached for (a scan per change made registering 100k
subjects in one process quadratic; bench/redis_scenarios.py's memory run never finished)."""

from __future__ import annotations

from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.engine.configs import CachedConfig, ConfigRepository
from quota_sidecar.store.redis import Store

ANN, BOB = Subject(QuotaScope.USER, "ann"), Subject(QuotaScope.USER, "bob")
NONE = CachedConfig(config=None, version="0")


async def test_forgetting_a_subject_drops_its_own_and_its_per_tenant_entries(
    redis_url: str,
) -> None:
    store = Store.from_url(redis_url)
    configs = ConfigRepository(store, ManualClock(), max_cached=10)
    for key in ((ANN, ""), (ANN, "acme"), (ANN, "globex"), (BOB, "acme"), (BOB, "")):
        configs._remember(key, NONE)
    configs._forget(ANN)
    assert set(configs._cache) == {(BOB, "acme"), (BOB, "")}
    assert configs._tenants == {BOB: {"acme"}}
    await store.close()


async def test_evicted_entries_leave_the_tenant_index_too(redis_url: str) -> None:
    store = Store.from_url(redis_url)
    configs = ConfigRepository(store, ManualClock(), max_cached=2)
    configs._remember((ANN, "acme"), NONE)
    configs._remember((BOB, "acme"), NONE)
    configs._remember((BOB, ""), NONE)  # evicts (ann, acme), the least recently used
    assert (ANN, "acme") not in configs._cache
    assert configs._tenants == {BOB: {"acme"}}
    configs._forget(BOB)
    assert not configs._cache and not configs._tenants
    await store.close()
