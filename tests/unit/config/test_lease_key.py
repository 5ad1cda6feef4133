"""The quota key `lease` (docs/semantics.md, Leases): parsed, checked, and stored compactly."""

from __future__ import annotations

import pytest

from quota_sidecar.config import parse_quota_text
from quota_sidecar.domain.errors import ConfigError, InvalidInput
from quota_sidecar.domain.models import QuotaConfig, QuotaScope
from quota_sidecar.store.config_codec import config_from_json, config_to_json


def test_lease_auto_is_read_and_kept_through_the_store_codec() -> None:
    (config,) = parse_quota_text(
        "quotas:\n  - scope: tool\n    identifier: t\n    lease: auto\n"
        "    rate_limits: {requests_per_minute: 100}\n"
    )
    assert config.lease == "auto"
    assert config_from_json(config_to_json(config), 1, None).lease == "auto"


def test_lease_is_off_by_default_and_not_stored_then() -> None:
    config = QuotaConfig(scope=QuotaScope.TOOL, identifier="t")
    assert config.lease == "off"
    assert "lease" not in config_to_json(config)


def test_a_bad_lease_value_names_the_field() -> None:
    with pytest.raises(ConfigError) as found:
        parse_quota_text("quotas:\n  - scope: tool\n    identifier: t\n    lease: always\n")
    assert "lease" in str(found.value)
    with pytest.raises(InvalidInput, match="off or auto"):
        QuotaConfig(scope=QuotaScope.TOOL, identifier="t", lease="on")
