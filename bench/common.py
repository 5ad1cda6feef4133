"""What every scenario shares: the run's settings, the bench quotas, a closed-loop driver for
in-process coroutines, Redis INFO readers and medians."""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import redis

from bench.loaders import percentile
from bench.procs import CpuMeter

__all__ = [
    "BENCH_TOOL",
    "BENCH_USER",
    "Settings",
    "bench_quota",
    "closed_loop",
    "command_calls",
    "command_delta",
    "configure_bench_quotas",
    "median_of",
    "self_cpu",
]

BENCH_USER = "bench-user"
BENCH_TOOL = "bench-tool"


@dataclass
class Settings:
    """How long and how often to measure; `quick` shrinks everything for a smoke run."""

    redis_url: str
    redis_pid: int
    repeats: int = 3
    seconds: float = 1.0
    warmup_seconds: float = 0.3
    levels: Sequence[int] = (1, 16, 64, 256)
    rpcs: Sequence[str] = ("CheckQuota", "RecordUsage", "GetUsage")
    workers_scaling: bool = True
    subjects: int = 100_000
    alert_samples: int = 100
    engine_concurrency: int = 64
    notes: list[str] = field(default_factory=list)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, decode_responses=True)


def bench_quota(scope: str, identifier: str, *, daily: str = "10000") -> Any:
    """A quota with minute/hour/day request windows and daily + monthly budgets, set so high
    that the load is always allowed (an allowed check is the expensive path: it consumes)."""
    from quota_sidecar.domain.models import CostQuota, QuotaConfig, RateLimitConfig

    return QuotaConfig(
        scope=scope,  # type: ignore[arg-type]
        identifier=identifier,
        rate_limits=RateLimitConfig(
            requests_per_minute=10**9, requests_per_hour=10**10, requests_per_day=10**11
        ),
        cost_quota=CostQuota(daily_limit=Decimal(daily), monthly_limit=Decimal(daily) * 30),
        description="bench",
    )


async def configure_bench_quotas(redis_url: str, *subjects: tuple[str, str]) -> None:
    """Store the bench quota of each (scope, identifier) through the engine, as an admin would."""
    from quota_sidecar.engine.service import QuotaService

    engine = QuotaService(redis_url)
    try:
        for scope, identifier in subjects or (("user", BENCH_USER), ("tool", BENCH_TOOL)):
            await engine.put_quota(bench_quota(scope, identifier), actor="bench")
    finally:
        await engine.close()


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def redis_cpu_us(client: redis.Redis) -> float:
    """The redis-server's CPU so far (user + sys, INFO cpu), in microseconds."""
    info = client.info("cpu")
    return (float(info["used_cpu_sys"]) + float(info["used_cpu_user"])) * 1e6


def median_of(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def command_calls(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT (INFO commandstats)."""
    stats = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in stats.items()
        if isinstance(value, dict)
    }


_OUR_COMMANDS = {"info", "config|resetstat", "config", "ping", "client|setinfo", "hello"}


def command_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands issued between two INFO commandstats readings, less the bench's own probes."""
    delta = {k: v - before.get(k, 0) for k, v in after.items() if k not in _OUR_COMMANDS}
    return {k: v for k, v in delta.items() if v > 0}


async def closed_loop(
    operation: Callable[[int], Awaitable[object]],
    concurrency: int,
    seconds: float,
    redis_pid: int,
) -> dict[str, float]:
    """`concurrency` coroutines calling `operation(i)` back to back for `seconds`.

    Returns ops/s, latency percentiles and the CPU of this process and of Redis."""
    latencies: list[float] = []
    counter = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal counter
        clock = time.perf_counter
        while clock() < deadline:
            counter += 1
            start = clock()
            await operation(counter)
            latencies.append(clock() - start)

    redis_cpu = CpuMeter([redis_pid]).start()
    cpu_before = self_cpu()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "ops": len(latencies),
        "seconds": elapsed,
        "ops_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "bench_cpu_s": self_cpu() - cpu_before,
        "redis_cpu_s": redis_cpu.stop(),
    }
