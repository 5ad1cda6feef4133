"""What every integration shares: the budget of an agent run, and the ledger of its holds.

A framework run is a run of the sidecar (docs/semantics.md "Run budgets"): the root run carries
the hard cap (`max_cost`), a sub-agent is a child run, and every model call and tool call is a
reserving check on its run (so the run and every ancestor join the same atomic check), settled
with what it really used. The ledger keeps the open holds, settles them in their own tasks (a
settle survives the cancellation of the framework's task: recorded usage is never lost) and,
when the framework's run is over, waits for them and ends the root run, which releases every
hold still open on it or below it (a call the framework cancelled before it ran).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field

from quota_sidecar.client.guard import QuotaApi, guard_subjects
from quota_sidecar.domain.errors import NotFound, QuotaExceeded, QuotaSidecarError
from quota_sidecar.domain.money import Money
from quota_sidecar.domain.results import CheckResult, RecordResult

__all__ = ["AgentBudget", "BudgetLedger", "BudgetStop", "estimate_tokens", "run_name"]

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


class BudgetStop(QuotaExceeded):
    """A check was denied: the run must stop. Carries code, reason and retry_after."""


@dataclass(frozen=True, slots=True)
class AgentBudget:
    """Who runs, the hard cap of the root run, and how calls are estimated and priced.

    `provider`/`model` price model calls by the sidecar's price table (the model the framework
    reports wins when it names one the caller did not override). `tool_costs`: what one call of
    a tool costs (a paid API), estimated and charged as given; a tool not listed costs 0 and is
    still checked (its rate limits and the run's request cap apply). `output_tokens`: the
    estimate of a model call's output when the request sets no max_tokens.
    `estimate_from_history`: a tool without a listed cost is estimated from its recent actual
    costs (docs/semantics.md "Estimates from history")."""

    user_id: str
    max_cost: Money | None = None
    run_id: str = ""
    provider: str = "openai"
    model: str = ""
    tool_costs: Mapping[str, Money] = field(default_factory=dict)
    output_tokens: int = 1024
    estimate_from_history: bool = False


def estimate_tokens(payload: object) -> int:
    """A prompt's tokens, roughly (4 characters a token, rounded up): an estimate for a hold,
    settled to the model's reported usage afterwards."""
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    return -(-len(text) // 4)


def run_name(*parts: str) -> str:
    """A run id from names (at most 128 characters, no whitespace)."""
    name = ".".join(_UNSAFE.sub("-", p) for p in parts if p)
    if len(name) > 120:
        name = f"{name[:100]}.{uuid.uuid4().hex[:12]}"
    return name


def _raise_if_denied(result: CheckResult) -> None:
    if not result.allowed:
        code = result.code.value if result.code is not None else "DENIED"
        raise BudgetStop(code, result.reason or "quota exceeded", result.retry_after)


@dataclass(slots=True)
class _Hold:
    check: CheckResult
    tool_name: str
    run_id: str
    parent_run_id: str
    key: str = field(default_factory=lambda: f"agent-{uuid.uuid4().hex}")
    # What the call costs once it has started, when that is known up front (a tool's fixed
    # cost): close() charges it if the framework cancelled the call before its end was seen.
    started_usage: Mapping[str, object] | None = None


class BudgetLedger:
    """The open holds of one framework run and the settles in flight; see the module doc."""

    def __init__(self, api: QuotaApi, budget: AgentBudget) -> None:
        self.api = api
        self.budget = budget
        self.root_run_id = budget.run_id or run_name("run", uuid.uuid4().hex[:16])
        self._holds: dict[str, _Hold] = {}
        self._settles: set[asyncio.Task[RecordResult | None]] = set()
        self._parents: dict[str, str] = {self.root_run_id: ""}
        self._opened: set[str] = set()
        self._opening = asyncio.Lock()

    async def _open(self, run_id: str) -> None:
        """Open a run whose first call is made below it (a subgraph's call before any of its
        graph's own): a child run needs its parent open. The opening is one check of the user
        on the run (one request counted on the user, nothing held)."""
        if not run_id or run_id in self._opened:
            return
        async with self._opening:
            if run_id in self._opened:
                return
            await self._open_unlocked(run_id)

    async def _open_unlocked(self, run_id: str) -> None:
        parent = self._parents.get(run_id, "")
        if parent and parent not in self._opened:
            await self._open_unlocked(parent)
        result = await self.api.check_quota(
            subjects=guard_subjects(self.budget.user_id, "run")[:1],
            run_id=run_id,
            parent_run_id=parent,
            run_max_cost=self.budget.max_cost if run_id == self.root_run_id else None,
        )
        _raise_if_denied(result)
        self._opened.add(run_id)

    def tool_cost(self, tool_name: str) -> Money | None:
        return self.budget.tool_costs.get(tool_name)

    async def hold(
        self,
        key: str,
        *,
        tool_name: str,
        run: tuple[str, str],
        estimate: Mapping[str, object],
    ) -> None:
        """A reserving check on the user, the tool and the run `(run_id, parent_run_id)`;
        BudgetStop when denied. `estimate`: estimated_cost or model/token fields."""
        run_id, parent = run
        self._parents.setdefault(run_id, parent)
        await self._open(parent)
        result = await self.api.check_quota(
            subjects=guard_subjects(self.budget.user_id, tool_name),
            tool_name=tool_name,
            reserve=True,
            run_id=run_id,
            parent_run_id=parent,
            run_max_cost=self.budget.max_cost if run_id == self.root_run_id else None,
            **estimate,  # type: ignore[arg-type]
        )
        _raise_if_denied(result)
        self._opened.add(run_id)
        self._holds[key] = _Hold(result, tool_name, run_id, parent)

    def settle(self, key: str, **usage: object) -> Awaitable[RecordResult | None]:
        """Settle the hold `key` with what the call used (a cost, or provider/model/tokens),
        in its own task; awaitable, and awaited by close() in any case."""
        hold = self._holds.pop(key, None)
        task = asyncio.ensure_future(self._record(hold, usage))
        self._settles.add(task)
        task.add_done_callback(self._settles.discard)
        return asyncio.shield(task)

    async def _record(self, hold: _Hold | None, usage: Mapping[str, object]) -> RecordResult | None:
        if hold is None:
            return None
        return await self.api.record_usage(
            subjects=guard_subjects(self.budget.user_id, hold.tool_name),
            tool_name=hold.tool_name,
            idempotency_key=hold.key,
            reservation_id=hold.check.reservation_id,
            run_id=hold.run_id,
            parent_run_id=hold.parent_run_id,
            **usage,  # type: ignore[arg-type]
        )

    def started(self, key: str, **usage: object) -> None:
        """The call behind hold `key` is under way and will cost `usage` whatever happens next:
        if the framework cancels it (a sibling's denial cancels parallel tool calls), close()
        settles it with that rather than releasing it, so a call that may have run is charged."""
        hold = self._holds.get(key)
        if hold is not None:
            hold.started_usage = usage

    async def release(self, key: str) -> None:
        """The call did not happen: give its hold back."""
        hold = self._holds.pop(key, None)
        if hold is not None and hold.check.reservation_id:
            await self.api.release_reservation(hold.check.reservation_id)

    async def close(self) -> None:
        """Charge the started calls whose end never came, wait for every settle, then end the
        root run: holds still open are released."""
        for key in [k for k, hold in self._holds.items() if hold.started_usage is not None]:
            usage = self._holds[key].started_usage or {}
            self.settle(key, **usage)
        while self._settles:
            await asyncio.gather(*list(self._settles), return_exceptions=False)
        self._holds.clear()
        try:
            await self.api.end_run(self.root_run_id)
        except NotFound:
            pass  # never opened (no call was made), or ended already
        except QuotaSidecarError:
            log.warning("could not end run %s", self.root_run_id, exc_info=True)
