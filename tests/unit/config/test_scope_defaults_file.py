"""Scope defaults in the quota file: `identifier: "*"`, with `tenant:` for a tenant's default,
read as the quotas `user:*` and `user:*@acme`; what cannot be a default is refused by line."""

from __future__ import annotations

import pytest

from quota_sidecar.config import parse_quota_text
from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.domain.models import QuotaScope, Subject


def test_a_default_and_a_tenants_default_are_read() -> None:
    configs = parse_quota_text(
        """\
quotas:
  - {scope: user, identifier: "*", cost_quota: {daily_limit: 5}}
  - {scope: user, identifier: "*", tenant: acme, cost_quota: {daily_limit: 20}}
  - {scope: tenant, identifier: "*", rate_limits: {requests_per_minute: 100}}
""",
        source="quotas.yaml",
    )
    assert [c.subject for c in configs] == [
        Subject(QuotaScope.USER, "*"),
        Subject(QuotaScope.USER, "*@acme"),
        Subject(QuotaScope.TENANT, "*"),
    ]


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ("{scope: user, identifier: bob, tenant: acme}", "quotas[0].tenant", 'identifier "*"'),
        ('{scope: global, identifier: "*"}', "quotas[0].identifier", "no default"),
        ('{scope: run, identifier: "*"}', "quotas[0].identifier", "no default"),
        ('{scope: tenant, identifier: "*", tenant: acme}', "quotas[0].identifier", "per tenant"),
    ],
)
def test_what_cannot_be_a_default_is_refused(entry: str, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_quota_text(f"quotas:\n  - {entry}\n", source="quotas.yaml")
    assert caught.value.line == 2, str(caught.value)
    assert field in str(caught.value) and words in str(caught.value)
