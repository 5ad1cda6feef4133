"""Side experiment quoted in the bench summary: what awaiting ONE Redis call inside a grpc.aio
handler costs, with no quota logic at all. Starts a private redis-server and two tiny servers
(a no-op handler, and a handler that awaits one PING), then times sequential calls.

    .venv/bin/python -m bench.experiments.grpc_await_floor
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import grpc
import redis.asyncio as aioredis
import uvloop

from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc
from tests.support.redis_servers import RedisProcess, free_port

CALLS = 2000


class Handler(quota_pb2_grpc.QuotaServiceServicer):
    def __init__(self, redis_url: str, ping: bool) -> None:
        self._redis = aioredis.Redis.from_url(redis_url)
        self._ping = ping

    async def CheckQuota(self, request, context):  # type: ignore[no-untyped-def]
        if self._ping:
            await self._redis.ping()
        return quota_pb2.CheckQuotaResponse(allowed=True)


def _serve(port: int, redis_url: str, ping: bool) -> None:
    async def main() -> None:
        server = grpc.aio.server()
        quota_pb2_grpc.add_QuotaServiceServicer_to_server(Handler(redis_url, ping), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()

    uvloop.run(main())


def _time(port: int) -> tuple[float, float]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        request = quota_pb2.CheckQuotaRequest()
        for _ in range(200):
            stub.CheckQuota(request)
        latencies = []
        for _ in range(CALLS):
            started = time.perf_counter()
            stub.CheckQuota(request)
            latencies.append(time.perf_counter() - started)
    latencies.sort()
    return latencies[CALLS // 2] * 1e3, latencies[CALLS * 99 // 100] * 1e3


def main() -> None:
    redis_server = RedisProcess().start()
    try:
        for ping in (False, True):
            port = free_port()
            server = multiprocessing.Process(target=_serve, args=(port, redis_server.url, ping))
            server.start()
            time.sleep(1.5)
            p50, p99 = _time(port)
            server.terminate()
            server.join()
            name = "await one Redis PING" if ping else "no-op"
            print(f"{name:22s} p50 {p50:.2f} ms  p99 {p99:.2f} ms  (1 in flight, {CALLS} calls)")
    finally:
        redis_server.cleanup()


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
