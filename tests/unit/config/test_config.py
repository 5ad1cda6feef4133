"""The YAML quota file: what it accepts, exactly, and how it names the line and field of errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quota_sidecar.config import parse_quota_text
from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.domain.models import FailureMode, LimitKind, QuotaScope, Subject

FULL = """\
quotas:
  - scope: user
    identifier: alice
    description: interactive user
    rate_limits:
      requests_per_minute: 60
      requests_per_hour: 1000
      requests_per_day: 10000
      tokens_per_minute: 50000
      tokens_per_day: 2000000
      failure_mode: closed
    cost_quota:
      daily_limit: 0.10
      monthly_limit: 100
      per_request_limit: "0.000000001"
      reset_hour: 6
      time_zone: Europe/Berlin
      failure_mode: open
    alert_thresholds: [50, 75]
    shadow_mode: true
  - scope: TOOL
    identifier: createIssues
webhooks:
  - url: https://example.invalid/hook
"""


def test_every_field_is_read_exactly() -> None:
    alice, tool = parse_quota_text(FULL)
    assert alice.subject == Subject(QuotaScope.USER, "alice")
    assert alice.description == "interactive user"
    assert alice.rate_limits.requests_per_minute == 60
    assert alice.rate_limits.requests_per_hour == 1000
    assert alice.rate_limits.requests_per_day == 10000
    assert alice.rate_limits.tokens_per_minute == 50000
    assert alice.rate_limits.tokens_per_day == 2000000
    assert alice.rate_limits.failure_mode is FailureMode.CLOSED
    # 0.10 is read from the text, so it is exactly one tenth, not the float 0.1000000000000000055.
    assert alice.cost_quota.daily_limit == Decimal("0.1")
    assert alice.limits()[LimitKind.COST_DAILY] == 100_000_000
    assert alice.cost_quota.monthly_limit == Decimal(100)
    assert alice.cost_quota.per_request_limit == Decimal("0.000000001")
    assert alice.cost_quota.reset_hour == 6
    assert alice.cost_quota.time_zone == "Europe/Berlin"
    assert alice.cost_quota.failure_mode is FailureMode.OPEN
    assert alice.alert_thresholds == (50, 75)
    assert alice.shadow_mode is True
    assert tool.subject == Subject(QuotaScope.TOOL, "createIssues")
    assert tool.limits() == {}
    assert tool.alert_thresholds == (80, 90, 95)


def test_an_empty_file_or_list_configures_nothing() -> None:
    assert parse_quota_text("") == []
    assert parse_quota_text("quotas:\n") == []
    assert parse_quota_text("quotas: []\nwebhooks: []\n") == []


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("quotas:\n  - scope: usr\n    identifier: a\n", 2, "quotas[0].scope", "unknown scope"),
        ("quotas:\n  - scope: user\n", 2, "quotas[0].identifier", "is required"),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    rate_limit: {}\n",
            4,
            "quotas[0].rate_limit",
            "unknown key",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    rate_limits:\n"
            "      requests_per_minute: -1\n",
            5,
            "quotas[0].rate_limits.requests_per_minute",
            "between 0 and",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    rate_limits:\n"
            "      requests_per_minute: 1.5\n",
            5,
            "quotas[0].rate_limits.requests_per_minute",
            "whole number",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    cost_quota:\n"
            "      time_zone: Mars/Olympus\n",
            5,
            "quotas[0].cost_quota.time_zone",
            "IANA",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    cost_quota:\n"
            "      daily_limit: lots\n",
            5,
            "quotas[0].cost_quota.daily_limit",
            "dollars",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    cost_quota:\n      daily_limit: -5\n",
            5,
            "quotas[0].cost_quota.daily_limit",
            "negative",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    cost_quota:\n      reset_hour: 24\n",
            5,
            "quotas[0].cost_quota.reset_hour",
            "0-23",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    alert_thresholds: [80, 100]\n",
            4,
            "quotas[0].alert_thresholds",
            "1-99",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n    shadow_mode: yes please\n",
            4,
            "quotas[0].shadow_mode",
            "true or false",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: a\n  - scope: user\n    identifier: a\n",
            4,
            "quotas[1]",
            "repeats user:a",
        ),
        (
            "quotas:\n  - scope: user\n    identifier: 'a b'\n",
            3,
            "quotas[0].identifier",
            "whitespace",
        ),
        ("quota:\n  - scope: user\n", 1, "quota", "unknown key"),
        ("quotas: {scope: user}\n", 1, "quotas", "must be a list"),
        ("quotas:\n  - scope: user\n    scope: tool\n", 3, "quotas[0].scope", "twice"),
        ("quotas: [\n", 2, "yaml", "not valid YAML"),
    ],
)
def test_errors_name_the_line_and_field(text: str, line: int, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_quota_text(text, source="quotas.yaml")
    error = caught.value
    assert error.line == line, str(error)
    assert error.field == field, str(error)
    assert str(error).startswith(f"quotas.yaml:{line}: {field}: "), str(error)
    assert words.lower() in str(error).lower()


def test_max_concurrent_in_the_quota_file_round_trips_through_the_stored_json() -> None:
    from quota_sidecar.store.config_codec import config_from_json, config_to_json

    (quota,) = parse_quota_text(
        "quotas:\n  - {scope: tenant, identifier: acme, rate_limits: {max_concurrent: 5}}\n"
    )
    assert quota.rate_limits.max_concurrent == 5
    assert config_from_json(config_to_json(quota), 1, None).rate_limits.max_concurrent == 5


def test_a_fractional_max_concurrent_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_quota_text(
            "quotas:\n  - {scope: tenant, identifier: acme, rate_limits: {max_concurrent: 2.5}}\n"
        )
    assert refused.value.field == "quotas[0].rate_limits.max_concurrent", str(refused.value)
