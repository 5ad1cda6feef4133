"""Run budgets: an agent loop that spawns sub-agents, every call guarded, every sub-agent
charged to its own run AND its parent's, in one atomic check.

    python examples/python/run_budget.py                  # in process, on an embedded Redis
    python examples/python/run_budget.py 127.0.0.1:50051  # through a sidecar started with
        quota-sidecar serve --config examples/python/run_budget.yaml

The root agent's run may spend $1.00 (the `runs:` template of run_budget.yaml, set in process
below the same way). It plans ($0.10), then spawns three researchers at once, each its own run
(parent: the root) capped at $0.40, and each calling a $0.05 tool until a budget stops it. The
researchers could spend $1.20 together, but the root has $0.90 left: concurrent as they are,
exactly 18 tool calls run, whichever researchers got them, and the root ends at $1.00 exactly.
The root's run is then ended, which releases any hold still open and refuses later calls.

Tokens, when the sidecar asks for them: QUOTA_SIDECAR_DATA_TOKEN.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from quota_sidecar.client import QuotaClient
from quota_sidecar.client.guard import QuotaApi, QuotaGuard
from quota_sidecar.domain.errors import QuotaExceeded

__all__ = ["main"]

PLAN_COST = Decimal("0.10")
TOOL_COST = Decimal("0.05")
RESEARCHER_BUDGET = Decimal("0.40")


async def researcher(api: QuotaApi, user: str, run_id: str, parent: str) -> int:
    """One sub-agent: calls its tool until a budget (its own or an ancestor's) says no."""
    calls = 0
    while True:
        try:
            async with QuotaGuard(
                api, user_id=user, tool_name="web_search", estimated_cost=TOOL_COST,
                run_id=run_id, parent_run_id=parent, run_max_cost=RESEARCHER_BUDGET,
            ) as g:  # fmt: skip
                await asyncio.sleep(0.001)  # the search itself
                await g.record(cost=TOOL_COST)
            calls += 1
        except QuotaExceeded:
            return calls


async def agent(api: QuotaApi, user: str, lines: list[str]) -> str:
    """The root agent: plan, then fan out to three researchers; returns its run id."""
    root = f"task-{uuid.uuid4().hex[:8]}"
    async with QuotaGuard(
        api, user_id=user, tool_name="plan", estimated_cost=PLAN_COST, run_id=root
    ) as g:
        await g.record(cost=PLAN_COST)
    children = [f"{root}-r{i}" for i in range(3)]
    calls = await asyncio.gather(*(researcher(api, user, c, root) for c in children))
    lines.append(f"root run {root}: planned, then 3 researchers made {sum(calls)} tool calls")
    tree = await api.run_usage(root)  # type: ignore[attr-defined]
    lines.extend(_tree_lines(tree))
    ended = await api.end_run(root)  # type: ignore[attr-defined]
    lines.append(f"ended {root}: released {ended.released_holds} open holds")
    try:
        async with QuotaGuard(
            api, user_id=user, tool_name="plan", estimated_cost=PLAN_COST, run_id=children[0]
        ):
            lines.append("a call after the end ran (it should not)")
    except QuotaExceeded as denied:
        lines.append(f"a researcher's call after the end: denied ({denied.code})")
    return root


def _dollars(nanos: int) -> str:
    return f"${Decimal(nanos).scaleb(-9).quantize(Decimal('0.01'))}"


def _tree_lines(run: Any, depth: int = 1) -> list[str]:
    """One line per run, indented by depth: spend / limit, requests (sub-runs included)."""
    cap = "" if run.max_cost_nanos is None else f" of {_dollars(run.max_cost_nanos)}"
    lines = [f"{'  ' * depth}{run.run_id}: spent {_dollars(run.cost_nanos)}{cap}, "
             f"{run.requests} requests"]  # fmt: skip
    for child in sorted(run.children, key=lambda c: c.run_id):
        lines.extend(_tree_lines(child, depth + 1))
    return lines


@asynccontextmanager
async def in_process() -> AsyncIterator[QuotaApi]:
    """The engine itself, on an embedded Redis, with the template run_budget.yaml sets."""
    from quota_sidecar.engine.runs import RunTemplate
    from quota_sidecar.engine.service import EngineSettings, QuotaService

    with tempfile.TemporaryDirectory() as data:
        service = QuotaService(settings=EngineSettings(data_dir=Path(data)))
        service.set_run_template(RunTemplate(max_cost=Decimal("1.00"), ttl=timedelta(hours=1)))
        try:
            yield service
        finally:
            await service.close()


async def main(target: str | None = None, user: str = "agent-user") -> list[str]:
    """Run the agent in process (no target) or through the sidecar at `target`."""
    lines: list[str] = []
    if target is None:
        async with in_process() as api:
            await agent(api, user, lines)
    else:
        token = os.environ.get("QUOTA_SIDECAR_DATA_TOKEN")
        async with QuotaClient(target, token=token) as client:
            await agent(client, user, lines)
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("QUOTA_SIDECAR_TARGET")))
