"""Runs' lifetime request and token caps, ending a run early, its tree, and its expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from quota_sidecar import QuotaScope, Subject
from quota_sidecar.domain.clock import ManualClock
from quota_sidecar.domain.errors import InvalidInput, NotFound
from quota_sidecar.domain.models import DenialCode, LimitKind
from quota_sidecar.engine.runs import RunTemplate
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.keys import subject_keys

NANOS = 10**9
USER = Subject(QuotaScope.USER, "agent")


def _template(**caps: object) -> RunTemplate:
    return RunTemplate(max_cost=Decimal("5"), ttl=timedelta(hours=2), **caps)  # type: ignore[arg-type]


async def test_a_run_admits_exactly_its_lifetime_requests(engine: QuotaService) -> None:
    engine.set_run_template(_template(max_requests=200))
    outcomes = await asyncio.gather(
        *(engine.check_quota(subjects=[USER], run_id="r") for _ in range(260))
    )
    assert sum(o.allowed for o in outcomes) == 200
    denied = next(o for o in outcomes if not o.allowed)
    assert denied.code is DenialCode.BUDGET_EXHAUSTED
    assert denied.denied_limit is LimitKind.REQUESTS_LIFETIME
    assert denied.retry_after is None  # a lifetime cap never renews by waiting
    tree = await engine.run_usage("r")
    assert (tree.requests, tree.max_requests) == (200, 200)


async def test_a_run_caps_its_tokens_corrected_at_each_settle(engine: QuotaService) -> None:
    engine.set_run_template(_template(max_tokens=1000))
    first = await engine.check_quota(
        subjects=[USER], run_id="t", estimated_tokens=600, reserve=True
    )
    assert first.allowed
    status = next(s for s in first.limits if s.limit is LimitKind.TOKENS_LIFETIME)
    assert (status.used, status.limit_value, status.remaining) == (600, 1000, 400)
    assert not (await engine.check_quota(subjects=[USER], run_id="t", estimated_tokens=500)).allowed
    await engine.record_usage(
        subjects=[USER], run_id="t", cost=0, input_tokens=200, output_tokens=100,
        reservation_id=first.reservation_id,
    )  # fmt: skip
    assert (await engine.run_usage("t")).tokens == 300
    assert (await engine.check_quota(subjects=[USER], run_id="t", estimated_tokens=700)).allowed
    over = await engine.check_quota(subjects=[USER], run_id="t", estimated_tokens=1)
    assert over.denied_limit is LimitKind.TOKENS_LIFETIME


async def test_a_call_asks_for_caps_up_to_the_template(engine: QuotaService) -> None:
    engine.set_run_template(_template(max_requests=10, max_tokens=100))
    with pytest.raises(InvalidInput, match="run_max_requests"):
        await engine.check_quota(subjects=[USER], run_id="a", run_max_requests=11)
    with pytest.raises(InvalidInput, match="run_max_tokens"):
        await engine.check_quota(subjects=[USER], run_id="a", run_max_tokens=-1)
    await engine.check_quota(subjects=[USER], run_id="a", run_max_requests=2, run_max_tokens=5)
    tree = await engine.run_usage("a")
    assert (tree.max_requests, tree.max_tokens, tree.max_cost_nanos) == (2, 5, 5 * NANOS)


async def test_ending_a_run_releases_its_holds_and_denies_below_it(engine: QuotaService) -> None:
    engine.set_run_template(_template())
    await engine.check_quota(subjects=[USER], run_id="root")
    await engine.check_quota(subjects=[USER], run_id="kid", parent_run_id="root")
    holds = [
        await engine.check_quota(
            subjects=[USER], run_id="kid", estimated_cost=Decimal("1"), reserve=True
        )
        for _ in range(3)
    ]
    assert all(h.allowed for h in holds)
    assert (await engine.run_usage("root")).held_nanos == 3 * NANOS

    ended = await engine.end_run("kid")
    assert (ended.was_open, ended.released_holds) == (True, 3)
    tree = await engine.run_usage("root")
    assert tree.held_nanos == 0  # the root's share of the kid's holds came back too
    assert tree.children[0].ended and tree.children[0].held_nanos == 0
    late = await engine.check_quota(subjects=[USER], run_id="kid", estimated_cost=1)
    assert late.code is DenialCode.BLOCKED
    # A call in flight when the run ended still records: usage is never lost.
    await engine.record_usage(
        subjects=[USER], run_id="kid", cost=Decimal("0.5"), reservation_id=holds[0].reservation_id
    )
    assert (await engine.run_usage("root")).cost_nanos == NANOS // 2
    again = await engine.end_run("kid")
    assert (again.was_open, again.released_holds) == (False, 0)
    # The root is still open for other sub-agents.
    assert (await engine.check_quota(subjects=[USER], run_id="root", estimated_cost=1)).allowed


async def test_a_record_can_end_its_run(engine: QuotaService) -> None:
    engine.set_run_template(_template())
    await engine.check_quota(subjects=[USER], run_id="once")
    result = await engine.record_usage(subjects=[USER], run_id="once", cost=1, end_run=True)
    assert result.recorded and result.run_ended
    assert (await engine.check_quota(subjects=[USER], run_id="once")).code is DenialCode.BLOCKED
    with pytest.raises(InvalidInput, match="end_run"):
        await engine.record_usage(subjects=[USER], cost=1, end_run=True)
    with pytest.raises(NotFound):
        await engine.end_run("never-opened")


async def test_the_tree_shows_every_level_exactly(engine: QuotaService) -> None:
    engine.set_run_template(_template())
    await engine.check_quota(subjects=[USER], run_id="top")
    for kid in ("k1", "k2"):
        await engine.check_quota(subjects=[USER], run_id=kid, parent_run_id="top")
    await engine.check_quota(subjects=[USER], run_id="g1", parent_run_id="k1")
    costs = {"top": "0.10", "k1": "0.20", "k2": "0.30", "g1": "0.40"}
    for run, cost in costs.items():
        await engine.record_usage(subjects=[USER], run_id=run, cost=Decimal(cost))
    tree = await engine.run_usage("top")
    assert tree.cost_nanos == NANOS  # 0.10 + 0.20 + 0.30 + 0.40: each charged to every ancestor
    kids = {k.run_id: k for k in tree.children}
    assert set(kids) == {"k1", "k2"}
    assert kids["k1"].cost_nanos == 600_000_000 and kids["k2"].cost_nanos == 300_000_000
    assert [g.run_id for g in kids["k1"].children] == ["g1"]
    assert kids["k1"].children[0].cost_nanos == 400_000_000
    assert kids["k1"].parent_run_id == "top" and tree.parent_run_id == ""
    assert tree.requests == 4  # every admitted check on it or below it: the four opening ones
    assert tree.ends_at is not None


async def test_an_expired_run_leaves_no_key(engine: QuotaService, clock: ManualClock) -> None:
    engine.set_run_template(RunTemplate(max_cost=Decimal("5"), ttl=timedelta(milliseconds=1500)))
    await engine.check_quota(subjects=[USER], run_id="brief")
    await engine.check_quota(subjects=[USER], run_id="brief-kid", parent_run_id="brief")
    await engine.check_quota(
        subjects=[USER], run_id="brief-kid", estimated_cost=1, estimated_tokens=5, reserve=True
    )
    await engine.record_usage(subjects=[USER], run_id="brief-kid", cost=1, idempotency_key="k")
    await engine.end_run("brief-kid")
    client = engine.store.client
    pattern = "qs:{run:brief*"
    assert [k async for k in client.scan_iter(match=pattern)]
    await asyncio.sleep(1.7)  # Redis expires the keys in real time; the TTLs were set from it
    assert [k async for k in client.scan_iter(match=pattern)] == []
    assert await client.exists(subject_keys(Subject(QuotaScope.RUN, "brief")).config) == 0


async def test_a_check_racing_the_expiry_is_refused_not_unlimited(engine: QuotaService) -> None:
    # The engine's clock stands still, so only Redis sees the run expire: the check finds the
    # run's config gone with its keys.
    engine.set_run_template(RunTemplate(max_cost=Decimal("1"), ttl=timedelta(milliseconds=300)))
    await engine.check_quota(subjects=[USER], run_id="racer", estimated_cost=1, reserve=True)
    await asyncio.sleep(0.5)
    with pytest.raises(InvalidInput, match="run_id"):
        await engine.check_quota(subjects=[USER], run_id="racer", estimated_cost=5, reserve=True)
