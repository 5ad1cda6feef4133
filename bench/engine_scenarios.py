"""Scenarios c and d: the engine in-process, against the store ceiling and against a peer.

c. QuotaService.check_quota (user + tool, three request windows, two budgets each), and
   record_usage (the same subjects) and get_usage (the user), against raw EVALSHA of `return 1`
   from the same redis-py client: what the engine's script and Python cost beyond one round trip.
d. The `limits` library (moving window and sliding-window counter, async redis-py storage) hitting
   minute, hour and day windows of one key, against our engine checking the same three windows
   plus the daily and monthly budgets of one subject.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from bench.common import (
    BENCH_TOOL,
    BENCH_USER,
    Settings,
    bench_quota,
    closed_loop,
    median_of,
)

__all__ = ["run_engine_vs_limits", "run_engine_vs_redis"]

Operation = Callable[[int], Awaitable[object]]


async def _engine(settings: Settings) -> Any:
    from quota_sidecar.engine.service import QuotaService

    return QuotaService(settings.redis_url)


async def _measure(
    settings: Settings, contenders: dict[str, Operation], label: str
) -> dict[str, dict[str, float]]:
    """Warm each contender, then run them in turn `repeats` times; keep the median run."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    seconds = settings.seconds
    for operation in contenders.values():
        await closed_loop(
            operation, settings.engine_concurrency, settings.warmup_seconds, settings.redis_pid
        )
    for _ in range(settings.repeats):
        for name, operation in contenders.items():
            runs[name].append(
                await closed_loop(
                    operation, settings.engine_concurrency, seconds, settings.redis_pid
                )
            )
    summary: dict[str, dict[str, float]] = {}
    for name, results in runs.items():
        middle = sorted(results, key=lambda r: r["ops_per_s"])[len(results) // 2]
        summary[name] = {
            **middle,
            "ops_per_s": median_of([r["ops_per_s"] for r in results]),
            "runs_ops_per_s": [r["ops_per_s"] for r in results],  # type: ignore[dict-item]
        }
        print(f"  {label} {name}: {summary[name]['ops_per_s']:.0f}/s", flush=True)
    return summary


async def run_engine_vs_redis(settings: Settings) -> dict[str, Any]:
    """Scenario c."""
    from quota_sidecar.domain.models import QuotaScope, Subject

    engine = await _engine(settings)
    await engine.put_quota(bench_quota("user", BENCH_USER), actor="bench")
    await engine.put_quota(bench_quota("tool", BENCH_TOOL), actor="bench")
    subjects = [Subject(QuotaScope.USER, BENCH_USER), Subject(QuotaScope.TOOL, BENCH_TOOL)]
    fallbacks = 0

    async def check(_: int) -> object:
        nonlocal fallbacks
        result = await engine.check_quota(
            subjects=subjects, estimated_cost_nanos=1000, tool_name=BENCH_TOOL
        )
        if result.decided_without_store or not result.allowed:
            fallbacks += 1
        return result

    async def record(_: int) -> object:
        return await engine.record_usage(
            subjects=subjects, cost_nanos=1000, provider="openai", tool_name=BENCH_TOOL,
            input_tokens=100, output_tokens=50,
        )  # fmt: skip

    async def usage(_: int) -> object:
        return await engine.get_usage(subjects[0])

    raw = aioredis.Redis.from_url(settings.redis_url, decode_responses=True, max_connections=512)
    trivial = raw.register_script("return 1")
    await trivial()

    async def evalsha(_: int) -> object:
        return await trivial()

    try:
        contenders = {"engine": check, "record": record, "usage": usage, "evalsha": evalsha}
        summary = await _measure(settings, contenders, "c")
    finally:
        await raw.aclose()
        await engine.close()
    return {
        **summary,
        "engine_over_evalsha": summary["engine"]["ops_per_s"] / summary["evalsha"]["ops_per_s"],
        "record_over_evalsha": summary["record"]["ops_per_s"] / summary["evalsha"]["ops_per_s"],
        "usage_over_evalsha": summary["usage"]["ops_per_s"] / summary["evalsha"]["ops_per_s"],
        "engine_not_allowed_or_fallback": fallbacks,
        "concurrency": settings.engine_concurrency,
    }


async def run_engine_vs_limits(settings: Settings) -> dict[str, Any]:
    """Scenario d."""
    from limits import RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
    from limits.aio.storage import RedisStorage
    from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

    from quota_sidecar.domain.models import QuotaScope, Subject

    engine = await _engine(settings)
    await engine.put_quota(bench_quota("user", "peer-user"), actor="bench")
    subject = [Subject(QuotaScope.USER, "peer-user")]

    async def ours(_: int) -> object:
        return await engine.check_quota(subjects=subject, estimated_cost_nanos=1000)

    storage = RedisStorage(f"async+{settings.redis_url}", implementation="redispy")
    windows = [
        RateLimitItemPerMinute(10**9),
        RateLimitItemPerHour(10**10),
        RateLimitItemPerDay(10**11),
    ]
    moving = MovingWindowRateLimiter(storage)
    counter = SlidingWindowCounterRateLimiter(storage)

    def peer(limiter: Any) -> Operation:
        # limits has no multi-window check: the natural use is one hit per window, stopping at
        # the first denial (three round trips, not atomic across the windows).
        async def hit(_: int) -> object:
            for item in windows:
                if not await limiter.hit(item, "user", "peer-key"):
                    return False
            return True

        return hit

    try:
        summary = await _measure(
            settings,
            {
                "ours": ours,
                "limits_moving_window": peer(moving),
                "limits_sliding_window_counter": peer(counter),
            },
            "d",
        )
    finally:
        await engine.close()
    best_peer = max(
        summary["limits_moving_window"]["ops_per_s"],
        summary["limits_sliding_window_counter"]["ops_per_s"],
    )
    return {
        **summary,
        "ours_over_best_limits": summary["ours"]["ops_per_s"] / best_peer,
        "ours_over_moving_window": summary["ours"]["ops_per_s"]
        / summary["limits_moving_window"]["ops_per_s"],
        "ours_over_sliding_window_counter": summary["ours"]["ops_per_s"]
        / summary["limits_sliding_window_counter"]["ops_per_s"],
        "concurrency": settings.engine_concurrency,
    }
