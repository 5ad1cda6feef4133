"""A hard budget inside the OpenAI Agents SDK (`pip install 'quota-sidecar[openai-agents]'`).

    hooks = QuotaRunHooks(client, AgentBudget(user_id="u1", max_cost="1.00", model="gpt-4o"))
    try:
        result = await Runner.run(agent, "question", hooks=hooks)
    finally:
        await hooks.close()
    # or: result = await run_with_budget(client, budget, agent, "question")

The hooks open a run of the sidecar per `Runner.run` (the root, with the hard cap), a child run
per handoff (the agent handed to runs under the agent that handed off) and per agent used as a
tool (`hooks.agent_tool(agent)`: the nested run's hooks are a child of these). Before every
model call, a reserving check on the user, the model's tool name and the run, of the request's
estimate (its prompt, roughly, and its max_tokens or `output_tokens`), priced by the sidecar;
after it, a settle with the usage the response reports (input, output and cached input
tokens), priced by the price table. Before every tool call, a reserving check of the tool's
cost (`tool_costs`, or its history); after it, a settle. A denial raises BudgetExceeded, an
`agents.exceptions.AgentsException`, which ends `Runner.run` with the reason and retry_after.
`close()` waits for the settles and ends the root run (its holds left open are released).
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import timedelta
from typing import Any

from agents import Agent, RunContextWrapper, Runner, RunResult
from agents.exceptions import AgentsException
from agents.items import ModelResponse, TResponseInputItem
from agents.lifecycle import RunHooks
from agents.tool import FunctionTool, Tool

from quota_sidecar.client.guard import QuotaApi
from quota_sidecar.integrations.budget import (
    AgentBudget,
    BudgetLedger,
    BudgetStop,
    estimate_tokens,
    run_name,
)

__all__ = ["BudgetExceeded", "QuotaRunHooks", "run_with_budget"]


class BudgetExceeded(AgentsException):
    """The sidecar denied a model or tool call: the run stops. `code`, `reason` and
    `retry_after` are the check's."""

    def __init__(self, code: str, reason: str, retry_after: timedelta | None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.retry_after = retry_after


class QuotaRunHooks(RunHooks[Any]):
    """RunHooks that check and settle every model and tool call; see the module docstring."""

    def __init__(
        self,
        api: QuotaApi,
        budget: AgentBudget,
        *,
        ledger: BudgetLedger | None = None,
        run: tuple[str, str] | None = None,
    ) -> None:
        self._ledger = ledger or BudgetLedger(api, budget)
        self.budget = budget
        # (run_id, parent_run_id) of this Runner.run: the root, or a child's.
        self.run = run or (self._ledger.root_run_id, "")
        self._agent_runs: dict[int, tuple[str, str]] = {}
        self._llm_calls: dict[int, deque[str]] = defaultdict(deque)
        self._children = 0

    @property
    def root_run_id(self) -> str:
        return self._ledger.root_run_id

    def _run_of(self, agent: Any) -> tuple[str, str]:
        return self._agent_runs.get(id(agent), self.run)

    def _child_run(self, parent: tuple[str, str], name: str) -> tuple[str, str]:
        self._children += 1
        return run_name(parent[0], f"{name}-{self._children}"), parent[0]

    def child(self, name: str) -> QuotaRunHooks:
        """Hooks for a nested Runner.run (an agent used as a tool): a child run of this one."""
        return QuotaRunHooks(
            self._ledger.api,
            self.budget,
            ledger=self._ledger,
            run=self._child_run(self.run, name),
        )

    def agent_tool(self, agent: Agent[Any], **as_tool: Any) -> FunctionTool:
        """`agent.as_tool(...)` whose run is a child run of this one, and whose denial ends
        the whole run (it is raised, not handed to the model as a tool error)."""
        as_tool.setdefault("tool_name", None)
        as_tool.setdefault("tool_description", None)
        as_tool.setdefault("failure_error_function", None)
        return agent.as_tool(hooks=self.child(agent.name), **as_tool)

    async def _stop(self, exc: BudgetStop) -> None:
        raise BudgetExceeded(exc.code, exc.reason, exc.retry_after) from exc

    def _model(self, agent: Agent[Any]) -> str:
        return self.budget.model or (agent.model if isinstance(agent.model, str) else "")

    async def on_handoff(
        self, context: RunContextWrapper[Any], from_agent: Any, to_agent: Any
    ) -> None:
        self._agent_runs[id(to_agent)] = self._child_run(self._run_of(from_agent), to_agent.name)

    async def on_llm_start(
        self,
        context: RunContextWrapper[Any],
        agent: Agent[Any],
        system_prompt: str | None,
        input_items: list[TResponseInputItem],
    ) -> None:
        key = f"llm-{id(agent)}-{len(self._llm_calls[id(agent)])}-{id(input_items)}"
        output = agent.model_settings.max_tokens or self.budget.output_tokens
        estimate = {
            "provider": self.budget.provider,
            "model": self._model(agent),
            "estimated_input_tokens": estimate_tokens([system_prompt or "", input_items]),
            "estimated_output_tokens": output,
        }
        try:
            await self._ledger.hold(
                key, tool_name=self._model(agent) or "model", run=self._run_of(agent),
                estimate=estimate,
            )  # fmt: skip
        except BudgetStop as exc:
            await self._stop(exc)
        self._llm_calls[id(agent)].append(key)

    async def on_llm_end(
        self, context: RunContextWrapper[Any], agent: Agent[Any], response: ModelResponse
    ) -> None:
        calls = self._llm_calls[id(agent)]
        if not calls:
            return
        usage = response.usage
        await self._ledger.settle(
            calls.popleft(),
            provider=self.budget.provider,
            model=self._model(agent),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.input_tokens_details.cached_tokens or 0,
            cache_write_tokens=getattr(usage.input_tokens_details, "cache_write_tokens", 0) or 0,
        )

    async def on_tool_start(self, context: RunContextWrapper[Any], agent: Any, tool: Tool) -> None:
        cost = self._ledger.tool_cost(tool.name)
        estimate: dict[str, object] = {"estimated_cost": cost or 0}
        if cost is None and self.budget.estimate_from_history:
            estimate["estimate_from_history"] = True
        key = _tool_key(context, tool)
        try:
            await self._ledger.hold(
                key, tool_name=tool.name, run=self._run_of(agent), estimate=estimate
            )
        except BudgetStop as exc:
            await self._stop(exc)
        if cost is not None:
            # The SDK invokes the tool as soon as this returns: from here it may have run.
            self._ledger.started(key, cost=cost)

    async def on_tool_end(
        self, context: RunContextWrapper[Any], agent: Any, tool: Tool, result: object
    ) -> None:
        await self._ledger.settle(
            _tool_key(context, tool), cost=self._ledger.tool_cost(tool.name) or 0
        )

    async def close(self) -> None:
        """Wait for the settles in flight, then end the root run (releasing what is open)."""
        await self._ledger.close()


def _tool_key(context: RunContextWrapper[Any], tool: Tool) -> str:
    call_id = getattr(context, "tool_call_id", None) or id(context)
    return f"tool-{tool.name}-{call_id}"


async def run_with_budget(
    api: QuotaApi, budget: AgentBudget, agent: Agent[Any], run_input: Any, **runner: Any
) -> RunResult:
    """`Runner.run(agent, run_input, hooks=QuotaRunHooks(...), **runner)`, closed after."""
    hooks = QuotaRunHooks(api, budget)
    try:
        return await Runner.run(agent, run_input, hooks=hooks, **runner)
    finally:
        await hooks.close()
