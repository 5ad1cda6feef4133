"""The OpenAI Agents SDK under a hard run budget, with the SDK's own ScriptedModel (offline)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.exceptions import AgentsException
from agents.testing import ScriptedModel, assistant_message, function_call
from agents.testing.model import ModelStep
from agents.usage import Usage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.integrations import AgentBudget
from quota_sidecar.integrations.openai_agents import (
    BudgetExceeded,
    QuotaRunHooks,
    run_with_budget,
)
from quota_sidecar.pricing import PriceBook, TokenUsage

pytestmark = pytest.mark.timeout(60)
set_tracing_disabled(True)  # offline: no trace export


@function_tool
def lookup(topic: str) -> str:
    """Look a topic up (a paid API)."""
    return f"facts about {topic}"


def usage(input_tokens: int, output_tokens: int, cached: int = 0) -> Usage:
    return Usage(
        requests=1,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=cached, cache_write_tokens=0),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
    )


async def test_three_levels_and_twenty_parallel_tools_stop_at_exactly_the_root_budget(
    engine: QuotaService, user_id: str
) -> None:
    budget = AgentBudget(
        user_id=user_id, max_cost=Decimal("1.00"), model="gpt-4o-mini",
        tool_costs={"lookup": Decimal("0.10")}, output_tokens=1,
    )  # fmt: skip
    hooks = QuotaRunHooks(engine, budget)
    calls = [function_call("lookup", {"topic": f"t{i}"}, call_id=f"c{i}") for i in range(20)]
    researcher = Agent(name="researcher", tools=[lookup], model=ScriptedModel([calls]))
    research_tool = hooks.agent_tool(researcher, tool_name="research", tool_description="dig")
    writer = Agent(
        name="writer", tools=[research_tool],
        model=ScriptedModel([[function_call("research", {"input": "x"}, call_id="r1")]]),
    )  # fmt: skip
    triage = Agent(
        name="triage", handoffs=[writer],
        model=ScriptedModel([[function_call("transfer_to_writer", {}, call_id="h1")]]),
    )  # fmt: skip
    with pytest.raises(BudgetExceeded) as stopped:
        try:
            await Runner.run(triage, "write it", hooks=hooks)
        finally:
            await hooks.close()
    assert isinstance(stopped.value, AgentsException)
    assert stopped.value.code == "BUDGET_EXHAUSTED" and "run:" in stopped.value.reason
    user = await engine.get_usage(Subject(QuotaScope.USER, user_id))
    assert user.cost_today_nanos == 1_000_000_000  # exactly the root's $1: ten lookups
    assert user.held_nanos == 0
    tool = await engine.get_usage(Subject(QuotaScope.TOOL, "lookup"))
    assert tool.held_nanos == 0


async def test_model_usage_is_recorded_exactly_as_the_response_reports_it(
    engine: QuotaService, user_id: str
) -> None:
    model = ScriptedModel(
        [ModelStep(output=[assistant_message("done")], usage=usage(1200, 345, cached=200))]
    )
    agent = Agent(name="solo", model=model)
    budget = AgentBudget(user_id=user_id, max_cost=Decimal("1.00"), model="gpt-4o-mini")
    result = await run_with_budget(engine, budget, agent, "hello")
    assert result.final_output == "done"
    user = await engine.get_usage(Subject(QuotaScope.USER, user_id))
    price = PriceBook().cost("openai", "gpt-4o-mini", TokenUsage(1200, 345, 200), datetime.now(UTC))
    assert price is not None
    assert user.cost_today_nanos == price.nanos
    assert user.tokens_today == 1545 and user.held_nanos == 0
    assert [e.name for e in user.by_model_today] == ["openai/gpt-4o-mini"]


async def test_a_denied_model_call_raises_the_sdk_exception_with_the_reason(
    engine: QuotaService, user_id: str
) -> None:
    agent = Agent(name="solo", model=ScriptedModel([[assistant_message("never")]]))
    budget = AgentBudget(user_id=user_id, max_cost=Decimal("0.000001"), model="gpt-4o-mini")
    with pytest.raises(AgentsException) as denied:
        await run_with_budget(engine, budget, agent, "hello")
    assert isinstance(denied.value, BudgetExceeded)
    assert denied.value.code == "BUDGET_EXHAUSTED"
    assert "lifetime" in denied.value.reason and denied.value.retry_after is None
