"""sample.lua's contract, called directly: newest first, at most `cap` entries, the list's TTL
renewed; its reply is the length as an integer. A key of another type is an error that writes
nothing."""

from __future__ import annotations

import pytest
import redis

from tests.support.lua import LuaSubject, eval_script, snapshot

KEY = f"{LuaSubject().base}:cs:t:search"


def test_samples_are_capped_newest_first_with_a_ttl(r: redis.Redis) -> None:
    replies = [eval_script(r, "sample.lua", [KEY], [cost, 2, 60_000]) for cost in (10, 20, 30)]
    assert replies == [1, 2, 2]
    assert r.lrange(KEY, 0, -1) == ["30", "20"]
    assert 0 < r.pttl(KEY) <= 60_000


def test_a_key_of_another_type_is_an_error_that_writes_nothing(r: redis.Redis) -> None:
    r.hset(KEY, "x", "1")
    before = snapshot(r)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        eval_script(r, "sample.lua", [KEY], [10, 2, 60_000])
    assert snapshot(r) == before
