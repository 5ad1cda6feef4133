"""The quota file's `runs:` section: what it accepts, exactly, and how it refuses the rest,
naming the line and field."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from quota_sidecar.config import DEFAULT_TENANT, RunLimits, parse_quota_document
from quota_sidecar.domain.errors import ConfigError

FULL = """\
quotas: []
runs:
  default: {max_cost: 5.00, max_requests: 200, max_tokens: 1000000, ttl: 2h}
  tenants:
    acme: {max_cost: 20.000000001, ttl: 1d8h}
    beta: {ttl: 90m, max_cost: null}
"""


def test_the_whole_section_is_read_exactly() -> None:
    runs = parse_quota_document(FULL).runs
    assert runs == {
        DEFAULT_TENANT: RunLimits(
            ttl=timedelta(hours=2), max_cost=Decimal("5.00"), max_requests=200, max_tokens=10**6
        ),
        "acme": RunLimits(ttl=timedelta(hours=32), max_cost=Decimal("20.000000001")),
        "beta": RunLimits(ttl=timedelta(minutes=90)),
    }


@pytest.mark.parametrize(
    "text", ["", "quotas: []\n", "runs:\n", "runs: {}\n", "runs: {tenants: null}\n"]
)
def test_no_section_is_no_templates(text: str) -> None:
    assert parse_quota_document(text).runs == {}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("runs: {default: {max_cost: 5}}", "1: runs.default.ttl: is required"),
        ("runs: {default: {ttl: 2h, max_cost: 0.0000000001}}", "runs.default.max_cost: has more"),
        ("runs: {default: {ttl: 2h, max_cost: -1}}", "runs.default.max_cost: must not be neg"),
        ("runs: {default: {ttl: 2h, max_cost: 1e999999}}", "runs.default.max_cost: is absurdly"),
        ("runs: {default: {ttl: 2h, max_cost: 9000001}}", "runs.default.max_cost: is absurdly"),
        ("runs: {default: {ttl: 2h, max_cost: .nan}}", "runs.default.max_cost: "),
        ("runs: {default: {ttl: 2h, max_requests: -1}}", "runs.default.max_requests: must be"),
        ("runs: {default: {ttl: 2h, max_tokens: 1.5}}", "runs.default.max_tokens: must be a wh"),
        ("runs: {default: {ttl: 2h, max_tokens: true}}", "runs.default.max_tokens: must be a wh"),
        ("runs: {default: {ttl: 0s}}", "runs.default.ttl: must be more than 0"),
        ("runs: {default: {ttl: 5}}", "runs.default.ttl: must be a duration"),
        ("runs: {default: {ttl: 2 hours}}", "runs.default.ttl: expected a duration"),
        ("runs: {default: {ttl: 99999999999999d}}", "runs.default.ttl: expected a duration"),
        ("runs: {default: {ttl: 4000d}}", "runs.default.ttl: is longer than 3650 days"),
        ("runs: {default: {ttl: 1h, extra: 2}}", "runs.default.extra: unknown key"),
        ("runs: {defaults: {ttl: 1h}}", "runs.defaults: unknown key"),
        ("runs: [1]", "runs: must be a mapping"),
        ("runs: {tenants: [1]}", "runs.tenants: must be a mapping"),
        ('runs: {tenants: {"a b": {ttl: 1h}}}', "runs.tenants.a b: must not contain"),
        ("runs: {tenants: {a: {ttl: 1h}, a: {ttl: 2h}}}", "runs.tenants.a: appears twice"),
        ("runs: {tenants: {a: 5}}", "runs.tenants.a: must be a mapping"),
    ],
)
def test_bad_entries_name_their_field(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as failed:
        parse_quota_document(text, source="q.yaml")
    assert where in str(failed.value)
    assert str(failed.value).startswith("q.yaml:1: ")


def test_an_error_names_its_line() -> None:
    text = "runs:\n  default: {ttl: 2h}\n  tenants:\n    acme:\n      ttl: 1h\n      max_cost: x\n"
    with pytest.raises(ConfigError, match=r"^q.yaml:6: runs.tenants.acme.max_cost: "):
        parse_quota_document(text, source="q.yaml")
