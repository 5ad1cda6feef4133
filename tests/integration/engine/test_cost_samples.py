"""The cost samples of history estimates (engine/samples.py) are written by record.lua, in the
record's own script call: a record is one round trip, and a record that counts is sampled
exactly once (a duplicate, a release, a cut-short call or a refused record never)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from quota_sidecar import QuotaScope, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.errors import RunNotOpen
from quota_sidecar.engine.samples import SAMPLE_SIZE, SAMPLE_TTL
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.keys import subject_keys
from tests.support.redis_cluster import async_client
from tests.support.redis_servers import RedisProcess

USER = Subject(QuotaScope.USER, "sam")
TOOL = Subject(QuotaScope.TOOL, "search")
CENT = 10**7


def _tool_list(subject: Subject = USER, tool: str = "search") -> str:
    return subject_keys(subject).cost_samples("t", tool)


async def _sample(url: str, key: str) -> list[int]:
    client = async_client(url, decode_responses=False)
    try:
        return [int(v) for v in await client.lrange(key, 0, -1)]
    finally:
        await client.aclose()


async def test_record_lua_keeps_the_sample_in_the_records_own_script_call(
    disposable_redis: RedisProcess,
) -> None:
    engine = QuotaService(disposable_redis.url, clock=ManualClock())
    await engine.record_usage(subjects=[USER, TOOL], tool_name="search", cost="0.01")  # loads
    client = redis.Redis(port=disposable_redis.port, decode_responses=True)
    client.config_resetstat()
    result = await engine.record_usage(subjects=[USER, TOOL], tool_name="search", cost="0.02")
    assert result.recorded
    stats = client.info("commandstats")
    scripts = {
        k: int(v["calls"])
        for k, v in stats.items()
        if k.startswith(("cmdstat_eval", "cmdstat_fcall"))
    }
    # One script call in all (sample.lua was a second one), and the push is inside it: FCALL
    # of the scripts' function library (store/functions.py; redis-server 7 has Functions).
    assert scripts == {"cmdstat_fcall": 1}
    assert int(stats["cmdstat_lpush"]["calls"]) == 1
    assert "cmdstat_lrange" not in stats and "cmdstat_ltrim" not in stats  # not full: no trim
    assert client.lrange(_tool_list(), 0, -1) == [str(2 * CENT), str(CENT)]  # newest first
    ttl_ms = client.pttl(_tool_list())
    assert SAMPLE_TTL - timedelta(minutes=1) < timedelta(milliseconds=ttl_ms) <= SAMPLE_TTL
    client.close()
    await engine.close()


async def test_the_sample_keeps_the_newest_costs_up_to_its_size(
    engine: QuotaService, any_redis_url: str
) -> None:
    for cents in range(1, SAMPLE_SIZE + 7):
        await engine.record_usage(subjects=[USER], tool_name="search", cost=cents / 100)
    kept = await _sample(any_redis_url, _tool_list())
    assert kept == [c * CENT for c in range(SAMPLE_SIZE + 6, 6, -1)]
    # The estimate reads it back through the store: nearest-rank p95 of 7..70 cents.
    estimate = await engine.samples.estimate(USER, tool_name="search", model="")
    assert estimate == 67 * CENT


async def test_only_a_record_that_counts_is_sampled(
    engine: QuotaService, any_redis_url: str
) -> None:
    first = await engine.record_usage(
        subjects=[USER], tool_name="search", cost="0.03", idempotency_key="once"
    )
    again = await engine.record_usage(
        subjects=[USER], tool_name="search", cost="0.03", idempotency_key="once"
    )
    assert first.recorded and again.duplicate
    await engine.record_usage(subjects=[USER], tool_name="search", cost=5, cut_short=True)
    check = await engine.check_quota(subjects=[USER], estimated_cost="0.5", reserve=True)
    assert check.reservation_id
    await engine.release_reservation(check.reservation_id)
    with pytest.raises(RunNotOpen):  # refused before anything is written
        await engine.record_usage(subjects=[USER], tool_name="search", cost=1, run_id="gone")
    assert await _sample(any_redis_url, _tool_list()) == [3 * CENT]
    # Without a tool or a model nothing names a sample.
    await engine.record_usage(subjects=[USER], cost="0.04")
    assert await _sample(any_redis_url, _tool_list()) == [3 * CENT]


async def test_a_model_takes_the_sample_over_the_tool_on_the_first_subject(
    engine: QuotaService, any_redis_url: str
) -> None:
    await engine.record_usage(
        subjects=[TOOL, USER], tool_name="search", provider="openai", model="gpt-x", cost="0.07"
    )
    model_list = subject_keys(TOOL).cost_samples("m", "openai/gpt-x")
    assert await _sample(any_redis_url, model_list) == [7 * CENT]
    assert await _sample(any_redis_url, _tool_list(TOOL)) == []
    assert await _sample(any_redis_url, _tool_list(USER)) == []


async def test_a_sample_that_cannot_be_kept_never_fails_the_record(
    engine: QuotaService, any_redis_url: str
) -> None:
    client = async_client(any_redis_url, decode_responses=False)
    await client.set(_tool_list(), "not a list")
    try:
        result = await engine.record_usage(subjects=[USER], tool_name="search", cost="0.05")
        assert result.recorded
        assert (await engine.get_usage(USER)).cost_this_month_nanos == 5 * CENT
        assert await client.get(_tool_list()) == b"not a list"
    finally:
        await client.delete(_tool_list())
        await client.aclose()
