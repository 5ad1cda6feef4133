"""Coalescing on a real Redis: script calls made in one loop turn share a round trip, each keeps
its own outcome (a bad argument, a script error, a script or function Redis lost), and a
connection killed mid-batch leaves every outcome known: replies read count, lost checks are
undone. The store-level tests run on the session's Redis 7 (FCALL) and on the embedded 6.2
(no Functions: EVALSHA)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from redis.exceptions import ResponseError

from quota_sidecar import QuotaConfig, QuotaScope, QuotaService, RateLimitConfig
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.errors import DeadlineExceeded, Overloaded, StoreUnavailable
from quota_sidecar.engine.service import EngineSettings
from quota_sidecar.store.coalesce import BATCHES_IN_FLIGHT, Coalescer
from quota_sidecar.store.functions import LibraryScript, ScriptLibrary
from quota_sidecar.store.redis import MAX_SCRIPTS_IN_FLIGHT, Store
from tests.support.waiting import until

SAMPLE = "counter.lua"  # a script of this test's own; its replies count exactly
_COUNTER = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return redis.call('LLEN', KEYS[1])
"""


def _opened(url: str, **options: Any) -> Store:
    """A store that also runs counter.lua, as a Functions library of its own (FCALL) or by
    EVALSHA, exactly as it runs store/scripts/*.lua."""
    store = Store.from_url(url, **options)
    library = ScriptLibrary("", {SAMPLE: _COUNTER})
    counter = LibraryScript(library, SAMPLE, store.client.register_script(_COUNTER))
    store._scripts[SAMPLE] = counter
    return store


@pytest.fixture(params=["redis", "embedded"])
def plain_url(request: pytest.FixtureRequest) -> str:
    """The session's Redis 7 (FCALL), then the embedded 6.2 (EVALSHA), flushed. Not a Cluster:
    the store does not coalesce there (see the last test)."""
    name = "redis_url" if request.param == "redis" else "_embedded_redis_url"
    url = str(request.getfixturevalue(name))
    admin = redis.Redis.from_url(url)
    admin.flushdb()
    admin.close()
    return url


@pytest.fixture
async def store(plain_url: str) -> AsyncIterator[Store]:
    opened = _opened(plain_url)
    yield opened
    await opened.close()


def _coalescer(store: Store) -> Coalescer:
    assert store.coalescer is not None
    return store.coalescer


def _script_calls(url: str) -> int:
    admin = redis.Redis.from_url(url)
    try:
        stats: dict[str, Any] = admin.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "fcall"))
    finally:
        admin.close()


def _sample(store: Store, key: str, cap: Any = 10_000) -> Any:
    return store.run(SAMPLE, [key], [1, cap, 60_000])


async def test_300_concurrent_calls_share_round_trips_and_count_exactly(
    store: Store, plain_url: str
) -> None:
    await _sample(store, "qs:test:warm")  # the script loaded, a connection open
    coalescer = _coalescer(store)
    trips, calls, scripts = coalescer.round_trips, coalescer.calls, _script_calls(plain_url)
    replies = await asyncio.gather(*(_sample(store, "qs:test:list") for _ in range(300)))
    assert sorted(replies) == list(range(1, 301))  # each call its own atomic step
    assert coalescer.calls - calls == 300
    assert _script_calls(plain_url) - scripts == 300  # one FCALL/EVALSHA a call, none lost
    shared = coalescer.round_trips - trips
    print(f"300 calls in {shared} round trips")
    # At most MAX_SCRIPTS_IN_FLIGHT calls hold a turn at once, so a batch holds at most that.
    assert 300 // MAX_SCRIPTS_IN_FLIGHT <= shared <= 300 // 8
    assert await store.client.llen("qs:test:list") == 300  # type: ignore[misc]


async def test_a_bad_argument_and_a_script_error_touch_only_their_own_calls(
    store: Store,
) -> None:
    await _sample(store, "qs:test:warm")
    coalescer = _coalescer(store)
    trips, calls = coalescer.round_trips, coalescer.calls
    good = [_sample(store, "qs:test:good") for _ in range(30)]
    unpackable = _sample(store, "qs:test:unpackable", cap=True)  # redis-py refuses a bool
    failing = store.run(SAMPLE, [], [1, 10, 60_000])  # no key: the script's first call fails
    replies = await asyncio.gather(unpackable, *good, failing, return_exceptions=True)
    assert coalescer.round_trips - trips == 1, "all in one round trip"
    assert coalescer.calls - calls == 31, "the unpackable call was not sent"
    assert isinstance(replies[0], StoreUnavailable)
    assert isinstance(replies[-1], ResponseError)
    assert sorted(replies[1:-1]) == list(range(1, 31))  # type: ignore[type-var]
    assert not await store.client.exists("qs:test:unpackable")  # type: ignore[misc]
    assert await _sample(store, "qs:test:good") == 31  # the connection is still in step


async def test_a_lost_script_is_loaded_once_and_only_its_calls_sent_again(
    store: Store, plain_url: str
) -> None:
    await _sample(store, "qs:test:warm")
    admin = redis.Redis.from_url(plain_url)
    admin.script_flush()
    if store.script(SAMPLE).library.usable:  # Redis 7: the calls are FCALLs of the library
        admin.function_flush()
    admin.close()
    coalescer = _coalescer(store)
    trips, calls = coalescer.round_trips, coalescer.calls
    replies = await asyncio.gather(*(_sample(store, "qs:test:reloaded") for _ in range(20)))
    assert sorted(replies) == list(range(1, 21))
    # One round trip met NOSCRIPT (or "Function not found") for all 20; one more loaded what
    # was missing and sent them again.
    assert (coalescer.round_trips - trips, coalescer.calls - calls) == (2, 40)


async def test_a_caller_that_stops_waiting_leaves_the_others_their_replies(
    store: Store, plain_url: str
) -> None:
    await _sample(store, "qs:test:warm")
    admin = redis.Redis.from_url(plain_url)
    try:
        admin.execute_command("CLIENT", "PAUSE", 300, "WRITE")  # Redis holds the batch a while
        impatient = store.run(SAMPLE, ["qs:test:impatient"], [1, 10, 60_000], timeout=0.05)
        patient = [_sample(store, "qs:test:patient") for _ in range(10)]
        replies = await asyncio.gather(impatient, *patient, return_exceptions=True)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    assert isinstance(replies[0], DeadlineExceeded) and replies[0].maybe_applied
    assert sorted(replies[1:]) == list(range(1, 11))  # type: ignore[type-var]
    assert await _sample(store, "qs:test:patient") == 11  # the connection is still in step


async def test_a_batch_every_caller_left_is_abandoned_and_its_connection_dropped(
    store: Store, plain_url: str
) -> None:
    await _sample(store, "qs:test:warm")
    admin = redis.Redis.from_url(plain_url)
    try:
        admin.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
        calls = [
            store.run(SAMPLE, ["qs:test:left"], [1, 10, 60_000], timeout=0.05) for _ in range(5)
        ]
        replies = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, DeadlineExceeded) and r.maybe_applied for r in replies)
        # The batch's connection was dropped, not left half-read in the pool.
        pool: Any = store.client.connection_pool
        await until(lambda: not pool._in_use_connections, "the batch still holds a connection")
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    reply = await _sample(store, "qs:test:left")
    assert reply == await store.client.llen("qs:test:left")  # type: ignore[misc]


async def test_calls_made_while_the_batches_are_out_go_together(
    store: Store, plain_url: str
) -> None:
    await _sample(store, "qs:test:warm")
    coalescer = _coalescer(store)
    trips = coalescer.round_trips
    admin = redis.Redis.from_url(plain_url)
    try:
        admin.execute_command("CLIENT", "PAUSE", 200, "WRITE")  # the first batches stay out
        calls = []
        for _ in range(12):  # one call per loop turn: batching by turn alone would send 12
            calls.append(asyncio.ensure_future(_sample(store, "qs:test:later")))
            await asyncio.sleep(0.005)
        replies = await asyncio.gather(*calls)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    assert sorted(replies) == list(range(1, 13))
    assert coalescer.round_trips - trips == BATCHES_IN_FLIGHT + 1


async def test_the_queue_bound_still_sheds_with_overloaded(redis_url: str) -> None:
    store = _opened(redis_url, max_queue=10)
    try:
        await _sample(store, "qs:test:warm")
        extra = 5
        total = MAX_SCRIPTS_IN_FLIGHT + 10 + extra
        replies = await asyncio.gather(
            *(_sample(store, "qs:test:shed") for _ in range(total)), return_exceptions=True
        )
        shed = [r for r in replies if isinstance(r, Overloaded)]
        assert len(shed) == extra  # turns, then the queue, then refused with nothing sent
        assert sorted(r for r in replies if isinstance(r, int)) == list(range(1, total - extra + 1))
    finally:
        await store.close()


RATES = QuotaConfig(
    scope=QuotaScope.USER,
    identifier="rates",
    rate_limits=RateLimitConfig(requests_per_minute=100_000),
)


async def _engine(url: str) -> QuotaService:
    engine = QuotaService(url, clock=ManualClock(), settings=EngineSettings(store_timeout=0.25))
    await engine.put_quota(RATES)
    assert (await engine.check_quota(scope="user", identifier="rates")).allowed
    return engine


def _kill_clients(url: str) -> None:
    """CLIENT KILL every connection of the store's pool (not the probe's, whose PINGs decide
    reachability: this test is about replies lost on a reachable Redis)."""
    admin = redis.Redis.from_url(url)
    try:
        me = admin.client_id()
        for client in admin.client_list(_type="normal"):
            if int(client["id"]) != me and client["cmd"] != "ping":
                admin.client_kill_filter(_id=client["id"])
    finally:
        admin.close()


async def _settled(engine: QuotaService) -> None:
    await until(lambda: engine.store.reachable, "the store did not come back")
    await until(lambda: engine.rate_limits.undos_pending == 0, "undos were not sent")


async def test_a_batch_killed_before_it_ran_is_undone_whole(redis_url: str) -> None:
    engine = await _engine(redis_url)
    admin = redis.Redis.from_url(redis_url)
    coalescer = _coalescer(engine.store)
    try:
        trips = coalescer.round_trips
        admin.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")  # the batch waits in Redis
        checks = asyncio.gather(
            *(engine.check_quota(scope="user", identifier="rates") for _ in range(20)),
            return_exceptions=True,
        )
        await until(lambda: coalescer.round_trips > trips, "the batch was not sent")
        await asyncio.sleep(0.05)  # its bytes reach Redis and wait there, unrun
        _kill_clients(redis_url)
        admin.execute_command("CLIENT", "UNPAUSE")
        results = await checks
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    # Every reply was lost: each caller is told so (Redis itself stays reachable, so no
    # failure mode decides), and each check is undone.
    assert all(isinstance(r, StoreUnavailable) and r.maybe_applied for r in results)
    await _settled(engine)
    usage = await engine.get_quota_usage("user", "rates")
    assert usage.requests_last_minute == 1  # the warm-up check only: nothing twice, none lost
    await engine.close()


async def test_connections_killed_under_load_leave_every_outcome_known(redis_url: str) -> None:
    engine = await _engine(redis_url)
    results: list[Any] = []
    running = True

    def lost() -> int:
        return sum(1 for r in results if isinstance(r, StoreUnavailable))

    async def load() -> None:
        while running:
            try:
                results.append(await engine.check_quota(scope="user", identifier="rates"))
            except StoreUnavailable as exc:  # the reply was lost: the check is undone
                assert exc.maybe_applied
                results.append(exc)
            await asyncio.sleep(0)

    workers = [asyncio.create_task(load()) for _ in range(64)]
    killed = 0
    try:
        # A kill between batches loses nothing: kill until some have landed mid-batch.
        while killed < 8 or (lost() < 20 and killed < 200):
            seen = len(results)
            await until(lambda s=seen: len(results) > s + 100, "no load")  # type: ignore[misc]
            await asyncio.to_thread(_kill_clients, redis_url)  # wherever the batches are
            killed += 1
        running = False
        await asyncio.gather(*workers)
        await _settled(engine)
        assert not any(getattr(r, "decided_without_store", False) for r in results)
        by_store = sum(1 for r in results if not isinstance(r, StoreUnavailable) and r.allowed)
        assert lost() > 0
        print(f"{len(results)} checks, {lost()} replies lost in {killed} kills")
        usage = await engine.get_quota_usage("user", "rates")
        # Replies read before a kill count; checks whose replies were lost were undone.
        assert usage.requests_last_minute == by_store + 1  # + the warm-up check
    finally:
        running = False
        await asyncio.gather(*workers, return_exceptions=True)
        await engine.close()


async def test_a_first_batch_finds_its_way_on_any_redis(plain_url: str) -> None:
    """No warm-up: the first batch learns whether this Redis runs our functions (the embedded
    6.2 does not: every call falls back to EVALSHA, loaded on NOSCRIPT), each call once."""
    admin = redis.Redis.from_url(plain_url)
    admin.script_flush()
    admin.close()
    store = _opened(plain_url)
    try:
        replies = await asyncio.gather(*(_sample(store, "qs:test:first") for _ in range(20)))
        assert sorted(replies) == list(range(1, 21))
    finally:
        await store.close()


async def test_on_a_cluster_each_call_goes_alone(cluster_url: str) -> None:
    store = Store.from_url(cluster_url)
    try:
        assert store.coalescer is None  # engine/cluster.py sends one script per slot group
    finally:
        await store.close()
