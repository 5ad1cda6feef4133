"""check.lua's contract, called directly: KEYS and ARGV as its header lays them out, the raw
reply, and what it writes (a TTL on every key; nothing at all on a denial, a stale config, an
undone check or a malformed argument)."""

from __future__ import annotations

import pytest
import redis

from tests.support.lua import (
    DAY,
    DAY_END,
    NOW,
    LuaSubject,
    changed_keys,
    eval_script,
    snapshot,
    without_ttl,
)

LEASE = 30_000


def check(
    r: redis.Redis,
    *subjects: LuaSubject,
    est: int = 0,
    tokens: int = 0,
    hold: str = "",
    check_id: str = "",
    requests: int = 1,
) -> list[object]:
    keys = [key for s in subjects for key in s.script_keys()]
    if check_id:
        keys.append(f"{subjects[0].base}:ck:{check_id}")
    args: list[str | int | bytes] = [
        *(NOW, est, tokens, "1" if hold else "0", hold, LEASE, check_id, requests),
        *(len(subjects), "0", *(s.arg() for s in subjects)),
    ]
    reply = eval_script(r, "check.lua", keys, args)
    assert isinstance(reply, list)
    return reply


def test_an_admitted_reserving_check_consumes_holds_and_marks_with_a_ttl_on_every_key(
    r: redis.Redis,
) -> None:
    alice = LuaSubject(limits={"requests_per_minute": 10, "cost_daily": 1000})
    alice.register(r)
    before = snapshot(r)
    reply = check(r, alice, est=100, hold="h1", check_id="c1")
    verdict, code, index, limit, retry, reset, shadow, held, statuses, warnings, alerts = reply
    assert (verdict, code, index, limit, retry, reset, shadow, held) == (
        *("ok", "", 0, "", 0, 0, 0, "h1"),
    )
    # statuses: flat {index, limit, limit value, used, held, reset_at}, integers as integers.
    assert isinstance(statuses, list)
    assert statuses[:5] == [1, "requests_per_minute", 10, 1, 0]
    assert isinstance(statuses[5], int) and statuses[5] > NOW
    assert statuses[6:] == [1, "cost_daily", 1000, 0, 100, DAY_END]
    assert (warnings, alerts) == ([], [])
    written = changed_keys(before, snapshot(r))
    assert written == {
        alice.key("rw"), alice.key("day"), alice.key("holds"), alice.key("hexp"),
        f"{alice.base}:ck:c1",
    }  # fmt: skip
    assert without_ttl(r, written) == set()
    assert r.get(f"{alice.base}:ck:c1") == "1"
    assert r.hget(alice.key("day"), "r") == "1"
    assert r.hgetall(alice.key("holds")) == {"h1": f"100|0|{NOW + LEASE}|{NOW}|", "_sum": "100"}
    assert r.zscore(alice.key("hexp"), "h1") == NOW + LEASE


def test_a_budget_denial_writes_nothing_and_says_when_it_renews(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"cost_daily": 50})
    alice.register(r)
    before = snapshot(r)
    reply = check(r, alice, est=100, hold="h1", check_id="c1")
    assert reply == [
        *("deny", "BUDGET_EXHAUSTED", 1, "cost_daily", DAY_END - NOW, DAY_END, 0, ""),
        [1, "cost_daily", 50, 0, 0, DAY_END],
        [],
        [],
    ]
    assert snapshot(r) == before  # the check's mark too is gone


def test_a_rate_denial_after_the_limit_writes_nothing(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"requests_per_minute": 1})
    alice.register(r)
    assert check(r, alice)[0] == "ok"
    before = snapshot(r)
    reply = check(r, alice, check_id="c2")
    assert reply[:4] == ["deny", "RATE_LIMITED", 1, "requests_per_minute"]
    assert isinstance(reply[4], int) and 0 < reply[4] <= 66_000  # the window and a bucket
    assert snapshot(r) == before


def test_one_denied_subject_consumes_nothing_for_any(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"requests_per_minute": 5})
    bob = LuaSubject("bob", limits={"cost_daily": 1})
    alice.register(r)
    bob.register(r)
    before = snapshot(r)
    reply = check(r, alice, bob, est=2)
    assert reply[:4] == ["deny", "BUDGET_EXHAUSTED", 2, "cost_daily"]
    assert snapshot(r) == before


def test_a_per_request_denial_writes_only_its_alert_once(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"cost_per_request": 10})
    alice.register(r)
    before = snapshot(r)
    reply = check(r, alice, est=11)
    assert reply[:4] == ["deny", "PER_REQUEST_LIMIT_EXCEEDED", 1, "cost_per_request"]
    assert reply[4] == -1  # waiting never helps
    (alert,) = reply[10]  # type: ignore[misc]
    fields = dict(zip(alert[1::2], alert[2::2], strict=True))
    assert (fields["k"], fields["l"], fields["u"], fields["lv"]) == (
        *("PER_REQUEST_LIMIT_EXCEEDED", "cost_per_request", "11", "10"),
    )  # amounts as exact decimal strings
    written = changed_keys(before, snapshot(r))
    assert written == {alice.key("day"), alice.key("alerts")}
    assert without_ttl(r, written) == set()
    assert r.hgetall(alice.key("day")) == {"a:cost_per_request:100": str(NOW)}
    again = snapshot(r)
    assert check(r, alice, est=11)[10] == []  # claimed once per quota day
    assert snapshot(r) == again


def test_a_stale_config_is_reported_and_nothing_written(r: redis.Redis) -> None:
    alice = LuaSubject(version="2", limits={"requests_per_minute": 5})
    LuaSubject(version="3").register(r)
    before = snapshot(r)
    assert check(r, alice, check_id="c1") == ["stale", [1]]
    assert snapshot(r) == before


def test_an_undone_check_consumes_nothing(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"requests_per_minute": 5})
    alice.register(r)
    r.set(f"{alice.base}:ck:c1", 0, px=60_000)  # refund.lua came first
    before = snapshot(r)
    assert check(r, alice, check_id="c1") == ["undone"]
    assert snapshot(r) == before


def test_a_malformed_subject_argument_is_an_error_that_writes_nothing(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"requests_per_minute": 5})
    alice.register(r)
    before = snapshot(r)
    keys = alice.script_keys()
    args: list[str | int | bytes] = [NOW, 0, 0, "0", "", LEASE, "", 1, 1, "0", "1 user alice"]
    with pytest.raises(redis.ResponseError, match="26 fields"):
        eval_script(r, "check.lua", keys, args)
    assert snapshot(r) == before


def test_amounts_beyond_1e14_stay_exact_in_the_hold(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"cost_daily": 10**15})
    alice.register(r)
    reply = check(r, alice, est=10**14 + 1, tokens=7, hold="big")
    assert reply[0] == "ok"
    assert r.hget(alice.key("holds"), "big") == f"{10**14 + 1}|7|{NOW + LEASE}|{NOW}|"
    assert r.hget(alice.key("holds"), "_sum") == str(10**14 + 1)
    assert DAY in alice.key("day")


def test_a_malformed_argument_leaves_no_mark_that_an_undo_would_take_for_admitted(
    r: redis.Redis,
) -> None:
    """The mark said "admitted" (1) for a check that consumed nothing, so an undo of it would
    have refunded others' usage: the arguments are parsed before the mark is set."""
    keys = [*LuaSubject().script_keys(), f"{LuaSubject().base}:ck:c1"]
    args: list[str | int | bytes] = [NOW, 0, 0, "0", "", LEASE, "c1", 1, 1, "0", "1 user alice"]
    with pytest.raises(redis.ResponseError, match="26 fields"):
        eval_script(r, "check.lua", keys, args)
    assert r.keys("*") == []
