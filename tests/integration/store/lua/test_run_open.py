"""run_open.lua's contract, called directly: a run opens once, with a TTL to its end; opening
it again answers what is stored, and naming another parent is refused with nothing written."""

from __future__ import annotations

import redis

from tests.support.lua import NOW, LuaSubject, eval_script, snapshot

CFG = LuaSubject("r1", scope="run").cfg
ENDS = NOW + 3_600_000


def run_open(r: redis.Redis, parent: str) -> object:
    return eval_script(r, "run_open.lua", [CFG], ['{"limits": {}}', parent, ENDS, NOW])


def test_a_run_opens_once_with_its_end_as_text_and_a_ttl_to_it(r: redis.Redis) -> None:
    assert run_open(r, "p1") == ["opened", "p1", str(ENDS)]
    assert r.hgetall(CFG) == {
        **{"v": "1", "j": '{"limits": {}}', "u": str(NOW), "p": "p1", "x": str(ENDS)},
    }
    assert 3_500_000 < r.pttl(CFG) <= 3_600_000  # relative to the caller's clock
    before = snapshot(r)
    assert run_open(r, "p1") == ["open", "p1", str(ENDS)]
    assert run_open(r, "") == ["open", "p1", str(ENDS)]  # no parent named: no conflict
    assert snapshot(r) == before


def test_another_parent_is_refused_with_nothing_written(r: redis.Redis) -> None:
    assert run_open(r, "p1")[0] == "opened"  # type: ignore[index]
    before = snapshot(r)
    assert run_open(r, "p2") == ["parent", "p1", str(ENDS)]
    assert snapshot(r) == before
