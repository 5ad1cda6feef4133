"""refund.lua's contract, called directly: it undoes exactly what an admitted check.lua
consumed, and for a check not marked admitted it writes only the mark that stops that check."""

from __future__ import annotations

import redis

from tests.support.lua import NOW, LuaSubject, changed_keys, eval_script, snapshot, without_ttl

LEASE = 30_000


def check(r: redis.Redis, subject: LuaSubject, check_id: str) -> list[object]:
    keys = [*subject.script_keys(), f"{subject.base}:ck:{check_id}"]
    args = [NOW, 100, 0, "1", "h1", LEASE, check_id, 1, 1, "0", subject.arg()]
    reply = eval_script(r, "check.lua", keys, args)
    assert isinstance(reply, list)
    return reply


def refund(r: redis.Redis, subject: LuaSubject, check_id: str, consumed: str) -> object:
    keys = [*subject.script_keys(), f"{subject.base}:ck:{check_id}"]
    return eval_script(r, "refund.lua", keys, [NOW, 0, "1", "h1", 1, 1, consumed, check_id])


def test_an_admitted_check_is_undone_exactly(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"requests_per_minute": 1, "cost_daily": 1000})
    alice.register(r)
    assert check(r, alice, "c1")[0] == "ok"
    assert check(r, alice, "c2")[1] == "RATE_LIMITED"
    assert refund(r, alice, "c1", "requests_per_minute") == 1  # subjects refunded
    assert r.hgetall(alice.key("holds")) == {"_sum": "0"}
    assert r.exists(alice.key("hexp")) == 0
    assert r.hget(alice.key("day"), "r") == "0"
    mark = f"{alice.base}:ck:c1"
    assert r.get(mark) == "0" and 0 < r.pttl(mark) <= 60_000
    assert check(r, alice, "c3")[0] == "ok"  # its request left the minute's window


def test_a_check_not_marked_admitted_is_refused_with_only_the_mark_written(
    r: redis.Redis,
) -> None:
    alice = LuaSubject(limits={"requests_per_minute": 5})
    alice.register(r)
    assert check(r, alice, "c1")[0] == "ok"
    before = snapshot(r)
    assert refund(r, alice, "lost", "requests_per_minute") == 0
    mark = f"{alice.base}:ck:lost"
    assert changed_keys(before, snapshot(r)) == {mark}
    assert without_ttl(r, {mark}) == set() and r.get(mark) == "0"
    # The lost check, arriving after its undo, consumes nothing.
    again = snapshot(r)
    assert check(r, alice, "lost") == ["undone"]
    assert snapshot(r) == again
