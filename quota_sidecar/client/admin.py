"""AdminCalls: QuotaClient's QuotaAdminService calls (quotas, usage resets, top spenders),
sent with the admin token. register_quota works without await, as the seed calls it."""

from __future__ import annotations

import asyncio

import grpc

from quota_sidecar.client.channel import ChannelClient
from quota_sidecar.client.pending import PendingCall, run_blocking_put
from quota_sidecar.client.transport import error_from_rpc as _error
from quota_sidecar.client.transport import with_trace_context
from quota_sidecar.domain.errors import InvalidInput, NotFound
from quota_sidecar.domain.history import TopSpender
from quota_sidecar.domain.models import QuotaConfig, QuotaScope, Subject, parse_scope
from quota_sidecar.v1 import admin_pb2
from quota_sidecar.wire import history
from quota_sidecar.wire import replies as convert
from quota_sidecar.wire.fields import scope_to_proto

__all__ = ["AdminCalls"]


class AdminCalls(ChannelClient):
    """The admin calls of QuotaClient."""

    # --- configuration -------------------------------------------------------------------------
    def register_quota(
        self, config: QuotaConfig, *, actor: str = "api", reason: str = ""
    ) -> PendingCall[QuotaConfig]:
        """Store a quota (admin PutQuota). Works without await, as the seed calls it: inside an
        event loop the call starts at once and every later call of this client waits for it;
        without a loop it is made before this returns. Await the result for the stored config."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return PendingCall.finished(
                lambda: self._blocking_put(config, actor=actor, reason=reason)
            )
        pending = PendingCall.start(self._put(config, actor=actor, reason=reason))
        self._pending.add(pending)
        return pending

    def _blocking_put(self, config: QuotaConfig, *, actor: str, reason: str) -> QuotaConfig:
        request = admin_pb2.PutQuotaRequest(
            config=convert.config_to_proto(config), actor=actor, reason=reason
        )
        credentials = None if self._tls is None else self._tls.credentials()
        try:
            response = run_blocking_put(
                self.target,
                request,
                credentials=credentials,
                options=self._options(),
                metadata=with_trace_context(self._admin_metadata),
                timeout=self.timeout,
            )
        except grpc.RpcError as exc:
            raise _error(exc) from exc
        return convert.config_from_proto(response.config)

    async def _put(self, config: QuotaConfig, *, actor: str, reason: str) -> QuotaConfig:
        stored, _created = await self._put_quota(config, actor=actor, reason=reason)
        return stored

    async def _put_quota(
        self, config: QuotaConfig, *, actor: str, reason: str
    ) -> tuple[QuotaConfig, bool]:
        request = admin_pb2.PutQuotaRequest(
            config=convert.config_to_proto(config), actor=actor, reason=reason
        )
        # Not settled first: this is itself one of the pending registrations.
        response = await self._unary("PutQuota", request, admin=True, settle=False)
        return convert.config_from_proto(response.config), bool(response.created)

    async def put_quota(
        self, config: QuotaConfig, *, actor: str = "api", reason: str = ""
    ) -> tuple[QuotaConfig, bool]:
        """Create or replace a quota; returns (stored config with its version, created)."""
        await self._settle_pending()
        return await self._put_quota(config, actor=actor, reason=reason)

    async def get_quota(self, subject: Subject) -> QuotaConfig | None:
        request = admin_pb2.GetQuotaRequest(subject=convert.subject_to_proto(subject))
        try:
            response = await self._unary("GetQuota", request, admin=True)
        except NotFound:
            return None
        return convert.config_from_proto(response.config)

    async def delete_quota(self, subject: Subject, *, actor: str, reason: str = "") -> QuotaConfig:
        """Raises NotFound when the subject has no quota."""
        request = admin_pb2.DeleteQuotaRequest(
            subject=convert.subject_to_proto(subject), actor=actor, reason=reason
        )
        response = await self._unary("DeleteQuota", request, admin=True)
        return convert.config_from_proto(response.deleted)

    async def reset_usage(
        self, subject: Subject, *, actor: str, reason: str = ""
    ) -> tuple[int, int]:
        """Clear usage; returns (cost today, cost this month) in nanos as they were."""
        request = admin_pb2.ResetUsageRequest(
            subject=convert.subject_to_proto(subject), actor=actor, reason=reason
        )
        response = await self._unary("ResetUsage", request, admin=True)
        return int(response.cost_today_nanos), int(response.cost_this_month_nanos)

    async def top_spenders(
        self, scope: QuotaScope | str, *, period: str = "today", limit: int = 10
    ) -> tuple[TopSpender, ...]:
        """The scope's subjects by spend in their current quota day or month (admin)."""
        if period not in ("today", "month"):
            raise InvalidInput("period", f"must be today or month: {period!r}")
        request = admin_pb2.ListTopSpendersRequest(
            scope=scope_to_proto(parse_scope(scope)),
            period=history.period_to_proto(period),
            limit=limit,
        )
        response = await self._unary("ListTopSpenders", request, admin=True)
        return tuple(history.top_spender_from_proto(t) for t in response.spenders)
