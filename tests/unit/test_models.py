"""Configuration types: the seed's constructors, validation naming fields, reservation ids."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

import quota_sidecar
from quota_sidecar import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.engine.reservations import decode_reservation, encode_reservation
from quota_sidecar.store.config_codec import config_from_json, config_to_json


def test_public_api_is_sorted_and_importable() -> None:
    assert quota_sidecar.__all__ == sorted(quota_sidecar.__all__)
    for name in quota_sidecar.__all__:
        assert getattr(quota_sidecar, name) is not None


def test_seed_config_round_trips_through_json() -> None:
    config = QuotaConfig(
        scope=QuotaScope.USER,
        identifier="user-123",
        rate_limits=RateLimitConfig(requests_per_minute=60, tokens_per_day=10**6),
        cost_quota=CostQuota(daily_limit=100.0, monthly_limit=2000.0, time_zone="Asia/Kolkata"),
        alert_thresholds=(50, 90),
        shadow_mode=True,
    )
    again = config_from_json(config_to_json(config), 3, None)
    assert again == dataclasses.replace(config, version=3)
    assert again.cost_quota.daily_limit == Decimal(100)
    assert again.limits() == config.limits()


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Subject(QuotaScope.USER, ""), "identifier"),
        (lambda: Subject(QuotaScope.USER, "x" * 129), "identifier"),
        (lambda: Subject(QuotaScope.USER, "has space"), "identifier"),
        (lambda: Subject("planet", "x"), "scope"),  # type: ignore[arg-type]
        (lambda: RateLimitConfig(requests_per_minute=-1), "rate_limits.requests_per_minute"),
        (lambda: CostQuota(daily_limit=-5), "cost_quota.daily_limit"),
        (lambda: CostQuota(reset_hour=24), "cost_quota.reset_hour"),
        (lambda: CostQuota(time_zone="Nowhere/Land"), "cost_quota.time_zone"),
        (
            lambda: QuotaConfig(scope="user", identifier="a", alert_thresholds=(100,)),
            "alert_thresholds",
        ),  # type: ignore[arg-type]
    ],
)
def test_validation_names_the_field(build: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field


def test_reservation_ids_name_their_subjects() -> None:
    subjects = [Subject(QuotaScope.USER, "alice"), Subject(QuotaScope.TOOL, "a:b/c")]
    hold, found = decode_reservation(encode_reservation("0123456789abcdef", subjects))
    assert (hold, found) == ("0123456789abcdef", subjects)


@pytest.mark.parametrize(
    "bad", ["", "r1", "r1.xyz.abc", "r2.0123456789abcdef.dXNlcjph", "r1.0123456789abcdef.!!"]
)
def test_malformed_reservation_ids_are_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_reservation(bad)
    assert caught.value.field == "reservation_id"
