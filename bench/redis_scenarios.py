"""Scenario g: Redis round trips per RPC, and Redis memory per active subject.

Round trips: CONFIG RESETSTAT, then sequential calls over gRPC, then INFO commandstats: the
commands Redis ran (by name) divided by the calls. A script call (EVALSHA) is one round trip.

Memory: on the private Redis, emptied first, INFO memory used_memory is read before, after
storing one quota per subject, and after a check and a record for each of them (all through the
engine in-process, many calls in flight). The deltas divided by the subject count are the bytes
per active subject; the keys of one subject are listed with MEMORY USAGE to show where they go.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc

from bench.common import Settings, bench_quota, command_calls, command_delta
from bench.grpc_scenarios import (
    CHECK,
    GET_USAGE,
    RECORD,
    check_request,
    get_usage_request,
    record_request,
    sidecar_process,
    verify,
)

__all__ = ["run_memory_async", "run_round_trips"]

_CALLS = 1000


def run_round_trips(settings: Settings) -> dict[str, Any]:
    sidecar = sidecar_process(settings, "sidecar-round-trips").start()
    client = settings.redis()
    out: dict[str, Any] = {"calls": _CALLS}
    try:
        with grpc.insecure_channel(sidecar.target) as channel:
            for label, method, message in (
                ("CheckQuota", CHECK, check_request()),
                ("RecordUsage", RECORD, record_request()),
                ("GetUsage", GET_USAGE, get_usage_request()),
            ):
                verify(sidecar.target, method, message)
                call = channel.unary_unary(method)
                for _ in range(20):  # warm: scripts loaded, configs cached, connections open
                    call(message, timeout=5)
                client.config_resetstat()
                before = command_calls(client)
                for _ in range(_CALLS):
                    call(message, timeout=5)
                delta = command_delta(before, command_calls(client))
                per_call = {k: round(v / _CALLS, 3) for k, v in sorted(delta.items())}
                out[label] = {
                    "commands_per_call": round(sum(delta.values()) / _CALLS, 3),
                    "script_calls_per_call": round(
                        sum(v for k, v in delta.items() if k in ("evalsha", "eval", "fcall"))
                        / _CALLS,
                        3,
                    ),
                    "by_command": per_call,
                }
                print(f"  g {label}: {per_call}", flush=True)
    finally:
        client.close()
        sidecar.stop()
    return out


async def _populate(settings: Settings, count: int) -> dict[str, Any]:
    from quota_sidecar.engine.service import QuotaService
    from quota_sidecar.models import QuotaScope, Subject

    engine = QuotaService(settings.redis_url)
    client = settings.redis()
    client.flushall()  # our private redis-server only; never the machine's
    client.memory_purge()
    gate = asyncio.Semaphore(256)

    async def each(operation: Any) -> None:
        async def one(i: int) -> None:
            async with gate:
                await operation(i)

        await asyncio.gather(*(one(i) for i in range(count)))

    def user(i: int) -> list[Subject]:
        return [Subject(QuotaScope.USER, f"mem-{i}")]

    async def configure(i: int) -> None:
        await engine.put_quota(bench_quota("user", f"mem-{i}", daily="100"), actor="bench")

    async def check(i: int) -> None:
        await engine.check_quota(subjects=user(i), estimated_cost_nanos=1000, tool_name="search")

    async def record(i: int) -> None:
        await engine.record_usage(
            subjects=user(i), cost_nanos=1000, provider="openai", tool_name="search",
            input_tokens=100, output_tokens=50,
        )  # fmt: skip

    phases: dict[str, Any] = {"subjects": count}
    used = [int(client.info("memory")["used_memory"])]
    for name, operation in (("configs", configure), ("checks", check), ("records", record)):
        started = time.perf_counter()
        await each(operation)
        phases[f"{name}_seconds"] = round(time.perf_counter() - started, 2)
        used.append(int(client.info("memory")["used_memory"]))
    await engine.close()
    phases["bytes_per_subject_config"] = (used[1] - used[0]) / count
    phases["bytes_per_subject_state"] = (used[3] - used[1]) / count
    phases["bytes_per_subject_total"] = (used[3] - used[0]) / count
    phases["keys"] = int(client.dbsize())
    sample: dict[str, int] = {}
    for key in client.scan_iter(match="qs:{user:mem-0}*", count=1000):
        sample[key] = int(client.memory_usage(key, samples=0) or 0)
    phases["one_subject_keys"] = dict(sorted(sample.items()))
    shared = ("qs:quotas", "qs:audit", "qs:alerts", "qs:ovrexp")
    phases["shared_keys"] = {
        k: int(client.memory_usage(k, samples=0) or 0) for k in shared if client.exists(k)
    }
    client.close()
    return phases


async def run_memory_async(settings: Settings) -> dict[str, Any]:
    result = await _populate(settings, settings.subjects)
    print(f"  g memory: {result['bytes_per_subject_total']:.0f} B/subject", flush=True)
    return result
