"""Exact under any burst, through gRPC: 4 client processes with 1000 calls in flight each,
against one sidecar process and against `--workers 2`, on one real Redis.

While Redis answers, no check is decided without it: every answer is a decision taken in
Redis or an explicit RESOURCE_EXHAUSTED (shed, nothing done), never CANCELLED or an allow.
"""

from __future__ import annotations

from collections import Counter

import grpc
import pytest

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.burst_client import burst
from tests.support.redis_servers import free_port
from tests.support.sidecar import ADMIN_METADATA, ADMIN_TOKEN, SidecarProcess

CLIENTS, IN_FLIGHT = 4, 1000
ENV = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_REDIS_URL": ""}


def _user(name: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=name)


def _configure(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        for config in (
            types_pb2.QuotaConfig(
                subject=_user("burst"), rate_limits=types_pb2.RateLimits(requests_per_minute=60)
            ),
            types_pb2.QuotaConfig(
                subject=_user("holder"),
                cost_quota=types_pb2.CostQuota(daily_limit_nanos=10_000_000_000),
            ),
        ):
            request = admin_pb2.PutQuotaRequest(config=config, actor="test")
            admin.PutQuota(request, metadata=ADMIN_METADATA, timeout=10)


def _burst(target: str, mode: str) -> Counter[str]:
    return burst(target, mode, clients=CLIENTS, in_flight=IN_FLIGHT)


def _usage(target: str, name: str) -> quota_pb2.GetUsageResponse:
    with grpc.insecure_channel(target) as channel:
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        return stub.GetUsage(quota_pb2.GetUsageRequest(subject=_user(name)), timeout=10)


@pytest.mark.parametrize("workers", [1, 2])
def test_bursts_from_4_processes_are_exact(redis_url: str, workers: int) -> None:
    port = free_port() if workers > 1 else 0
    args = ("--redis-url", redis_url, "--listen", f"127.0.0.1:{port}", "--workers", str(workers))
    with SidecarProcess(*args, env=ENV) as sidecar:
        _configure(sidecar.target)
        calls = CLIENTS * IN_FLIGHT

        def log() -> str:  # what the sidecar said about its store, should an assertion fail
            lines = sidecar.output().splitlines()
            return "\n".join(line for line in lines if "store" in line.lower())[-4000:]

        checks = _burst(sidecar.target, "check")
        assert checks["allowed"] == 60, checks
        assert checks["without_store"] == 0, f"{checks}\n{log()}"
        # Every call is a decision in Redis or shed explicitly: nothing else.
        assert checks["allowed"] + checks["denied"] + checks["RESOURCE_EXHAUSTED"] == calls

        holds = _burst(sidecar.target, "reserve")
        assert (holds["allowed"], holds["reservations"]) == (100, 100), holds
        assert holds["without_store"] == 0, f"{holds}\n{log()}"
        assert holds["allowed"] + holds["denied"] + holds["RESOURCE_EXHAUSTED"] == calls
        assert _usage(sidecar.target, "holder").held_nanos == 10_000_000_000

        records = _burst(sidecar.target, "record")
        assert records["recorded"] + records["duplicate"] == calls, records
        assert records["spooled"] == records["gave_up"] == 0, records
        assert _usage(sidecar.target, "spender").cost_today_nanos == calls * 1_000_000
        print(f"workers={workers}: checks {dict(checks)}, holds {dict(holds)}")
        print(f"workers={workers}: records {dict(records)}")
        assert sidecar.terminate() == 0
