"""Two reference grpc.aio QuotaServices the sidecar is measured against.

* no-op (scenario b): CheckQuota, RecordUsage and GetUsage answer a prebuilt response at once,
  touching no store. The framework ceiling: whatever the sidecar does beyond it is our cost.
* one-PING floor (`--redis-url URL`): each of the three first awaits one redis-py PING on that
  Redis, then answers the same prebuilt response. No Redis-backed handler can be cheaper than
  one awaited round trip, so sidecar / floor is the share of the reachable speed we get.

Both run the way the sidecar does (grpc.aio on uvloop when available, one process) and print
the same `listening on HOST:PORT` line, so the bench drives all three identically.

    python -m bench.noop_server --listen 127.0.0.1:0
    python -m bench.noop_server --listen 127.0.0.1:0 --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

import grpc

from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc

__all__ = ["NoopQuotaService", "PingFloorQuotaService", "main", "serve"]

_ALLOWED = quota_pb2.CheckQuotaResponse(allowed=True)
_RECORDED = quota_pb2.RecordUsageResponse(recorded=True)
_USAGE = quota_pb2.GetUsageResponse()


class NoopQuotaService(quota_pb2_grpc.QuotaServiceServicer):
    """Answers every call with the same prebuilt response."""

    async def CheckQuota(
        self, request: quota_pb2.CheckQuotaRequest, context: grpc.aio.ServicerContext
    ) -> quota_pb2.CheckQuotaResponse:
        return _ALLOWED

    async def RecordUsage(
        self, request: quota_pb2.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> quota_pb2.RecordUsageResponse:
        return _RECORDED

    async def GetUsage(
        self, request: quota_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> quota_pb2.GetUsageResponse:
        return _USAGE


class PingFloorQuotaService(quota_pb2_grpc.QuotaServiceServicer):
    """Awaits one Redis PING per call, then answers the no-op's prebuilt response."""

    def __init__(self, redis_url: str) -> None:
        import redis.asyncio as aioredis

        # The same client shape as the sidecar's store: decoded replies, one pooled client.
        self._redis: Any = aioredis.Redis.from_url(
            redis_url, decode_responses=True, max_connections=128
        )

    async def CheckQuota(
        self, request: quota_pb2.CheckQuotaRequest, context: grpc.aio.ServicerContext
    ) -> quota_pb2.CheckQuotaResponse:
        await self._redis.ping()
        return _ALLOWED

    async def RecordUsage(
        self, request: quota_pb2.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> quota_pb2.RecordUsageResponse:
        await self._redis.ping()
        return _RECORDED

    async def GetUsage(
        self, request: quota_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> quota_pb2.GetUsageResponse:
        await self._redis.ping()
        return _USAGE


async def serve(listen: str, redis_url: str | None = None) -> None:
    server = grpc.aio.server()
    service = PingFloorQuotaService(redis_url) if redis_url else NoopQuotaService()
    quota_pb2_grpc.add_QuotaServiceServicer_to_server(service, server)
    port = server.add_insecure_port(listen)
    await server.start()
    host = listen.rpartition(":")[0]
    print(f"listening on {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--redis-url", default=None, help="await one PING there per call")
    args = parser.parse_args(argv)
    try:
        import uvloop  # the sidecar's loop; same loop, same ceiling
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(serve(args.listen, args.redis_url))
    else:
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(serve(args.listen, args.redis_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
