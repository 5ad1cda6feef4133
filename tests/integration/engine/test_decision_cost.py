"""What one decision costs Redis (issue 23): the seed's check runs 11 commands in all, about
what a fixed-window limiter pipelines for its 5 limits (INCRBY + EXPIRE each: 10)."""

from __future__ import annotations

import redis

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.engine.service import QuotaService
from tests.support.redis_servers import RedisProcess

BIG = 10**9
USER = QuotaConfig(
    scope=QuotaScope.USER,
    identifier="alice",
    rate_limits=RateLimitConfig(
        requests_per_minute=BIG, requests_per_hour=BIG, requests_per_day=BIG
    ),
    cost_quota=CostQuota(daily_limit=100_000, monthly_limit=1_000_000),
)
TOOL = QuotaConfig(
    scope=QuotaScope.TOOL,
    identifier="search",
    rate_limits=RateLimitConfig(requests_per_minute=BIG, requests_per_hour=BIG),
    cost_quota=CostQuota(per_request_limit=1),
)
SUBJECTS = [Subject(QuotaScope.USER, "alice"), Subject(QuotaScope.TOOL, "search")]


def _commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(v["calls"])
        for name, v in stats.items()
        # Not the check's: this test's own INFO and CONFIG, the store probe's PING.
        if not name.startswith(("cmdstat_info", "cmdstat_config", "cmdstat_ping"))
    }


async def test_the_seed_check_costs_eleven_redis_commands(disposable_redis: RedisProcess) -> None:
    # A fixed clock: no window moves to a new bucket between the checks (that adds a PEXPIRE).
    engine = QuotaService(disposable_redis.url, clock=ManualClock())
    for config in (USER, TOOL):
        await engine.put_quota(config)
    for _ in range(2):  # loads the script and the configs; the first writes the rings
        assert (await engine.check_quota(subjects=SUBJECTS, estimated_cost=0.01)).allowed
    client = redis.Redis(port=disposable_redis.port, decode_responses=True)
    client.config_resetstat()
    assert (await engine.check_quota(subjects=SUBJECTS, estimated_cost=0.01)).allowed
    # The script (FCALL of its function: redis-server 7 has Functions, store/functions.py),
    # and in it: the check's mark (SET NX PX); per subject one HMGET of
    # its rings with its config version beside them, one HSET of the rings and the day's
    # request count (HINCRBY); for the user's budgets, what is held and the day's and the
    # month's spend (HGET x 3). No overrides read (none granted), no TTL renewed.
    assert _commands(client) == {"fcall": 1, "set": 1, "hmget": 2, "hget": 3, "hset": 2,
                                 "hincrby": 2}  # fmt: skip
    client.close()
    await engine.close()
