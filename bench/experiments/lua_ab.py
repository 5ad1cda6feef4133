"""A/B of check.lua variants inside one private redis-server, and the saturated cost of a check.

The seed's check (as bench/decision_cost.py sets it up) is planned once by the engine and its
KEYS/ARGV captured; then each variant is called with them (FCALL of it as a function of a
library, as the engine calls it, and EVALSHA of its text, as on a Redis before 7) back to back, in
interleaved rounds, so machine drift hits every variant alike, beside the INCRBY+EXPIRE x 5
pipeline the issue compares with. Back to back is how a saturated Redis runs (never idle
between calls, so never cold): the CPU per call here is what caps one Redis core. With a gap
(AB_GAP_S=0.001) every call, the check's and the pipeline's alike, starts cold, as a lightly
loaded Redis does.

    python -m bench.experiments.lua_ab [variant.lua ...]   # each file replaces check.lua
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from bench.common import redis_cpu_us
from bench.procs import start_private_redis

__all__ = ["capture_seed_check", "replay"]

SCRIPTS = Path(__file__).resolve().parents[2] / "quota_sidecar" / "store" / "scripts"
FIXED = "INCRBY+EXPIRE x5"


async def capture_seed_check(engine: Any, subjects: list[Any]) -> tuple[list[str], list[Any]]:
    """The KEYS and ARGV of the engine's check.lua call for `subjects` (checked 3 times)."""
    captured: list[tuple[list[str], list[Any]]] = []
    store = engine._store  # an experiment reads what the engine sends
    real_run = store.run

    async def spy(name: str, keys: Any, args: Any, *a: Any, **kw: Any) -> Any:
        if name == "check.lua":
            captured.append((list(keys), list(args)))
        return await real_run(name, keys, args, *a, **kw)

    store.run = spy
    try:
        for _ in range(3):
            await engine.check_quota(subjects=subjects, estimated_cost="0.01")
    finally:
        store.run = real_run
    return captured[-1]


def _script_call(client: redis.Redis, source: str, keys: list[str], args: list[Any]) -> Any:
    sha = client.script_load(source)

    def call() -> None:
        argv = list(args)
        if argv[6]:  # a fresh check id each call (its mark key is SET NX), the same instant
            argv[6] = uuid.uuid4().hex[:12]
        client.evalsha(sha, len(keys), *keys, *argv)

    return call


def _function_call(client: redis.Redis, body: str, keys: list[str], args: list[Any]) -> Any:
    """The same body as one function of a library (store/functions.py), called by FCALL."""
    from quota_sidecar.store.functions import ScriptLibrary

    library = ScriptLibrary((SCRIPTS / "_lib.lua").read_text(), {"variant.lua": body})
    client.function_load(library.code, replace=True)
    name = library.functions["variant.lua"]

    def call() -> None:
        argv = list(args)
        if argv[6]:
            argv[6] = uuid.uuid4().hex[:12]
        client.fcall(name, len(keys), *keys, *argv)

    return call


def _fixed_call(client: redis.Redis) -> Callable[[], None]:
    def call() -> None:
        pipe = client.pipeline(transaction=False)
        for j in range(5):
            key = f"bench:fixed:{j}:{int(time.time() // 60)}"
            pipe.incrby(key, 1)
            pipe.expire(key, 60)
        pipe.execute()

    return call


def _round(client: redis.Redis, run: Callable[[], None], calls: int, gap_s: float) -> tuple[
        float, float]:  # fmt: skip
    before_cpu = redis_cpu_us(client)
    before = sum(float(v["usec"]) for v in client.info("commandstats").values())
    for _ in range(calls):
        run()
        if gap_s:
            time.sleep(gap_s)
    after = sum(float(v["usec"]) for v in client.info("commandstats").values())
    return (after - before) / calls, (redis_cpu_us(client) - before_cpu) / calls


def replay(
    url: str, keys: list[str], args: list[Any], variants: dict[str, Path], *,
    rounds: int = 7, calls: int = 400, gap_s: float = 0.0,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per variant (and the fixed-window pipeline, and an empty script with the same KEYS and
    ARGV): median command time and redis-server CPU per call, and CPU over the pipeline's."""
    client = redis.Redis.from_url(url)
    lib = (SCRIPTS / "_lib.lua").read_text() + "\n"
    runs = {}
    for label, path in variants.items():
        runs[f"{label} (FCALL)"] = _function_call(client, path.read_text(), keys, args)
        runs[f"{label} (EVALSHA)"] = _script_call(client, lib + path.read_text(), keys, args)
    runs["empty script, same KEYS/ARGV"] = _script_call(client, "return 0", keys, args)
    runs[FIXED] = _fixed_call(client)
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
    labels = list(runs)
    for r in range(rounds):
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            samples[label].append(_round(client, runs[label], calls, gap_s))
    client.close()
    fixed_cpu = statistics.median(cpu for _, cpu in samples[FIXED])
    return {
        label: {
            "command_us": statistics.median(cmd for cmd, _ in rows),
            "redis_cpu_us": statistics.median(cpu for _, cpu in rows),
            "cpu_over_fixed": statistics.median(cpu for _, cpu in rows) / fixed_cpu,
        }
        for label, rows in samples.items()
    }


async def _seed_check(url: str) -> tuple[list[str], list[Any]]:
    from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig, Subject
    from quota_sidecar.engine.service import QuotaService

    big, engine = 10**9, QuotaService(url)
    windows = RateLimitConfig(requests_per_minute=big, requests_per_hour=big, requests_per_day=big)
    await engine.put_quota(QuotaConfig(scope=QuotaScope.USER, identifier="ab-user",
        rate_limits=windows, cost_quota=CostQuota(daily_limit=100000, monthly_limit=1000000)),
        actor="bench")  # fmt: skip
    await engine.put_quota(QuotaConfig(scope=QuotaScope.TOOL, identifier="ab-tool",
        rate_limits=RateLimitConfig(requests_per_minute=big, requests_per_hour=big),
        cost_quota=CostQuota(per_request_limit=1)), actor="bench")  # fmt: skip
    subjects = [Subject(QuotaScope.USER, "ab-user"), Subject(QuotaScope.TOOL, "ab-tool")]
    try:
        return await capture_seed_check(engine, subjects)
    finally:
        await engine.close()


def main() -> None:
    variants = {"check.lua": SCRIPTS / "check.lua"}
    variants.update({f"{i}:{p}": Path(p) for i, p in enumerate(sys.argv[1:], 1)})
    gap = float(os.environ.get("AB_GAP_S", "0"))
    server: Any = start_private_redis()
    try:
        keys, args = asyncio.run(_seed_check(server.url))
        rows = replay(server.url, keys, args, variants, gap_s=gap)
    finally:
        server.cleanup()
    print(f"{'variant':32} {'cmd us':>8} {'CPU us':>8} {'CPU / fixed':>12}   gap {gap * 1e3} ms")
    for label, row in rows.items():
        print(f"{label:32} {row['command_us']:8.1f} {row['redis_cpu_us']:8.1f} "
              f"{row['cpu_over_fixed']:12.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
