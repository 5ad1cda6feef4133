"""Idempotency keys: the same key and payload with the subjects in another order is the same
record, and caller strings in key names never leave their subject's hash tag."""

from __future__ import annotations

import pytest

from quota_sidecar import CostQuota, IdempotencyConflict, QuotaConfig, QuotaScope, Subject
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.keys import hash_tag
from tests.support.redis_cluster import async_client

USER = Subject(QuotaScope.USER, "dave")
TOOL = Subject(QuotaScope.TOOL, "search")
GLOBAL_KEYS = {"qs:quotas", "qs:alerts", "qs:audit", "qs:ovrexp"}
# The top-spender sets are per scope (identifiers are members there, never in the key name).
TOP_SETS = "qs:top:"


async def test_the_same_key_with_the_subjects_reordered_counts_once(
    engine: QuotaService,
) -> None:
    first = await engine.record_usage(subjects=[USER, TOOL], cost=1, idempotency_key="k1")
    again = await engine.record_usage(subjects=[TOOL, USER], cost=1, idempotency_key="k1")
    assert first.recorded and not first.duplicate
    assert again.duplicate and not again.recorded
    assert [t.subject for t in again.totals] == [TOOL, USER]  # in the caller's order
    for subject in (USER, TOOL):
        assert (await engine.get_usage(subject)).cost_today_nanos == 10**9
    with pytest.raises(IdempotencyConflict):
        await engine.record_usage(subjects=[TOOL, USER], cost=2, idempotency_key="k1")


async def _keys(url: str) -> set[str]:
    client = async_client(url)
    try:
        return {key async for key in client.scan_iter(match="*")}
    finally:
        await client.aclose()


async def test_caller_strings_never_leave_the_subject_hash_tag(
    engine: QuotaService, any_redis_url: str
) -> None:
    tricky = Subject(QuotaScope.USER, "e}v{i%l")
    plain = Subject(QuotaScope.USER, "e")
    for subject in (tricky, plain):
        await engine.register_quota(
            QuotaConfig(
                scope=subject.scope,
                identifier=subject.identifier,
                cost_quota=CostQuota(daily_limit=10),
            )
        )
    before = await _keys(any_redis_url)
    result = await engine.record_usage(
        subjects=[tricky], cost=1, idempotency_key="}{user:e}%7D", tool_name="t}"
    )
    assert result.recorded
    held = await engine.check_quota(subjects=[tricky], estimated_cost=1, reserve=True)
    assert held.allowed
    written = {
        k for k in await _keys(any_redis_url) - before - GLOBAL_KEYS if not k.startswith(TOP_SETS)
    }
    assert len(written) >= 5, written  # day, month, idempotency, holds, hold expiry, ...
    for key in written:
        assert _redis_hash_tag(key) == hash_tag(tricky), key
    for key in await _keys(any_redis_url) - GLOBAL_KEYS:
        if key.startswith(TOP_SETS):
            continue
        assert _redis_hash_tag(key) in {hash_tag(tricky), hash_tag(plain)}, key
    # The plain subject shares nothing with the tricky one.
    assert (await engine.get_usage(plain)).cost_today_nanos == 0
    assert (await engine.get_usage(tricky)).cost_today_nanos == 10**9
    again = await engine.record_usage(
        subjects=[tricky], cost=1, idempotency_key="}{user:e}%7D", tool_name="t}"
    )
    assert again.duplicate


def _redis_hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: between the first '{' and the next '}'."""
    start = key.find("{")
    end = key.find("}", start + 1)
    if start == -1 or end == -1 or end == start + 1:
        return key
    return key[start + 1 : end]
