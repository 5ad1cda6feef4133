"""A no-op grpc.aio QuotaService: CheckQuota answers "allowed" at once, touching no store.

It is the framework ceiling of scenario b: whatever the sidecar does beyond this is our cost.
It runs the same way the sidecar does (grpc.aio on uvloop when available, one process) and
prints the same `listening on HOST:PORT` line, so the bench drives both identically.

    python -m bench.noop_server --listen 127.0.0.1:0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

import grpc

from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc

__all__ = ["NoopQuotaService", "main", "serve"]

_ALLOWED = quota_pb2.CheckQuotaResponse(allowed=True)


class NoopQuotaService(quota_pb2_grpc.QuotaServiceServicer):
    """Answers every CheckQuota with the same prebuilt allowed response."""

    async def CheckQuota(
        self, request: quota_pb2.CheckQuotaRequest, context: grpc.aio.ServicerContext
    ) -> quota_pb2.CheckQuotaResponse:
        return _ALLOWED

    async def RecordUsage(
        self, request: quota_pb2.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> quota_pb2.RecordUsageResponse:
        return quota_pb2.RecordUsageResponse(recorded=True)


async def serve(listen: str) -> None:
    server = grpc.aio.server()
    quota_pb2_grpc.add_QuotaServiceServicer_to_server(NoopQuotaService(), server)
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
    args = parser.parse_args(argv)
    try:
        import uvloop  # the sidecar's loop; same loop, same ceiling
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(serve(args.listen))
    else:
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(serve(args.listen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
