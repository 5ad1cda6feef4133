"""Where the server spends its Python on one CheckQuota at a time: the real sidecar in-process
(interceptor, servicer, wire, engine, store) against a private redis-server, called by a
blocking client in another thread (so only the server's thread is profiled), one call in flight.
Prints the Python function calls per check and the top functions by call count and own time.

    .venv/bin/python -m bench.experiments.profile_server [calls] [sort key: ncalls, cumulative]
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import threading
from collections.abc import Callable

import grpc

from bench.common import BENCH_TOOL, BENCH_USER, configure_bench_quotas
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.redis_servers import RedisProcess
from tests.support.sidecar import running_sidecar

_PARTS = ("quota_sidecar/", "asyncio/", "grpc", "redis/", "prometheus_client/", "opentelemetry")


def _request() -> quota_pb2.CheckQuotaRequest:
    return quota_pb2.CheckQuotaRequest(
        subjects=[
            types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=BENCH_USER),
            types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier=BENCH_TOOL),
        ],
        estimated_cost_nanos=1000,
    )


def _client(
    target: str, calls: int, ready: threading.Event, go: threading.Event, done: Callable[[], None]
) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        request = _request()
        for _ in range(200):  # warm: configs cached, scripts loaded
            assert stub.CheckQuota(request).allowed
        ready.set()
        go.wait()
        for _ in range(calls):
            stub.CheckQuota(request)
    done()


async def _run(url: str, calls: int) -> None:
    await configure_bench_quotas(url)
    async with running_sidecar(url) as sidecar:
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(finished.set_result, None)

        ready, go = threading.Event(), threading.Event()
        client = threading.Thread(target=_client, args=(sidecar.target, calls, ready, go, done))
        client.start()
        await asyncio.to_thread(ready.wait)
        profile = cProfile.Profile()
        profile.enable()
        go.set()
        await finished  # nothing else runs on the server's loop meanwhile: no polling
        profile.disable()
        client.join()
    stats = pstats.Stats(profile)
    total = sum(v[1] for v in stats.stats.values())  # type: ignore[attr-defined]
    print(f"{total / calls:.0f} Python function calls per check (server thread, 1 in flight)")
    by_part: dict[str, int] = {}
    for (path, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
        part = next((p for p in _PARTS if p in path), "builtins" if path == "~" else "other")
        by_part[part] = by_part.get(part, 0) + row[1]
    print("  " + ", ".join(f"{part} {n / calls:.0f}" for part, n in sorted(by_part.items())))
    stats.sort_stats(*(sys.argv[2:] or ["ncalls"])).print_stats(
        "quota_sidecar|grpc|prometheus|redis", 60
    )


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    redis = RedisProcess().start()
    try:
        asyncio.run(_run(redis.url, calls))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
