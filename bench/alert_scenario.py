"""Scenario f: alert delivery latency across replicas.

Two sidecars share the private Redis. A StreamAlerts subscriber listens on server B; the bench
pushes one subject at a time over its 80 % threshold with RecordUsage on server A and measures
from just before the RecordUsage call to the alert's arrival at the subscriber (and, apart, from
RecordUsage's response to the arrival). One crossing at a time, so no queueing is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import grpc

from bench.common import Settings, bench_quota
from bench.grpc_scenarios import sidecar_process
from bench.loaders import percentile
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2

__all__ = ["run_alerts"]

_CROSSING_NANOS = 850_000_000  # $0.85 of a $1 daily budget: crosses the 80 % threshold


async def _measure(settings: Settings, record_target: str, stream_target: str) -> dict[str, Any]:
    from quota_sidecar.engine.service import QuotaService

    names = [f"alert-warm-{i}" for i in range(20)] + [
        f"alert-{i}" for i in range(settings.alert_samples)
    ]
    engine = QuotaService(settings.redis_url)
    for name in names:
        await engine.put_quota(bench_quota("user", name, daily="1"), actor="bench")
    await engine.close()

    arrivals: dict[str, float] = {}
    arrived: dict[str, asyncio.Event] = {name: asyncio.Event() for name in names}
    async with (
        grpc.aio.insecure_channel(record_target) as a_channel,
        grpc.aio.insecure_channel(stream_target) as b_channel,
    ):
        recorder = quota_pb2_grpc.QuotaServiceStub(a_channel)
        subscriber = quota_pb2_grpc.QuotaServiceStub(b_channel)
        stream = subscriber.StreamAlerts(
            quota_pb2.StreamAlertsRequest(
                scopes=[types_pb2.SCOPE_USER], kinds=[types_pb2.ALERT_KIND_THRESHOLD_WARNING]
            )
        )

        async def read() -> None:
            async for event in stream:
                if event.HasField("alert"):
                    ident = event.alert.subject.identifier
                    arrivals.setdefault(ident, time.perf_counter())
                    if ident in arrived:
                        arrived[ident].set()

        reader = asyncio.create_task(read())

        async def cross(name: str, wait: float) -> tuple[float, float] | None:
            started = time.perf_counter()
            await recorder.RecordUsage(
                quota_pb2.RecordUsageRequest(
                    subjects=[types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=name)],
                    cost_nanos=_CROSSING_NANOS,
                ),
                timeout=5,
            )
            responded = time.perf_counter()
            try:
                await asyncio.wait_for(arrived[name].wait(), wait)
            except TimeoutError:
                return None
            return arrivals[name] - started, arrivals[name] - responded

        # The stream is live-only: until one warm-up alert arrives, the subscription may not
        # be in place yet, so those crossings are not measured.
        live = False
        for name in names[:20]:
            if await cross(name, 0.5) is not None:
                live = True
                break
        samples: list[tuple[float, float]] = []
        lost = 0
        if live:
            for name in names[20:]:
                got = await cross(name, 2.0)
                if got is None:
                    lost += 1
                else:
                    samples.append(got)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
            await reader
    from_call = sorted(s[0] for s in samples)
    from_response = sorted(s[1] for s in samples)
    return {
        "subscribed": live,
        "samples": len(samples),
        "lost": lost,
        "p50_ms": percentile(from_call, 0.5) * 1000,
        "p99_ms": percentile(from_call, 0.99) * 1000,
        "max_ms": (from_call[-1] * 1000) if from_call else 0.0,
        "after_response_p50_ms": percentile(from_response, 0.5) * 1000,
        "after_response_p99_ms": percentile(from_response, 0.99) * 1000,
    }


async def run_alerts(settings: Settings) -> dict[str, Any]:
    server_a = sidecar_process(settings, "sidecar-A").start()
    try:
        server_b = sidecar_process(settings, "sidecar-B").start()
        try:
            result = await _measure(settings, server_a.target, server_b.target)
        finally:
            server_b.stop()
    finally:
        server_a.stop()
    print(f"  f alerts: p50 {result['p50_ms']:.1f} ms p99 {result['p99_ms']:.1f} ms", flush=True)
    return result
