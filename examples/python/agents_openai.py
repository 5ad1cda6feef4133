"""A hard $1 budget on an OpenAI Agents SDK run (docs/agents.md).

Offline: the agent's model is the SDK's own ScriptedModel; with a real model, give the Agent a
model name and the budget the same `model` for pricing. Run: python examples/python/agents_openai.py
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from decimal import Decimal

from agents import Agent, function_tool, set_tracing_disabled
from agents.testing import ScriptedModel, assistant_message, function_call

from quota_sidecar.engine.runs import RunTemplate
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.integrations import AgentBudget
from quota_sidecar.integrations.openai_agents import BudgetExceeded, run_with_budget


@function_tool
def lookup(topic: str) -> str:
    """A paid search API: $0.30 a call."""
    return f"facts about {topic}"


async def main(redis_url: str | None = None) -> str:
    set_tracing_disabled(True)
    quota = QuotaService(redis_url)  # or QuotaClient("127.0.0.1:50051", token=...)
    quota.set_run_template(RunTemplate(max_cost=Decimal("5"), ttl=timedelta(hours=1)))
    calls = [function_call("lookup", {"topic": f"t{i}"}, call_id=f"c{i}") for i in range(5)]
    agent = Agent(
        name="researcher", tools=[lookup],
        model=ScriptedModel([calls, [assistant_message("done")]]),
    )  # fmt: skip
    budget = AgentBudget(
        user_id="alice", max_cost=Decimal("1.00"), model="gpt-4o-mini",
        tool_costs={"lookup": Decimal("0.30")},
    )  # fmt: skip
    try:
        result = await run_with_budget(quota, budget, agent, "research it")
        outcome = f"finished: {result.final_output}"
    except BudgetExceeded as stopped:  # five lookups at $0.30 do not fit in $1.00
        outcome = f"stopped: {stopped.reason}"
    finally:
        await quota.close()
    print(outcome)
    return outcome


if __name__ == "__main__":
    asyncio.run(main(os.environ.get("QUOTA_SIDECAR_REDIS_URL")))
