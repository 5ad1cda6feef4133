"""Proto ⇄ domain translation of QuotaConfig, the request side (PutQuota, the CLI's admin
commands) and the reply side's common part (see fields.py for the conventions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import (
    CostQuota,
    FailureMode,
    LimitKind,
    QuotaConfig,
    RateLimitConfig,
    UnpricedPolicy,
)
from quota_sidecar.domain.money import check_nanos, from_nanos
from quota_sidecar.v1 import types_pb2
from quota_sidecar.wire.fields import (
    MAX_TEXT,
    check_count,
    failure_mode_from_proto,
    failure_mode_to_proto,
    lease_from_proto,
    lease_to_proto,
    required_subject_from_proto,
    subject_to_proto,
    timestamp_to_proto,
)

__all__ = ["config_from_proto", "config_to_proto"]


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
                        "max_concurrent",
                        "requests_lifetime",
                        "tokens_lifetime",
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
                weekly_limit=_optional_dollars(costs, "weekly_limit_nanos", cost_field),
                lifetime_limit=_optional_dollars(costs, "lifetime_limit_nanos", cost_field),
                week_start=costs.week_start or "monday",
                reset_hour=costs.reset_hour,
                time_zone=costs.time_zone or "UTC",
                failure_mode=failure_mode_from_proto(
                    costs.failure_mode, FailureMode.CLOSED, f"{cost_field}.failure_mode"
                ),
                unpriced=unpriced_from_proto(costs.unpriced, f"{cost_field}.unpriced"),
            ),
            alert_thresholds=thresholds,
            shadow_mode=config.shadow_mode,
            description=config.description,
            lease=lease_from_proto(config.lease, f"{field}.lease"),
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
            max_concurrent=rates.max_concurrent,
            requests_lifetime=rates.requests_lifetime,
            tokens_lifetime=rates.tokens_lifetime,
            failure_mode=failure_mode_to_proto(rates.failure_mode),
        ),
        cost_quota=types_pb2.CostQuota(
            reset_hour=costs.reset_hour,
            time_zone=costs.time_zone,
            failure_mode=failure_mode_to_proto(costs.failure_mode),
            unpriced=unpriced_to_proto(costs.unpriced),
            week_start=costs.week_start,
        ),
        alert_thresholds=list(config.alert_thresholds),
        shadow_mode=config.shadow_mode,
        description=config.description,
        lease=lease_to_proto(config.lease),
        version=config.version,
        updated_at=timestamp_to_proto(config.updated_at),
    )
    for kind, nanos in costs.limits_nanos().items():
        name = {
            LimitKind.COST_DAILY: "daily_limit_nanos",
            LimitKind.COST_MONTHLY: "monthly_limit_nanos",
            LimitKind.COST_PER_REQUEST: "per_request_limit_nanos",
            LimitKind.COST_WEEKLY: "weekly_limit_nanos",
            LimitKind.COST_LIFETIME: "lifetime_limit_nanos",
        }[kind]
        setattr(message.cost_quota, name, nanos)
    return message


def unpriced_from_proto(value: int, field: str) -> UnpricedPolicy | None:
    """UNPRICED_POLICY_<NAME> to the domain's policy; unspecified is the sidecar's default."""
    if value == types_pb2.UNPRICED_POLICY_UNSPECIFIED:
        return None
    try:
        name = types_pb2.UnpricedPolicy.Name(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidInput(field, f"unknown unpriced policy {value}") from None
    return UnpricedPolicy(name.removeprefix("UNPRICED_POLICY_").lower())


def unpriced_to_proto(policy: UnpricedPolicy | None) -> types_pb2.UnpricedPolicy.ValueType:
    if policy is None:
        return types_pb2.UNPRICED_POLICY_UNSPECIFIED
    return types_pb2.UnpricedPolicy.Value("UNPRICED_POLICY_" + policy.value.upper())
