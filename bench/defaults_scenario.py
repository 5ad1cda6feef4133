"""Scenario i: what a scope default costs in Redis (issue 21).

Three measurements on our private redis-server, each from a flushed store, by INFO used_memory
(after MEMORY PURGE):

  - never called: `user:*` is put, then N identifiers that never made a call are resolved
    under it (the engine's config read, pipelined, as every check, GetUsage and GetQuota does
    it). Compared with the empty store: the default's own keys, and nothing per identifier.
  - one call under the default: M identifiers under `user:*` each record once.
  - one call, registered: M identifiers each get the same quota of their own (PutQuota, one by
    one, with its audit entry and index member), then each records once.

The identifiers under the default must cost no more than the registered ones. M is a fiftieth
of the memory scenario's subjects (2,000 of 100k, as scenario h): the calls go through the
engine at a few hundred to 1,500 a second on a shared 2-core machine, and a put writes its
audit entry and event, so 100k would take minutes; the bytes per identifier are linear in M
(scenario g measures the same keys at 100k).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bench.common import Settings, bench_quota

__all__ = ["run_defaults"]

_PROCESSES = 2  # one engine process per core: the calls are not what is measured
_RESOLVE_BATCH = 10_000


def _calls(redis_url: str, phase: str, start: int, stop: int) -> None:
    """One process's share of a phase: "register" puts an own quota, "record" records once."""
    import uvloop

    from quota_sidecar.domain.models import QuotaScope, Subject
    from quota_sidecar.engine.service import EngineSettings, QuotaService

    prefix = "reg" if phase.endswith("registered") else "dflt"

    async def run() -> None:
        engine = QuotaService(redis_url, settings=EngineSettings(store_timeout=10.0))
        gate = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with gate:
                if phase == "register registered":
                    await engine.put_quota(bench_quota("user", f"reg-{i}", daily="100"))
                    return
                await engine.record_usage(
                    subjects=[Subject(QuotaScope.USER, f"{prefix}-{i}")], cost_nanos=1000,
                    provider="openai", tool_name="search", input_tokens=100, output_tokens=50,
                )  # fmt: skip

        await asyncio.gather(*(one(i) for i in range(start, stop)))
        await engine.close()

    uvloop.run(run())


def _in_processes(pool: Any, settings: Settings, phase: str, count: int) -> float:
    bounds = [count * k // _PROCESSES for k in range(_PROCESSES + 1)]
    started = time.perf_counter()
    shares = [
        pool.submit(_calls, settings.redis_url, phase, lo, hi)
        for lo, hi in itertools.pairwise(bounds)
    ]
    for share in shares:
        share.result()
    return round(time.perf_counter() - started, 2)


async def _put_default(redis_url: str) -> None:
    from quota_sidecar.engine.service import EngineSettings, QuotaService

    engine = QuotaService(redis_url, settings=EngineSettings(store_timeout=10.0))
    try:
        await engine.put_quota(bench_quota("user", "*", daily="100"), actor="bench")
    finally:
        await engine.close()


async def _resolve(redis_url: str, count: int) -> None:
    """Resolve `count` never-seen identifiers under `user:*`, as their first call would."""
    from quota_sidecar.domain.models import QuotaScope, Subject
    from quota_sidecar.engine.service import EngineSettings, QuotaService

    engine = QuotaService(redis_url, settings=EngineSettings(store_timeout=10.0))
    try:
        for start in range(0, count, _RESOLVE_BATCH):
            batch = [
                Subject(QuotaScope.USER, f"idle-{i}") for i in range(start, start + _RESOLVE_BATCH)
            ]
            found = await engine.configs.get_many(batch)
            assert all(entry.default is not None for entry in found), "not under the default"
    finally:
        await engine.close()


def _used(client: Any) -> int:
    client.memory_purge()
    return int(client.info("memory")["used_memory"])


def _fresh(client: Any) -> int:
    client.flushall()  # our private redis-server only; never the machine's
    return _used(client)


def run_defaults(settings: Settings) -> dict[str, Any]:
    idle = settings.subjects
    active = max(1000, settings.subjects // 50)
    client = settings.redis()
    result: dict[str, Any] = {"idle_identifiers": idle, "active_identifiers": active}
    spawn = multiprocessing.get_context("spawn")
    try:
        empty = _fresh(client)
        asyncio.run(_put_default(settings.redis_url))
        with_default = _used(client)
        asyncio.run(_resolve(settings.redis_url, idle))
        result["idle_bytes_total"] = _used(client) - empty  # the default's keys, for all of them
        result["idle_bytes_resolving"] = _used(client) - with_default  # per identifier: none
        result["idle_keys"] = int(client.dbsize())
        with ProcessPoolExecutor(_PROCESSES, mp_context=spawn) as pool:
            base = _used(client)
            seconds = _in_processes(pool, settings, "record default", active)
            result["default_record_seconds"] = seconds
            result["bytes_per_identifier_under_default"] = (_used(client) - base) / active
            empty = _fresh(client)
            seconds = _in_processes(pool, settings, "register registered", active)
            result["register_seconds"] = seconds
            seconds = _in_processes(pool, settings, "record registered", active)
            result["registered_record_seconds"] = seconds
            result["bytes_per_identifier_registered"] = (_used(client) - empty) / active
    finally:
        client.close()
    print(
        f"  i defaults: {idle:,} idle identifiers under user:* cost "
        f"{result['idle_bytes_total']:,} B in all ({result['idle_keys']} keys; resolving them "
        f"{result['idle_bytes_resolving']:+,} B); one call: "
        f"{result['bytes_per_identifier_under_default']:.0f} B/identifier under the default, "
        f"{result['bytes_per_identifier_registered']:.0f} B/identifier registered",
        flush=True,
    )
    return result
