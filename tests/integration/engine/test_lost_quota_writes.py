"""A store that lost quota writes an engine has seen (a replica promoted before it received them:
Redis replicates asynchronously) never makes the engine forget them. The engine keeps the quota
it knows and decides that subject by its failure modes until the store holds that version or
a later write: a quota put or deleted again. Two engines on one Redis play two sidecars; the
store's loss is played by putting the quota's hash back as a lagging replica holds it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import NamedTuple

import pytest
import redis

from quota_sidecar import (
    CostQuota,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    StoreUnavailable,
    Subject,
)
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import EngineSettings, QuotaService
from quota_sidecar.store.keys import subject_keys

BUDGET = QuotaConfig(
    scope=QuotaScope.USER, identifier="closed", cost_quota=CostQuota(daily_limit=5)
)
RAISED = QuotaConfig(
    scope=QuotaScope.USER, identifier="closed", cost_quota=CostQuota(daily_limit=7)
)
RATES = QuotaConfig(
    scope=QuotaScope.USER, identifier="open", rate_limits=RateLimitConfig(requests_per_minute=5)
)
CLOSED = Subject(QuotaScope.USER, "closed")
OPEN = Subject(QuotaScope.USER, "open")
BY_THE_STORE = (True, None, False)
DENIED_WITHOUT_STORE = (False, "STORE_UNAVAILABLE", True)


class Sidecars(NamedTuple):
    engine: QuotaService
    other: QuotaService
    clock: ManualClock  # both engines': their hosts' clocks agree


@pytest.fixture
async def sidecars(redis_url: str) -> AsyncIterator[Sidecars]:
    settings = EngineSettings(store_timeout=0.1)
    clock = ManualClock()
    engine = QuotaService(redis_url, clock=clock, settings=settings)
    other = QuotaService(redis_url, clock=clock, settings=settings)
    yield Sidecars(engine, other, clock)
    await engine.close()
    await other.close()


async def _outcome(engine: QuotaService, subject: Subject) -> tuple[bool, str | None, bool]:
    result = await engine.check_quota(subjects=[subject], estimated_cost=1)
    code = None if result.code is None else str(result.code)
    return result.allowed, code, result.decided_without_store


def _raw(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


async def test_a_store_behind_a_known_quota_decides_nothing_for_it(
    sidecars: Sidecars, redis_url: str
) -> None:
    engine, other, clock = sidecars
    await engine.put_quota(BUDGET)
    config_key = subject_keys(CLOSED).config
    with _raw(redis_url) as raw:
        first_write = raw.hgetall(config_key)  # version 1, as the replica received it
    await engine.put_quota(RAISED)  # version 2, never replicated
    await engine.put_quota(RATES)  # never replicated at all
    for each in (engine, other):
        assert await _outcome(each, CLOSED) == BY_THE_STORE  # both know version 2
        assert await _outcome(each, OPEN) == BY_THE_STORE

    # The replica that had only the first write is promoted: the store is behind both engines.
    # It lacks every later write, the windows the checks wrote since included (they hold a
    # copy of the config version: engine/configs.py, store/keys.py).
    with _raw(redis_url) as raw:
        raw.delete(config_key, subject_keys(OPEN).config)
        raw.delete(subject_keys(CLOSED).windows, subject_keys(OPEN).windows)
        raw.hset(config_key, mapping=first_write)
    for each in (engine, other):
        assert await _outcome(each, CLOSED) == DENIED_WITHOUT_STORE  # its budget fails closed
        assert await _outcome(each, OPEN) == (True, None, True)  # its rate limits fail open
        stored = await each.get_quota(CLOSED)  # the store's, so the loss can be seen
        assert stored is not None and (stored.version, stored.cost_quota.daily_limit) == (1, 5)
        assert await _outcome(each, CLOSED) == DENIED_WITHOUT_STORE  # reading it changed nothing
    assert await engine.get_quota(OPEN) is None
    with pytest.raises(StoreUnavailable):  # spooled with a spool; not applied with an old quota
        await engine.record_usage(subjects=[CLOSED], cost=1, idempotency_key="lost")

    # Only a later write brings the store back: here the quota put again by the other engine,
    # whose version starts over at 2 but is written after the lost one.
    clock.advance(timedelta(seconds=1))
    stored, _ = await other.put_quota(BUDGET)
    assert stored.version == 2
    for each in (engine, other):
        assert await _outcome(each, CLOSED) == BY_THE_STORE
    # A deletion is a later write too (its tombstone's version): no quota, decided by the store.
    await other.delete_quota(CLOSED, actor="t")
    assert await _outcome(engine, CLOSED) == BY_THE_STORE
    assert await engine.get_quota(CLOSED) is None


async def test_a_quota_lost_whole_is_not_read_as_no_quota(
    sidecars: Sidecars, redis_url: str
) -> None:
    engine, other, clock = sidecars
    await engine.put_quota(BUDGET)
    assert await _outcome(other, CLOSED) == BY_THE_STORE
    with _raw(redis_url) as raw:
        raw.delete(subject_keys(CLOSED).config)  # the store never had the write
    for each in (engine, other):
        assert await _outcome(each, CLOSED) == DENIED_WITHOUT_STORE
    # Put again by the engine that wrote it first: version 1 once more, written later.
    clock.advance(timedelta(seconds=1))
    stored, created = await engine.put_quota(RAISED)
    assert (stored.version, created) == (1, True)  # created again: the store had none
    for each in (engine, other):
        assert await _outcome(each, CLOSED) == BY_THE_STORE
