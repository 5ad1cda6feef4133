"""QuotaAdminService over gRPC. The interceptor has already checked the admin token; the engine
writes the audit log and raises the admin alerts. This only translates."""

from __future__ import annotations

from grpc import aio

from quota_sidecar.domain.errors import InvalidInput, NotFound
from quota_sidecar.domain.models import validate_identifier
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from quota_sidecar.wire import admin, configs, fields, history

__all__ = ["AdminServicer"]


class AdminServicer(admin_pb2_grpc.QuotaAdminServiceServicer):
    """Quotas, overrides, usage resets, the audit log and top spenders."""

    def __init__(self, service: QuotaService) -> None:
        self._service = service

    async def PutQuota(
        self, request: admin_pb2.PutQuotaRequest, context: aio.ServicerContext
    ) -> admin_pb2.PutQuotaResponse:
        if not request.HasField("config"):
            raise InvalidInput("config", "is required")
        config = configs.config_from_proto(request.config)
        actor = fields.check_short_text(request.actor, "actor", required=True)
        reason = fields.check_short_text(request.reason, "reason")
        stored, created = await self._service.put_quota(config, actor=actor, reason=reason)
        return admin_pb2.PutQuotaResponse(config=configs.config_to_proto(stored), created=created)

    async def GetQuota(
        self, request: admin_pb2.GetQuotaRequest, context: aio.ServicerContext
    ) -> admin_pb2.GetQuotaResponse:
        subject = fields.required_subject_from_proto(request)
        tenant = validate_identifier(request.tenant, "tenant") if request.tenant else ""
        found = await self._service.quota_in_force(subject, tenant=tenant)
        if found.config is None:
            raise NotFound(f"no quota is configured for {subject}, nor a default for it")
        return admin_pb2.GetQuotaResponse(
            config=configs.config_to_proto(found.config),
            quota_source=found.source,
            quota_default=found.default,
        )

    async def ListQuotas(
        self, request: admin_pb2.ListQuotasRequest, context: aio.ServicerContext
    ) -> admin_pb2.ListQuotasResponse:
        scope = (
            None
            if request.scope == types_pb2.SCOPE_UNSPECIFIED
            else fields.scope_from_proto(request.scope)
        )
        stored, token = await self._service.list_quotas(
            scope, fields.page_size_from_proto(request.page_size), request.page_token
        )
        return admin_pb2.ListQuotasResponse(
            configs=[configs.config_to_proto(c) for c in stored], next_page_token=token
        )

    async def DeleteQuota(
        self, request: admin_pb2.DeleteQuotaRequest, context: aio.ServicerContext
    ) -> admin_pb2.DeleteQuotaResponse:
        subject = fields.required_subject_from_proto(request)
        actor = fields.check_short_text(request.actor, "actor", required=True)
        reason = fields.check_short_text(request.reason, "reason")
        deleted = await self._service.delete_quota(subject, actor=actor, reason=reason)
        return admin_pb2.DeleteQuotaResponse(deleted=configs.config_to_proto(deleted))

    async def GrantOverride(
        self, request: admin_pb2.GrantOverrideRequest, context: aio.ServicerContext
    ) -> admin_pb2.GrantOverrideResponse:
        if not request.HasField("override"):
            raise InvalidInput("override", "is required")
        granted = await self._service.grant_override(admin.override_from_proto(request.override))
        return admin_pb2.GrantOverrideResponse(override=admin.override_to_proto(granted))

    async def RevokeOverride(
        self, request: admin_pb2.RevokeOverrideRequest, context: aio.ServicerContext
    ) -> admin_pb2.RevokeOverrideResponse:
        subject = fields.required_subject_from_proto(request)
        override_id = fields.check_short_text(request.override_id, "override_id", required=True)
        actor = fields.check_short_text(request.actor, "actor", required=True)
        reason = fields.check_short_text(request.reason, "reason")
        revoked = await self._service.revoke_override(
            subject, override_id, actor=actor, reason=reason
        )
        return admin_pb2.RevokeOverrideResponse(revoked=admin.override_to_proto(revoked))

    async def ListOverrides(
        self, request: admin_pb2.ListOverridesRequest, context: aio.ServicerContext
    ) -> admin_pb2.ListOverridesResponse:
        subject = fields.required_subject_from_proto(request)
        overrides = await self._service.list_overrides(subject)
        return admin_pb2.ListOverridesResponse(
            overrides=[admin.override_to_proto(o) for o in overrides]
        )

    async def ResetUsage(
        self, request: admin_pb2.ResetUsageRequest, context: aio.ServicerContext
    ) -> admin_pb2.ResetUsageResponse:
        subject = fields.required_subject_from_proto(request)
        actor = fields.check_short_text(request.actor, "actor", required=True)
        reason = fields.check_short_text(request.reason, "reason")
        today, month = await self._service.reset_usage(subject, actor=actor, reason=reason)
        return admin_pb2.ResetUsageResponse(cost_today_nanos=today, cost_this_month_nanos=month)

    async def ListAuditEvents(
        self, request: admin_pb2.ListAuditEventsRequest, context: aio.ServicerContext
    ) -> admin_pb2.ListAuditEventsResponse:
        subject = fields.optional_subject_from_proto(request)
        events, token = await self._service.list_audit_events(
            subject, fields.page_size_from_proto(request.page_size), request.page_token
        )
        return admin_pb2.ListAuditEventsResponse(
            events=[admin.audit_to_proto(e) for e in events], next_page_token=token
        )

    async def ListTopSpenders(
        self, request: admin_pb2.ListTopSpendersRequest, context: aio.ServicerContext
    ) -> admin_pb2.ListTopSpendersResponse:
        scope = fields.scope_from_proto(request.scope)
        period = history.period_from_proto(request.period)
        limit = history.top_limit_from_proto(request.limit)
        top = await self._service.top_spenders(scope, period=period, limit=limit)
        return admin_pb2.ListTopSpendersResponse(
            spenders=[history.top_spender_to_proto(t) for t in top]
        )
