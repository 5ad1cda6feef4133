"""Envoy's rate limit service protocol (envoy.service.ratelimit.v3), from the generated code of
the xds-protos package: descriptors -> subjects and hits (mapping), and a check's result ->
RateLimitResponse (response). May import the domain, config/ and xds-protos' generated code
only, like the rest of gateways/.
"""

from __future__ import annotations

from quota_sidecar.gateways.envoy.mapping import (
    UNKNOWN_DOMAIN,
    DescriptorPlan,
    RequestPlan,
    plan_request,
)
from quota_sidecar.gateways.envoy.response import build_response

__all__ = [
    "UNKNOWN_DOMAIN",
    "DescriptorPlan",
    "RequestPlan",
    "build_response",
    "plan_request",
]
