"""Scenario i: what one decision costs Redis, against a fixed-window limiter over the same limits.

In-process engine on the run's private Redis, calls one at a time:
  - the seed's check (a user with minute/hour/day windows and daily + monthly budgets, a tool
    with minute/hour windows and a per-request limit: 5 rate limits and budgets to judge);
  - a keyed record (its own idempotency key each), after a warm-up of keyed records, so the
    one-time costs (the script loaded, the day's rollups created) are not counted;
  - the reference: a pipeline of INCRBY + EXPIRE over 5 limits (what envoy's ratelimit sends
    for 5 descriptors), from the same process.
Per call: Redis commands (INFO commandstats, scripts' own commands included), their time, and
the redis-server's CPU (INFO cpu: what caps one Redis core); per keyed record, the Redis bytes
it keeps (used_memory, and MEMORY USAGE of its dedupe buckets). Ratios to the reference.

One at a time, the two sides are not paced alike: a check leaves Redis idle for the engine's
Python time between calls (its Lua runs cold: caches evicted by the rest of the machine), the
pipeline hardly at all. So the check's script is also replayed (bench/experiments/lua_ab.py)
with the KEYS/ARGV the engine sent, beside the pipeline, under the same conditions: back to
back (a saturated Redis, never idle: the CPU that caps one core) and with a 1 ms gap after
every call of either (a lightly loaded Redis, both cold).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis

from bench.common import Settings, redis_cpu_us
from bench.experiments.lua_ab import SCRIPTS, capture_seed_check, replay

__all__ = ["run_decision_cost"]

_FIXED_LIMITS = 5
_WARM_RECORDS = 300


def _commands(client: redis.Redis) -> tuple[int, float, float]:
    """(commands, scripts' time in us, other commands' time in us), since the server started."""
    calls, script_us, plain_us = 0, 0.0, 0.0
    for name, value in client.info("commandstats").items():
        if name in ("cmdstat_info", "cmdstat_config", "cmdstat_memory", "cmdstat_scan"):
            continue
        calls += int(value["calls"])
        if name.startswith(("cmdstat_eval", "cmdstat_fcall")):
            script_us += float(value["usec"])
        else:
            plain_us += float(value["usec"])
    return calls, script_us, plain_us


def _command_us(before: tuple[int, float, float], after: tuple[int, float, float]) -> float:
    """A script's time already includes the commands it runs: when scripts ran, those are
    counted by number but timed once, as the script."""
    script, plain = after[1] - before[1], after[2] - before[2]
    return script if script > 0 else plain


async def _per_call(
    client: redis.Redis, n: int, call: Callable[[int], Awaitable[object]]
) -> dict[str, float]:
    memory = client.info("memory")["used_memory"]
    commands, cpu = _commands(client), redis_cpu_us(client)
    started = time.perf_counter()
    for i in range(n):
        await call(i)
    elapsed = time.perf_counter() - started
    after = _commands(client)
    return {
        "commands": (after[0] - commands[0]) / n,
        "command_us": _command_us(commands, after) / n,
        "redis_cpu_us": (redis_cpu_us(client) - cpu) / n,
        "bytes_kept": (client.info("memory")["used_memory"] - memory) / n,
        "calls_per_s": n / elapsed,
    }


def _bucket_bytes(client: redis.Redis, pattern: str) -> int:
    return sum(client.memory_usage(k, samples=0) or 0 for k in client.scan_iter(match=pattern))


async def _measure(settings: Settings, n: int) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig, Subject
    from quota_sidecar.engine.service import QuotaService
    from quota_sidecar.store.keys import idempotency_home, subject_keys

    big, client = 10**9, settings.redis()
    engine = QuotaService(settings.redis_url)
    user, tool = f"cost-u-{uuid.uuid4().hex[:6]}", f"cost-t-{uuid.uuid4().hex[:6]}"
    windows = RateLimitConfig(requests_per_minute=big, requests_per_hour=big, requests_per_day=big)
    budgets = CostQuota(daily_limit=100000, monthly_limit=1000000)
    user_quota = QuotaConfig(
        scope=QuotaScope.USER, identifier=user, rate_limits=windows, cost_quota=budgets
    )
    tool_quota = QuotaConfig(
        scope=QuotaScope.TOOL,
        identifier=tool,
        rate_limits=RateLimitConfig(requests_per_minute=big, requests_per_hour=big),
        cost_quota=CostQuota(per_request_limit=1),
    )
    for quota in (user_quota, tool_quota):
        await engine.put_quota(quota, actor="bench")
    subjects = [Subject(QuotaScope.USER, user), Subject(QuotaScope.TOOL, tool)]
    run = uuid.uuid4().hex[:8]
    seed_keys, seed_args = await capture_seed_check(engine, subjects)

    def check(i: int) -> Awaitable[object]:
        return engine.check_quota(subjects=subjects, estimated_cost="0.01")

    def record(i: int) -> Awaitable[object]:
        key = f"k-{run}-{i}"
        return engine.record_usage(
            subjects=subjects, cost="0.01", provider="openai", tool_name=tool, idempotency_key=key
        )

    pool = aioredis.Redis.from_url(settings.redis_url)

    async def fixed_windows(i: int) -> None:
        pipe = pool.pipeline(transaction=False)
        for j in range(_FIXED_LIMITS):
            key = f"bench:fixed:{j}:{int(time.time() // 60)}"
            pipe.incrby(key, 1)
            pipe.expire(key, 60)
        await pipe.execute()

    try:
        for i in range(50):
            await check(i)
        for i in range(n, n + _WARM_RECORDS):  # keys of their own, after the measured ones
            await record(i)
        home = subject_keys(idempotency_home(subjects)).dedupe(generated=False)
        buckets_before = _bucket_bytes(client, f"{home}:*")
        rows = {"check": await _per_call(client, n, check)}
        rows["keyed_record"] = await _per_call(client, n, record)
        rows["keyed_record"]["dedupe_bytes"] = (
            _bucket_bytes(client, f"{home}:*") - buckets_before
        ) / n
        for i in range(50):
            await fixed_windows(i)
        rows["fixed_windows"] = await _per_call(client, n, fixed_windows)
    finally:
        await pool.aclose()
        await engine.close()
        client.close()
    script = {"check.lua": SCRIPTS / "check.lua"}
    rows["saturated"] = replay(settings.redis_url, seed_keys, seed_args, script)
    rows["paced_1ms"] = replay(
        settings.redis_url, seed_keys, seed_args, script, rounds=3, calls=200, gap_s=0.001
    )
    return rows


async def run_decision_cost(settings: Settings, n: int = 1000) -> dict[str, Any]:
    rows = await _measure(settings, n)
    fixed = rows["fixed_windows"]
    out: dict[str, Any] = {"calls": n, **rows}
    for name in ("saturated", "paced_1ms"):
        out[f"check_cpu_over_fixed_{name}"] = rows[name]["check.lua (FCALL)"]["cpu_over_fixed"]
    for name in ("check", "keyed_record"):
        out[f"{name}_cpu_over_fixed"] = rows[name]["redis_cpu_us"] / fixed["redis_cpu_us"]
        out[f"{name}_command_time_over_fixed"] = rows[name]["command_us"] / fixed["command_us"]
        out[f"{name}_commands_over_fixed"] = rows[name]["commands"] / fixed["commands"]
    return out
