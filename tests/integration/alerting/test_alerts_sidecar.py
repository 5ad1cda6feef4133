"""Alerts through the real sidecar: two servers on one Redis, a subscriber on one sees an alert
raised by RecordUsage on the other within 100 ms; SIGTERM ends open streams cleanly; the
`quota-sidecar alerts` command prints them."""

from __future__ import annotations

import argparse
import asyncio
import io
import time
from decimal import Decimal

import grpc

from quota_sidecar.cli.alerts import add_alerts_command, run_alerts_command
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.integration.alerting.conftest import read_alerts, wait_for_subscribers
from tests.support.sidecar import running_sidecar

USER = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")


def quota(identifier: str = "alice") -> QuotaConfig:
    return QuotaConfig(
        scope=QuotaScope.USER, identifier=identifier, cost_quota=CostQuota(daily_limit=Decimal(10))
    )


async def test_a_subscriber_on_one_server_gets_an_alert_raised_on_the_other_within_100ms(
    redis_url: str,
) -> None:
    async with running_sidecar(redis_url) as a, running_sidecar(redis_url) as b:
        await b.service.put_quota(quota())
        async with (
            grpc.aio.insecure_channel(a.target) as to_a,
            grpc.aio.insecure_channel(b.target) as to_b,
        ):
            call = quota_pb2_grpc.QuotaServiceStub(to_a).StreamAlerts(
                quota_pb2.StreamAlertsRequest(kinds=[types_pb2.ALERT_KIND_THRESHOLD_WARNING])
            )
            await wait_for_subscribers(a._alerts)  # attached to the live tail
            record = quota_pb2_grpc.QuotaServiceStub(to_b).RecordUsage
            started = time.monotonic()
            reply = await record(
                quota_pb2.RecordUsageRequest(subjects=[USER], cost_nanos=8_500_000_000)
            )
            (event,) = await read_alerts(call, 1)
            latency = time.monotonic() - started
            call.cancel()

    assert [a.threshold_percent for a in reply.alerts] == [80]
    assert event.alert.id == reply.alerts[0].id  # the very alert B's record raised
    assert event.alert.subject == USER and event.alert.threshold_percent == 80
    assert latency < 0.1, f"took {latency * 1000:.0f} ms"
    # A's reader measured the alert's lag (its stream entry's time to its delivery).
    lag = "quota_sidecar_alert_delivery_lag_seconds"
    assert a.metrics.value(f"{lag}_count", path="stream") == 1
    assert 0 <= a.metrics.value(f"{lag}_sum", path="stream") < 1
    assert b.metrics.value(f"{lag}_count", path="stream") == 0  # B had no subscriber: no reader


async def test_the_alerts_command_prints_one_line_per_alert(redis_url: str) -> None:
    async with running_sidecar(redis_url) as sidecar:
        await sidecar.service.put_quota(quota("bob"))
        await sidecar.service.record_usage(scope=QuotaScope.USER, identifier="bob", cost=10)
        parser = argparse.ArgumentParser()
        add_alerts_command(parser.add_subparsers())
        args = parser.parse_args(
            ["alerts", "--target", sidecar.target, "--identifier", "bob", "--min-severity",
             "WARNING", "--idle", "0.3"]
        )  # fmt: skip
        out = io.StringIO()
        # The command runs its own event loop, as it does from the shell.
        code = await asyncio.to_thread(run_alerts_command, args, out)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert len(lines) == 4  # 80, 90, 95 and exhausted; QUOTA_CHANGED is INFO
    assert "WARNING  THRESHOLD_WARNING" in lines[0] and "user:bob cost_daily 80%" in lines[0]
    assert "$10.00/$10.00" in lines[3] and "CRITICAL EXHAUSTED" in lines[3]


async def test_stopping_the_server_ends_open_streams_with_status_ok(redis_url: str) -> None:
    # Sidecar.stop() is what the SIGTERM handler runs: streams end before the server drains.
    async with (
        running_sidecar(redis_url) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        calls = [stub.StreamAlerts(quota_pb2.StreamAlertsRequest()) for _ in range(3)]
        await wait_for_subscribers(sidecar._alerts, 3)
        started = time.monotonic()
        await sidecar.stop()
        for call in calls:
            async with asyncio.timeout(5):
                assert await call.read() is grpc.aio.EOF
            assert await call.code() == grpc.StatusCode.OK
        assert time.monotonic() - started < sidecar.options.grace  # not cut off by grace
