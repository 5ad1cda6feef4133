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
from quota_sidecar.domain.validation import check_reservation_id
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.server.metrics import Metrics
from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc
from quota_sidecar.wire import fields, history, replies, requests, responses, runs, streams

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
        # The caller's deadline: past it, nothing is held or counted.
        req = requests.check_from_proto(request, context.time_remaining())
        tracing.annotate_subjects(req.subjects)
        result = await self._service.check(req)
        self._metrics.record_check(req.subjects, result)
        tracing.annotate_decision(result.allowed, result.code)
        if result.reservation_id:
            lease = req.reservation_lease
            seconds = lease.total_seconds() if lease is not None else self._default_lease
            self._metrics.hold_opened(result.reservation_id, seconds)
        return responses.check_response(result)

    async def RecordUsage(
        self, request: quota_pb2.RecordUsageRequest, context: aio.ServicerContext
    ) -> quota_pb2.RecordUsageResponse:
        if request.release:
            return await self._release(request)
        # Past the deadline a record is spooled under its key.
        req = requests.record_from_proto(request, context.time_remaining())
        tracing.annotate_subjects(req.subjects)
        result = await self._service.record(req)
        if req.reservation_id is not None:
            self._metrics.hold_closed(req.reservation_id)
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

    async def _release(
        self, request: quota_pb2.RecordUsageRequest
    ) -> quota_pb2.RecordUsageResponse:
        """A release names its hold only: the reservation id names its subjects."""
        if request.run_id:
            raise InvalidInput("run_id", "a release names its hold only: no run_id")
        reservation_id = check_reservation_id(request.reservation_id)
        if reservation_id is None:
            raise InvalidInput("reservation_id", "is required when release is true")
        if request.cost_nanos or request.input_tokens or request.output_tokens:
            raise InvalidInput("release", "a release records nothing: cost and tokens must be 0")
        settled = await self._service.release_reservation(reservation_id)
        self._metrics.hold_closed(reservation_id)
        return quota_pb2.RecordUsageResponse(hold_settled=settled)

    async def ExtendReservation(
        self, request: quota_pb2.ExtendReservationRequest, context: aio.ServicerContext
    ) -> quota_pb2.ExtendReservationResponse:
        req = requests.extension_from_proto(request, context.time_remaining())
        result = await self._service.extend(req)
        return streams.extension_to_proto(result)

    async def GetUsage(
        self, request: quota_pb2.GetUsageRequest, context: aio.ServicerContext
    ) -> quota_pb2.GetUsageResponse:
        req = requests.usage_from_proto(request)
        usage = await self._service.usage(req)
        response = responses.usage_response(usage)
        if req.subject.scope is QuotaScope.RUN:
            # A run past its time to live (or never opened) has no tree: its usage is all zeros.
            with contextlib.suppress(NotFound):
                tree = await self._service.run_usage(
                    req.subject.identifier, timeout=context.time_remaining()
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
