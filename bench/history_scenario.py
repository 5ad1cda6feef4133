"""Scenario h: the Redis cost of usage history (issue 14).

N subjects record over D quota days, the engine's clock moved a day at a time (a ManualClock;
Redis's own TTLs run on real time, so nothing expires during the run). Each subject makes one
record a day with a provider, a tool and a model, the breakdown a real agent leaves. Measured
with MEMORY USAGE (samples=0: every field counted) on the keys history adds:

  - the day rollups (qs:{subject}:hd:<day>): bytes per active subject per day of retention;
  - the month rollups (qs:{subject}:hM:<month>): bytes per subject per month kept;
  - the scope's top-spender sets of each day and month: bytes per active subject per day.

INFO used_memory before and after is reported too: it also holds the budget's own day and
month hashes and the idempotency keys of the records, which the run leaves behind as well.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Settings

__all__ = ["run_history"]

_DAYS = 10
_IN_FLIGHT = 32


async def _record_days(settings: Settings, subjects: int, days: int) -> None:
    from quota_sidecar.domain.clock import ManualClock
    from quota_sidecar.domain.models import QuotaScope, Subject
    from quota_sidecar.engine.service import EngineSettings, QuotaService

    clock = ManualClock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    engine = QuotaService(
        settings.redis_url, clock=clock, settings=EngineSettings(store_timeout=10)
    )
    gate = asyncio.Semaphore(_IN_FLIGHT)
    users = [Subject(QuotaScope.USER, f"hist-{i}") for i in range(subjects)]

    async def one(user: Subject, day: int) -> None:
        async with gate:
            await engine.record_usage(
                subjects=[user], cost_nanos=1_234_567 * (day + 1), provider="openai",
                tool_name="search", model="openai/gpt-4o", input_tokens=1200, output_tokens=300,
                idempotency_key=f"h-{day}", skip_model_subject=True,
            )  # fmt: skip

    try:
        for day in range(days):
            await asyncio.gather(*(one(u, day) for u in users))
            clock.advance(timedelta(days=1))
    finally:
        await engine.close()


def _sizes(client: Any, pattern: str) -> tuple[int, int]:
    total = count = 0
    for key in client.scan_iter(match=pattern, count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
        count += 1
    return total, count


def run_history(settings: Settings, *, days: int = _DAYS) -> dict[str, Any]:
    subjects = max(100, settings.subjects // 50)
    client = settings.redis()
    client.flushall()  # our private redis-server only; never the machine's
    client.memory_purge()
    before = int(client.info("memory")["used_memory"])
    started = time.perf_counter()
    asyncio.run(_record_days(settings, subjects, days))
    seconds = time.perf_counter() - started
    after = int(client.info("memory")["used_memory"])
    day_bytes, day_keys = _sizes(client, "qs:{user:hist-*}:hd:*")
    month_bytes, month_keys = _sizes(client, "qs:{user:hist-*}:hM:*")
    top_day_bytes, _ = _sizes(client, "qs:top:user:d:*")
    top_month_bytes, _ = _sizes(client, "qs:top:user:M:*")
    calendar_bytes, _ = _sizes(client, "qs:top:user:cal")
    client.close()
    subject_days = subjects * days
    result = {
        "subjects": subjects,
        "days": days,
        "records": subject_days,
        "records_per_second": round(subject_days / seconds),
        "day_rollup_keys": day_keys,
        "month_rollup_keys": month_keys,
        "bytes_per_subject_day_rollup": day_bytes / subject_days,
        "bytes_per_subject_day_top_set": top_day_bytes / subject_days,
        "bytes_per_subject_day": (day_bytes + top_day_bytes) / subject_days,
        "bytes_per_subject_month": (month_bytes + top_month_bytes) / max(1, month_keys),
        "calendar_set_bytes": calendar_bytes,
        "used_memory_delta_per_subject_day": (after - before) / subject_days,
    }
    retained = result["bytes_per_subject_day"] * 91 + result["bytes_per_subject_month"] * 13
    result["bytes_per_subject_default_retention"] = retained
    print(
        f"  h history: {result['bytes_per_subject_day']:.0f} B per active subject per day "
        f"(rollup {result['bytes_per_subject_day_rollup']:.0f} + top set "
        f"{result['bytes_per_subject_day_top_set']:.0f}), "
        f"{result['bytes_per_subject_month']:.0f} B per subject per month",
        flush=True,
    )
    return result
