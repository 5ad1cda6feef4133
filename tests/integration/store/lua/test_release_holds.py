"""release_holds.lua's contract, called directly: the named open holds of one subject leave
the held sum, the expiry index and (when charged there) the lifetime tokens; holds that are not
open are skipped, and a call naming none writes nothing."""

from __future__ import annotations

import redis

from tests.support.lua import NOW, LuaSubject, eval_script, snapshot

RUN = LuaSubject("r1", scope="run")


def keys() -> list[str]:
    return [RUN.key("holds"), RUN.key("hexp"), RUN.key("life")]


def test_open_holds_are_released_and_counted(r: redis.Redis) -> None:
    expiry = NOW + 30_000
    r.hset(
        RUN.key("holds"),
        mapping={"h1": f"100|10|{expiry}|{NOW}|tm,tl", "h2": f"50|0|{expiry}|{NOW}|", "_sum": 150},
    )
    r.zadd(RUN.key("hexp"), {"h1": expiry, "h2": expiry})
    r.hset(RUN.key("life"), "t", 25)
    for key in keys():
        r.pexpire(key, 90_000)
    assert eval_script(r, "release_holds.lua", keys(), ["h1", "h2", "settled-before"]) == 2
    assert r.hgetall(RUN.key("holds")) == {"_sum": "0"}
    assert r.exists(RUN.key("hexp")) == 0
    assert r.hget(RUN.key("life"), "t") == "15"  # h1's estimate, charged there ('tl')
    assert r.pttl(RUN.key("holds")) > 0 and r.pttl(RUN.key("life")) > 0


def test_holds_that_are_not_open_write_nothing(r: redis.Redis) -> None:
    r.hset(RUN.key("holds"), "_sum", 0)
    r.pexpire(RUN.key("holds"), 90_000)
    before = snapshot(r)
    assert eval_script(r, "release_holds.lua", keys(), ["gone", "never"]) == 0
    assert snapshot(r) == before
