"""record.lua's contract, called directly: totals as exact decimal strings, a TTL on every key it
writes, the hold settled, and nothing written for a stale config, a closed run, a conflicting
idempotency key or a duplicate."""

from __future__ import annotations

import redis

from tests.support.lua import NOW, LuaSubject, changed_keys, eval_script, snapshot, without_ttl

# A dedupe entry: the payload's fingerprint (32 hex), then the key's digest (14 bytes) and the
# payload's (6 bytes); see engine/dedupe.py. ASCII bytes serve as well as any.
ENTRY = "0" * 32 + "K" * 14 + "P" * 6
OTHER_PAYLOAD = "1" * 32 + "K" * 14 + "Q" * 6


def record(
    r: redis.Redis,
    *subjects: LuaSubject,
    cost: int = 0,
    tokens: tuple[int, int] = (0, 0),
    entry: str = "",
    hold: str = "",
    release: bool = False,
) -> list[object]:
    home = subjects[0].base
    keys = [key for s in subjects for key in s.script_keys()]
    keys += [f"{home}:idem:k", f"{home}:dd"]
    args: list[str | int | bytes] = [
        *(NOW, cost, *tokens, entry, 86_400_000 if entry else 0, hold, "1" if release else "0"),
        *("openai", "search", "openai/gpt-4o", len(subjects), "0", 0),
        *(s.arg() for s in subjects),
    ]
    reply = eval_script(r, "record.lua", keys, args)
    assert isinstance(reply, list)
    return reply


def test_a_record_adds_exact_totals_as_strings_with_a_ttl_on_every_key(r: redis.Redis) -> None:
    alice = LuaSubject()
    alice.register(r)
    before = snapshot(r)
    cost = 10**14 + 1  # past Lua's %.14g: must come back exact
    reply = record(r, alice, cost=cost, tokens=(3, 4))
    assert reply == ["ok", 0, [1, str(cost), str(cost), "0", "7"], []]
    written = changed_keys(before, snapshot(r))
    assert written == {alice.key("day"), alice.key("month"), alice.key("week")}
    assert without_ttl(r, written) == set()
    assert r.hgetall(alice.key("day")) == {
        **{"c": str(cost), "ti": "3", "to": "4"},
        **{"p:openai": str(cost), "pn:openai": "1", "t:search": str(cost), "tn:search": "1"},
        **{"m:openai/gpt-4o": str(cost), "mn:openai/gpt-4o": "1"},
    }


def test_a_record_settles_its_hold(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"cost_daily": 1000})
    alice.register(r)
    r.hset(alice.key("holds"), mapping={"h1": f"100|0|{NOW + 30_000}|{NOW}|", "_sum": 100})
    r.zadd(alice.key("hexp"), {"h1": NOW + 30_000})
    reply = record(r, alice, cost=80, hold="h1")
    assert reply == ["ok", 1, [1, "80", "80", "0", "0"], []]
    assert r.hgetall(alice.key("holds")) == {"_sum": "0"}
    assert r.exists(alice.key("hexp")) == 0


def test_a_release_settles_the_hold_and_charges_nothing(r: redis.Redis) -> None:
    alice = LuaSubject()
    alice.register(r)
    r.hset(alice.key("holds"), mapping={"h1": f"100|0|{NOW + 30_000}|{NOW}|", "_sum": 100})
    r.zadd(alice.key("hexp"), {"h1": NOW + 30_000})
    assert record(r, alice, cost=80, hold="h1", release=True) == [
        *("released", 1, [1, "0", "0", "0", "0"], []),
    ]
    assert r.exists(alice.key("day"), alice.key("month"), alice.key("week")) == 0


def test_a_threshold_alert_comes_back_as_strings_once(r: redis.Redis) -> None:
    alice = LuaSubject(limits={"cost_daily": 100}, thresholds="80")
    alice.register(r)
    reply = record(r, alice, cost=85)
    (alert,) = reply[3]  # type: ignore[misc]
    assert isinstance(alert[0], str) and "-" in alert[0]  # the stream entry's id
    fields = dict(zip(alert[1::2], alert[2::2], strict=True))
    assert {k: fields[k] for k in ("k", "l", "p", "u", "lv", "pe")} == {
        **{"k": "THRESHOLD_WARNING", "l": "cost_daily", "p": "80", "u": "85", "lv": "100"},
        "pe": "day:2026-11-18",
    }
    assert "$0.000000085" in fields["m"]
    assert r.pttl(alice.key("alerts")) > 0
    assert record(r, alice, cost=1)[3] == []  # claimed once per period


def test_a_stale_config_writes_nothing(r: redis.Redis) -> None:
    LuaSubject(version="2").register(r)
    before = snapshot(r)
    assert record(r, LuaSubject(version="1"), cost=5, entry=ENTRY) == ["stale", [1]]
    assert snapshot(r) == before


def test_a_run_that_is_not_open_refuses_the_record_and_nothing_is_written(
    r: redis.Redis,
) -> None:
    run = LuaSubject("r1", scope="run", ends=NOW + 3_600_000)
    run.register(r)  # a version, but no end ('x'): never opened, or expired
    before = snapshot(r)
    assert record(r, run, cost=5) == ["closed", 1]
    assert snapshot(r) == before


def test_an_idempotency_key_counts_once_and_a_conflict_writes_nothing(r: redis.Redis) -> None:
    alice = LuaSubject()
    alice.register(r)
    first = snapshot(r)
    assert record(r, alice, cost=5, entry=ENTRY) == ["ok", 0, [1, "5", "5", "0", "0"], []]
    dedupe = {k for k in changed_keys(first, snapshot(r)) if ":dd" in k}
    assert dedupe and without_ttl(r, dedupe) == set()
    before = snapshot(r)
    assert record(r, alice, cost=5, entry=ENTRY) == ["duplicate", 0, [1, "5", "5", "0", "0"], []]
    assert record(r, alice, cost=5, entry=OTHER_PAYLOAD) == ["conflict"]
    assert snapshot(r) == before  # the duplicate rewrote its entry as it was
