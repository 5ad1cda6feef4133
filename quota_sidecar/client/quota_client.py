"""QuotaClient: the QuotaService API over gRPC, so the seed's examples run against a sidecar.

    client = QuotaClient("127.0.0.1:50051", token="...")
    client.register_quota(user_quota)                    # no await needed, as in the seed
    result = await client.check_quota(scope=QuotaScope.USER, identifier="user-123",
                                      estimated_cost=0.05)

It returns the same domain types as the in-process engine (CheckResult, RecordResult, Usage,
Alert, QuotaConfig) and raises the same errors: InvalidInput (naming the field) for
INVALID_ARGUMENT, NotFound for NOT_FOUND, SidecarUnavailable (a StoreUnavailable) when the
sidecar cannot be reached, SidecarTimeout (a StoreTimeout) when a deadline passes, SidecarError
for any other status. Money goes in as Decimal/float/int/str dollars and travels as nanos
(a float taken to the nearest nano, the rest exact or refused: quota_sidecar/domain/money.py).

Design:
  * One grpc.aio channel, opened lazily in the running event loop and reused by every call
    made from that loop (a channel cannot move between loops; a new loop gets a new channel).
  * Every unary call has a deadline (`timeout`, per attempt). Alert streams are long-lived and
    have none unless asked for.
  * UNAVAILABLE is retried a bounded number of times with exponential backoff. RecordUsage is
    sent with the same idempotency key on every attempt (one is generated per record_usage call
    when the caller gives none), so a record whose reply was lost counts once. A retried check
    whose first reply was lost may have consumed one request in the rate windows (and its hold
    expires with its lease): the error is on the safe side.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta

import grpc
import grpc.aio

from quota_sidecar.client.admin import AdminCalls
from quota_sidecar.client.guard import QuotaGuard
from quota_sidecar.client.requests import (
    check_message,
    extension_message,
    given_cost,
    record_message,
)
from quota_sidecar.client.streams import GuardedStream, StreamSpec
from quota_sidecar.client.transport import (
    RetryPolicy,
    SidecarError,
    SidecarTimeout,
    SidecarUnavailable,
    TlsOptions,
    with_trace_context,
)
from quota_sidecar.client.transport import error_from_rpc as _error
from quota_sidecar.domain.errors import NotFound
from quota_sidecar.domain.history import UsageHistory
from quota_sidecar.domain.models import (
    QuotaScope,
    Subject,
    parse_scope,
    validate_identifier,
)
from quota_sidecar.domain.money import Money
from quota_sidecar.domain.requests import CheckRequest, ExtendRequest, RecordRequest
from quota_sidecar.domain.results import (
    Alert,
    AlertKind,
    CheckResult,
    HoldExtension,
    RecordResult,
    RunEnd,
    RunUsage,
    Severity,
    Usage,
)
from quota_sidecar.domain.validation import resolve_subjects, run_limits
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire import history
from quota_sidecar.wire import replies as convert
from quota_sidecar.wire.runs import run_end_from_proto, run_usage_from_proto
from quota_sidecar.wire.streams import extension_from_proto

__all__ = [
    "QuotaClient",
    "RetryPolicy",
    "SidecarError",
    "SidecarTimeout",
    "SidecarUnavailable",
    "TlsOptions",
]


class QuotaClient(AdminCalls):
    """An async client of one quota sidecar; see the module docstring."""

    # --- data plane ----------------------------------------------------------------------------
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
        timeout: float | None = None,  # a gRPC deadline per attempt
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
        estimate_from_history: bool = False,
    ) -> CheckResult:
        """May this call happen now? With reserve=True an allowed check holds the estimate.
        With a provider and model, estimated input/output tokens are priced by the sidecar.
        With a run_id, the run (opened by its first call, with the run_* limits asked for, up
        to the sidecar's `runs:` template) and its ancestors join the same atomic check. With
        estimate_from_history and no estimate, the sidecar estimates from recent actual costs
        ("Estimates from history" in docs/semantics.md)."""
        req = CheckRequest(
            subjects=resolve_subjects(scope, identifier, subjects),
            # A check's estimate is a plain field: 0 with tokens means "price the tokens".
            estimated_cost_nanos=given_cost(estimated_cost, estimated_cost_nanos,
                                            "estimated_cost") or 0,
            estimated_tokens=estimated_tokens, estimated_input_tokens=estimated_input_tokens,
            estimated_output_tokens=estimated_output_tokens, tool_name=tool_name,
            provider=provider, model=model, request_id=request_id, reserve=reserve,
            reservation_lease=reservation_lease, skip_model_subject=skip_model_subject,
            run=run_limits(run_id, parent_run_id, max_cost=run_max_cost, ttl=run_ttl,
                           max_requests=run_max_requests, max_tokens=run_max_tokens),
            estimate_from_history=estimate_from_history,
        )  # fmt: skip
        request = check_message(req)
        response = await self._unary("CheckQuota", request, timeout=timeout)
        return convert.check_result_from_proto(response)

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
        timeout: float | None = None,  # a gRPC deadline per attempt
        model: str = "",
        skip_model_subject: bool = False,
        run_id: str = "",
        parent_run_id: str = "",
        end_run: bool = False,
        cut_short: bool = False,
    ) -> RecordResult:
        """Record what a call really cost, settling its hold when reservation_id is given.
        Without a cost, a record with a provider, a model and tokens is priced by the sidecar
        (`priced_by` says how); an explicit cost, 0 included, is taken as given. With a
        run_id the spend counts on the run and its ancestors; end_run=True then ends the run.
        cut_short=True: the call stopped early (a stream); what it used so far is charged."""
        req = RecordRequest(
            subjects=resolve_subjects(scope, identifier, subjects),
            cost_nanos=given_cost(cost, cost_nanos, "cost"),
            provider=provider, tool_name=tool_name, model=model, input_tokens=input_tokens,
            output_tokens=output_tokens, cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens, idempotency_key=idempotency_key,
            reservation_id=reservation_id, skip_model_subject=skip_model_subject,
            run_id=run_id, parent_run_id=parent_run_id, end_run=end_run, cut_short=cut_short,
        )  # fmt: skip
        request = record_message(req)
        response = await self._unary("RecordUsage", request, timeout=timeout)
        return convert.record_result_from_proto(response)

    async def release_reservation(self, reservation_id: str) -> bool:
        """Return a hold without recording anything; False when it was already settled,
        released or expired. The reservation id names its subjects, so any client can."""
        request = quota_pb2.RecordUsageRequest(reservation_id=reservation_id, release=True)
        response = await self._unary("RecordUsage", request)
        return bool(response.hold_settled)

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
        """Grow a hold while its call streams, to a new TOTAL (a retry is harmless): a cost,
        or the price of total tokens for the provider and model. All its subjects or none;
        extended=False (with the reason) means the stream must stop. NotFound when the hold is
        no longer open."""
        req = ExtendRequest(
            reservation_id,
            hold_cost_nanos=given_cost(hold_cost, hold_cost_nanos, "hold_cost") or None,
            input_tokens=input_tokens, output_tokens=output_tokens, provider=provider,
            model=model, reservation_lease=reservation_lease,
        )  # fmt: skip
        request = extension_message(req)
        response = await self._unary("ExtendReservation", request, timeout=timeout)
        return extension_from_proto(response)

    async def end_run(self, run_id: str, *, timeout: float | None = None) -> RunEnd:
        """End a run early: its holds are released and later checks on it (or below it) are
        denied BLOCKED; records still count. NotFound when the run is not open."""
        request = quota_pb2.EndRunRequest(run_id=validate_identifier(run_id, "run_id"))
        response = await self._unary("EndRun", request, timeout=timeout)
        return run_end_from_proto(response)

    async def run_usage(self, run_id: str, *, timeout: float | None = None) -> RunUsage:
        """A run and every run below it, with their spend (GetUsage on run:<run_id>).
        NotFound when the run is not open."""
        subject = Subject(QuotaScope.RUN, validate_identifier(run_id, "run_id"))
        request = quota_pb2.GetUsageRequest(subject=convert.subject_to_proto(subject))
        response = await self._unary("GetUsage", request, timeout=timeout)
        if not response.HasField("run"):
            raise NotFound(f"run {run_id} is not open (or has ended)")
        return run_usage_from_proto(response.run)

    async def get_quota_usage(self, scope: QuotaScope | str, identifier: str) -> Usage:
        return await self.get_usage(Subject(parse_scope(scope), identifier))

    async def get_usage(self, subject: Subject) -> Usage:
        request = quota_pb2.GetUsageRequest(subject=convert.subject_to_proto(subject))
        return convert.usage_from_proto(await self._unary("GetUsage", request))

    async def usage_history(
        self, subject: Subject, *, start: date | None = None, end: date | None = None
    ) -> UsageHistory:
        """Recorded spend per quota day from `start` to `end` (default: the whole retention)."""
        request = quota_pb2.GetUsageHistoryRequest(
            subject=convert.subject_to_proto(subject),
            start_date=history.date_to_proto(start),
            end_date=history.date_to_proto(end),
        )
        return history.history_from_proto(await self._unary("GetUsageHistory", request))

    def guard(
        self,
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
    ) -> QuotaGuard:
        """`async with client.guard(...) as g:` — see quota_sidecar.client.guard."""
        return QuotaGuard(
            self,
            user_id=user_id,
            tool_name=tool_name,
            provider=provider,
            estimated_cost=estimated_cost,
            estimated_tokens=estimated_tokens,
            model=model,
            estimated_input_tokens=estimated_input_tokens,
            estimated_output_tokens=estimated_output_tokens,
            skip_model_subject=skip_model_subject,
            run_id=run_id,
            parent_run_id=parent_run_id,
            run_max_cost=run_max_cost,
        )

    def stream(self, spec: StreamSpec) -> GuardedStream:
        """`async with client.stream(StreamSpec(...)) as s:` — see quota_sidecar.client.streams."""
        return GuardedStream(self, spec)

    # --- alerts --------------------------------------------------------------------------------
    async def subscribe_alerts(
        self,
        *,
        scopes: Sequence[QuotaScope | str] = (),
        identifiers: Sequence[str] = (),
        kinds: Sequence[AlertKind] = (),
        min_severity: Severity | None = None,
        cursor: str = "",
        reconnects: int = 5,
        timeout: float | None = None,  # a gRPC deadline for the whole stream
    ) -> AsyncIterator[Alert]:
        """Alerts from the shared stream: a replay after `cursor` ("0": all retained; "": live
        only), then live ones. When the connection drops it reconnects (up to `reconnects` times
        in a row) and resumes after the last alert or heartbeat seen: no loss, no duplicates."""
        await self._settle_pending()
        quota, _admin = self._stubs()
        failures = 0
        while True:
            request = quota_pb2.StreamAlertsRequest(
                scopes=[convert.enum_to_proto(parse_scope(s)) for s in scopes],  # type: ignore[misc]
                identifiers=list(identifiers),
                kinds=[convert.enum_to_proto(k) for k in kinds],  # type: ignore[misc]
                min_severity=convert.enum_to_proto(min_severity),  # type: ignore[arg-type]
                cursor=cursor,
            )
            call = quota.StreamAlerts(
                request, timeout=timeout, metadata=with_trace_context(self._metadata)
            )
            try:
                async for event in call:
                    failures = 0
                    if event.HasField("alert"):
                        cursor = event.alert.id
                        yield convert.alert_from_proto(event.alert)
                    elif event.heartbeat.cursor:
                        cursor = event.heartbeat.cursor
                return  # the server ended the stream
            except grpc.aio.AioRpcError as exc:
                failures += 1
                if exc.code() != grpc.StatusCode.UNAVAILABLE or failures > reconnects:
                    raise _error(exc) from exc
            finally:
                call.cancel()
            await asyncio.sleep(self.retry.backoff(failures - 1))
