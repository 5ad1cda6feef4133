"""QuotaService over gRPC: translate the request, call the engine, translate the result. Errors
are mapped to status codes by the interceptor, not here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from grpc import aio

from quota_sidecar import tracing
from quota_sidecar.domain.errors import InvalidInput, NotFound
from quota_sidecar.domain.models import QuotaScope, validate_identifier
from quota_sidecar.domain.money import check_nanos
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.server.metrics import Metrics
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc
from quota_sidecar.wire import fields, history, replies, responses, runs, streams

__all__ = ["AlertSource", "QuotaServicer"]


class AlertSource(Protocol):
    """What StreamAlerts delegates to (quota_sidecar.server.alert_stream.AlertStreamer)."""

    def stream(
        self, request: quota_pb2.StreamAlertsRequest, context: aio.ServicerContext
    ) -> AsyncIterator[quota_pb2.StreamAlertsResponse]: ...


class QuotaServicer(quota_pb2_grpc.QuotaServiceServicer):
    """The data plane: CheckQuota, RecordUsage, GetUsage, EndRun, StreamAlerts,
    GetUsageHistory."""

    def __init__(
        self,
        service: QuotaService,
        metrics: Metrics,
        alerts: AlertSource | None,
        *,
        default_lease_seconds: float,
    ) -> None:
        self._service = service
        self._metrics = metrics
        self._alerts = alerts
        self._default_lease = default_lease_seconds

    async def CheckQuota(
        self, request: quota_pb2.CheckQuotaRequest, context: aio.ServicerContext
    ) -> quota_pb2.CheckQuotaResponse:
        subjects = fields.subjects_from_proto(request.subjects)
        tracing.annotate_subjects(subjects)
        lease = fields.lease_from_proto(request)
        run = runs.check_run_from_proto(request)
        result = await self._service.check_quota(
            subjects=subjects,
            estimated_cost_nanos=check_nanos(request.estimated_cost_nanos, "estimated_cost_nanos"),
            estimated_tokens=fields.check_count(request.estimated_tokens, "estimated_tokens"),
            tool_name=fields.check_short_text(request.tool_name, "tool_name"),
            provider=fields.check_short_text(request.provider, "provider"),
            reserve=request.reserve,
            request_id=fields.check_short_text(request.request_id, "request_id"),
            reservation_lease=lease,
            timeout=context.time_remaining(),  # the caller's deadline: past it, nothing held
            model=fields.check_short_text(request.model, "model"),
            skip_model_subject=request.skip_model_subject,
            estimated_input_tokens=fields.check_count(
                request.estimated_input_tokens, "estimated_input_tokens"
            ),
            estimated_output_tokens=fields.check_count(
                request.estimated_output_tokens, "estimated_output_tokens"
            ),
            run_id=run.run_id,
            parent_run_id=run.parent_run_id,
            run_max_cost=run.max_cost,
            run_ttl=run.ttl,
            run_max_requests=run.max_requests,
            run_max_tokens=run.max_tokens,
            estimate_from_history=request.estimate_from_history,
        )
        self._metrics.record_check(subjects, result)
        tracing.annotate_decision(result.allowed, result.code)
        if result.reservation_id:
            seconds = lease.total_seconds() if lease is not None else self._default_lease
            self._metrics.hold_opened(result.reservation_id, seconds)
        return responses.check_response(result)

    async def RecordUsage(
        self, request: quota_pb2.RecordUsageRequest, context: aio.ServicerContext
    ) -> quota_pb2.RecordUsageResponse:
        reservation_id = fields.reservation_id_from_proto(request.reservation_id)
        # 0 with a model and tokens means "price my tokens": see RecordUsageRequest.cost_nanos.
        cost = check_nanos(request.cost_nanos, "cost_nanos") if request.cost_nanos else None
        input_tokens = fields.check_count(request.input_tokens, "input_tokens")
        output_tokens = fields.check_count(request.output_tokens, "output_tokens")
        tool_name = fields.check_short_text(request.tool_name, "tool_name")
        provider = fields.check_short_text(request.provider, "provider")
        idempotency_key = fields.check_short_text(request.idempotency_key, "idempotency_key")
        run_id, parent_run_id, end_run = runs.record_run_from_proto(request)
        if request.release:
            if run_id:
                raise InvalidInput("run_id", "a release names its hold only: no run_id")
            if reservation_id is None:
                raise InvalidInput("reservation_id", "is required when release is true")
            if cost or input_tokens or output_tokens:
                raise InvalidInput(
                    "release", "a release records nothing: cost and tokens must be 0"
                )
            # The reservation id names its subjects, so a release needs no subjects.
            settled = await self._service.release_reservation(reservation_id)
            self._metrics.hold_closed(reservation_id)
            return quota_pb2.RecordUsageResponse(hold_settled=settled)
        subjects = fields.subjects_from_proto(request.subjects)
        tracing.annotate_subjects(subjects)
        result = await self._service.record_usage(
            subjects=subjects,
            cost_nanos=cost,
            provider=provider,
            tool_name=tool_name,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            idempotency_key=idempotency_key,
            reservation_id=reservation_id,
            timeout=context.time_remaining(),  # past the deadline it is spooled under its key
            model=fields.check_short_text(request.model, "model"),
            skip_model_subject=request.skip_model_subject,
            cache_read_tokens=fields.check_count(request.cache_read_tokens, "cache_read_tokens"),
            cache_write_tokens=fields.check_count(request.cache_write_tokens, "cache_write_tokens"),
            run_id=run_id,
            parent_run_id=parent_run_id,
            end_run=end_run,
            cut_short=request.cut_short,
        )
        if reservation_id is not None:
            self._metrics.hold_closed(reservation_id)
        self._metrics.record_alerts(result.alerts)
        if result.spooled:
            self._metrics.records_spooled.inc()
        return quota_pb2.RecordUsageResponse(
            recorded=result.recorded,
            duplicate=result.duplicate,
            totals=[replies.totals_to_proto(t) for t in result.totals],
            alerts=[replies.alert_to_proto(a) for a in result.alerts],
            hold_settled=result.hold_settled,
            spooled=result.spooled,
            idempotency_key=result.idempotency_key,
            priced_by=result.priced_by,
            cost_nanos=result.cost_nanos,
            run_ended=result.run_ended,
        )

    async def ExtendReservation(
        self, request: quota_pb2.ExtendReservationRequest, context: aio.ServicerContext
    ) -> quota_pb2.ExtendReservationResponse:
        ask = streams.extension_request_from_proto(request)
        result = await self._service.extend_reservation(
            ask.reservation_id,
            hold_cost_nanos=ask.hold_cost_nanos,
            input_tokens=ask.input_tokens,
            output_tokens=ask.output_tokens,
            provider=ask.provider,
            model=ask.model,
            reservation_lease=ask.lease,
            timeout=context.time_remaining(),
        )
        return streams.extension_to_proto(result)

    async def GetUsage(
        self, request: quota_pb2.GetUsageRequest, context: aio.ServicerContext
    ) -> quota_pb2.GetUsageResponse:
        subject = fields.required_subject_from_proto(request)
        tenant = validate_identifier(request.tenant, "tenant") if request.tenant else ""
        usage = await self._service.get_usage(subject, tenant=tenant)
        response = responses.usage_response(usage)
        if subject.scope is QuotaScope.RUN:
            # A run past its time to live (or never opened) has no tree: its usage is all zeros.
            with contextlib.suppress(NotFound):
                tree = await self._service.run_usage(
                    subject.identifier, timeout=context.time_remaining()
                )
                response.run.CopyFrom(runs.run_usage_to_proto(tree))
        return response

    async def EndRun(
        self, request: quota_pb2.EndRunRequest, context: aio.ServicerContext
    ) -> quota_pb2.EndRunResponse:
        run_id = runs.end_run_request_from_proto(request)
        ended = await self._service.end_run(run_id, timeout=context.time_remaining())
        return runs.run_end_to_proto(ended)

    async def GetUsageHistory(
        self, request: quota_pb2.GetUsageHistoryRequest, context: aio.ServicerContext
    ) -> quota_pb2.GetUsageHistoryResponse:
        subject = fields.required_subject_from_proto(request)
        start = history.date_from_proto(request.start_date, "start_date")
        end = history.date_from_proto(request.end_date, "end_date")
        if start is not None and end is not None and start > end:
            raise InvalidInput("start_date", f"is after end_date ({start} > {end})")
        tenant = validate_identifier(request.tenant, "tenant") if request.tenant else ""
        found = await self._service.usage_history(subject, start=start, end=end, tenant=tenant)
        return history.history_to_proto(found)

    async def StreamAlerts(
        self, request: quota_pb2.StreamAlertsRequest, context: aio.ServicerContext
    ) -> AsyncIterator[quota_pb2.StreamAlertsResponse]:
        if self._alerts is None:
            raise NotImplementedError("StreamAlerts needs quota_sidecar.server.alert_stream")
        async for item in self._alerts.stream(request, context):
            yield item
