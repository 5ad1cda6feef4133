"""usage.lua's contract, called directly: GetUsage's reply shape (period hashes as flat string
pairs, amounts held and ring sums as integers) and that reading writes nothing."""

from __future__ import annotations

import redis

from tests.support.lua import NOW, LuaSubject, eval_script, snapshot

RINGS = ("requests_per_minute", "requests_per_hour", "requests_per_day")
TOKEN_RINGS = ("tokens_per_minute", "tokens_per_day")


def usage(r: redis.Redis, subject: LuaSubject) -> list[object]:
    # The subject's 11 keys, then its lease registry (open slices: engine/leases/).
    keys = [*subject.script_keys(), f"{subject.base}:ls"]
    reply = eval_script(r, "usage.lua", keys, [NOW, subject.arg()])
    assert isinstance(reply, list)
    return reply


def test_usage_reads_every_part_and_writes_nothing(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"requests_per_minute": 10, "cost_daily": 1000})
    alice.register(r)
    r.hset(alice.key("day"), mapping={"c": 250, "r": 3})
    r.hset(alice.key("month"), mapping={"c": 900})
    r.hset(alice.key("week"), mapping={"c": 400})
    r.hset(alice.key("holds"), mapping={"h1": f"100|0|{NOW + 30_000}|{NOW}|", "_sum": 100})
    r.zadd(alice.key("hexp"), {"h1": NOW + 30_000})
    before = snapshot(r)
    reply = usage(r, alice)
    assert snapshot(r) == before
    verdict, day, month, held, rings, limits, slots, week, life, leased = reply
    assert verdict == "ok"
    assert day == ["c", "250", "r", "3"]  # flat HGETALL: strings, exact
    assert (month, week, life) == (["c", "900"], ["c", "400"], [])
    assert held == 100
    assert isinstance(rings, list) and rings[0::3] == [*RINGS, *TOKEN_RINGS]
    assert rings[1::3] == [0] * 5 and rings[2::3] == [0] * 5  # sums, reset instants: integers
    assert limits == ["requests_per_minute", 10, "cost_daily", 1000]
    assert slots == [1, NOW + 30_000]
    assert leased == 0  # no lease slices open


def test_usage_returns_expired_holds_to_the_budget(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"cost_daily": 1000})
    alice.register(r)
    r.hset(alice.key("holds"), mapping={"old": f"70|0|{NOW - 1}|{NOW - 30_000}|", "_sum": 70})
    r.zadd(alice.key("hexp"), {"old": NOW - 1})
    r.pexpire(alice.key("holds"), 90_000)
    reply = usage(r, alice)
    assert (reply[3], reply[6]) == (0, [0, 0])
    assert r.hgetall(alice.key("holds")) == {"_sum": "0"}
    assert r.pttl(alice.key("holds")) > 0  # the TTL it had is kept


def test_a_stale_config_reads_nothing_and_writes_nothing(r: redis.Redis) -> None:
    LuaSubject(version="5").register(r)
    before = snapshot(r)
    assert usage(r, LuaSubject(version="4")) == ["stale"]
    assert snapshot(r) == before
