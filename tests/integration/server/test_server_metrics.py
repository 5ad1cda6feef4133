"""A Prometheus scrape of --metrics-listen after real traffic."""

from __future__ import annotations

import asyncio
import urllib.request

import grpc

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar

ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")
TOOL = types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier="search")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


async def test_metrics_endpoint_counts_checks_latency_holds_and_alerts(redis_url: str) -> None:
    async with (
        running_sidecar(redis_url, metrics_listen="127.0.0.1:0") as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        config = types_pb2.QuotaConfig(
            subject=ALICE,
            rate_limits=types_pb2.RateLimits(requests_per_minute=2),
            cost_quota=types_pb2.CostQuota(daily_limit_nanos=100),
        )
        await admin.PutQuota(
            admin_pb2.PutQuotaRequest(config=config, actor="t"), metadata=ADMIN_METADATA
        )
        held = await quota.CheckQuota(
            quota_pb2.CheckQuotaRequest(
                subjects=[ALICE, TOOL], estimated_cost_nanos=10, reserve=True
            )
        )
        assert held.reservation_id
        await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]))
        denied = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]))
        assert denied.code == quota_pb2.DENIAL_CODE_RATE_LIMITED

        assert s.metrics_port
        text = await asyncio.to_thread(scrape, s.metrics_port)
        assert 'quota_sidecar_checks_total{result="allowed",scope="user"} 2.0' in text
        assert 'quota_sidecar_checks_total{result="allowed",scope="tool"} 1.0' in text
        assert 'quota_sidecar_checks_total{result="RATE_LIMITED",scope="user"} 1.0' in text
        assert 'quota_sidecar_rpc_duration_seconds_count{method="CheckQuota"} 3.0' in text
        assert 'quota_sidecar_rpcs_total{code="OK",method="PutQuota"} 1.0' in text
        assert "quota_sidecar_holds_open 1.0" in text
        assert "quota_sidecar_store_up 1.0" in text

        # Settling the hold closes it; spending the whole budget raises alerts.
        await quota.RecordUsage(
            quota_pb2.RecordUsageRequest(
                subjects=[ALICE, TOOL], cost_nanos=100, reservation_id=held.reservation_id
            )
        )
        text = await asyncio.to_thread(scrape, s.metrics_port)
        assert "quota_sidecar_holds_open 0.0" in text
        assert 'quota_sidecar_alerts_raised_total{kind="EXHAUSTED"} 1.0' in text

        # An error is counted by status code.
        bad = quota_pb2.CheckQuotaRequest(subjects=[])
        try:
            await quota.CheckQuota(bad)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
        text = await asyncio.to_thread(scrape, s.metrics_port)
        assert 'quota_sidecar_rpcs_total{code="INVALID_ARGUMENT",method="CheckQuota"} 1.0' in text
        for family in (
            "quota_sidecar_store_errors_total",
            "quota_sidecar_config_reloads_total",
            "quota_sidecar_config_reload_errors_total",
        ):
            assert f"# TYPE {family} counter" in text
