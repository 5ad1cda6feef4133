"""The data plane's responses, built in place: CheckQuotaResponse and GetUsageResponse.

A check answers with a LimitStatus per limit of every subject (10 for two subjects with three
windows and two budgets), each with a subject, a reset time and a window. Building each as its
own message, with its sub-messages, and handing the list to the response's constructor copies
every one of them again; `limits.add()` and setting the sub-messages' fields in place builds
each once, at well under half the cost. The messages are equal, field for field, to what the
per-field helpers in fields.py and replies.py build (tests/unit/wire/test_responses.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from quota_sidecar.domain.clock import EPOCH
from quota_sidecar.domain.results import CheckResult, LimitStatus, Usage
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire import configs
from quota_sidecar.wire.fields import (
    LIMIT_VALUES,
    SCOPE_VALUES,
    denial_to_proto,
    duration_parts,
    limit_to_proto,
    subject_to_proto,
    timestamp_parts,
    timestamp_to_proto,
)
from quota_sidecar.wire.replies import breakdown_to_proto, warning_to_proto

__all__ = ["add_limit_statuses", "check_response", "usage_response"]


def _put_time(target: Any, when: datetime) -> None:
    target.seconds, target.nanos = timestamp_parts(when)


def _put_span(target: Any, span: timedelta) -> None:
    target.seconds, target.nanos = duration_parts(span)


def add_limit_statuses(container: Any, statuses: Iterable[LimitStatus]) -> None:
    """Append each status to a repeated LimitStatus field, built in place. The per-field
    helpers' work is inlined (the enum maps, timestamp_parts, duration_parts): a check answers
    with a status per limit, and each helper call cost more than its arithmetic."""
    add = container.add
    for status in statuses:
        entry = add(
            limit=LIMIT_VALUES[status.limit],
            limit_amount=status.limit_value,
            used=status.used,
            held=status.held,
            remaining=status.remaining,
        )
        subject = entry.subject
        subject.scope = SCOPE_VALUES[status.subject.scope]
        subject.identifier = status.subject.identifier
        # Assigning a sub-message's field makes it present, even a zero (the epoch, an empty
        # span): no SetInParent needed, and a check has 20 of these.
        if status.reset_at is not None:
            stamp = entry.reset_at
            delta = status.reset_at - EPOCH
            stamp.seconds = delta.days * 86_400 + delta.seconds
            stamp.nanos = delta.microseconds * 1000
        window = status.window
        if window is not None:
            span = entry.window
            if window.days < 0:  # never for a window; duration_parts knows the signs
                span.seconds, span.nanos = duration_parts(window)
            else:
                span.seconds = window.days * 86_400 + window.seconds
                span.nanos = window.microseconds * 1000


def check_response(result: CheckResult) -> quota_pb2.CheckQuotaResponse:
    response = quota_pb2.CheckQuotaResponse(
        allowed=result.allowed,
        reservation_id=result.reservation_id or "",
        decided_without_store=result.decided_without_store,
        shadow_denied=result.shadow_denied,
    )
    add_limit_statuses(response.limits, result.limits)
    if result.warnings:
        response.warnings.extend(warning_to_proto(w) for w in result.warnings)
    # Scalars at their zero are absent either way; the messages only when there is a value.
    response.code = denial_to_proto(result.code)
    response.reason = result.reason
    response.denied_limit = limit_to_proto(result.denied_limit)
    if result.denied_subject is not None:
        response.denied_subject.CopyFrom(subject_to_proto(result.denied_subject))
    if result.denied_window is not None:
        response.denied_window.SetInParent()
        _put_span(response.denied_window, result.denied_window)
    if result.retry_after is not None:
        response.retry_after.SetInParent()  # a zero wait is still a hint: present
        _put_span(response.retry_after, result.retry_after)
    if result.reset_at is not None:
        response.reset_at.SetInParent()
        _put_time(response.reset_at, result.reset_at)
    return response


def usage_response(usage: Usage) -> quota_pb2.GetUsageResponse:
    response = quota_pb2.GetUsageResponse(
        subject=subject_to_proto(usage.subject),
        cost_today_nanos=usage.cost_today_nanos,
        cost_this_month_nanos=usage.cost_this_month_nanos,
        held_nanos=usage.held_nanos,
        requests_today=usage.requests_today,
        tokens_today=usage.tokens_today,
        requests_last_minute=usage.requests_last_minute,
        requests_last_hour=usage.requests_last_hour,
        requests_last_day=usage.requests_last_day,
        tokens_last_minute=usage.tokens_last_minute,
        tokens_last_day=usage.tokens_last_day,
        day_resets_at=timestamp_to_proto(usage.day_resets_at),
        month_resets_at=timestamp_to_proto(usage.month_resets_at),
        by_provider_today=breakdown_to_proto(usage.by_provider_today),
        by_tool_today=breakdown_to_proto(usage.by_tool_today),
        by_provider_month=breakdown_to_proto(usage.by_provider_month),
        by_tool_month=breakdown_to_proto(usage.by_tool_month),
        by_model_today=breakdown_to_proto(usage.by_model_today),
        by_model_month=breakdown_to_proto(usage.by_model_month),
        config=configs.config_to_proto(usage.config) if usage.config else None,
        cost_this_week_nanos=usage.cost_this_week_nanos,
        week_resets_at=timestamp_to_proto(usage.week_resets_at),
        cost_lifetime_nanos=usage.cost_lifetime_nanos,
        quota_source=usage.quota_source,
        quota_default=usage.quota_default,
    )
    add_limit_statuses(response.limits, usage.limits)
    return response
