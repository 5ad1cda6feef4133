"""Scenario j: a fleet. Four `quota-sidecar serve` processes on one private redis-server, each
checking one hot tool subject together with its own users, as replicas behind a load balancer.

The hot tool allows `HOT_LIMIT` requests a minute; the load asks for more within a few seconds
(well inside one minute, its warm-up included), so every check the tool admitted counts against
that one limit: the callers' allowed answers must total at most the limit, across all four
processes (a check decided without the store would count as admitted too). Users' own limits
never bind. Reported, after a warm-up of WARMUP_SECONDS: decisions per second (all answers),
Redis commands per 1000 decisions (INFO commandstats, scripts' own commands included), Redis
calls (script calls, FCALL or EVALSHA: the round trips) per 1000 decisions, the redis-server's
CPU per decision; and, from the start, the over-admission count (admitted beyond the limit), which
must be 0.

Leases off against on, in the same run: the same fleet with every quota `lease: off`, then
`lease: auto` (docs/semantics.md, Leases), each on a fresh Redis and fresh processes. Once the
hot tool's limit is reached, a leasing replica answers its denials from the denial it holds
until the bucket ends, so the calls per 1000 decisions of that run are mostly cheap denials:
the run is repeated with a hot tool limit that never binds (`unbound`), where every decision
is an admission, to show what admitting from slices costs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import redis

from bench.common import Settings, command_calls, command_delta
from bench.procs import CpuMeter, ServerProcess, python_module, start_private_redis

__all__ = ["run_fleet"]

SIDECARS = 4
HOT_TOOL = "fleet-hot-tool"
HOT_LIMIT = 1000
USERS_PER_SIDECAR = 8
IN_FLIGHT_PER_SIDECAR = 16
WARMUP_SECONDS = 1.0  # inside the same minute as the measured load: every admission counts
_CHECK = "/quota_sidecar.v1.QuotaService/CheckQuota"


async def _configure(redis_url: str, lease: str, hot_limit: int) -> None:
    from quota_sidecar import QuotaConfig, QuotaScope, RateLimitConfig
    from quota_sidecar.engine.service import QuotaService

    engine = QuotaService(redis_url)
    try:
        hot = RateLimitConfig(requests_per_minute=hot_limit)
        tool = QuotaConfig(scope=QuotaScope.TOOL, identifier=HOT_TOOL, rate_limits=hot, lease=lease)
        await engine.put_quota(tool, actor="bench")
        never_binding = RateLimitConfig(requests_per_minute=10**9)
        for s in range(SIDECARS):
            for u in range(USERS_PER_SIDECAR):
                user = QuotaConfig(
                    scope=QuotaScope.USER, identifier=f"fleet-{s}-{u}",
                    rate_limits=never_binding, lease=lease,
                )  # fmt: skip
                await engine.put_quota(user, actor="bench")
    finally:
        await engine.close()


def _requests(sidecar: int) -> list[bytes]:
    from quota_sidecar.v1 import quota_pb2, types_pb2

    hot = types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier=HOT_TOOL)
    return [
        quota_pb2.CheckQuotaRequest(
            subjects=[types_pb2.Subject(scope=types_pb2.SCOPE_USER,
                                        identifier=f"fleet-{sidecar}-{u}"), hot],
            tool_name=HOT_TOOL,
        ).SerializeToString()
        for u in range(USERS_PER_SIDECAR)
    ]  # fmt: skip


class _Tally:
    def __init__(self) -> None:
        self.decisions = self.admitted = self.without_store = self.errors = 0


async def _drive(target: str, requests: list[bytes], until: float, tally: _Tally) -> None:
    from quota_sidecar.v1 import quota_pb2

    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(_CHECK)

        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < until:
                i += 1
                try:
                    raw = await call(requests[i % len(requests)], timeout=10)
                except grpc.aio.AioRpcError:
                    tally.errors += 1  # an explicit refusal (shed, unavailable): not admitted
                    continue
                reply = quota_pb2.CheckQuotaResponse.FromString(raw)
                tally.decisions += 1
                tally.admitted += reply.allowed
                tally.without_store += reply.decided_without_store

        await asyncio.gather(*(worker(w) for w in range(IN_FLIGHT_PER_SIDECAR)))


async def _load(
    targets: list[str], seconds: float, client: redis.Redis, redis_pid: int
) -> tuple[_Tally, dict[str, Any]]:
    """WARMUP_SECONDS of load, then `seconds` measured: the fleet's Redis commands, Redis CPU
    and decisions are counted from the end of the warm-up (the sidecars' first calls load
    scripts and read configs, and a leasing replica's first checks of a subject go to Redis
    until it is hot); what was admitted is counted from the start, for the over-admission."""
    tally = _Tally()
    until = time.perf_counter() + WARMUP_SECONDS + seconds
    drivers = asyncio.gather(
        *(_drive(t, _requests(i), until, tally) for i, t in enumerate(targets))
    )
    await asyncio.sleep(WARMUP_SECONDS)
    warm_decisions, started = tally.decisions, time.perf_counter()
    before, redis_cpu = command_calls(client), CpuMeter([redis_pid]).start()
    await drivers
    measured = {
        "cpu_s": redis_cpu.stop(),
        "delta": command_delta(before, command_calls(client)),
        "decisions": tally.decisions - warm_decisions,
        "elapsed": time.perf_counter() - started,
    }
    return tally, measured


def run_fleet(settings: Settings) -> dict[str, Any]:
    """Leases off (the top-level figures, as before) and on (`leases_on`), and both again with
    a hot limit that never binds (`unbound_off`, `unbound_on`). Bounded: four fleets, each a
    start of a few seconds and `settings.seconds * 3` of load."""
    found = _run_fleet(settings, "off", HOT_LIMIT)
    found["leases_on"] = _run_fleet(settings, "auto", HOT_LIMIT)
    found["unbound_off"] = _run_fleet(settings, "off", 10**9)
    found["unbound_on"] = _run_fleet(settings, "auto", 10**9)
    return found


def _run_fleet(settings: Settings, lease: str, hot_limit: int) -> dict[str, Any]:
    server: Any = start_private_redis()  # its own, so its CPU and commands are the fleet's alone
    sidecars = [
        ServerProcess(f"fleet-{i}", python_module("quota_sidecar", "serve", "--listen",
                      "127.0.0.1:0"), env={"QUOTA_SIDECAR_REDIS_URL": server.url})
        for i in range(SIDECARS)
    ]  # fmt: skip
    try:
        asyncio.run(_configure(server.url, lease, hot_limit))
        for sidecar in sidecars:
            sidecar.start()
        targets = [s.target for s in sidecars]
        client = redis.Redis.from_url(server.url, decode_responses=True)
        seconds = max(2.0, settings.seconds * 3)
        tally, measured = asyncio.run(_load(targets, seconds, client, server.process.pid))
        delta, elapsed = measured["delta"], measured["elapsed"]
        commands = sum(delta.values())
        # Round trips the sidecars made: each check or lease step is one script call (config
        # reads, cached, are the only other client commands, and are rare).
        scripts = sum(delta.get(name, 0) for name in ("fcall", "fcall_ro", "evalsha", "eval"))
        client.close()
    finally:
        for sidecar in sidecars:
            sidecar.stop()
        server.cleanup()
    decisions = max(measured["decisions"], 1)
    return {
        "sidecars": SIDECARS,
        "in_flight": SIDECARS * IN_FLIGHT_PER_SIDECAR,
        "seconds": elapsed,
        "warmup_seconds": WARMUP_SECONDS,
        "lease": lease,
        "hot_limit_per_minute": hot_limit,
        "decisions": tally.decisions,
        "decisions_measured": measured["decisions"],
        "decisions_per_s": measured["decisions"] / elapsed,
        "admitted": tally.admitted,
        "over_admitted": max(0, tally.admitted - hot_limit),
        "limit_reached": tally.admitted >= hot_limit,  # else the load never tested the limit
        "decided_without_store": tally.without_store,
        "errors": tally.errors,
        "redis_calls_per_1000_decisions": commands * 1000 / decisions,
        "script_calls_per_1000_decisions": scripts * 1000 / decisions,
        "redis_cpu_us_per_decision": measured["cpu_s"] * 1e6 / decisions,
    }
