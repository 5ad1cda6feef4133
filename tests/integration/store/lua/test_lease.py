"""lease.lua's contract, called directly: a slice counts in the request windows and the day's
request count at once and is recorded for its holder; a room smaller than the check's need is
a denial that writes nothing; a subject with a limit a slice can't serve answers 'no'; and the
unused rest of a slice goes back to the bucket it was counted in."""

from __future__ import annotations

import redis

from tests.support.lua import NOW, LuaSubject, eval_script, snapshot

SHARED_STREAM = "qs:alerts"


def _lease(
    r: redis.Redis, s: LuaSubject, *, wanted: int, need: int = 1, back: tuple[int, int] = (0, 0)
) -> list[object]:
    keys = [*s.script_keys(), f"{s.base}:ls", SHARED_STREAM]
    give_back = [back[0], back[1], s.arg().split()[3]]  # amount, its take time, its day id
    args = [NOW, "replica-1", 1, s.arg(), *give_back, wanted, need, 2]
    reply = eval_script(r, "lease.lua", keys, args)
    assert isinstance(reply, list)
    return reply


def _requests(r: redis.Redis, s: LuaSubject) -> str | None:
    return r.hget(s.key("day"), "r")  # type: ignore[return-value]


def test_a_slice_counts_at_once_and_is_recorded_for_its_holder(r: redis.Redis) -> None:
    tool = LuaSubject("t", scope="tool", limits={"requests_per_minute": 100})
    tool.register(r)
    ((verdict, slice_, until, statuses),) = _lease(r, tool, wanted=10)
    assert verdict == "ok" and slice_ == 10  # room 100 / (k=2 x 1 holder) = 50 >= 10
    assert isinstance(until, int) and NOW < until <= NOW + 6_000  # the current bucket's end
    assert _requests(r, tool) == "10"  # counted as ten admitted checks
    assert r.hget(f"{tool.base}:ls", "replica-1") == f"10|{until}"
    assert isinstance(statuses, list) and statuses[:4] == ["requests_per_minute", 100, 0, 10]
    for key in (tool.key("rw"), tool.key("day"), f"{tool.base}:ls"):
        assert r.pttl(key) > 0


def test_the_unused_rest_goes_back_to_the_bucket_it_was_counted_in(r: redis.Redis) -> None:
    tool = LuaSubject("t", scope="tool", limits={"requests_per_minute": 100})
    tool.register(r)
    _lease(r, tool, wanted=10)
    assert _lease(r, tool, wanted=0, back=(4, NOW)) == [["back"]]
    assert _requests(r, tool) == "6"  # 10 counted, 4 unused came back


def test_too_little_room_is_a_denial_that_writes_nothing(r: redis.Redis) -> None:
    tool = LuaSubject("t", scope="tool", limits={"requests_per_minute": 5})
    tool.register(r)
    ((verdict, slice_, *_),) = _lease(r, tool, wanted=5, need=5)
    assert (verdict, slice_) == ("ok", 5)
    before = snapshot(r)
    ((verdict, limit, retry_at, until, _statuses),) = _lease(r, tool, wanted=5, need=1)
    assert (verdict, limit) == ("deny", "requests_per_minute")
    assert isinstance(retry_at, int) and retry_at > NOW and isinstance(until, int)
    # A denial may refresh this holder's "seen" entry, and nothing else.
    after = snapshot(r)
    assert {k: v for k, v in after.items() if not k.endswith(b":ls")} == {
        k: v for k, v in before.items() if not k.endswith(b":ls")
    }


def test_a_subject_with_a_budget_is_not_leasable_and_nothing_is_counted(r: redis.Redis) -> None:
    user = LuaSubject("u", limits={"requests_per_minute": 100, "cost_daily": 1000})
    user.register(r)
    assert _lease(r, user, wanted=10) == [["no"]]
    assert _requests(r, user) is None
