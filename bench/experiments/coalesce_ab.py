"""Coalescing on against off, in one process, interleaved: the seed's check through the engine at
1 and 64 in flight. Per check: the process's CPU (what caps a sidecar on its core), the
redis-server's CPU (INFO cpu) and round trips (the store's counter); and checks per second.
CPU per check is the figure to compare on a busy machine; QPS moves with the neighbours.

    .venv/bin/python -m bench.experiments.coalesce_ab [CHECKS] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from typing import Any

import redis
import uvloop

from bench.common import redis_cpu_us
from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, QuotaService, RateLimitConfig, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.store.redis import Store
from tests.support.redis_servers import RedisProcess


async def _engine(url: str, coalesce: bool) -> tuple[QuotaService, list[Subject]]:
    big = 10**9
    engine = QuotaService(store=Store.from_url(url, coalesce=coalesce), clock=ManualClock())
    user, tool = "u-" + uuid.uuid4().hex[:6], "t-" + uuid.uuid4().hex[:6]
    await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.USER,
            identifier=user,
            rate_limits=RateLimitConfig(
                requests_per_minute=big, requests_per_hour=big, requests_per_day=big
            ),
            cost_quota=CostQuota(daily_limit=100_000, monthly_limit=1_000_000),
        )
    )
    await engine.put_quota(
        QuotaConfig(
            scope=QuotaScope.TOOL,
            identifier=tool,
            rate_limits=RateLimitConfig(requests_per_minute=big, requests_per_hour=big),
            cost_quota=CostQuota(per_request_limit=1),
        )
    )
    return engine, [Subject(QuotaScope.USER, user), Subject(QuotaScope.TOOL, tool)]


async def _point(
    engine: QuotaService, subjects: list[Subject], admin: redis.Redis, checks: int, in_flight: int
) -> dict[str, float]:
    store: Any = engine.store
    trips0 = store.coalescer.round_trips if store.coalescer else None
    per_worker = checks // in_flight

    async def worker() -> None:
        for _ in range(per_worker):
            result = await engine.check_quota(subjects=subjects, estimated_cost="0.01")
            assert result.allowed and not result.decided_without_store

    cpu0, rcpu0, wall0 = time.process_time(), redis_cpu_us(admin), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    cpu1, rcpu1, wall1 = time.process_time(), redis_cpu_us(admin), time.perf_counter()
    done = per_worker * in_flight
    trips = done if trips0 is None else store.coalescer.round_trips - trips0
    return {
        "qps": done / (wall1 - wall0),
        "cpu_us": (cpu1 - cpu0) / done * 1e6,
        "redis_cpu_us": (rcpu1 - rcpu0) / done,
        "trips_per_1000": trips / done * 1000,
    }


async def main(checks: int, rounds: int) -> None:
    server = RedisProcess().start()
    admin = redis.Redis.from_url(server.url)
    try:
        engines = {on: await _engine(server.url, on) for on in (False, True)}
        for engine, subjects in engines.values():
            await _point(engine, subjects, admin, 2000, 64)  # warm-up
        rows: dict[tuple[int, bool], list[dict[str, float]]] = {}
        for _ in range(rounds):
            for in_flight in (1, 64):
                for on in (False, True):
                    engine, subjects = engines[on]
                    n = checks if in_flight > 1 else checks // 4
                    point = await _point(engine, subjects, admin, n, in_flight)
                    rows.setdefault((in_flight, on), []).append(point)
        print(
            f"{'in flight':>9} {'coalesce':>8} {'checks/s':>9} {'CPU us':>7} "
            f"{'Redis CPU us':>12} {'trips/1000':>10}   (medians of {rounds})"
        )
        for (in_flight, on), points in sorted(rows.items()):
            m = {k: statistics.median(p[k] for p in points) for k in points[0]}
            print(
                f"{in_flight:9} {'on' if on else 'off':>8} {m['qps']:9.0f} {m['cpu_us']:7.0f} "
                f"{m['redis_cpu_us']:12.1f} {m['trips_per_1000']:10.0f}"
            )
        for engine, _ in engines.values():
            await engine.close()
    finally:
        admin.close()
        server.cleanup()


if __name__ == "__main__":
    uvloop.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 6400,
            int(sys.argv[2]) if len(sys.argv) > 2 else 5,
        )
    )
