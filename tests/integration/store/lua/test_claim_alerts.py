"""claim_alerts.lua's contract, called directly: the entries after a name's cursor, the cursor
moved past them in the same step with its TTL, and a second claim that finds nothing new
writes nothing."""

from __future__ import annotations

import redis

from tests.support.lua import eval_script, snapshot

STREAM, CURSOR = "qs:{user:a}:alerts", "qs:{user:a}:alerts:seen:svc"


def test_new_entries_are_claimed_once_and_the_cursor_moves_past_them(r: redis.Redis) -> None:
    first = r.xadd(STREAM, {"kind": "THRESHOLD_WARNING", "value": "80"})
    second = r.xadd(STREAM, {"kind": "EXHAUSTED", "value": "100"})
    claimed = eval_script(r, "claim_alerts.lua", [STREAM, CURSOR], [10, 60_000])
    assert claimed == [
        [first, ["kind", "THRESHOLD_WARNING", "value", "80"]],
        [second, ["kind", "EXHAUSTED", "value", "100"]],
    ]
    assert r.get(CURSOR) == second
    assert 0 < r.pttl(CURSOR) <= 60_000
    before = snapshot(r)
    assert eval_script(r, "claim_alerts.lua", [STREAM, CURSOR], [10, 60_000]) == []
    assert snapshot(r) == before  # nothing new: the cursor is not even touched


def test_a_claim_takes_at_most_the_count_asked(r: redis.Redis) -> None:
    ids = [r.xadd(STREAM, {"n": str(i)}) for i in range(3)]
    assert [e[0] for e in eval_script(r, "claim_alerts.lua", [STREAM, CURSOR], [2, 60_000])] == ids[
        :2
    ]  # type: ignore[union-attr]
    assert [e[0] for e in eval_script(r, "claim_alerts.lua", [STREAM, CURSOR], [2, 60_000])] == ids[
        2:
    ]  # type: ignore[union-attr]
