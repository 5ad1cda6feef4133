"""`guard` and the ToolExecutor quota checker: the two shapes an agent wraps around a call.

Both work with anything that has the QuotaService API: the remote `QuotaClient` or the
in-process `QuotaService` engine, so the same agent code runs with or without a sidecar.

    async with client.guard(user_id="u1", tool_name="createIssues", provider="openai",
                            estimated_cost=0.05) as g:
        result = await run_the_tool()
        await g.record(cost=0.042, input_tokens=812, output_tokens=95)

    async with client.guard(user_id="u1", tool_name="chat", provider="openai", model="gpt-4o",
                            estimated_input_tokens=2000, estimated_output_tokens=500) as g:
        await g.record(input_tokens=812, output_tokens=95)    # priced by the sidecar

In an agent run (see "Run budgets" in docs/semantics.md), each guarded call names its run, and a
sub-agent's run names its parent: the run and every ancestor run join the same atomic check.

    async with client.guard(user_id="u1", tool_name="search", estimated_cost=0.02,
                            run_id="sub-1", parent_run_id="root") as g:
        await g.record(cost=0.015)        # g.record(..., end_run=True) also ends the run

On entry the user, the tool and (when given) the provider are checked together with a hold of
the estimated cost (or, with a model, of its estimated tokens priced by the sidecar, and the
model's own quota joins the check); a denial raises QuotaExceeded(code, reason, retry_after)
and the block does not run. `g.record(...)` settles the hold to the actual cost. If the block
raises, or ends without `record`, the hold is released: the call is taken not to have cost
anything (a hold that cannot be released, for example because the sidecar is down, expires
with its lease).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Protocol

from quota_sidecar.domain.errors import InvalidInput, QuotaExceeded, QuotaSidecarError
from quota_sidecar.domain.models import QuotaScope, Subject, validate_identifier
from quota_sidecar.domain.money import Money
from quota_sidecar.domain.results import CheckResult, HoldExtension, RecordResult, RunEnd

__all__ = [
    "QuotaApi",
    "QuotaChecker",
    "QuotaGuard",
    "guard_subjects",
    "make_quota_checker",
    "raise_if_denied",
]

log = logging.getLogger(__name__)


class QuotaApi(Protocol):
    """The part of the QuotaService API that guards and checkers use (engine or client)."""

    async def check_quota(
        self,
        scope: QuotaScope | str | None = None,
        identifier: str | None = None,
        estimated_cost: Money = 0,
        *,
        subjects: Sequence[Subject] | None = None,
        estimated_tokens: int = 0,
        tool_name: str = "",
        provider: str = "",
        reserve: bool = False,
        model: str = "",
        skip_model_subject: bool = False,
        estimated_input_tokens: int = 0,
        estimated_output_tokens: int = 0,
        run_id: str = "",
        parent_run_id: str = "",
        run_max_cost: Money | None = None,
        estimate_from_history: bool = False,
    ) -> CheckResult: ...

    async def record_usage(
        self,
        scope: QuotaScope | str | None = None,
        identifier: str | None = None,
        cost: Money | None = None,
        provider: str = "",
        tool_name: str = "",
        *,
        subjects: Sequence[Subject] | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        idempotency_key: str = "",
        reservation_id: str | None = None,
        model: str = "",
        skip_model_subject: bool = False,
        run_id: str = "",
        parent_run_id: str = "",
        end_run: bool = False,
        cut_short: bool = False,
    ) -> RecordResult: ...

    async def release_reservation(self, reservation_id: str) -> bool: ...

    async def end_run(self, run_id: str, *, timeout: float | None = None) -> RunEnd: ...

    async def extend_reservation(
        self,
        reservation_id: str,
        *,
        hold_cost: Money | None = None,
        hold_cost_nanos: int | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        provider: str = "",
        model: str = "",
        reservation_lease: timedelta | None = None,
        timeout: float | None = None,
    ) -> HoldExtension: ...


QuotaChecker = Callable[[str, str, float], Awaitable[CheckResult]]


def raise_if_denied(result: CheckResult) -> CheckResult:
    """Raise QuotaExceeded carrying the code, reason and retry_after of a denied check."""
    if not result.allowed:
        code = result.code.value if result.code is not None else "DENIED"
        raise QuotaExceeded(code, result.reason or "quota exceeded", result.retry_after)
    return result


def guard_subjects(user_id: str, tool_name: str, provider: str = "") -> list[Subject]:
    """user + tool (+ provider): the subjects a guarded call is checked and charged against.

    The provider is a label first ("Azure OpenAI" is a fine one); when it cannot be an
    identifier, no provider quota can exist for it, so it is left out of the subjects (as a
    model that cannot be one is) and stays in the breakdown. A bad user_id or tool_name is
    refused naming that argument."""
    subjects = [
        Subject(QuotaScope.USER, validate_identifier(user_id, "user_id")),
        Subject(QuotaScope.TOOL, validate_identifier(tool_name, "tool_name")),
    ]
    if provider and _is_identifier(provider):
        subjects.append(Subject(QuotaScope.PROVIDER, provider))
    return subjects


def _is_identifier(text: str) -> bool:
    try:
        validate_identifier(text)
    except InvalidInput:
        return False
    return True


class QuotaGuard:
    """An async context manager around one guarded call; see the module docstring."""

    def __init__(
        self,
        api: QuotaApi,
        *,
        user_id: str,
        tool_name: str,
        provider: str = "",
        estimated_cost: Money = 0,
        estimated_tokens: int = 0,
        model: str = "",
        estimated_input_tokens: int = 0,
        estimated_output_tokens: int = 0,
        skip_model_subject: bool = False,
        run_id: str = "",
        parent_run_id: str = "",
        run_max_cost: Money | None = None,
    ) -> None:
        self._api = api
        self.run_id = run_id
        self.parent_run_id = parent_run_id
        self._run_max_cost = run_max_cost
        # The model's own quota is joined by the sidecar (model:<provider>/<model>), not here,
        # so a guard charges it exactly when the engine would for the same call.
        self.subjects = guard_subjects(user_id, tool_name, provider)
        self.tool_name = tool_name
        self.provider = provider
        self.model = model
        self.skip_model_subject = skip_model_subject
        self._estimated_cost = estimated_cost
        self._estimated_tokens = estimated_tokens
        self._estimated_input_tokens = estimated_input_tokens
        self._estimated_output_tokens = estimated_output_tokens
        # One key for this guarded call, so a retried record never counts twice.
        self._idempotency_key = f"guard-{uuid.uuid4().hex}"
        self.check: CheckResult | None = None
        self.recorded: RecordResult | None = None

    @property
    def reservation_id(self) -> str | None:
        return self.check.reservation_id if self.check is not None else None

    async def __aenter__(self) -> QuotaGuard:
        result = await self._api.check_quota(
            subjects=self.subjects,
            estimated_cost=self._estimated_cost,
            estimated_tokens=self._estimated_tokens,
            tool_name=self.tool_name,
            provider=self.provider,
            reserve=True,
            model=self.model,
            skip_model_subject=self.skip_model_subject,
            estimated_input_tokens=self._estimated_input_tokens,
            estimated_output_tokens=self._estimated_output_tokens,
            run_id=self.run_id,
            parent_run_id=self.parent_run_id,
            run_max_cost=self._run_max_cost,
        )
        self.check = raise_if_denied(result)
        return self

    async def record(
        self,
        cost: Money | None = None,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        end_run: bool = False,
    ) -> RecordResult:
        """Settle the hold to the actual cost and tokens. Once per guard. Without a cost, a
        guard with a model has its tokens priced by the sidecar (an explicit 0 is free). With
        end_run=True (a guard with a run_id), the run ends once this is recorded: its other
        open holds are released and later calls naming it are refused."""
        if self.check is None:
            raise RuntimeError("record() is only valid inside `async with guard(...)`")
        if self.recorded is not None:
            raise RuntimeError("this guarded call was already recorded")
        self.recorded = await self._api.record_usage(
            subjects=self.subjects,
            cost=cost,
            provider=self.provider,
            tool_name=self.tool_name,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            idempotency_key=self._idempotency_key,
            reservation_id=self.reservation_id,
            model=self.model,
            skip_model_subject=self.skip_model_subject,
            run_id=self.run_id,
            parent_run_id=self.parent_run_id,
            end_run=end_run,
        )
        return self.recorded

    async def release(self) -> bool:
        """Return the hold without recording anything (what leaving the block unrecorded does)."""
        reservation_id = self.reservation_id
        if reservation_id is None or self.recorded is not None:
            return False
        self.recorded = RecordResult(recorded=False, duplicate=False)  # nothing left to settle
        return await self._api.release_reservation(reservation_id)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.recorded is not None:
            return
        if exc is None:
            await self.release()
            return
        try:
            await self.release()
        except QuotaSidecarError:
            # The block's own exception matters more; the hold will expire with its lease.
            log.warning("could not release hold %s", self.reservation_id, exc_info=True)


def make_quota_checker(
    api: QuotaApi,
    *,
    check_tool: bool = True,
    provider: str = "",
    model: str = "",
    estimated_input_tokens: int = 0,
    estimated_output_tokens: int = 0,
    skip_model_subject: bool = False,
) -> QuotaChecker:
    """The `check_quota(tool_name, user_id, estimated_cost)` coroutine of the seed's
    "Integration with ToolExecutor" example, for `ToolExecutor(quotaChecker=...)`.

    It checks the user (and, with check_tool, the tool too, in the same atomic check, so a
    tool quota such as "createIssues: 10 per minute" applies) and raises QuotaExceeded, whose
    message is the denial reason, when the call must not run. It returns the CheckResult.

    The executor's callback has no room for a model, so the model is bound here: with a
    provider and a model, the model's own quota joins the check (unless skip_model_subject),
    and with an estimated_cost of 0 the estimated tokens are priced by the sidecar.
    """

    async def check_quota(tool_name: str, user_id: str, estimated_cost: float) -> CheckResult:
        subjects = [Subject(QuotaScope.USER, validate_identifier(user_id, "user_id"))]
        if check_tool:
            subjects.append(Subject(QuotaScope.TOOL, validate_identifier(tool_name, "tool_name")))
        result = await api.check_quota(
            subjects=subjects,
            estimated_cost=estimated_cost,
            tool_name=tool_name,
            provider=provider,
            model=model,
            skip_model_subject=skip_model_subject,
            estimated_input_tokens=estimated_input_tokens,
            estimated_output_tokens=estimated_output_tokens,
        )
        return raise_if_denied(result)

    return check_quota
