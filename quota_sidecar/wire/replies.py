"""Proto ⇄ domain translation of the replies: results to proto for the servicers, and back
from proto (CheckResult, RecordResult, Usage, Alert, a stored QuotaConfig) for the client, with
the name-based enum mapping the client's requests and filters use.

The directions the server also needs (subjects, QuotaConfig and durations to and from proto)
are re-exported here from fields.py and configs.py, so the client has one module to read.

The client sends requests built from domain types and turns every response back into the same
domain types the engine returns (quota_sidecar.domain.models and .results), so code
written against the in-process QuotaService runs unchanged against a remote sidecar.

The enums are mapped by name: the domain enum member `X` of a kind is the contract's
`<PREFIX>_X` (QuotaScope.USER ⇄ SCOPE_USER, LimitKind.COST_DAILY ⇄ LIMIT_KIND_COST_DAILY, ...),
so the two cannot drift apart without a KeyError in the tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from quota_sidecar.domain.models import (
    DenialCode,
    FailureMode,
    LimitKind,
    QuotaConfig,
    QuotaScope,
    Subject,
)
from quota_sidecar.domain.results import (
    Alert,
    AlertKind,
    BreakdownEntry,
    CheckResult,
    LimitStatus,
    RecordResult,
    Severity,
    ThresholdWarning,
    Usage,
    UsageTotals,
)
from quota_sidecar.v1 import quota_pb2, types_pb2
from quota_sidecar.wire.configs import config_from_proto as _config_request_from_proto
from quota_sidecar.wire.configs import config_to_proto
from quota_sidecar.wire.fields import (
    duration_to_proto,
    limit_to_proto,
    subject_from_proto,
    subject_to_proto,
    timestamp_to_proto,
)

__all__ = [
    "alert_from_proto",
    "alert_to_proto",
    "breakdown_to_proto",
    "check_result_from_proto",
    "config_from_proto",
    "config_to_proto",
    "duration_to_proto",
    "enum_from_proto",
    "enum_to_proto",
    "limit_status_to_proto",
    "record_result_from_proto",
    "subject_from_proto",
    "subject_to_proto",
    "totals_to_proto",
    "usage_from_proto",
    "warning_to_proto",
]

E = TypeVar("E", bound=StrEnum)

# The contract's prefix of each domain enum's values.
_PREFIX: dict[type[StrEnum], tuple[str, Any]] = {
    QuotaScope: ("SCOPE_", types_pb2.Scope),
    LimitKind: ("LIMIT_KIND_", types_pb2.LimitKind),
    FailureMode: ("FAILURE_MODE_", types_pb2.FailureMode),
    AlertKind: ("ALERT_KIND_", types_pb2.AlertKind),
    Severity: ("SEVERITY_", types_pb2.Severity),
    DenialCode: ("DENIAL_CODE_", quota_pb2.DenialCode),
}


def enum_to_proto(member: StrEnum | None) -> int:
    """A domain enum member as the contract's number; None → the UNSPECIFIED zero."""
    if member is None:
        return 0
    prefix, wrapper = _PREFIX[type(member)]
    return int(wrapper.Value(prefix + member.name))


def enum_from_proto(kind: type[E], number: int) -> E | None:
    """The contract's number as a domain member; UNSPECIFIED (or a newer unknown value) → None."""
    prefix, wrapper = _PREFIX[kind]
    try:
        name: str = wrapper.Name(number)
    except ValueError:
        return None  # a value from a newer server: treat it as unspecified rather than crash
    member_name = name.removeprefix(prefix)
    return kind[member_name] if member_name in kind.__members__ else None


def _require(kind: type[E], number: int, what: str) -> E:
    member = enum_from_proto(kind, number)
    if member is None:
        raise ValueError(f"the server sent an unspecified {what}")
    return member


# --- time -----------------------------------------------------------------------------------------
def _time(message: Message, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def _span(message: Message, field: str) -> timedelta | None:
    if not message.HasField(field):
        return None
    duration: Duration = getattr(message, field)
    return duration.ToTimedelta()


# --- subjects and configuration -------------------------------------------------------------------
def _optional_subject(message: Message, field: str) -> Subject | None:
    return subject_from_proto(getattr(message, field)) if message.HasField(field) else None


def config_from_proto(message: types_pb2.QuotaConfig) -> QuotaConfig:
    """A stored quota as the server returns it: the server's own request-side conversion,
    plus the two fields it ignores on requests but sets on replies (version, updated_at)."""
    config = _config_request_from_proto(message)
    return replace(config, version=message.version, updated_at=_time(message, "updated_at"))


# --- results from proto (the client) --------------------------------------------------------------
def _limit_status(message: types_pb2.LimitStatus) -> LimitStatus:
    return LimitStatus(
        subject=subject_from_proto(message.subject),
        limit=_require(LimitKind, message.limit, "limit kind"),
        limit_value=message.limit_amount,
        used=message.used,
        held=message.held,
        remaining=message.remaining,
        reset_at=_time(message, "reset_at"),
        window=_span(message, "window"),
    )


def _warning(message: types_pb2.ThresholdWarning) -> ThresholdWarning:
    return ThresholdWarning(
        subject=subject_from_proto(message.subject),
        limit=_require(LimitKind, message.limit, "limit kind"),
        percent=message.percent,
        used=message.used,
        limit_value=message.limit_amount,
    )


def check_result_from_proto(message: quota_pb2.CheckQuotaResponse) -> CheckResult:
    return CheckResult(
        allowed=message.allowed,
        code=enum_from_proto(DenialCode, message.code),
        reason=message.reason,
        denied_subject=_optional_subject(message, "denied_subject"),
        denied_limit=enum_from_proto(LimitKind, message.denied_limit),
        denied_window=_span(message, "denied_window"),
        limits=tuple(_limit_status(s) for s in message.limits),
        retry_after=_span(message, "retry_after"),
        reset_at=_time(message, "reset_at"),
        warnings=tuple(_warning(w) for w in message.warnings),
        reservation_id=message.reservation_id or None,
        decided_without_store=message.decided_without_store,
        shadow_denied=message.shadow_denied,
    )


def alert_from_proto(message: types_pb2.Alert) -> Alert:
    return Alert(
        id=message.id,
        kind=_require(AlertKind, message.kind, "alert kind"),
        severity=enum_from_proto(Severity, message.severity) or Severity.INFO,
        subject=subject_from_proto(message.subject),
        time=_time(message, "time") or datetime.fromtimestamp(0, UTC),
        limit=enum_from_proto(LimitKind, message.limit),
        threshold_percent=message.threshold_percent,
        used=message.used,
        limit_value=message.limit_amount,
        period=message.period,
        message=message.message,
        quota_source=message.quota_source,
        quota_default=message.quota_default,
    )


def _totals(message: quota_pb2.UsageTotals) -> UsageTotals:
    return UsageTotals(
        subject=subject_from_proto(message.subject),
        cost_today_nanos=message.cost_today_nanos,
        cost_this_month_nanos=message.cost_this_month_nanos,
        requests_today=message.requests_today,
        tokens_today=message.tokens_today,
    )


def record_result_from_proto(message: quota_pb2.RecordUsageResponse) -> RecordResult:
    return RecordResult(
        recorded=message.recorded,
        duplicate=message.duplicate,
        totals=tuple(_totals(t) for t in message.totals),
        alerts=tuple(alert_from_proto(a) for a in message.alerts),
        hold_settled=message.hold_settled,
        spooled=message.spooled,
        idempotency_key=message.idempotency_key,
        priced_by=message.priced_by,
        cost_nanos=message.cost_nanos,
        run_ended=message.run_ended,
    )


def _breakdown(entries: Iterable[quota_pb2.BreakdownEntry]) -> tuple[BreakdownEntry, ...]:
    return tuple(BreakdownEntry(e.name, e.cost_nanos, e.requests) for e in entries)


def usage_from_proto(message: quota_pb2.GetUsageResponse) -> Usage:
    return Usage(
        subject=subject_from_proto(message.subject),
        cost_today_nanos=message.cost_today_nanos,
        cost_this_month_nanos=message.cost_this_month_nanos,
        held_nanos=message.held_nanos,
        requests_today=message.requests_today,
        tokens_today=message.tokens_today,
        requests_last_minute=message.requests_last_minute,
        requests_last_hour=message.requests_last_hour,
        requests_last_day=message.requests_last_day,
        tokens_last_minute=message.tokens_last_minute,
        tokens_last_day=message.tokens_last_day,
        limits=tuple(_limit_status(s) for s in message.limits),
        day_resets_at=_time(message, "day_resets_at"),
        month_resets_at=_time(message, "month_resets_at"),
        by_provider_today=_breakdown(message.by_provider_today),
        by_tool_today=_breakdown(message.by_tool_today),
        by_provider_month=_breakdown(message.by_provider_month),
        by_tool_month=_breakdown(message.by_tool_month),
        config=config_from_proto(message.config) if message.HasField("config") else None,
        by_model_today=_breakdown(message.by_model_today),
        by_model_month=_breakdown(message.by_model_month),
        cost_this_week_nanos=message.cost_this_week_nanos,
        week_resets_at=_time(message, "week_resets_at"),
        cost_lifetime_nanos=message.cost_lifetime_nanos,
    )


# --- results to proto (the servicers) -------------------------------------------------------------
def limit_status_to_proto(status: LimitStatus) -> types_pb2.LimitStatus:
    return types_pb2.LimitStatus(
        subject=subject_to_proto(status.subject),
        limit=limit_to_proto(status.limit),
        limit_amount=status.limit_value,
        used=status.used,
        held=status.held,
        remaining=status.remaining,
        reset_at=timestamp_to_proto(status.reset_at),
        window=duration_to_proto(status.window),
    )


def warning_to_proto(warning: ThresholdWarning) -> types_pb2.ThresholdWarning:
    return types_pb2.ThresholdWarning(
        subject=subject_to_proto(warning.subject),
        limit=limit_to_proto(warning.limit),
        percent=warning.percent,
        used=warning.used,
        limit_amount=warning.limit_value,
    )


def alert_to_proto(alert: Alert) -> types_pb2.Alert:
    return types_pb2.Alert(
        id=alert.id,
        kind=types_pb2.AlertKind.Value("ALERT_KIND_" + alert.kind.value),
        severity=types_pb2.Severity.Value("SEVERITY_" + alert.severity.value),
        subject=subject_to_proto(alert.subject),
        limit=limit_to_proto(alert.limit),
        threshold_percent=alert.threshold_percent,
        used=alert.used,
        limit_amount=alert.limit_value,
        period=alert.period,
        time=timestamp_to_proto(alert.time),
        message=alert.message,
        quota_source=alert.quota_source,
        quota_default=alert.quota_default,
    )


def totals_to_proto(totals: UsageTotals) -> quota_pb2.UsageTotals:
    return quota_pb2.UsageTotals(
        subject=subject_to_proto(totals.subject),
        cost_today_nanos=totals.cost_today_nanos,
        cost_this_month_nanos=totals.cost_this_month_nanos,
        requests_today=totals.requests_today,
        tokens_today=totals.tokens_today,
    )


def breakdown_to_proto(entries: Iterable[BreakdownEntry]) -> list[quota_pb2.BreakdownEntry]:
    return [
        quota_pb2.BreakdownEntry(name=e.name, cost_nanos=e.cost_nanos, requests=e.requests)
        for e in entries
    ]
