"""expire_override.lua's contract, called directly: a due override still holding the value
the sweep read is removed and its alert appended to both streams under one id, with the
subject stream's TTL; an override changed or already removed is refused with nothing written."""

from __future__ import annotations

import redis

from tests.support.lua import NOW, eval_script, snapshot

OVR, META = "qs:{user:a}:ovr", "qs:{user:a}:ovrmeta"
OWN, SHARED = "qs:{user:a}:alerts", "qs:alerts"
VALUE = "BLOCK|||1000"
FIELDS = ["kind", "OVERRIDE_EXPIRED", "override", "o1"]


def _expire(r: redis.Redis, value: str, *, shared: bool = True) -> object:
    keys = [OVR, META, OWN] + ([SHARED] if shared else [])
    args = ["o1", value, NOW, 86_400_000, 1000, 3_600_000, *FIELDS]
    return eval_script(r, "expire_override.lua", keys, args)


def test_a_due_override_is_removed_and_alerted_once_under_one_id(r: redis.Redis) -> None:
    r.hset(OVR, "o1", VALUE)
    r.hset(META, "o1", "{}")
    entry_id = _expire(r, VALUE)
    assert isinstance(entry_id, str)
    assert not r.hexists(OVR, "o1") and not r.hexists(META, "o1")
    assert r.xrange(OWN) == [(entry_id, dict(zip(FIELDS[::2], FIELDS[1::2], strict=True)))]
    assert [e[0] for e in r.xrange(SHARED)] == [entry_id]
    assert 0 < r.pttl(OWN) <= 3_600_000
    before = snapshot(r)
    assert _expire(r, VALUE) is None  # a second replica's sweep: already gone
    assert snapshot(r) == before


def test_an_override_changed_since_the_sweep_read_it_is_left_alone(r: redis.Redis) -> None:
    r.hset(OVR, "o1", "BLOCK|||2000")  # extended after the sweep read it
    before = snapshot(r)
    assert _expire(r, VALUE) is None
    assert snapshot(r) == before


def test_on_cluster_the_shared_stream_is_left_to_the_caller(r: redis.Redis) -> None:
    r.hset(OVR, "o1", VALUE)
    entry_id = _expire(r, VALUE, shared=False)
    assert isinstance(entry_id, str)
    assert r.xlen(OWN) == 1 and not r.exists(SHARED)
