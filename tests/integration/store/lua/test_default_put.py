"""default_put.lua's contract, called directly: a scope default is written unless a newer
version is there (then nothing is written); a removal keeps its version as a tombstone. The
defaults hash has no TTL, like a quota (store/keys.py)."""

from __future__ import annotations

import redis

from tests.support.lua import eval_script, snapshot

DEFAULTS = "qs:dflt"


def put(r: redis.Redis, version: int, document: str) -> object:
    return eval_script(r, "default_put.lua", [DEFAULTS], ["user:*", version, document])


def test_a_newer_version_is_written_and_an_older_one_is_refused(r: redis.Redis) -> None:
    assert put(r, 3, '{"v": 3}') == 1
    assert r.hgetall(DEFAULTS) == {"user:*": "3", "user:*:j": '{"v": 3}'}
    assert r.pttl(DEFAULTS) == -1  # kept like a quota
    before = snapshot(r)
    assert put(r, 2, '{"v": 2}') == 0
    assert put(r, 3, '{"v": "3 again"}') == 0  # the same version is not newer
    assert snapshot(r) == before


def test_a_removal_keeps_its_version_as_a_tombstone(r: redis.Redis) -> None:
    assert put(r, 3, '{"v": 3}') == 1
    assert put(r, 4, "") == 1
    assert r.hgetall(DEFAULTS) == {"user:*": "4"}
    assert put(r, 4, '{"v": 4}') == 0  # a write planned before the removal stays removed
