"""Run budgets through QuotaClient and SyncQuotaClient (the same domain types as the engine),
and the runnable example, in process and through a sidecar started with its quota file."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from quota_sidecar.client import QuotaClient, SyncQuotaClient
from quota_sidecar.domain.errors import InvalidInput, NotFound, QuotaExceeded
from quota_sidecar.domain.models import DenialCode, QuotaScope, Subject
from quota_sidecar.domain.results import RunEnd
from quota_sidecar.server.app import Sidecar
from tests.support.sidecar import running_sidecar

EXAMPLES = Path(__file__).parents[3] / "examples" / "python"
NANOS = 10**9


@pytest.fixture
async def runs_sidecar(redis_url: str, tmp_path: Path) -> AsyncIterator[Sidecar]:
    """A sidecar with the example's quota file: runs may spend $1.00 and live an hour."""
    async with running_sidecar(
        redis_url, config_path=EXAMPLES / "run_budget.yaml", data_dir=tmp_path
    ) as s:
        yield s


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_budget_example", EXAMPLES / "run_budget.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _check_example_lines(lines: list[str]) -> None:
    root = lines[0].split()[2].rstrip(":")
    assert lines[0] == f"root run {root}: planned, then 3 researchers made 18 tool calls"
    assert lines[1] == f"  {root}: spent $1.00 of $1.00, 19 requests"
    children = lines[2:5]
    spent = [Decimal(line.split("spent $")[1].split()[0]) for line in children]
    assert sum(spent) == Decimal("0.90") and all(s <= Decimal("0.40") for s in spent)
    assert all(line.startswith(f"    {root}-r") and "of $0.40" in line for line in children)
    assert lines[5] == f"ended {root}: released 0 open holds"
    assert lines[6] == "a researcher's call after the end: denied (BLOCKED)"


async def test_the_run_budget_example_runs_through_a_sidecar(runs_sidecar: Sidecar) -> None:
    _check_example_lines(await _load_example().main(runs_sidecar.target))


async def test_the_run_budget_example_runs_in_process() -> None:
    _check_example_lines(await _load_example().main())


async def test_client_runs_end_and_tree(runs_sidecar: Sidecar) -> None:
    user = [Subject(QuotaScope.USER, "agent")]
    async with QuotaClient(runs_sidecar.target) as client:
        opened = await client.check_quota(
            subjects=user, run_id="c", run_ttl=timedelta(minutes=10), run_max_cost="0.30",
            estimated_cost="0.30", reserve=True,
        )  # fmt: skip
        assert opened.allowed
        await client.check_quota(subjects=user, run_id="c-1", parent_run_id="c")
        recorded = await client.record_usage(
            subjects=user, run_id="c-1", parent_run_id="c", cost="0.01", end_run=True
        )
        assert recorded.recorded and recorded.run_ended
        tree = await client.run_usage("c")
        assert (tree.run_id, tree.cost_nanos, tree.held_nanos) == (
            "c",
            NANOS // 100,
            3 * NANOS // 10,
        )
        assert tree.max_cost_nanos == 3 * NANOS // 10 and not tree.ended
        assert tree.ends_at is not None
        (child,) = tree.children
        assert (child.run_id, child.parent_run_id, child.ended) == ("c-1", "c", True)
        assert await client.end_run("c") == RunEnd("c", was_open=True, released_holds=1)
        assert (await client.run_usage("c")).held_nanos == 0
        denied = await client.check_quota(subjects=user, run_id="c")
        assert not denied.allowed and denied.code is DenialCode.BLOCKED
        with pytest.raises(NotFound):
            await client.end_run("never")
        with pytest.raises(NotFound):
            await client.run_usage("never")
        with pytest.raises(InvalidInput, match=r"^run_ttl"):
            await client.check_quota(subjects=user, run_id="d", run_ttl=timedelta(0))
        with pytest.raises(InvalidInput, match=r"^end_run"):
            await client.record_usage(subjects=user, cost=1, end_run=True)
        with pytest.raises(InvalidInput, match=r"^run_max_cost"):
            await client.check_quota(subjects=user, run_id="d", run_max_cost="1.01")


async def test_sync_client_guard_in_a_run(runs_sidecar: Sidecar) -> None:
    # In a thread: the sidecar serves on this test's event loop, which must keep running.
    await asyncio.to_thread(_sync_guards, runs_sidecar.target)


def _sync_guards(target: str) -> None:
    with SyncQuotaClient(target) as quota:
        with quota.guard(user_id="agent", tool_name="t", estimated_cost="0.60", run_id="s") as g:
            g.record(cost="0.60")
        with (
            pytest.raises(QuotaExceeded) as over,
            quota.guard(
                user_id="agent", tool_name="t", estimated_cost="0.50", run_id="s-1",
                parent_run_id="s",
            ),
        ):  # fmt: skip
            raise AssertionError("the block must not run past the parent's budget")
        assert over.value.code == "BUDGET_EXHAUSTED"
        with quota.guard(
            user_id="agent", tool_name="t", estimated_cost="0.40", run_id="s-1",
            parent_run_id="s",
        ) as g:  # fmt: skip
            assert g.record(cost="0.40", end_run=True).run_ended
        tree = quota.run_usage("s")
        assert tree.cost_nanos == NANOS and [c.ended for c in tree.children] == [True]
        assert quota.end_run("s").was_open
