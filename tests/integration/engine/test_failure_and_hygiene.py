"""What happens when Redis is down or slow; one round trip per operation; a TTL on every key."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis

from quota_sidecar import (
    CostQuota,
    FailureMode,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    StoreUnavailable,
    Subject,
)
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import EngineSettings, QuotaService
from tests.support.redis_servers import RedisProcess

RATE_ONLY = QuotaConfig(
    scope=QuotaScope.USER, identifier="open", rate_limits=RateLimitConfig(requests_per_minute=5)
)
BUDGET = QuotaConfig(
    scope=QuotaScope.USER,
    identifier="closed",
    cost_quota=CostQuota(daily_limit=5, per_request_limit=1),
)
BUDGET_OPEN = QuotaConfig(
    scope=QuotaScope.USER,
    identifier="lenient",
    cost_quota=CostQuota(daily_limit=5, failure_mode=FailureMode.OPEN),
)


async def _engine(url: str, timeout: float = 0.05) -> QuotaService:
    engine = QuotaService(url, clock=ManualClock(), settings=EngineSettings(store_timeout=timeout))
    for config in (RATE_ONLY, BUDGET, BUDGET_OPEN):
        await engine.put_quota(config)
        await engine.check_quota(scope=config.scope, identifier=config.identifier)  # cached
    return engine


async def test_redis_down_fails_open_or_closed_per_quota(disposable_redis: RedisProcess) -> None:
    engine = await _engine(disposable_redis.url)
    disposable_redis.stop()
    started = time.monotonic()
    rate = await engine.check_quota(scope="user", identifier="open")
    budget = await engine.check_quota(scope="user", identifier="closed", estimated_cost=0.5)
    too_big = await engine.check_quota(scope="user", identifier="closed", estimated_cost=2)
    lenient = await engine.check_quota(scope="user", identifier="lenient")
    unknown = await engine.check_quota(scope="user", identifier="never-seen")
    elapsed = time.monotonic() - started
    assert (rate.allowed, rate.decided_without_store) == (True, True)
    assert (budget.allowed, budget.code, budget.decided_without_store) == (
        False,
        "STORE_UNAVAILABLE",
        True,
    )
    assert too_big.code == "PER_REQUEST_LIMIT_EXCEEDED"  # needs no store
    assert lenient.allowed and lenient.decided_without_store
    assert unknown.code == "STORE_UNAVAILABLE"
    assert elapsed < 5, "five checks against a dead Redis must not hang"
    with pytest.raises(StoreUnavailable):
        await engine.record_usage(scope="user", identifier="open", cost=1)
    disposable_redis.start()
    assert await engine.ping()  # the store is reachable again once a probe answers
    # It came back empty (no persistence): the quotas the engine knows are lost, and a lost
    # closed budget is never read as "no quota" (docs/semantics.md: "A store behind a quota").
    lost = await engine.check_quota(scope="user", identifier="closed")
    assert (lost.allowed, lost.code, lost.decided_without_store) == (
        False,
        "STORE_UNAVAILABLE",
        True,
    )
    await engine.put_quota(BUDGET)  # put again, as after any loss of Redis data
    assert (
        await engine.check_quota(scope="user", identifier="closed")
    ).decided_without_store is False
    await engine.close()


BUSY_FOR_ONE_SECOND = """
local start = redis.call('TIME')
while true do
  local now = redis.call('TIME')
  if (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 1000000 then return 1 end
end
"""


async def test_a_slow_redis_is_bounded_by_the_timeout(disposable_redis: RedisProcess) -> None:
    engine = await _engine(disposable_redis.url, timeout=0.05)
    blocker = redis.Redis(port=disposable_redis.port)
    # A script that keeps Redis busy for a second: every other client waits meanwhile.
    sleeper = threading.Thread(target=lambda: blocker.eval(BUSY_FOR_ONE_SECOND, 0))
    sleeper.start()
    await asyncio.sleep(0.1)  # let the busy script reach the server before the check is sent
    started = time.monotonic()
    result = await engine.check_quota(scope="user", identifier="open")
    elapsed = time.monotonic() - started
    sleeper.join()
    blocker.close()
    assert result.allowed and result.decided_without_store
    assert elapsed < 0.5, f"the check waited {elapsed:.3f}s on a Redis busy for 1s"
    await engine.close()


class Monitor:
    """Collects the commands that clients (not scripts) send, through Redis MONITOR."""

    def __init__(self, port: int) -> None:
        self.client = redis.Redis(port=port, decode_responses=True)
        self.commands: list[str] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            for entry in monitor.listen():
                if entry["command"] == "ECHO stop-monitor":
                    return
                name = entry["command"].split()[0].upper()
                if name in ("HELLO", "CLIENT", "SELECT"):
                    continue  # a new connection's handshake, not a round trip of an operation
                if entry.get("client_type") != "lua" and entry.get("client_address") != "lua":
                    self.commands.append(name)

    def mark(self) -> None:
        self.client.echo("mark")

    def stop(self) -> list[str]:
        self.client.echo("stop-monitor")
        self._thread.join(5)
        self.client.close()
        return self.commands


async def test_one_round_trip_per_check_and_record(disposable_redis: RedisProcess) -> None:
    engine = await _engine(disposable_redis.url, timeout=2)
    both = [Subject(QuotaScope.USER, "closed"), Subject(QuotaScope.USER, "open")]
    await engine.check_quota(subjects=both)  # loads the script and the configs
    await engine.record_usage(subjects=both, cost=0.1, idempotency_key="warm")

    monitor = Monitor(disposable_redis.port)
    await engine.check_quota(subjects=both, estimated_cost=0.1, reserve=True)
    monitor.mark()
    await engine.record_usage(subjects=both, cost=0.1, idempotency_key="once")
    commands = monitor.stop()
    # The check, the marker between them, then the record: one FCALL each (the scripts'
    # function library, store/functions.py; EVALSHA on a Redis without Functions), nothing else.
    assert commands == ["FCALL", "ECHO", "FCALL"]
    await engine.close()


async def test_every_usage_key_has_a_ttl(engine: QuotaService) -> None:
    await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier="ttl",
            rate_limits=RateLimitConfig(requests_per_minute=5, tokens_per_day=100),
            cost_quota=CostQuota(daily_limit=1, monthly_limit=2),
        )
    )
    check = await engine.check_quota(
        scope="user", identifier="ttl", estimated_cost=0.9, reserve=True, estimated_tokens=10
    )
    await engine.record_usage(
        scope="user", identifier="ttl", cost=0.95, provider="openai", tool_name="x",
        idempotency_key="k", reservation_id=check.reservation_id,
    )  # fmt: skip
    client = redis.Redis.from_url(engine.store.url or "", decode_responses=True)
    permanent = {"qs:{user:ttl}:cfg", "qs:quotas", "qs:alerts", "qs:audit"}
    for key in client.scan_iter("qs:*"):
        if key not in permanent:
            assert client.pttl(key) > 0, f"{key} has no TTL"
    client.close()
