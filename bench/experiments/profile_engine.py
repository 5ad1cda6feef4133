"""Where the in-process engine spends its CPU: cProfile over concurrent check_quota (or
record_usage / get_usage) calls against a private redis-server, sorted by own time.

    .venv/bin/python -m bench.experiments.profile_engine [check|record|usage] [calls]
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import time

import uvloop

from bench.common import BENCH_TOOL, BENCH_USER, bench_quota
from tests.support.redis_servers import RedisProcess


async def _run(url: str, what: str, calls: int, concurrency: int = 16) -> None:
    from quota_sidecar.domain.models import QuotaScope, Subject
    from quota_sidecar.engine.service import QuotaService

    engine = QuotaService(url)
    await engine.put_quota(bench_quota("user", BENCH_USER), actor="bench")
    await engine.put_quota(bench_quota("tool", BENCH_TOOL), actor="bench")
    subjects = [Subject(QuotaScope.USER, BENCH_USER), Subject(QuotaScope.TOOL, BENCH_TOOL)]

    async def one() -> object:
        if what == "record":
            return await engine.record_usage(
                subjects=subjects, cost_nanos=1000, provider="openai", tool_name=BENCH_TOOL,
                input_tokens=100, output_tokens=50,
            )  # fmt: skip
        if what == "usage":
            return await engine.get_usage(subjects[0])
        return await engine.check_quota(
            subjects=subjects, estimated_cost_nanos=1000, tool_name=BENCH_TOOL
        )

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    await worker(200)  # warm: configs cached, scripts loaded
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    profile.disable()
    elapsed = time.perf_counter() - started
    await engine.close()
    print(f"{calls} {what} calls in {elapsed:.2f} s ({calls / elapsed:.0f}/s, profiled)")
    pstats.Stats(profile).sort_stats("tottime").print_stats(35)


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "check"
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    redis_server = RedisProcess().start()
    try:
        uvloop.run(_run(redis_server.url, what, calls))
    finally:
        redis_server.cleanup()


if __name__ == "__main__":
    main()
