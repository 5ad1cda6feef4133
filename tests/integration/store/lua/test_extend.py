"""extend.lua's contract, called directly: a hold grows (and its lease renews) on every subject
or on none; a denial, a hold that is gone or a stale config writes nothing."""

from __future__ import annotations

import redis

from tests.support.lua import (
    DAY_END,
    NOW,
    LuaSubject,
    changed_keys,
    eval_script,
    snapshot,
    without_ttl,
)

LEASE = 30_000
PLACED = NOW - 10_000


def hold(r: redis.Redis, subject: LuaSubject, cost: int = 100) -> None:
    """A hold as check.lua leaves it: 5 tokens charged to the minute's token ring."""
    expiry = PLACED + LEASE
    r.hset(subject.key("holds"), mapping={"h1": f"{cost}|5|{expiry}|{PLACED}|tm", "_sum": cost})
    r.zadd(subject.key("hexp"), {"h1": expiry})
    for key in (subject.key("holds"), subject.key("hexp")):
        r.pexpire(key, LEASE + 60_000)


def extend(r: redis.Redis, *subjects: LuaSubject, total: int, hold_id: str = "h1") -> list[object]:
    keys = [key for s in subjects for key in s.script_keys()]
    args: list[str | int | bytes] = [NOW, total, hold_id, LEASE, len(subjects), "grow"]
    reply = eval_script(r, "extend.lua", keys, [*args, *(s.arg() for s in subjects)])
    assert isinstance(reply, list)
    return reply


def test_a_hold_grows_and_its_lease_renews_on_every_subject(r: redis.Redis) -> None:
    alice, bob = LuaSubject(limits={"cost_daily": 1000}), LuaSubject("bob")
    for s in (alice, bob):
        s.register(r)
        hold(r, s)
    before = snapshot(r)
    assert extend(r, alice, bob, total=150) == ["ok", 100, 150]
    written = changed_keys(before, snapshot(r))
    assert written == {s.key(k) for s in (alice, bob) for k in ("holds", "hexp")}
    assert without_ttl(r, written) == set()
    for s in (alice, bob):
        assert r.hgetall(s.key("holds")) == {
            "h1": f"150|5|{NOW + LEASE}|{PLACED}|tm",  # tokens and ring list kept
            "_sum": "150",
        }
        assert r.zscore(s.key("hexp"), "h1") == NOW + LEASE


def test_a_budget_denial_writes_nothing_anywhere(r: redis.Redis) -> None:
    alice, bob = LuaSubject(), LuaSubject("bob", limits={"cost_daily": 120})
    for s in (alice, bob):
        s.register(r)
        hold(r, s)
    before = snapshot(r)
    # {'deny', code, index, limit, retry_after, used, held, limit value, the hold's total}
    assert extend(r, alice, bob, total=150) == [
        *("deny", "BUDGET_EXHAUSTED", 2, "cost_daily", DAY_END - NOW, 0, 100, 120, 100),
    ]
    assert snapshot(r) == before


def test_a_hold_that_is_gone_writes_nothing(r: redis.Redis) -> None:
    alice = LuaSubject()
    alice.register(r)
    hold(r, alice)
    before = snapshot(r)
    assert extend(r, alice, total=150, hold_id="h2") == ["gone", 1]
    assert snapshot(r) == before


def test_a_stale_config_writes_nothing(r: redis.Redis) -> None:
    LuaSubject(version="2").register(r)
    before = snapshot(r)
    assert extend(r, LuaSubject(), total=150) == ["stale", [1]]
    assert snapshot(r) == before
