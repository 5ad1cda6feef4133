"""The store's states: a stopped Redis (SIGSTOP) is entered as "unreachable" within the probe's
bound, the failure modes apply only then, and calls whose replies were lost are undone (checks)
or kept under their idempotency key (records), so nothing is counted twice or held forever."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from quota_sidecar import (
    CostQuota,
    DeadlineExceeded,
    FailureMode,
    QuotaConfig,
    QuotaScope,
    QuotaService,
    RateLimitConfig,
)
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import EngineSettings
from tests.support.redis_servers import RedisProcess
from tests.support.waiting import until

PROBE_TIMEOUT = 0.1
RATES = QuotaConfig(
    scope=QuotaScope.USER,
    identifier="rates",
    rate_limits=RateLimitConfig(requests_per_minute=100_000),
)
BUDGET = QuotaConfig(
    scope=QuotaScope.USER, identifier="budget", cost_quota=CostQuota(daily_limit=10)
)
OPEN_BUDGET = QuotaConfig(
    scope=QuotaScope.USER,
    identifier="lenient",
    cost_quota=CostQuota(daily_limit=10, failure_mode=FailureMode.OPEN),
)


@pytest.fixture
def stoppable(disposable_redis: RedisProcess) -> Iterator[RedisProcess]:
    """A Redis the test may SIGSTOP; always resumed at the end."""
    yield disposable_redis
    if disposable_redis.process is not None:
        os.kill(disposable_redis.process.pid, signal.SIGCONT)


def _pause(server: RedisProcess) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)


def _resume(server: RedisProcess) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGCONT)


async def _engine(
    url: str, tmp: Path | None = None, timeout: float = PROBE_TIMEOUT
) -> QuotaService:
    settings = EngineSettings(store_timeout=timeout, spool_dir=tmp)
    engine = QuotaService(url, clock=ManualClock(), settings=settings)
    for config in (RATES, BUDGET, OPEN_BUDGET):
        await engine.put_quota(config)
    assert await engine.ping()
    return engine


async def _settled(engine: QuotaService) -> None:
    await until(lambda: engine.store.reachable, "the store did not come back")
    await until(lambda: engine.rate_limits.undos_pending == 0, "undos were not sent")


async def test_sigstop_under_load_enters_unreachable_and_counts_nothing_twice(
    stoppable: RedisProcess,
) -> None:
    engine = await _engine(stoppable.url)
    results: list[object] = []
    running = True

    async def load() -> None:
        while running:
            results.append(await engine.check_quota(scope="user", identifier="rates"))
            await asyncio.sleep(0)  # a decision without the store needs no I/O: let others run

    workers = [asyncio.create_task(load()) for _ in range(50)]
    await until(lambda: len(results) > 500, "no load")
    _pause(stoppable)
    detected = await until(lambda: not engine.store.reachable, "the stop was never noticed")
    print(f"SIGSTOP noticed after {detected * 1000:.0f} ms (probe timeout {PROBE_TIMEOUT}s)")
    assert detected < 20 * PROBE_TIMEOUT
    # Unreachable: each quota's failure mode decides, at once.
    rate = await engine.check_quota(scope="user", identifier="rates")
    closed = await engine.check_quota(scope="user", identifier="budget", estimated_cost=1)
    lenient = await engine.check_quota(scope="user", identifier="lenient", estimated_cost=1)
    assert rate.allowed and rate.decided_without_store
    assert (closed.allowed, closed.code) == (False, "STORE_UNAVAILABLE")
    assert lenient.allowed and lenient.decided_without_store
    running = False
    await asyncio.gather(*workers)
    _resume(stoppable)
    await _settled(engine)
    by_store = sum(
        1
        for r in results
        if r.allowed and not r.decided_without_store  # type: ignore[attr-defined]
    )
    without = sum(1 for r in results if r.decided_without_store)  # type: ignore[attr-defined]
    assert without > 0
    # Checks whose replies were lost in the stop were undone: Redis counts exactly the checks
    # that were decided by it.
    usage = await engine.get_quota_usage("user", "rates")
    assert usage.requests_last_minute == by_store
    after = await engine.check_quota(scope="user", identifier="rates")
    assert after.allowed and not after.decided_without_store
    await engine.close()


async def test_a_reservation_lost_in_a_stop_leaves_no_hold(stoppable: RedisProcess) -> None:
    engine = await _engine(stoppable.url)
    _pause(stoppable)
    result = await engine.check_quota(
        scope="user", identifier="budget", estimated_cost=Decimal("4"), reserve=True
    )
    assert (result.allowed, result.code, result.reservation_id) == (
        False,
        "STORE_UNAVAILABLE",
        None,
    )
    _resume(stoppable)
    await _settled(engine)
    usage = await engine.get_quota_usage("user", "budget")
    assert usage.held_nanos == 0
    assert usage.requests_today == 0
    await engine.close()


BUSY_HALF_A_SECOND = """
local start = redis.call('TIME')
while true do
  local now = redis.call('TIME')
  if (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 500000 then return 1 end
end
"""


async def test_a_timeout_on_a_slow_but_reachable_redis_undoes_the_check(
    disposable_redis: RedisProcess,
) -> None:
    engine = await _engine(disposable_redis.url, timeout=3.0)  # slow is not down
    blocker = redis.Redis(port=disposable_redis.port)
    busy = threading.Thread(target=lambda: blocker.eval(BUSY_HALF_A_SECOND, 0))
    busy.start()
    await asyncio.sleep(0.1)  # the script runs: Redis answers nobody meanwhile
    with pytest.raises(DeadlineExceeded):
        await engine.check_quota(
            scope="user", identifier="budget", estimated_cost=3, reserve=True, timeout=0.1
        )
    busy.join()
    blocker.close()
    assert engine.store.reachable, "a slow Redis is not an outage"
    await _settled(engine)
    usage = await engine.get_quota_usage("user", "budget")
    assert (usage.held_nanos, usage.requests_today) == (0, 0)
    await engine.close()


async def test_a_record_lost_in_a_stop_is_spooled_under_its_key_and_counts_once(
    stoppable: RedisProcess, tmp_path: Path
) -> None:
    engine = await _engine(stoppable.url, tmp_path / "spool")
    _pause(stoppable)
    # Sent to the stopped Redis, which will run it once resumed; the caller is answered spooled.
    results = await asyncio.gather(
        *(engine.record_usage(scope="user", identifier="budget", cost=1) for _ in range(5))
    )
    assert all(r.spooled and r.idempotency_key for r in results)
    _resume(stoppable)
    await _settled(engine)
    assert await engine.replay_spool() == 5
    usage = await engine.get_quota_usage("user", "budget")
    assert usage.cost_today == Decimal(5)
    await engine.close()


async def test_put_quota_on_a_slow_redis_uses_the_admin_timeout(
    disposable_redis: RedisProcess,
) -> None:
    engine = await _engine(disposable_redis.url, timeout=3.0)
    blocker = redis.Redis(port=disposable_redis.port)
    busy = threading.Thread(target=lambda: blocker.eval(BUSY_HALF_A_SECOND, 0))
    busy.start()
    await asyncio.sleep(0.1)
    # Reading the old config and writing the new one wait for the busy Redis (admin timeout
    # 2 s), where the hot path's old 50 ms timeout used to fail the call.
    stored, created = await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.USER, identifier="budget", cost_quota=CostQuota(daily_limit=20)
        )
    )
    busy.join()
    blocker.close()
    assert not created
    assert stored.cost_quota.daily_limit == 20
    await engine.close()
