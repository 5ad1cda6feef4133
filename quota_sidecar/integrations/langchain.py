"""A hard budget inside LangChain and LangGraph (`pip install 'quota-sidecar[langchain]'`).

    handler = QuotaCallbackHandler(client, AgentBudget(user_id="u1", max_cost="1.00"))
    try:
        await graph.ainvoke(state, config={"callbacks": [handler]})
    finally:
        await handler.close()

A callback handler (langchain-core's AsyncCallbackHandler, with raise_error set so that a
denial stops the run): every chat model or LLM call is a reserving check on the user, the
model and the run (estimated from the prompt and the request's max_tokens, priced by the
sidecar), settled from the usage the message reports (`usage_metadata`: input, output, cache
read and cache write tokens) by the price table; every tool call is a reserving check of its
cost (`tool_costs`, or its history), settled after it. A call that fails is released. The
graph's invocation is the root run; a LangGraph subgraph is a child run: its calls carry a
checkpoint namespace one level deeper ("node:<task>|inner:<task>"), and each subgraph
invocation (each task id) is its own child run under the run of the graph that called it.
A denial raises BudgetExceeded, a `langchain_core.exceptions.LangChainException`, with the
reason and retry_after. `close()` waits for the settles and ends the root run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.exceptions import LangChainException
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from quota_sidecar.client.guard import QuotaApi
from quota_sidecar.integrations.budget import (
    AgentBudget,
    BudgetLedger,
    BudgetStop,
    estimate_tokens,
    run_name,
)

__all__ = ["BudgetExceeded", "QuotaCallbackHandler"]


class BudgetExceeded(LangChainException):
    """The sidecar denied a model or tool call: the run stops (code, reason, retry_after)."""

    def __init__(self, code: str, reason: str, retry_after: timedelta | None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.retry_after = retry_after


class QuotaCallbackHandler(AsyncCallbackHandler):
    """Checks and settles every model and tool call; see the module docstring."""

    raise_error = True  # a denial must stop the run, not be logged and ignored

    def __init__(self, api: QuotaApi, budget: AgentBudget) -> None:
        self._ledger = BudgetLedger(api, budget)
        self.budget = budget
        self._models: dict[UUID, tuple[str, str]] = {}

    @property
    def root_run_id(self) -> str:
        return self._ledger.root_run_id

    def _run(self, metadata: Mapping[str, Any] | None) -> tuple[str, str]:
        """(run_id, parent) of a call: the root, or one child run per subgraph level."""
        space = str((metadata or {}).get("langgraph_checkpoint_ns") or "")
        run, parent = self.root_run_id, ""
        for task in [t for t in space.split("|") if t][:-1]:
            run, parent = run_name(run, task.replace(":", "-")), run
        return run, parent

    async def _hold(self, key: UUID, tool_name: str, run: tuple[str, str], estimate: Any) -> None:
        try:
            await self._ledger.hold(str(key), tool_name=tool_name, run=run, estimate=estimate)
        except BudgetStop as exc:
            raise BudgetExceeded(exc.code, exc.reason, exc.retry_after) from exc

    def _model_of(self, metadata: Mapping[str, Any] | None, params: Mapping[str, Any]) -> str:
        found = (metadata or {}).get("ls_model_name") or params.get("model") or ""
        return self.budget.model or str(found)

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = [[m.content for m in batch] for batch in messages]
        await self._model_call(run_id, prompt, metadata, kwargs.get("invocation_params") or {})

    async def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        await self._model_call(run_id, prompts, metadata, kwargs.get("invocation_params") or {})

    async def _model_call(
        self,
        run_id: UUID,
        prompt: object,
        metadata: Mapping[str, Any] | None,
        params: Mapping[str, Any],
    ) -> None:
        model = self._model_of(metadata, params)
        provider = self.budget.provider
        self._models[run_id] = (provider, model)
        output = params.get("max_tokens") or self.budget.output_tokens
        estimate = {
            "provider": provider,
            "model": model,
            "estimated_input_tokens": estimate_tokens(prompt),
            "estimated_output_tokens": int(output),
        }
        await self._hold(run_id, model or "model", self._run(metadata), estimate)

    async def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        provider, model = self._models.pop(run_id, (self.budget.provider, self.budget.model))
        await self._ledger.settle(
            str(run_id), provider=provider, model=model, **_usage(response.generations)
        )

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._models.pop(run_id, None)
        await self._ledger.release(str(run_id))

    async def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = str(serialized.get("name") or kwargs.get("name") or "tool")
        cost = self._ledger.tool_cost(name)
        estimate: dict[str, object] = {"estimated_cost": cost or 0}
        if cost is None and self.budget.estimate_from_history:
            estimate["estimate_from_history"] = True
        self._models[run_id] = ("", name)
        await self._hold(run_id, name, self._run(metadata), estimate)

    async def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        _, name = self._models.pop(run_id, ("", ""))
        await self._ledger.settle(str(run_id), cost=self._ledger.tool_cost(name) or 0)

    async def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._models.pop(run_id, None)
        await self._ledger.release(str(run_id))

    async def close(self) -> None:
        """Wait for the settles in flight, then end the root run (releasing what is open)."""
        await self._ledger.close()


def _usage(generations: Sequence[Sequence[Any]]) -> dict[str, int]:
    """The tokens the messages report (usage_metadata), summed over the generations."""
    totals = {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0}
    totals["cache_write_tokens"] = 0
    for batch in generations:
        for generation in batch:
            if not isinstance(generation, ChatGeneration):
                continue
            meta = getattr(generation.message, "usage_metadata", None) or {}
            details = meta.get("input_token_details") or {}
            totals["input_tokens"] += int(meta.get("input_tokens", 0))
            totals["output_tokens"] += int(meta.get("output_tokens", 0))
            totals["cache_read_tokens"] += int(details.get("cache_read", 0))
            totals["cache_write_tokens"] += int(details.get("cache_creation", 0))
    return totals
