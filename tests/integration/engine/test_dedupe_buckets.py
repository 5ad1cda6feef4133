"""Idempotency keys kept compact (engine/dedupe.py, record.lua's dedupe buckets): the same key
within 24 hours counts once and answers as the first did, across hour buckets and splits; a
different payload is a conflict; after the window (24 to 25 hours) it counts again; keys kept
the old way (one string per key) are still honoured; the spool's replay dedupes on them too."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from quota_sidecar import IdempotencyConflict, QuotaScope, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.results import RecordResult
from quota_sidecar.engine.dedupe import GENERATED_KEY_PREFIX
from quota_sidecar.engine.durability.spool import SpooledRecord
from quota_sidecar.engine.service import EngineSettings, QuotaService
from quota_sidecar.store.keys import subject_keys
from tests.integration.engine.conftest import START
from tests.support.redis_cluster import async_client

USER = Subject(QuotaScope.USER, "erin")
TOOL = Subject(QuotaScope.TOOL, "browse")  # the home of [USER, TOOL]: least by name
DOLLAR = 10**9
# Records with compact encodings; "ziplist" on a Redis before 7 (the embedded one may be).
COMPACT = {"listpack", "ziplist"}


async def _month(engine: QuotaService, subject: Subject = USER) -> int:
    return (await engine.get_usage(subject)).cost_this_month_nanos


async def _record(engine: QuotaService, key: str, cost: int = 1) -> RecordResult:
    return await engine.record_usage(subjects=[USER, TOOL], cost=cost, idempotency_key=key)


def _just_before_an_hour_ends(clock: ManualClock) -> None:
    clock.set(START + timedelta(minutes=59, seconds=59))


async def test_a_key_counts_once_across_hour_buckets_until_its_24_hours_end(
    engine: QuotaService, clock: ManualClock
) -> None:
    _just_before_an_hour_ends(clock)
    first = await _record(engine, "call-7")
    assert first.recorded and not first.duplicate
    for later in (timedelta(seconds=2), timedelta(hours=1), timedelta(hours=23, minutes=59)):
        clock.set(START + timedelta(minutes=59, seconds=59) + later)
        again = await _record(engine, "call-7")
        assert (again.recorded, again.duplicate) == (False, True), later
        assert again.cost_nanos == first.cost_nanos == DOLLAR
        assert [t.subject for t in again.totals] == [USER, TOOL]
        assert [t.cost_this_month_nanos for t in again.totals] == [DOLLAR, DOLLAR]
        with pytest.raises(IdempotencyConflict) as conflict:
            await _record(engine, "call-7", cost=2)
        assert conflict.value.field == "idempotency_key"
    assert await _month(engine) == DOLLAR and await _month(engine, TOOL) == DOLLAR
    # Remembered for 24 to 25 hours (its hour's bucket ends with the hour after): then it is
    # a new record, with any payload.
    clock.set(START + timedelta(minutes=59, seconds=59) + timedelta(hours=25))
    counted = await _record(engine, "call-7", cost=2)
    assert counted.recorded and not counted.duplicate
    assert await _month(engine) == 3 * DOLLAR


async def test_a_retry_through_a_replica_whose_clock_is_behind_counts_once(
    engine: QuotaService, clock: ManualClock, any_redis_url: str
) -> None:
    """Replica A keeps the key just after an hour begins; replica B, 20 s behind, is still in
    the hour before when the retry reaches it."""
    clock.set(START + timedelta(hours=1, seconds=10))
    first = await _record(engine, "skewed")
    behind = ManualClock(START + timedelta(minutes=59, seconds=50))
    replica = QuotaService(any_redis_url, clock=behind, settings=EngineSettings(store_timeout=15))
    try:
        again = await _record(replica, "skewed")
    finally:
        await replica.close()
    assert first.recorded and again.duplicate and not again.recorded


async def test_a_conflict_in_an_earlier_hour_counts_nothing(
    engine: QuotaService, clock: ManualClock
) -> None:
    await _record(engine, "early")
    clock.advance(timedelta(hours=5))
    await _record(engine, "late")
    with pytest.raises(IdempotencyConflict):
        await _record(engine, "early", cost=3)
    assert await _month(engine) == 2 * DOLLAR


async def _dedupe_keys(url: str, pattern: str) -> dict[str, tuple[str, int, int]]:
    """Each bucket hash matching `pattern`: (its encoding, its memory, its TTL in ms)."""
    client = async_client(url)
    try:
        found = {}
        async for key in client.scan_iter(match=pattern):
            if key.count(":") < 4:
                continue  # the index itself
            encoding = await client.object("encoding", key)
            found[key] = (encoding, await client.memory_usage(key) or 0, await client.pttl(key))
        return found
    finally:
        await client.aclose()


async def test_many_keys_split_into_small_hashes_and_each_still_counts_once(
    engine: QuotaService, clock: ManualClock, any_redis_url: str
) -> None:
    """400 keys in one hour, then 400 in the next: the buckets split into hashes small enough
    for Redis's compact encoding, and every key is found again wherever its split put it."""
    keys = [f"bulk-{i}" for i in range(800)]
    for key in keys[:400]:
        assert (await _record(engine, key)).recorded
    clock.advance(timedelta(hours=1))
    for key in keys[400:]:
        assert (await _record(engine, key)).recorded
    clock.advance(timedelta(hours=22))
    for key in keys:
        assert (await _record(engine, key)).duplicate, key
    assert await _month(engine) == 800 * DOLLAR

    buckets = await _dedupe_keys(any_redis_url, f"{subject_keys(TOOL).base}:dd:*")
    assert len(buckets) >= 2 * 400 // 64, buckets  # split: several shards per hour
    assert {encoding for encoding, _, _ in buckets.values()} <= COMPACT, buckets
    per_record = sum(size for _, size, _ in buckets.values()) / 800
    assert per_record <= 40, f"{per_record:.1f} bytes of Redis per keyed record"
    # Each kept for the window after its hour ends (the clock Redis runs on is its own).
    assert all(0 < ttl <= 26 * 3600 * 1000 for _, _, ttl in buckets.values())


async def test_records_without_a_key_are_kept_an_hour_or_two(
    engine: QuotaService, any_redis_url: str
) -> None:
    result = await engine.record_usage(subjects=[USER], cost=1)
    assert result.recorded and result.idempotency_key.startswith(GENERATED_KEY_PREFIX)
    generated = await _dedupe_keys(any_redis_url, f"{subject_keys(USER).base}:dg:*")
    assert generated and all(0 < ttl <= 7_260_000 for _, _, ttl in generated.values())  # 2h 1m
    assert not await _dedupe_keys(any_redis_url, f"{subject_keys(USER).base}:dd:*")
    again = await engine.record_usage(
        subjects=[USER], cost=1, idempotency_key=result.idempotency_key
    )
    assert again.duplicate and await _month(engine) == DOLLAR


async def test_a_key_kept_the_old_way_is_still_honoured(
    engine: QuotaService, any_redis_url: str
) -> None:
    """A record counted before the upgrade kept its key as one string with the payload's
    fingerprint (32 hex digits); its retry or spool replay after the upgrade still dedupes."""
    payload = "\x1f".join(["user:erin", str(DOLLAR), "", "", "0", "0", ""])
    fingerprint = hashlib.sha256(payload.encode()).hexdigest()[:32]
    client = async_client(any_redis_url)
    try:
        await client.set(subject_keys(USER).idempotency("before"), fingerprint, px=3_600_000)
    finally:
        await client.aclose()
    again = await engine.record_usage(subjects=[USER], cost=1, idempotency_key="before")
    assert again.duplicate and not again.recorded
    with pytest.raises(IdempotencyConflict):
        await engine.record_usage(subjects=[USER], cost=2, idempotency_key="before")
    assert await _month(engine) == 0


def _spooled(key: str) -> SpooledRecord:
    return {
        "subjects": [str(USER), str(TOOL)],
        "cost_nanos": DOLLAR,
        "provider": "",
        "tool_name": "",
        "input_tokens": 0,
        "output_tokens": 0,
        "idempotency_key": key,
        "reservation_id": None,
        "model": "",
    }


@pytest.mark.parametrize(
    ("key", "later"),
    [("caller-key", timedelta(hours=23, minutes=59)), ("", timedelta(minutes=59))],
)
async def test_a_spooled_record_the_store_had_applied_counts_once_on_replay(
    clock: ManualClock,
    any_redis_url: str,
    tmp_path: Path,
    key: str,
    later: timedelta,
) -> None:
    """The reply was lost after Redis applied the record (it was spooled all the same): the
    replay, after an hour edge and up to the end of its key's window, is its duplicate."""
    engine = QuotaService(
        any_redis_url, clock=clock, settings=EngineSettings(spool_dir=tmp_path / "spool")
    )
    try:
        _just_before_an_hour_ends(clock)
        applied = await _record(engine, key)
        assert applied.recorded
        assert engine.spool is not None
        engine.spool.append(_spooled(applied.idempotency_key))
        clock.advance(later)
        assert await engine.replay_spool() == 1
        assert await _month(engine) == DOLLAR and await _month(engine, TOOL) == DOLLAR
    finally:
        await engine.close()
