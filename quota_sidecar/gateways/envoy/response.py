"""A check's result -> Envoy's RateLimitResponse.

* Each descriptor's status comes from the limits of the subjects it maps to. It is OVER_LIMIT
  when one of those subjects denies the check (the check is atomic: nothing is counted for any
  descriptor then), OK otherwise; the overall code is OVER_LIMIT when any descriptor is.
* `current_limit` is the descriptor's tightest limit that Envoy can express: a request window
  (hits counted as requests) or a token window (hits counted as tokens), as
  {requests_per_unit, MINUTE | HOUR | DAY}. Our windows slide (docs/semantics.md "Rate limits"), so
  the unit names the window's length, not a calendar minute, hour or day. Tightest: the least
  remaining (over limit: the exceeded window that frees last). A cost budget, a per-request
  limit, a concurrency cap, a block, and any limit above 4294967295 (Envoy's uint32) cannot be
  expressed: such a limit still decides, but is not shown as `current_limit` (the exact figures
  are in the quota's GetUsage).
* `limit_remaining` is what is left after this request (0 when over limit);
  `duration_until_reset` is when the window's oldest counted requests leave (over limit: when
  the same request could pass, when that is known).
* Headers (x-ratelimit-limit / -remaining / -reset, and the same as ratelimit-limit /
  -remaining / -reset, IETF draft-polli-ratelimit-headers-03, as Envoy and envoyproxy/ratelimit
  write them) describe the descriptor with the least remaining:
  `60, 60;w=60`, `0`, and the seconds until reset, rounded up.
* dynamic_metadata says why, when there is something to say: a denial, a shadow-mode
  would-be denial (answered OK), a decision taken without the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.service.ratelimit.v3 import rls_pb2
from google.protobuf import duration_pb2, struct_pb2

from quota_sidecar.config.gateways import HitsUnit
from quota_sidecar.domain.models import LimitKind, Subject
from quota_sidecar.domain.periods import Window
from quota_sidecar.domain.results import CheckResult, LimitStatus
from quota_sidecar.gateways.envoy.mapping import DescriptorPlan, RequestPlan

__all__ = ["build_response"]

_Response = rls_pb2.RateLimitResponse
_UNITS = {
    Window.MINUTE: _Response.RateLimit.Unit.MINUTE,
    Window.HOUR: _Response.RateLimit.Unit.HOUR,
    Window.DAY: _Response.RateLimit.Unit.DAY,
}
_UINT32_MAX = 2**32 - 1
_BUDGETS = (
    LimitKind.COST_DAILY,
    LimitKind.COST_MONTHLY,
    LimitKind.COST_WEEKLY,
    LimitKind.COST_LIFETIME,
)


def build_response(
    plan: RequestPlan, result: CheckResult | None, now: datetime
) -> rls_pb2.RateLimitResponse:
    """The reply to the request `plan` was made from; `result` is None when nothing mapped."""
    if result is None:
        ok = _Response.DescriptorStatus(code=_Response.Code.OK)
        return _Response(overall_code=_Response.Code.OK, statuses=[ok for _ in plan.descriptors])
    denying = _denying_subjects(plan, result)
    enforced = not result.allowed and not plan.shadow_mode
    statuses: list[rls_pb2.RateLimitResponse.DescriptorStatus] = []
    over_indexes: list[int] = []
    for index, descriptor in enumerate(plan.descriptors):
        over = any(s in denying for s in descriptor.subjects)
        if over:
            over_indexes.append(index)
        statuses.append(
            _status(plan, result, descriptor=descriptor, over=over, enforced=enforced, now=now)
        )
    response = _Response(
        overall_code=_Response.Code.OVER_LIMIT if enforced else _Response.Code.OK,
        statuses=statuses,
        response_headers_to_add=_headers(statuses),
    )
    metadata = _metadata(plan, result, over_indexes, enforced)
    if metadata is not None:
        response.dynamic_metadata.CopyFrom(metadata)
    return response


def _denying_subjects(plan: RequestPlan, result: CheckResult) -> set[Subject]:
    """The subjects that deny (or, in shadow mode, would deny) this check."""
    if result.allowed and not result.shadow_denied:
        return set()
    found = {result.denied_subject} if result.denied_subject is not None else set()
    # An allowed (shadow) check was counted, so its statuses include this request.
    counted = result.allowed
    found |= {s.subject for s in result.limits if _exceeded(s, plan, counted=counted)}
    return found


def _exceeded(status: LimitStatus, plan: RequestPlan, *, counted: bool) -> bool:
    kind = status.limit
    if kind.window is not None:
        if counted:
            return status.used > status.limit_value
        need = plan.requests if kind.value.startswith("requests_") else plan.tokens
        return status.used + max(need, 1) > status.limit_value  # as check.lua decides
    if kind in _BUDGETS:
        return status.used + status.held > status.limit_value  # equal to the limit is allowed
    return False  # a gateway check has no cost estimate and takes no hold


def _expressible(status: LimitStatus, unit: HitsUnit) -> bool:
    """Can Envoy show this limit as {requests_per_unit, unit} of the hits it counts?"""
    if status.limit.window is None or status.limit_value > _UINT32_MAX:
        return False
    counts_requests = status.limit.value.startswith("requests_")
    return counts_requests == (unit is HitsUnit.REQUESTS)


def _tightest(
    plan: RequestPlan, result: CheckResult, descriptor: DescriptorPlan, over: bool
) -> LimitStatus | None:
    candidates = [
        s for s in result.limits if s.subject in descriptor.subjects and _expressible(s, plan.unit)
    ]
    if over:
        exceeded = [s for s in candidates if _exceeded(s, plan, counted=result.allowed)]
        return max(exceeded, key=_reset_ms, default=None)
    return min(candidates, key=lambda s: (s.remaining, -_reset_ms(s)), default=None)


def _reset_ms(status: LimitStatus) -> float:
    return status.reset_at.timestamp() * 1000 if status.reset_at is not None else 0.0


def _status(
    plan: RequestPlan,
    result: CheckResult,
    *,
    descriptor: DescriptorPlan,
    over: bool,
    enforced: bool,
    now: datetime,
) -> rls_pb2.RateLimitResponse.DescriptorStatus:
    code = _Response.Code.OVER_LIMIT if over and enforced else _Response.Code.OK
    status = _Response.DescriptorStatus(code=code)
    chosen = _tightest(plan, result, descriptor, over)
    if chosen is not None:
        window = chosen.limit.window
        assert window is not None  # only windows are expressible
        status.current_limit.CopyFrom(
            _Response.RateLimit(requests_per_unit=chosen.limit_value, unit=_UNITS[window])
        )
        status.limit_remaining = 0 if over else chosen.remaining
    wait: timedelta | None = None
    if over and result.retry_after is not None:
        wait = result.retry_after
    elif chosen is not None and chosen.reset_at is not None:
        wait = chosen.reset_at - now
    if wait is not None:
        status.duration_until_reset.CopyFrom(_duration(max(wait, timedelta(0))))
    return status


def _duration(delta: timedelta) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(delta)
    return duration


def _headers(
    statuses: Sequence[rls_pb2.RateLimitResponse.DescriptorStatus],
) -> list[base_pb2.HeaderValue]:
    shown = [s for s in statuses if s.HasField("current_limit")]
    if not shown:
        return []
    status = min(shown, key=lambda s: s.limit_remaining)  # the first of the least remaining
    limit = status.current_limit.requests_per_unit
    window = _window_seconds(status.current_limit.unit)
    reset = status.duration_until_reset
    # Rounded up, so a client that waits that long is never early.
    reset_seconds = reset.seconds + (1 if reset.nanos > 0 else 0)
    values = (
        ("limit", f"{limit}, {limit};w={window}"),
        ("remaining", str(status.limit_remaining)),
        ("reset", str(reset_seconds)),
    )
    # Both spellings: x-ratelimit-* (Envoy's filter) and the IETF draft's ratelimit-* (what
    # envoyproxy/ratelimit writes with LIMIT_RESPONSE_HEADERS_ENABLED).
    return [
        base_pb2.HeaderValue(key=prefix + key, value=value)
        for prefix in ("x-ratelimit-", "ratelimit-")
        for key, value in values
    ]


def _window_seconds(unit: int) -> int:
    for window, value in _UNITS.items():
        if value == unit:
            return window.length_ms // 1000
    raise ValueError(f"no window for unit {unit}")


def _metadata(
    plan: RequestPlan, result: CheckResult, over_indexes: list[int], enforced: bool
) -> struct_pb2.Struct | None:
    """Why, for Envoy's dynamic metadata: None when the check simply passed."""
    would_deny = not result.allowed or result.shadow_denied
    if not would_deny and not result.decided_without_store:
        return None
    fields: dict[str, Any] = {"decided_without_store": result.decided_without_store}
    if would_deny:
        fields["denied"] = enforced
        if not enforced:
            fields["shadow_mode"] = "gateway" if not result.allowed else "quota"
        fields["reason"] = result.reason
        if result.code is not None:
            fields["code"] = result.code.value
        if result.denied_subject is not None:
            fields["denied_subject"] = str(result.denied_subject)
        if result.denied_limit is not None:
            fields["denied_limit"] = result.denied_limit.value
        fields["over_limit_descriptors"] = list(over_indexes)
    metadata = struct_pb2.Struct()
    metadata.update(fields)
    return metadata
