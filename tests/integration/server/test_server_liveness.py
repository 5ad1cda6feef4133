"""The "liveness" health name (server/app.py LIVENESS_SERVICE): SERVING while the server takes
calls, whatever Redis does, so a liveness probe never restarts a sidecar for a Redis outage;
the overall health, for readiness, follows the store."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quota_sidecar.server.app import LIVENESS_SERVICE
from tests.integration.server.test_server_redis_outage import health_becomes
from tests.support.redis_servers import RedisProcess
from tests.support.sidecar import running_sidecar

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _liveness(channel: grpc.aio.Channel) -> int:
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE))
    return int(reply.status)


async def test_liveness_stays_serving_while_redis_is_down(disposable_redis: RedisProcess) -> None:
    async with (
        running_sidecar(disposable_redis.url, store_timeout=0.2) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        await health_becomes(channel, SERVING)
        assert await _liveness(channel) == SERVING
        disposable_redis.stop()
        await health_becomes(channel, NOT_SERVING)  # readiness: take the pod out of service
        assert await _liveness(channel) == SERVING  # liveness: but do not restart it
        disposable_redis.start()
        await health_becomes(channel, SERVING)
        assert await _liveness(channel) == SERVING
