"""A hard budget on a LangGraph run with a subgraph (docs/agents.md).

Offline: langchain-core's fake chat model reports the usage a real one would.
Run: python examples/python/agents_langgraph.py
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.money import format_dollars
from quota_sidecar.engine.runs import RunTemplate
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.integrations import AgentBudget
from quota_sidecar.integrations.langchain import QuotaCallbackHandler


class State(TypedDict, total=False):
    question: str
    answer: str


def build() -> Any:
    usage: Any = {"input_tokens": 1000, "output_tokens": 200, "total_tokens": 1200}
    model = GenericFakeChatModel(messages=iter([AIMessage("42", usage_metadata=usage)]))

    async def answer(state: State, config: RunnableConfig) -> State:
        reply = await model.ainvoke(state["question"], config)
        return {"answer": str(reply.content)}

    inner = StateGraph(State)  # a subgraph: a child run of the graph's run
    inner.add_node("answer", answer)
    inner.add_edge(START, "answer")
    inner.add_edge("answer", END)
    outer = StateGraph(State)
    outer.add_node("research", inner.compile())
    outer.add_edge(START, "research")
    outer.add_edge("research", END)
    return outer.compile()


async def main(redis_url: str | None = None) -> str:
    quota = QuotaService(redis_url)  # or QuotaClient("127.0.0.1:50051", token=...)
    quota.set_run_template(RunTemplate(max_cost=Decimal("5"), ttl=timedelta(hours=1)))
    budget = AgentBudget(user_id="bob", max_cost=Decimal("1.00"), model="gpt-4o-mini")
    handler = QuotaCallbackHandler(quota, budget)
    try:
        state = await build().ainvoke({"question": "why?"}, config={"callbacks": [handler]})
    finally:
        await handler.close()
    usage = await quota.get_usage(Subject(QuotaScope.USER, "bob"))
    await quota.close()
    spent = format_dollars(usage.cost_today_nanos)
    outcome = f"answer {state['answer']}, spent {spent} on {usage.tokens_today} tokens"
    print(outcome)
    return outcome


if __name__ == "__main__":
    asyncio.run(main(os.environ.get("QUOTA_SIDECAR_REDIS_URL")))
