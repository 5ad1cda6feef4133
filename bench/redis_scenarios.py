"""Scenario g: Redis round trips per RPC, and Redis memory per active subject.

Round trips: sequential calls over gRPC under Redis MONITOR, which tells the commands a client
sent (each one a round trip, unless pipelined) from those its Lua scripts ran inside Redis.
INFO commandstats cannot: it counts the commands inside a script as well.

Memory: on the private Redis, emptied first, INFO memory used_memory is read before, after
storing one quota per subject, and after a check and a record for each of them (all through the
engine in-process, many calls in flight). The deltas divided by the subject count are the bytes
per active subject; the keys of one subject are listed with MEMORY USAGE to show where they go.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import grpc
import redis

from bench.common import Settings, bench_quota, configure_bench_quotas
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

__all__ = ["run_memory", "run_round_trips"]

_CALLS = 1000


class _Monitor:
    """Counts the commands Redis runs, by MONITOR: a client's own commands (its round trips)
    apart from the commands its scripts run inside Redis (source "lua")."""

    def __init__(self, settings: Settings) -> None:
        self._connection = settings.redis()
        self._monitor = self._connection.monitor()
        self._monitor.__enter__()
        self._client: Counter[str] = Counter()
        self._in_script: Counter[str] = Counter()
        self._marker = ""
        self._seen: tuple[Counter[str], Counter[str]] | None = None
        self._done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with contextlib.suppress(redis.ConnectionError):  # close() ends the MONITOR connection
            self._count()

    def _count(self) -> None:
        for command in self._monitor.listen():
            text = str(command.get("command", ""))
            if self._marker and text == f"ECHO {self._marker}":
                # Everything before the marker is counted: hand it over and start afresh.
                self._seen = (self._client, self._in_script)
                self._client, self._in_script = Counter(), Counter()
                self._done.set()
                continue
            name = text.split(" ", 1)[0].lower()
            if command.get("client_type") == "lua":
                self._in_script[name] += 1
            else:
                self._client[name] += 1

    def mark(self, probe: Any, label: str) -> tuple[Counter[str], Counter[str]]:
        """The commands counted since the previous mark: (sent by clients, run by scripts)."""
        self._marker = f"bench-mark-{label}"
        self._done.clear()
        probe.echo(self._marker)
        if not self._done.wait(10) or self._seen is None:
            raise RuntimeError("MONITOR did not see the marker")
        return self._seen

    def close(self) -> None:
        self._connection.close()


def run_round_trips(settings: Settings) -> dict[str, Any]:
    """Sequential calls under MONITOR; our own ECHO markers are left out of the counts."""
    asyncio.run(configure_bench_quotas(settings.redis_url))
    sidecar = sidecar_process(settings, "sidecar-round-trips").start()
    probe = settings.redis()
    monitor = _Monitor(settings)
    out: dict[str, Any] = {"calls": _CALLS, "method": "MONITOR"}
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
                monitor.mark(probe, f"{label}-start")
                for _ in range(_CALLS):
                    call(message, timeout=5)
                client, inside = monitor.mark(probe, f"{label}-end")
                out[label] = {
                    "commands_per_call": round(sum(client.values()) / _CALLS, 3),
                    "by_command": {k: round(v / _CALLS, 3) for k, v in sorted(client.items())},
                    "script_internal_commands_per_call": round(sum(inside.values()) / _CALLS, 2),
                }
                print(f"  g {label}: {out[label]['by_command']}", flush=True)
    finally:
        monitor.close()
        probe.close()
        sidecar.stop()
    return out


_POPULATE_PROCESSES = 2  # one engine process per core: populating is not what is measured


def _populate_range(redis_url: str, phase: str, start: int, stop: int) -> None:
    """One process's share of a phase: configs, checks or records for users start..stop-1."""
    import uvloop

    from quota_sidecar.domain.errors import StoreUnavailable
    from quota_sidecar.domain.models import QuotaScope, Subject
    from quota_sidecar.engine.service import EngineSettings, QuotaService

    async def run() -> None:
        # A generous store timeout: with hundreds of calls queued in one event loop the default
        # 50 ms would turn some calls into fallbacks that write nothing.
        engine = QuotaService(redis_url, settings=EngineSettings(store_timeout=10.0))
        gate = asyncio.Semaphore(32)  # enough to keep Redis busy; more only queues in Python

        async def one(i: int) -> None:
            async with gate:
                for attempt in range(5):  # a connect can time out on a loaded 2-core machine
                    try:
                        return await one_call(i)
                    except StoreUnavailable:
                        if attempt == 4:
                            raise
                return None

        async def one_call(i: int) -> None:
            user = [Subject(QuotaScope.USER, f"mem-{i}")]
            if phase == "configs":
                quota = bench_quota("user", f"mem-{i}", daily="100")
                await engine.put_quota(quota, actor="bench")
            elif phase == "checks":
                await engine.check_quota(
                    subjects=user, estimated_cost_nanos=1000, tool_name="search"
                )
            else:
                await engine.record_usage(
                    subjects=user, cost_nanos=1000, provider="openai", tool_name="search",
                    input_tokens=100, output_tokens=50,
                )  # fmt: skip

        await asyncio.gather(*(one(i) for i in range(start, stop)))
        await engine.close()

    uvloop.run(run())


def _populate(settings: Settings, count: int) -> dict[str, Any]:
    client = settings.redis()
    client.flushall()  # our private redis-server only; never the machine's
    client.memory_purge()
    bounds = [count * k // _POPULATE_PROCESSES for k in range(_POPULATE_PROCESSES + 1)]
    phases: dict[str, Any] = {"subjects": count}
    used = [int(client.info("memory")["used_memory"])]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(_POPULATE_PROCESSES, mp_context=context) as pool:
        for phase in ("configs", "checks", "records"):
            started = time.perf_counter()
            shares = [
                pool.submit(_populate_range, settings.redis_url, phase, lo, hi)
                for lo, hi in itertools.pairwise(bounds)
            ]
            for share in shares:
                share.result()
            phases[f"{phase}_seconds"] = round(time.perf_counter() - started, 2)
            used.append(int(client.info("memory")["used_memory"]))
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


def run_memory(settings: Settings) -> dict[str, Any]:
    result = _populate(settings, settings.subjects)
    print(f"  g memory: {result['bytes_per_subject_total']:.0f} B/subject", flush=True)
    return result
