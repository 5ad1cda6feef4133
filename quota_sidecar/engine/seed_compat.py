"""The seed-compatible face of QuotaService: keyword arguments and dollars, as the seed's README
calls it, and `register_quota` without await. Everything here builds the same request objects
the wire builds (quota_sidecar.domain.requests), checks them once, and hands them to the
engine's own operations (`check`, `record`, `usage`, `extend`), which never wait for pending
registrations themselves: only these calls do, so the gRPC hot path never pays for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaConfig, QuotaScope, Subject, parse_scope
from quota_sidecar.domain.money import Money
from quota_sidecar.domain.requests import (
    CheckRequest,
    ExtendRequest,
    RecordRequest,
    UsageRequest,
)
from quota_sidecar.domain.results import CheckResult, HoldExtension, RecordResult, Usage
from quota_sidecar.domain.validation import (
    checked_check,
    checked_extension,
    checked_record,
    money_nanos,
    resolve_subjects,
    run_limits,
)
from quota_sidecar.engine.registration import Registration, write_without_loop
from quota_sidecar.store.redis import Store

__all__ = ["SeedFacade"]


class SeedFacade:
    """Mixed into QuotaService: the keyword API, and registrations made without await."""

    _store: Store
    clock: Clock
    _pending: set[asyncio.Task[QuotaConfig]]
    _last_registration: asyncio.Task[QuotaConfig] | None

    # The engine's own operations (QuotaService).
    async def check(self, req: CheckRequest) -> CheckResult:
        raise NotImplementedError

    async def record(self, req: RecordRequest) -> RecordResult:
        raise NotImplementedError

    async def usage(self, req: UsageRequest) -> Usage:
        raise NotImplementedError

    async def extend(self, req: ExtendRequest) -> HoldExtension:
        raise NotImplementedError

    async def put_quota(
        self, config: QuotaConfig, *, actor: str = "api", reason: str = ""
    ) -> tuple[QuotaConfig, bool]:
        raise NotImplementedError

    # --- registrations without await -----------------------------------------------------------
    async def _settled(self) -> None:
        """Wait for registrations started without await, so calls see them."""
        if self._pending:
            await asyncio.gather(*list(self._pending))

    def register_quota(self, config: QuotaConfig) -> Registration:
        """Store a quota. Works without await (as the seed calls it) and is also awaitable."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return Registration(None, self._register_without_loop(config))
        # One after another, in call order, so the last registration is the one that stays.
        task = asyncio.ensure_future(self._put_registered(config, self._last_registration))
        self._last_registration = task
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return Registration(task, None)

    async def _put_registered(
        self, config: QuotaConfig, previous: asyncio.Task[QuotaConfig] | None
    ) -> QuotaConfig:
        if previous is not None:
            with contextlib.suppress(Exception):  # its failure is its own caller's to see
                await asyncio.shield(previous)
        stored, _ = await self.put_quota(config, actor="register_quota")
        return stored

    def _register_without_loop(self, config: QuotaConfig) -> QuotaConfig:
        url = self._store.url
        if url is None:
            raise InvalidInput("register_quota", "await it: this store has no URL to reach it by")
        return write_without_loop(url, self.clock, config)

    # --- the keyword API -------------------------------------------------------------------------
    async def check_quota(
        self,
        scope: QuotaScope | str | None = None,
        identifier: str | None = None,
        estimated_cost: Money = 0,
        *,
        subjects: Sequence[Subject] | None = None,
        estimated_cost_nanos: int | None = None,
        estimated_tokens: int = 0,
        tool_name: str = "",
        provider: str = "",
        reserve: bool = False,
        request_id: str = "",
        reservation_lease: timedelta | None = None,
        timeout: float | None = None,
        model: str = "",
        skip_model_subject: bool = False,
        estimated_input_tokens: int = 0,
        estimated_output_tokens: int = 0,
        run_id: str = "",
        parent_run_id: str = "",
        run_max_cost: Money | None = None,
        run_ttl: timedelta | None = None,
        run_max_requests: int | None = None,
        run_max_tokens: int | None = None,
        requests: int = 1,
        estimate_from_history: bool = False,
    ) -> CheckResult:
        """The seed's check: see CheckRequest and QuotaService.check. Money in dollars
        (`estimated_cost`) or nanos (`estimated_cost_nanos`); `timeout` in seconds."""
        req = CheckRequest(
            subjects=resolve_subjects(scope, identifier, subjects),
            estimated_cost_nanos=money_nanos(
                estimated_cost, estimated_cost_nanos, "estimated_cost"
            ),
            estimated_tokens=estimated_tokens,
            estimated_input_tokens=estimated_input_tokens,
            estimated_output_tokens=estimated_output_tokens,
            tool_name=tool_name, provider=provider, model=model, request_id=request_id,
            reserve=reserve, reservation_lease=reservation_lease,
            skip_model_subject=skip_model_subject,
            run=run_limits(run_id, parent_run_id, max_cost=run_max_cost, ttl=run_ttl,
                           max_requests=run_max_requests, max_tokens=run_max_tokens),
            requests=requests, estimate_from_history=estimate_from_history, timeout=timeout,
        )  # fmt: skip
        checked = checked_check(req)
        await self._settled()
        return await self.check(checked)

    async def record_usage(
        self,
        scope: QuotaScope | str | None = None,
        identifier: str | None = None,
        cost: Money | None = None,
        provider: str = "",
        tool_name: str = "",
        *,
        subjects: Sequence[Subject] | None = None,
        cost_nanos: int | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        idempotency_key: str = "",
        reservation_id: str | None = None,
        timeout: float | None = None,
        model: str = "",
        skip_model_subject: bool = False,
        run_id: str = "",
        parent_run_id: str = "",
        end_run: bool = False,
        cut_short: bool = False,
    ) -> RecordResult:
        """The seed's record: see RecordRequest and QuotaService.record. Money in dollars
        (`cost`) or nanos (`cost_nanos`); 0 or none with a model and tokens prices them."""
        req = RecordRequest(
            subjects=resolve_subjects(scope, identifier, subjects),
            cost_nanos=money_nanos(cost or 0, cost_nanos, "cost") or None,
            provider=provider, tool_name=tool_name, model=model,
            input_tokens=input_tokens, output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens,
            idempotency_key=idempotency_key, reservation_id=reservation_id,
            skip_model_subject=skip_model_subject, run_id=run_id, parent_run_id=parent_run_id,
            end_run=end_run, cut_short=cut_short, timeout=timeout,
        )  # fmt: skip
        checked = checked_record(req)
        await self._settled()
        return await self.record(checked)

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
    ) -> HoldExtension:
        """Grow a hold while its call streams: see ExtendRequest and QuotaService.extend."""
        if not reservation_id:
            raise InvalidInput("reservation_id", "is required")
        req = ExtendRequest(
            reservation_id=reservation_id,
            hold_cost_nanos=money_nanos(hold_cost or 0, hold_cost_nanos, "hold_cost") or None,
            input_tokens=input_tokens, output_tokens=output_tokens,
            provider=provider, model=model, reservation_lease=reservation_lease, timeout=timeout,
        )  # fmt: skip
        checked = checked_extension(req)
        await self._settled()
        return await self.extend(checked)

    async def get_usage(self, subject: Subject, *, tenant: str = "") -> Usage:
        """`tenant`: whose default applies if the subject has no quota of its own (as a check
        naming tenant:<tenant> would apply it)."""
        await self._settled()
        return await self.usage(UsageRequest(subject, tenant))

    async def get_quota_usage(self, scope: QuotaScope | str, identifier: str) -> Usage:
        return await self.get_usage(Subject(parse_scope(scope), identifier))
