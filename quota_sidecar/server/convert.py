"""Proto ⇄ domain translation for the servicers. Nothing here decides anything: it names the
proto field of every bad input (as InvalidInput, which the interceptor turns into
INVALID_ARGUMENT) and copies values across. Validation that needs the store or the clock is the
engine's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from quota_sidecar.errors import InvalidInput
from quota_sidecar.models import (
    MAX_COUNT_LIMIT,
    CostQuota,
    DenialCode,
    FailureMode,
    LimitKind,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
    validate_identifier,
)
from quota_sidecar.money import check_nanos, from_nanos
from quota_sidecar.results import (
    Alert,
    BreakdownEntry,
    LimitStatus,
    ThresholdWarning,
    UsageTotals,
)
from quota_sidecar.v1 import quota_pb2, types_pb2

__all__ = [
    "MAX_SUBJECTS",
    "alert_to_proto",
    "breakdown_to_proto",
    "check_count",
    "check_short_text",
    "config_from_proto",
    "config_to_proto",
    "denial_to_proto",
    "duration_to_proto",
    "failure_mode_from_proto",
    "failure_mode_to_proto",
    "lease_from_proto",
    "limit_from_proto",
    "limit_status_to_proto",
    "limit_to_proto",
    "optional_subject_from_proto",
    "page_size_from_proto",
    "required_subject_from_proto",
    "reservation_id_from_proto",
    "scope_from_proto",
    "scope_to_proto",
    "subject_from_proto",
    "subject_to_proto",
    "subjects_from_proto",
    "timestamp_from_proto",
    "timestamp_to_proto",
    "totals_to_proto",
    "warning_to_proto",
]

MAX_SUBJECTS = 8
MAX_TEXT = 128
MAX_RESERVATION_ID = 512
MAX_LEASE = timedelta(hours=24)
# Reservation ids are opaque to the server; the engine parses them. This only keeps out what no
# id the engine hands out can contain (whitespace, control characters) and absurd lengths.
_PRINTABLE = re.compile(r"^[^\s\x00-\x1f\x7f]+$")


# --- scalars ---------------------------------------------------------------------------------
def check_count(value: int, field: str, maximum: int = MAX_COUNT_LIMIT) -> int:
    """A token or request count: 0 to `maximum`."""
    if value < 0:
        raise InvalidInput(field, f"must not be negative, got {value}")
    if value > maximum:
        raise InvalidInput(field, f"is absurdly large ({value} > {maximum})")
    return value


def check_short_text(value: str, field: str, *, required: bool = False) -> str:
    """Free text such as an actor, a tool name or a request id: at most 128 characters."""
    if required and not value.strip():
        raise InvalidInput(field, "is required")
    if len(value) > MAX_TEXT:
        raise InvalidInput(field, f"is longer than {MAX_TEXT} characters")
    return value


def reservation_id_from_proto(value: str, field: str = "reservation_id") -> str | None:
    if not value:
        return None
    if len(value) > MAX_RESERVATION_ID or not _PRINTABLE.match(value):
        raise InvalidInput(field, "is not a reservation id returned by CheckQuota")
    return value


def page_size_from_proto(value: int, field: str = "page_size") -> int:
    if value == 0:
        return 100
    if not 1 <= value <= 1000:
        raise InvalidInput(field, f"must be 1-1000 (0 means 100), got {value}")
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_to_proto(when: datetime | None) -> Timestamp | None:
    # Plain arithmetic: Timestamp.FromDatetime is several times slower, and every check
    # answers with a reset time per limit.
    if when is None:
        return None
    delta = when - _EPOCH
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def timestamp_from_proto(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def duration_to_proto(span: timedelta | None) -> Duration | None:
    if span is None:
        return None
    seconds = span.days * 86_400 + span.seconds
    if seconds < 0 and span.microseconds:  # Duration wants seconds and nanos of one sign
        return Duration(seconds=seconds + 1, nanos=(span.microseconds - 1_000_000) * 1000)
    return Duration(seconds=seconds, nanos=span.microseconds * 1000)


def lease_from_proto(request: quota_pb2.CheckQuotaRequest) -> timedelta | None:
    if not request.HasField("reservation_lease"):
        return None
    lease = request.reservation_lease.ToTimedelta()
    if not timedelta(0) < lease <= MAX_LEASE:
        raise InvalidInput("reservation_lease", "must be more than 0 and at most 24 hours")
    return lease


# --- enums -----------------------------------------------------------------------------------
_SCOPES = {scope: types_pb2.Scope.Value("SCOPE_" + scope.value.upper()) for scope in QuotaScope}
_SCOPE_OF = {value: scope for scope, value in _SCOPES.items()}


def scope_from_proto(value: int, field: str = "scope") -> QuotaScope:
    if value == types_pb2.SCOPE_UNSPECIFIED:
        raise InvalidInput(field, "must be set (SCOPE_USER, SCOPE_TOOL, ...)")
    if value not in _SCOPE_OF:
        raise InvalidInput(field, f"unknown scope {value}")
    return _SCOPE_OF[value]  # type: ignore[index]


def scope_to_proto(scope: QuotaScope) -> types_pb2.Scope.ValueType:
    return _SCOPES[scope]


_LIMITS = {
    kind: types_pb2.LimitKind.Value("LIMIT_KIND_" + kind.value.upper()) for kind in LimitKind
}
_LIMIT_OF = {value: kind for kind, value in _LIMITS.items()}


def limit_from_proto(value: int, field: str = "limit") -> LimitKind:
    if value == types_pb2.LIMIT_KIND_UNSPECIFIED:
        raise InvalidInput(field, "must be set (LIMIT_KIND_COST_DAILY, ...)")
    if value not in _LIMIT_OF:
        raise InvalidInput(field, f"unknown limit {value}")
    return _LIMIT_OF[value]  # type: ignore[index]


def limit_to_proto(limit: LimitKind | None) -> types_pb2.LimitKind.ValueType:
    if limit is None:
        return types_pb2.LIMIT_KIND_UNSPECIFIED
    return _LIMITS[limit]


def failure_mode_from_proto(value: int, default: FailureMode, field: str) -> FailureMode:
    if value == types_pb2.FAILURE_MODE_UNSPECIFIED:
        return default
    if value == types_pb2.FAILURE_MODE_OPEN:
        return FailureMode.OPEN
    if value == types_pb2.FAILURE_MODE_CLOSED:
        return FailureMode.CLOSED
    raise InvalidInput(field, f"unknown failure mode {value}")


def failure_mode_to_proto(mode: FailureMode) -> types_pb2.FailureMode.ValueType:
    if mode is FailureMode.OPEN:
        return types_pb2.FAILURE_MODE_OPEN
    return types_pb2.FAILURE_MODE_CLOSED


def denial_to_proto(code: DenialCode | None) -> quota_pb2.DenialCode.ValueType:
    if code is None:
        return quota_pb2.DENIAL_CODE_UNSPECIFIED
    return quota_pb2.DenialCode.Value("DENIAL_CODE_" + code.value)


# --- subjects --------------------------------------------------------------------------------
def subject_from_proto(subject: types_pb2.Subject, field: str = "subject") -> Subject:
    scope = scope_from_proto(subject.scope, f"{field}.scope")
    identifier = validate_identifier(subject.identifier, f"{field}.identifier")
    return Subject(scope, identifier)


def optional_subject_from_proto(message: Any, field: str = "subject") -> Subject | None:
    """The `subject` of a request where leaving it unset means "all"."""
    if not message.HasField(field):
        return None
    return subject_from_proto(getattr(message, field), field)


def required_subject_from_proto(message: Any, name: str = "subject", where: str = "") -> Subject:
    """The `name` subject of `message`, which must be set; `where` prefixes the field's path."""
    field = f"{where}.{name}" if where else name
    if not message.HasField(name):
        raise InvalidInput(field, "is required")
    return subject_from_proto(getattr(message, name), field)


def subjects_from_proto(
    subjects: Sequence[types_pb2.Subject], field: str = "subjects"
) -> list[Subject]:
    """1 to 8 distinct subjects."""
    if not subjects:
        raise InvalidInput(field, "must name at least one subject")
    if len(subjects) > MAX_SUBJECTS:
        raise InvalidInput(field, f"at most {MAX_SUBJECTS} subjects, got {len(subjects)}")
    parsed: list[Subject] = []
    for index, subject in enumerate(subjects):
        one = subject_from_proto(subject, f"{field}[{index}]")
        if one in parsed:
            raise InvalidInput(f"{field}[{index}]", f"repeats subject {one}")
        parsed.append(one)
    return parsed


def subject_to_proto(subject: Subject) -> types_pb2.Subject:
    return types_pb2.Subject(scope=scope_to_proto(subject.scope), identifier=subject.identifier)


# --- quota configuration ---------------------------------------------------------------------
def _optional_count(message: Any, name: str, field: str) -> int | None:
    if not message.HasField(name):
        return None
    return check_count(getattr(message, name), f"{field}.{name}")


def _optional_dollars(message: Any, name: str, field: str) -> Decimal | None:
    if not message.HasField(name):
        return None
    return from_nanos(check_nanos(getattr(message, name), f"{field}.{name}"))


def config_from_proto(config: types_pb2.QuotaConfig, field: str = "config") -> QuotaConfig:
    subject = required_subject_from_proto(config, "subject", field)
    rates, costs = config.rate_limits, config.cost_quota
    rate_field, cost_field = f"{field}.rate_limits", f"{field}.cost_quota"
    if costs.time_zone and len(costs.time_zone) > MAX_TEXT:
        raise InvalidInput(f"{cost_field}.time_zone", "is not an IANA time zone")
    thresholds = tuple(config.alert_thresholds)
    if len(thresholds) > 16:
        raise InvalidInput(f"{field}.alert_thresholds", "at most 16 thresholds")
    try:
        return QuotaConfig(
            scope=subject.scope,
            identifier=subject.identifier,
            rate_limits=RateLimitConfig(
                **{
                    name: _optional_count(rates, name, rate_field)
                    for name in (
                        "requests_per_minute",
                        "requests_per_hour",
                        "requests_per_day",
                        "tokens_per_minute",
                        "tokens_per_day",
                    )
                },
                failure_mode=failure_mode_from_proto(
                    rates.failure_mode, FailureMode.OPEN, f"{rate_field}.failure_mode"
                ),
            ),
            cost_quota=CostQuota(
                daily_limit=_optional_dollars(costs, "daily_limit_nanos", cost_field),
                monthly_limit=_optional_dollars(costs, "monthly_limit_nanos", cost_field),
                per_request_limit=_optional_dollars(costs, "per_request_limit_nanos", cost_field),
                reset_hour=costs.reset_hour,
                time_zone=costs.time_zone or "UTC",
                failure_mode=failure_mode_from_proto(
                    costs.failure_mode, FailureMode.CLOSED, f"{cost_field}.failure_mode"
                ),
            ),
            alert_thresholds=thresholds,
            shadow_mode=config.shadow_mode,
            description=config.description,
        )
    except InvalidInput as exc:
        # The domain names its fields after the dataclasses; say where they sit in the request.
        if exc.field.startswith(field):
            raise
        raise InvalidInput(f"{field}.{exc.field}", exc.message) from None


def config_to_proto(config: QuotaConfig) -> types_pb2.QuotaConfig:
    rates, costs = config.rate_limits, config.cost_quota
    message = types_pb2.QuotaConfig(
        subject=subject_to_proto(config.subject),
        rate_limits=types_pb2.RateLimits(
            requests_per_minute=rates.requests_per_minute,
            requests_per_hour=rates.requests_per_hour,
            requests_per_day=rates.requests_per_day,
            tokens_per_minute=rates.tokens_per_minute,
            tokens_per_day=rates.tokens_per_day,
            failure_mode=failure_mode_to_proto(rates.failure_mode),
        ),
        cost_quota=types_pb2.CostQuota(
            reset_hour=costs.reset_hour,
            time_zone=costs.time_zone,
            failure_mode=failure_mode_to_proto(costs.failure_mode),
        ),
        alert_thresholds=list(config.alert_thresholds),
        shadow_mode=config.shadow_mode,
        description=config.description,
        version=config.version,
        updated_at=timestamp_to_proto(config.updated_at),
    )
    for kind, nanos in costs.limits_nanos().items():
        name = {
            LimitKind.COST_DAILY: "daily_limit_nanos",
            LimitKind.COST_MONTHLY: "monthly_limit_nanos",
            LimitKind.COST_PER_REQUEST: "per_request_limit_nanos",
        }[kind]
        setattr(message.cost_quota, name, nanos)
    return message


# --- results ---------------------------------------------------------------------------------
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
