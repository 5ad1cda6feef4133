"""Engines on the session's real three-master Redis Cluster (tests/support/redis_cluster.py,
started once by tests/conftest.py), with a controlled clock; and subjects spread over its
masters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from redis.crc import key_slot

from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.keys import subject_keys
from tests.support.engines import engine_factory
from tests.support.redis_cluster import RedisCluster

__all__ = ["START", "ClusterFactory", "RedisCluster", "slot_of", "spread"]

START = datetime(2026, 11, 18, 12, 0, 0, tzinfo=UTC)

ClusterFactory = Callable[..., QuotaService]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def make_engine(cluster_url: str, clock: ManualClock) -> AsyncIterator[ClusterFactory]:
    """Engines on the cluster sharing one clock (several = several replicas)."""
    async with engine_factory(cluster_url, clock) as build:
        yield build


@pytest.fixture
async def engine(make_engine: ClusterFactory) -> QuotaService:
    return make_engine()


def slot_of(subject: Subject) -> int:
    """The cluster slot of a subject (all its keys share one hash tag)."""
    return int(key_slot(subject_keys(subject).config.encode()))


def spread(scope: QuotaScope, prefix: str, count: int) -> list[Subject]:
    """`count` subjects of `scope` on pairwise different thirds of the slot space (so on
    different masters of a three-master cluster made by redis-cli), in ascending slot order."""
    third = 16384 // 3
    found: dict[int, Subject] = {}
    n = 0
    while len(found) < count:
        subject = Subject(scope, f"{prefix}-{n}")
        found.setdefault(min(slot_of(subject) // third, 2), subject)
        n += 1
    return sorted(found.values(), key=slot_of)
