"""The responses built in place equal, field for field and byte for byte, the messages the
per-field helpers build, for allowed and denied checks and for usage, at every edge of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from quota_sidecar.domain.models import DenialCode, LimitKind, QuotaScope, Subject
from quota_sidecar.domain.results import (
    BreakdownEntry,
    CheckResult,
    LimitStatus,
    ThresholdWarning,
    Usage,
)
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire import fields, replies, responses

ALICE = Subject(QuotaScope.USER, "alice")
TOOL = Subject(QuotaScope.TOOL, "search")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RESET = datetime(2026, 12, 1, 23, 59, 59, 999_999, tzinfo=UTC)


def _status(
    subject: Subject,
    kind: LimitKind,
    *,
    reset_at: datetime | None = RESET,
    window: timedelta | None = timedelta(minutes=1),
) -> LimitStatus:
    return LimitStatus(subject, kind, 10**12, 7, 3, 10**12 - 10, reset_at, window)


STATUSES = (
    _status(ALICE, LimitKind.REQUESTS_PER_MINUTE),
    _status(ALICE, LimitKind.COST_DAILY, window=timedelta(hours=23, microseconds=1)),
    _status(TOOL, LimitKind.COST_MONTHLY, reset_at=EPOCH, window=timedelta(0)),
    _status(TOOL, LimitKind.MAX_CONCURRENT, reset_at=None, window=None),
    _status(
        TOOL,
        LimitKind.COST_LIFETIME,
        reset_at=EPOCH - timedelta(microseconds=1),
        window=timedelta(microseconds=-1),
    ),
)
WARNING = ThresholdWarning(ALICE, LimitKind.COST_DAILY, 80, 8, 10)


def _reference_check(result: CheckResult) -> quota_pb2.CheckQuotaResponse:
    """The response as the servicer built it before: one helper per field."""
    return quota_pb2.CheckQuotaResponse(
        allowed=result.allowed,
        code=fields.denial_to_proto(result.code),
        reason=result.reason,
        denied_subject=(
            fields.subject_to_proto(result.denied_subject) if result.denied_subject else None
        ),
        denied_limit=fields.limit_to_proto(result.denied_limit),
        denied_window=fields.duration_to_proto(result.denied_window),
        limits=[replies.limit_status_to_proto(s) for s in result.limits],
        retry_after=fields.duration_to_proto(result.retry_after),
        reset_at=fields.timestamp_to_proto(result.reset_at),
        warnings=[replies.warning_to_proto(w) for w in result.warnings],
        reservation_id=result.reservation_id or "",
        decided_without_store=result.decided_without_store,
        shadow_denied=result.shadow_denied,
    )


CHECKS = [
    CheckResult(allowed=True, limits=STATUSES),
    CheckResult(allowed=True, limits=STATUSES, warnings=(WARNING,), reservation_id="r-1"),
    CheckResult(allowed=True),
    CheckResult(
        allowed=False,
        code=DenialCode.RATE_LIMITED,
        reason="requests per minute limit of user:alice reached",
        denied_subject=ALICE,
        denied_limit=LimitKind.REQUESTS_PER_MINUTE,
        denied_window=timedelta(minutes=1),
        limits=STATUSES,
        retry_after=timedelta(0),
        reset_at=EPOCH,
    ),
    CheckResult(  # shadow mode: allowed, with the denial it would have been
        allowed=True,
        reason="shadow mode would deny: ...",
        denied_subject=TOOL,
        denied_limit=LimitKind.COST_DAILY,
        retry_after=timedelta(seconds=-1, microseconds=5),
        shadow_denied=True,
    ),
    CheckResult(allowed=True, reason="decided without the store", decided_without_store=True),
]


@pytest.mark.parametrize("result", CHECKS)
def test_a_check_response_is_what_the_helpers_build(result: CheckResult) -> None:
    built = responses.check_response(result)
    reference = _reference_check(result)
    assert built == reference
    assert built.SerializeToString(deterministic=True) == reference.SerializeToString(
        deterministic=True
    )
    for field in ("denied_subject", "denied_window", "retry_after", "reset_at"):
        assert built.HasField(field) == reference.HasField(field), field
    assert replies.check_result_from_proto(built) == result
    for ours, theirs in zip(built.limits, reference.limits, strict=True):
        for field in ("subject", "reset_at", "window"):
            assert ours.HasField(field) == theirs.HasField(field), field


def test_a_usage_response_is_what_the_helpers_build() -> None:
    usage = Usage(
        subject=ALICE,
        cost_today_nanos=5,
        cost_this_month_nanos=6,
        requests_today=2,
        limits=STATUSES,
        day_resets_at=RESET,
        by_tool_today=(BreakdownEntry("search", 5, 2),),
        week_resets_at=EPOCH,
    )
    built = responses.usage_response(usage)
    reference = quota_pb2.GetUsageResponse(
        subject=fields.subject_to_proto(usage.subject),
        cost_today_nanos=5,
        cost_this_month_nanos=6,
        requests_today=2,
        limits=[replies.limit_status_to_proto(s) for s in usage.limits],
        day_resets_at=fields.timestamp_to_proto(usage.day_resets_at),
        by_tool_today=replies.breakdown_to_proto(usage.by_tool_today),
        week_resets_at=fields.timestamp_to_proto(usage.week_resets_at),
    )
    assert built == reference
    assert not built.HasField("month_resets_at") and not built.HasField("config")
    assert replies.usage_from_proto(built) == usage
