"""Run budgets: a run tree charged with every ancestor in one atomic check, and runs whose
keys all end with them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from quota_sidecar import QuotaScope, Subject
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.engine.runs import RunTemplate
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.store.keys import subject_keys

NANOS = 10**9


async def test_a_three_level_tree_never_spends_past_the_root(engine: QuotaService) -> None:
    engine.set_run_template(RunTemplate(max_cost=Decimal("5.00"), ttl=timedelta(hours=2)))
    user = Subject(QuotaScope.USER, "agent")
    # root (cap 5.00) -> two children (cap 4.00 each) -> two leaves each (caps up to 5.00)
    await engine.check_quota(subjects=[user], run_id="root")
    for child in ("c1", "c2"):
        await engine.check_quota(
            subjects=[user], run_id=child, parent_run_id="root", run_max_cost=Decimal(4)
        )
    leaves = {"l11": "c1", "l12": "c1", "l21": "c2", "l22": "c2"}
    for leaf, parent in leaves.items():
        await engine.check_quota(subjects=[user], run_id=leaf, parent_run_id=parent)

    async def reserve(i: int) -> tuple[str, bool]:
        leaf = list(leaves)[i % 4]
        result = await engine.check_quota(
            subjects=[user], run_id=leaf, estimated_cost=Decimal("0.01"), reserve=True
        )
        return leaf, result.allowed

    outcomes = await asyncio.gather(*(reserve(i) for i in range(600)))
    admitted = {leaf: sum(1 for lf, ok in outcomes if lf == leaf and ok) for leaf in leaves}
    # The root's cap is 500 holds of 0.01; each child's 400.
    assert sum(admitted.values()) == 500
    assert admitted["l11"] + admitted["l12"] <= 400
    assert admitted["l21"] + admitted["l22"] <= 400
    # Every level's held total is exact: each run holds what its subtree was admitted.
    held = {}
    for run in ("root", "c1", "c2", *leaves):
        raw = await engine.store.client.hget(
            subject_keys(Subject(QuotaScope.RUN, run)).holds, "_sum"
        )
        held[run] = int(raw or 0)
    for leaf in leaves:
        assert held[leaf] == admitted[leaf] * NANOS // 100
    assert held["c1"] == held["l11"] + held["l12"]
    assert held["c2"] == held["l21"] + held["l22"]
    assert held["root"] == held["c1"] + held["c2"] == 5 * NANOS


async def test_records_count_on_the_run_and_every_ancestor(engine: QuotaService) -> None:
    engine.set_run_template(RunTemplate(max_cost=Decimal("1.00"), ttl=timedelta(hours=1)))
    user = Subject(QuotaScope.USER, "agent")
    await engine.check_quota(subjects=[user], run_id="top")
    await engine.check_quota(subjects=[user], run_id="sub", parent_run_id="top")
    for i in range(3):
        await engine.record_usage(
            subjects=[user], run_id="sub", cost=Decimal("0.25"), idempotency_key=f"k{i}"
        )
    for run in ("top", "sub"):
        usage = await engine.get_usage(Subject(QuotaScope.RUN, run))
        assert usage.cost_lifetime_nanos == 3 * NANOS // 4
    denied = await engine.check_quota(subjects=[user], run_id="sub", estimated_cost=Decimal("0.5"))
    assert not denied.allowed


async def test_every_key_of_a_run_ends_with_it(engine: QuotaService) -> None:
    engine.set_run_template(RunTemplate(max_cost=Decimal("5"), ttl=timedelta(hours=2)))
    user = Subject(QuotaScope.USER, "agent")
    await engine.check_quota(subjects=[user], run_id="p", run_ttl=timedelta(minutes=30))
    # A child asking for longer is capped at its parent's end.
    await engine.check_quota(subjects=[user], run_id="k", parent_run_id="p")
    for run in ("p", "k"):
        await engine.check_quota(subjects=[user], run_id=run, estimated_cost=1, reserve=True)
    await engine.record_usage(subjects=[user], run_id="k", cost=1, idempotency_key="x")
    redis_client = engine.store.client
    for run in ("p", "k"):
        keys = [k async for k in redis_client.scan_iter(match=f"qs:{{run:{run}}}*")]
        assert len(keys) >= 5
        for key in keys:
            ttl = await redis_client.pttl(key)
            assert 0 < ttl <= 30 * 60 * 1000, key


async def test_runs_are_refused_without_a_template_and_past_the_depth(engine: QuotaService) -> None:
    user = Subject(QuotaScope.USER, "agent")
    with pytest.raises(InvalidInput, match="run_id"):
        await engine.check_quota(subjects=[user], run_id="r")
    engine.set_run_template(RunTemplate(max_cost=Decimal("5"), ttl=timedelta(hours=2)))
    with pytest.raises(InvalidInput, match="run_max_cost"):
        await engine.check_quota(subjects=[user], run_id="r", run_max_cost=Decimal("5.01"))
    with pytest.raises(InvalidInput, match="parent_run_id"):
        await engine.check_quota(subjects=[user], run_id="orphan", parent_run_id="nobody")
    await engine.check_quota(subjects=[user], run_id="d1")
    for depth in range(2, 9):
        await engine.check_quota(subjects=[user], run_id=f"d{depth}", parent_run_id=f"d{depth - 1}")
    with pytest.raises(InvalidInput, match="8 deep"):
        await engine.check_quota(subjects=[user], run_id="d9", parent_run_id="d8")
