"""The client's side of the wire: enum names, responses back to domain types, status → error.

Each response conversion is checked against the server's own conversion the other way, so the
two halves of the contract cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import grpc
import grpc.aio
import pytest

from quota_sidecar.client.transport import (
    SidecarError,
    SidecarTimeout,
    SidecarUnavailable,
    error_from_rpc,
)
from quota_sidecar.domain.errors import (
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    StoreUnavailable,
)
from quota_sidecar.domain.models import (
    CostQuota,
    DenialCode,
    FailureMode,
    LimitKind,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
)
from quota_sidecar.domain.results import (
    Alert,
    AlertKind,
    BreakdownEntry,
    LimitStatus,
    Severity,
    ThresholdWarning,
    UsageTotals,
)
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire import configs, fields, replies
from quota_sidecar.wire import replies as convert

NOW = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)
ALICE = Subject(QuotaScope.USER, "alice")
SEARCH = Subject(QuotaScope.TOOL, "search")


@pytest.mark.parametrize(
    "kind", [QuotaScope, LimitKind, FailureMode, AlertKind, Severity, DenialCode]
)
def test_every_enum_member_round_trips_and_zero_is_none(kind: type[StrEnum]) -> None:
    numbers = set()
    for member in kind:
        number = convert.enum_to_proto(member)
        assert number != 0
        assert convert.enum_from_proto(kind, number) is member
        numbers.add(number)
    assert len(numbers) == len(kind)
    assert convert.enum_to_proto(None) == 0
    assert convert.enum_from_proto(kind, 0) is None
    assert convert.enum_from_proto(kind, 999) is None  # a value from a newer server


def test_stored_config_keeps_version_and_update_time() -> None:
    config = QuotaConfig(
        QuotaScope.TENANT,
        "acme",
        rate_limits=RateLimitConfig(requests_per_hour=100, tokens_per_day=10**6),
        cost_quota=CostQuota(
            daily_limit=Decimal("12.345678912"), reset_hour=6, time_zone="Europe/Berlin"
        ),
        alert_thresholds=(50, 75),
        shadow_mode=True,
        description="team budget",
        version=7,
        updated_at=NOW,
    )
    assert convert.config_from_proto(configs.config_to_proto(config)) == config


def test_check_result_from_the_servers_response() -> None:
    status = LimitStatus(
        ALICE, LimitKind.COST_DAILY, 10**9, 4 * 10**8, 10**8, 5 * 10**8, NOW, timedelta(days=1)
    )
    warning = ThresholdWarning(ALICE, LimitKind.COST_DAILY, 80, 9 * 10**8, 10**9)
    response = quota_pb2.CheckQuotaResponse(
        allowed=False,
        code=fields.denial_to_proto(DenialCode.RATE_LIMITED),
        reason="rate limited",
        denied_subject=fields.subject_to_proto(SEARCH),
        denied_limit=fields.limit_to_proto(LimitKind.REQUESTS_PER_MINUTE),
        denied_window=fields.duration_to_proto(timedelta(minutes=1)),
        limits=[replies.limit_status_to_proto(status)],
        retry_after=fields.duration_to_proto(timedelta(seconds=12.5)),
        reset_at=fields.timestamp_to_proto(NOW),
        warnings=[replies.warning_to_proto(warning)],
    )
    result = convert.check_result_from_proto(response)
    assert not result.allowed and result.code is DenialCode.RATE_LIMITED
    assert result.denied_subject == SEARCH and result.denied_limit is LimitKind.REQUESTS_PER_MINUTE
    assert result.denied_window == timedelta(minutes=1)
    assert result.retry_after == timedelta(seconds=12.5) and result.reset_at == NOW
    assert result.limits == (status,) and result.warnings == (warning,)
    assert result.reservation_id is None

    allowed = convert.check_result_from_proto(quota_pb2.CheckQuotaResponse(allowed=True))
    assert allowed.allowed and allowed.code is None and allowed.denied_subject is None
    assert allowed.retry_after is None and allowed.reset_at is None


def test_record_result_and_usage_from_the_servers_response() -> None:
    alert = Alert(
        id="1700000000000-0",
        kind=AlertKind.THRESHOLD_WARNING,
        severity=Severity.WARNING,
        subject=ALICE,
        time=NOW,
        limit=LimitKind.COST_DAILY,
        threshold_percent=80,
        used=8 * 10**8,
        limit_value=10**9,
        period="day:2026-11-28",
        message="alice reached 80%",
    )
    totals = UsageTotals(ALICE, 8 * 10**8, 9 * 10**8, 3, 1200)
    record = convert.record_result_from_proto(
        quota_pb2.RecordUsageResponse(
            recorded=True,
            totals=[replies.totals_to_proto(totals)],
            alerts=[replies.alert_to_proto(alert)],
        )
    )
    assert record.recorded and not record.duplicate
    assert record.totals == (totals,) and record.alerts == (alert,)

    entries = (BreakdownEntry("openai", 5 * 10**8, 2),)
    usage = convert.usage_from_proto(
        quota_pb2.GetUsageResponse(
            subject=fields.subject_to_proto(ALICE),
            cost_today_nanos=50_000_000,
            held_nanos=7,
            requests_last_minute=4,
            by_provider_today=replies.breakdown_to_proto(entries),
            day_resets_at=fields.timestamp_to_proto(NOW),
        )
    )
    assert usage.subject == ALICE and usage.cost_today == Decimal("0.05")
    assert usage.held_nanos == 7 and usage.requests_last_minute == 4
    assert usage.by_provider_today == entries and usage.by_tool_today == ()
    assert usage.day_resets_at == NOW and usage.month_resets_at is None
    assert usage.config is None


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


S = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "details", "error_type", "field"),
    [
        (S.INVALID_ARGUMENT, "subjects[2]: repeats subject", InvalidInput, "subjects[2]"),
        (S.INVALID_ARGUMENT, "config.reset_hour: bad", InvalidInput, "config.reset_hour"),
        (S.INVALID_ARGUMENT, "idempotency_key: reused", IdempotencyConflict, "idempotency_key"),
        (S.INVALID_ARGUMENT, "no field named here", InvalidInput, "request"),
        (S.NOT_FOUND, "no quota for user:bob", NotFound, None),
        (S.UNAVAILABLE, "store unreachable", SidecarUnavailable, None),
        (S.DEADLINE_EXCEEDED, "deadline", SidecarTimeout, None),
        (S.PERMISSION_DENIED, "wrong admin token", SidecarError, None),
    ],
)  # fmt: skip
def test_status_codes_become_domain_errors(
    code: grpc.StatusCode, details: str, error_type: type[Exception], field: str | None
) -> None:
    error = error_from_rpc(rpc_error(code, details))
    assert type(error) is error_type
    if field is not None:
        assert isinstance(error, InvalidInput) and error.field == field
    if isinstance(error, SidecarError):
        assert error.code is code and error.details == details
    if error_type in (SidecarUnavailable, SidecarTimeout):
        assert isinstance(error, StoreUnavailable)
