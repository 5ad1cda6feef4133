"""Proto ⇄ domain translation: lossless round trips; every bad input names its proto field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quota_sidecar.domain.errors import InvalidInput
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
from quota_sidecar.domain.results import Alert, AlertKind, Override, OverrideKind, Severity
from quota_sidecar.v1 import admin_pb2, quota_pb2, types_pb2
from quota_sidecar.wire import admin, configs, fields, replies

ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")


def test_a_full_config_survives_the_round_trip() -> None:
    config = QuotaConfig(
        scope=QuotaScope.TENANT,
        identifier="acme",
        rate_limits=RateLimitConfig(
            requests_per_minute=0, tokens_per_day=2_000_000, failure_mode=FailureMode.CLOSED
        ),
        cost_quota=CostQuota(
            daily_limit=Decimal("0.10"),
            monthly_limit=Decimal("100"),
            per_request_limit=Decimal("0.000000001"),
            reset_hour=6,
            time_zone="America/New_York",
            failure_mode=FailureMode.OPEN,
        ),
        alert_thresholds=(50, 99),
        shadow_mode=True,
        description="the whole org",
    )
    message = configs.config_to_proto(config)
    assert message.cost_quota.daily_limit_nanos == 100_000_000
    assert message.cost_quota.per_request_limit_nanos == 1
    assert message.rate_limits.HasField("requests_per_minute")  # 0 is a limit, not "none"
    assert not message.rate_limits.HasField("requests_per_hour")
    assert configs.config_from_proto(message) == config


def test_failure_modes_default_open_for_rates_and_closed_for_costs() -> None:
    config = configs.config_from_proto(types_pb2.QuotaConfig(subject=ALICE))
    assert config.rate_limits.failure_mode is FailureMode.OPEN
    assert config.cost_quota.failure_mode is FailureMode.CLOSED
    assert config.cost_quota.time_zone == "UTC"


def test_subjects_are_parsed_in_order() -> None:
    tool = types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier="createIssues")
    assert fields.subjects_from_proto([ALICE, tool]) == [
        Subject(QuotaScope.USER, "alice"),
        Subject(QuotaScope.TOOL, "createIssues"),
    ]


def _subject(scope: int = types_pb2.SCOPE_USER, identifier: str = "a") -> types_pb2.Subject:
    return types_pb2.Subject(scope=scope, identifier=identifier)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("subjects", "field"),
    [
        ([], "subjects"),
        ([_subject(identifier="")], "subjects[0].identifier"),
        ([_subject(identifier="x" * 129)], "subjects[0].identifier"),
        ([_subject(identifier="tab\there")], "subjects[0].identifier"),
        ([_subject(scope=types_pb2.SCOPE_UNSPECIFIED)], "subjects[0].scope"),
        ([_subject(scope=42)], "subjects[0].scope"),
        ([_subject(identifier=str(i)) for i in range(9)], "subjects"),
        ([_subject(), _subject(scope=types_pb2.SCOPE_TOOL), _subject()], "subjects[2]"),
    ],
)
def test_bad_subjects_name_the_field(subjects: list[types_pb2.Subject], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        fields.subjects_from_proto(subjects)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (types_pb2.QuotaConfig(), "config.subject"),
        (
            types_pb2.QuotaConfig(
                subject=ALICE, cost_quota=types_pb2.CostQuota(time_zone="Nowhere")
            ),
            "config.cost_quota.time_zone",
        ),
        (
            types_pb2.QuotaConfig(subject=ALICE, cost_quota=types_pb2.CostQuota(reset_hour=25)),
            "config.cost_quota.reset_hour",
        ),
        (
            types_pb2.QuotaConfig(
                subject=ALICE, cost_quota=types_pb2.CostQuota(daily_limit_nanos=-1)
            ),
            "config.cost_quota.daily_limit_nanos",
        ),
        (
            types_pb2.QuotaConfig(
                subject=ALICE, cost_quota=types_pb2.CostQuota(monthly_limit_nanos=10**18)
            ),
            "config.cost_quota.monthly_limit_nanos",
        ),
        (
            types_pb2.QuotaConfig(
                subject=ALICE, rate_limits=types_pb2.RateLimits(requests_per_minute=-5)
            ),
            "config.rate_limits.requests_per_minute",
        ),
        (
            types_pb2.QuotaConfig(
                subject=ALICE,
                rate_limits=types_pb2.RateLimits(failure_mode=7),  # type: ignore[arg-type]
            ),
            "config.rate_limits.failure_mode",
        ),
        (types_pb2.QuotaConfig(subject=ALICE, alert_thresholds=[0]), "config.alert_thresholds"),
        (types_pb2.QuotaConfig(subject=ALICE, description="d" * 2000), "config.description"),
    ],
)
def test_bad_configs_name_the_field(config: types_pb2.QuotaConfig, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        configs.config_from_proto(config)
    assert caught.value.field == field


def test_overrides_round_trip_and_need_kind_expiry_reason_and_actor() -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    override = Override(
        subject=Subject(QuotaScope.USER, "alice"),
        kind=OverrideKind.BONUS_CREDIT,
        expires_at=expires,
        reason="support ticket 42",
        actor="ops",
        limit=LimitKind.COST_DAILY,
        value=5_000_000_000,
    )
    assert admin.override_from_proto(admin.override_to_proto(override)) == override
    good = admin.override_to_proto(override)
    for name, field in (
        ("kind", "override.kind"),
        ("expires_at", "override.expires_at"),
        ("reason", "override.reason"),
        ("actor", "override.actor"),
        ("limit", "override.limit"),
    ):
        broken = admin_pb2.Override()
        broken.CopyFrom(good)
        broken.ClearField(name)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput) as caught:
            admin.override_from_proto(broken)
        assert caught.value.field == field
    good.limit = types_pb2.LIMIT_KIND_REQUESTS_PER_MINUTE
    with pytest.raises(InvalidInput, match="bonus credit"):
        admin.override_from_proto(good)


def test_results_carry_enums_times_and_money_across() -> None:
    when = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    alert = Alert(
        id="1-0",
        kind=AlertKind.EXHAUSTED,
        severity=Severity.CRITICAL,
        subject=Subject(QuotaScope.PROVIDER, "openai"),
        time=when,
        limit=LimitKind.COST_MONTHLY,
        threshold_percent=100,
        used=7,
        limit_value=7,
        period="month:2026-11",
        message="spent",
    )
    message = replies.alert_to_proto(alert)
    assert message.kind == types_pb2.ALERT_KIND_EXHAUSTED
    assert message.severity == types_pb2.SEVERITY_CRITICAL
    assert message.limit == types_pb2.LIMIT_KIND_COST_MONTHLY
    assert message.time.ToDatetime(tzinfo=UTC) == when
    assert fields.denial_to_proto(DenialCode.BUDGET_EXHAUSTED) == (
        quota_pb2.DENIAL_CODE_BUDGET_EXHAUSTED
    )
    assert fields.denial_to_proto(None) == quota_pb2.DENIAL_CODE_UNSPECIFIED
    duration = fields.duration_to_proto(timedelta(seconds=1.5))
    assert duration is not None and duration.ToTimedelta() == timedelta(seconds=1.5)


@pytest.mark.parametrize(
    ("value", "ok"), [("", True), ("r1.abc.def", True), ("has space", False), ("x" * 600, False)]
)
def test_reservation_ids_are_screened(value: str, ok: bool) -> None:
    if ok:
        assert fields.reservation_id_from_proto(value) == (value or None)
    else:
        with pytest.raises(InvalidInput, match="reservation_id"):
            fields.reservation_id_from_proto(value)


def test_page_sizes() -> None:
    assert fields.page_size_from_proto(0) == 100
    assert fields.page_size_from_proto(1000) == 1000
    for bad in (-1, 1001):
        with pytest.raises(InvalidInput, match="page_size"):
            fields.page_size_from_proto(bad)
