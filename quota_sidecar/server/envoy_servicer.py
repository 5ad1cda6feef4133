"""Envoy's rate limit service (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit) on
the sidecar's port: translate the descriptors (quota_sidecar.gateways.envoy), make one check of
every subject they map to, translate the result. Errors are mapped to status codes by the
interceptor, as for QuotaService: bad input is INVALID_ARGUMENT; a store that answers it cannot
serve is UNAVAILABLE (Envoy's `failure_mode_deny` then decides); a store that is unreachable
leaves the decision to the quotas' failure modes (closed: OVER_LIMIT, open: OK, each with the
reason in dynamic_metadata)."""

from __future__ import annotations

from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from grpc import aio

from quota_sidecar.config import EnvoyGateway, QuotaDocument
from quota_sidecar.domain.clock import from_ms
from quota_sidecar.domain.requests import CheckRequest
from quota_sidecar.domain.validation import checked_check
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.gateways.envoy import build_response, plan_request
from quota_sidecar.server.metrics import Metrics

__all__ = ["ENVOY_SERVICE", "EnvoyRateLimitServicer"]

ENVOY_SERVICE = rls_pb2.DESCRIPTOR.services_by_name["RateLimitService"].full_name
_CODE_NAMES = {v: k for k, v in rls_pb2.RateLimitResponse.Code.items()}


class EnvoyRateLimitServicer(rls_pb2_grpc.RateLimitServiceServicer):  # type: ignore[misc]
    """ShouldRateLimit, with the quota file's `gateways.envoy` mapping (swapped on reload)."""

    def __init__(self, service: QuotaService, metrics: Metrics) -> None:
        self._service = service
        self._metrics = metrics
        self.gateway = EnvoyGateway()

    def configure(self, document: QuotaDocument) -> None:
        """Take the mapping of a quota file just loaded (at start and at each reload)."""
        self.gateway = document.gateways.envoy

    async def ShouldRateLimit(
        self, request: rls_pb2.RateLimitRequest, context: aio.ServicerContext
    ) -> rls_pb2.RateLimitResponse:
        plan = plan_request(self.gateway, request)
        if plan.unmapped:
            self._metrics.envoy_unmapped.labels(plan.domain_label).inc(plan.unmapped)
        result = None
        if plan.subjects:
            req = CheckRequest(
                subjects=tuple(plan.subjects),
                requests=plan.requests,
                estimated_tokens=plan.tokens,
                timeout=context.time_remaining(),  # Envoy's timeout: past it, nothing counted
            )
            result = await self._service.check(checked_check(req))
            self._metrics.record_check(plan.subjects, result)
        response = build_response(plan, result, from_ms(self._service.clock.now_ms()))
        code = _CODE_NAMES.get(response.overall_code, "UNKNOWN")
        self._metrics.envoy_decisions.labels(plan.domain_label, code).inc()
        return response
