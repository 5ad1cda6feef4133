"""LangChain / LangGraph under a hard run budget: a callback handler, with langchain-core's
own fake chat model (offline); a LangGraph subgraph is a child run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

import pytest
from langchain_core.exceptions import LangChainException
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.integrations import AgentBudget
from quota_sidecar.integrations.langchain import BudgetExceeded, QuotaCallbackHandler
from quota_sidecar.pricing import PriceBook, TokenUsage

pytestmark = pytest.mark.timeout(60)


class State(TypedDict, total=False):
    topic: str
    notes: list[str]


@tool
async def lookup(topic: str) -> str:
    """Look a topic up (a paid API)."""
    return f"facts about {topic}"


def fake_model(input_tokens: int = 0, output_tokens: int = 0, n: int = 5) -> GenericFakeChatModel:
    usage: Any = {
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens, "input_token_details": {"cache_read": 0},
    }  # fmt: skip
    return GenericFakeChatModel(messages=iter([AIMessage("ok", usage_metadata=usage)] * n))


def build_graph(lookups: int, model: GenericFakeChatModel) -> Any:
    async def gather(state: State, config: RunnableConfig) -> State:
        topics = [f"t{i}" for i in range(lookups)]
        notes = await asyncio.gather(*(lookup.ainvoke({"topic": t}, config) for t in topics))
        return {"notes": list(notes)}

    inner = StateGraph(State)
    inner.add_node("gather", gather)
    inner.add_edge(START, "gather")
    inner.add_edge("gather", END)

    async def plan(state: State, config: RunnableConfig) -> State:
        await model.ainvoke(f"plan {state['topic']}", config)
        return {}

    outer = StateGraph(State)
    outer.add_node("plan", plan)
    outer.add_node("research", inner.compile())
    outer.add_edge(START, "plan")
    outer.add_edge("plan", "research")
    outer.add_edge("research", END)
    return outer.compile()


async def test_twenty_parallel_tools_in_a_subgraph_stop_at_exactly_the_root_budget(
    engine: QuotaService, user_id: str
) -> None:
    budget = AgentBudget(
        user_id=user_id, max_cost=Decimal("1.00"), model="gpt-4o-mini",
        tool_costs={"lookup": Decimal("0.10")}, output_tokens=1,
    )  # fmt: skip
    handler = QuotaCallbackHandler(engine, budget)
    graph = build_graph(20, fake_model())
    with pytest.raises(BudgetExceeded) as stopped:
        try:
            await graph.ainvoke({"topic": "x"}, config={"callbacks": [handler]})
        finally:
            await handler.close()
    assert isinstance(stopped.value, LangChainException)
    assert stopped.value.code == "BUDGET_EXHAUSTED" and "run:" in stopped.value.reason
    user = await engine.get_usage(Subject(QuotaScope.USER, user_id))
    assert user.cost_today_nanos == 1_000_000_000 and user.held_nanos == 0


async def test_a_subgraph_is_a_child_run_and_usage_is_recorded_exactly(
    engine: QuotaService, user_id: str
) -> None:
    budget = AgentBudget(
        user_id=user_id, max_cost=Decimal("1.00"), model="gpt-4o-mini",
        tool_costs={"lookup": Decimal("0.10")},
    )  # fmt: skip
    handler = QuotaCallbackHandler(engine, budget)
    graph = build_graph(1, fake_model(1000, 200))
    await graph.ainvoke({"topic": "x"}, config={"callbacks": [handler]})
    tree = await engine.run_usage(handler.root_run_id)
    await handler.close()
    price = PriceBook().cost("openai", "gpt-4o-mini", TokenUsage(1000, 200), datetime.now(UTC))
    assert price is not None
    assert tree.cost_nanos == price.nanos + 100_000_000
    assert [c.cost_nanos for c in tree.children] == [100_000_000]  # the subgraph's lookup
    user = await engine.get_usage(Subject(QuotaScope.USER, user_id))
    assert user.cost_today_nanos == price.nanos + 100_000_000 and user.held_nanos == 0
    assert user.tokens_today == 1200
