"""The record spool: usage recorded while Redis is down waits on disk and is recorded exactly
once when Redis returns, by this process or by the next one on the same data dir."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from quota_sidecar import StoreUnavailable
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import EngineSettings, QuotaService
from tests.support.redis_servers import RedisProcess


def _engine(url: str, spool: Path | None) -> QuotaService:
    settings = EngineSettings(store_timeout=0.5, spool_dir=spool)
    return QuotaService(url, clock=ManualClock(), settings=settings)


async def test_spooled_records_are_replayed_once(
    disposable_redis: RedisProcess, tmp_path: Path
) -> None:
    engine = _engine(disposable_redis.url, tmp_path / "spool")
    disposable_redis.stop()
    results = [
        await engine.record_usage(scope="user", identifier="alice", cost=0.25, idempotency_key=k)
        for k in ("r1", "r2", "r1")  # r1 retried: counted once
    ]
    await engine.record_usage(scope="user", identifier="alice", cost=0.5)  # no key given
    assert all(r.spooled and not r.recorded for r in results)
    with pytest.raises(StoreUnavailable):
        await engine.replay_spool()  # still down: nothing lost, nothing recorded
    disposable_redis.start()
    assert await engine.ping()  # the store is reachable again once a probe answers
    assert await engine.replay_spool() == 4
    assert await engine.replay_spool() == 0
    usage = await engine.get_quota_usage("user", "alice")
    assert usage.cost_today == Decimal("1.00")
    await engine.close()


async def test_the_next_process_replays_a_dead_ones_spool(
    disposable_redis: RedisProcess, tmp_path: Path
) -> None:
    first = _engine(disposable_redis.url, tmp_path / "spool")
    disposable_redis.stop()
    assert (await first.record_usage(scope="user", identifier="bob", cost=2)).spooled
    await first.close()  # gone before Redis came back; its spool file stays
    disposable_redis.start()
    second = _engine(disposable_redis.url, tmp_path / "spool")
    assert await second.replay_spool() == 1
    assert (await second.get_quota_usage("user", "bob")).cost_today == 2
    assert not any((tmp_path / "spool").iterdir())
    await second.close()


async def test_without_a_spool_a_record_raises(disposable_redis: RedisProcess) -> None:
    engine = _engine(disposable_redis.url, None)
    disposable_redis.stop()
    with pytest.raises(StoreUnavailable):
        await engine.record_usage(scope="user", identifier="carol", cost=1)
    await engine.close()
