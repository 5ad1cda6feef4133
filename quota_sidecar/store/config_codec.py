"""Quota configurations as stored in Redis: a JSON document plus a version in the subject's
`cfg` hash. The JSON uses dollars as decimal strings, so nothing is lost in either direction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from quota_sidecar.domain.clock import from_ms
from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope, RateLimitConfig

__all__ = ["config_from_json", "config_to_dict", "config_to_json"]


def config_to_dict(config: QuotaConfig) -> dict[str, Any]:
    """A JSON-ready dict of the config (also the audit log's before/after values)."""
    rate = config.rate_limits
    cost = config.cost_quota
    return {
        "scope": config.scope.value,
        "identifier": config.identifier,
        "rate_limits": {
            **{kind.value: value for kind, value in rate.limits().items()},
            "failure_mode": rate.failure_mode.value,
        },
        "cost_quota": {
            "daily_limit": _dollars(cost.daily_limit),
            "monthly_limit": _dollars(cost.monthly_limit),
            "per_request_limit": _dollars(cost.per_request_limit),
            "weekly_limit": _dollars(cost.weekly_limit),
            "lifetime_limit": _dollars(cost.lifetime_limit),
            "week_start": cost.week_start,
            "reset_hour": cost.reset_hour,
            "time_zone": cost.time_zone,
            "failure_mode": cost.failure_mode.value,
            "unpriced": cost.unpriced.value if cost.unpriced is not None else None,
        },
        "alert_thresholds": list(config.alert_thresholds),
        "shadow_mode": config.shadow_mode,
        "description": config.description,
        "lease": config.lease,
        "version": config.version,
    }


def _dollars(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


_DEFAULTS = config_to_dict(QuotaConfig(scope=QuotaScope.GLOBAL, identifier="*"))


def config_to_json(config: QuotaConfig) -> str:
    """The stored document: only what differs from the defaults, since every configured
    subject keeps one in Redis (the version lives beside it, in the hash's `v` field)."""
    full = config_to_dict(config)
    compact: dict[str, Any] = {"scope": full["scope"], "identifier": full["identifier"]}
    for section in ("rate_limits", "cost_quota"):
        values = {
            k: _short(k, v)
            for k, v in full[section].items()
            if v is not None and v != _DEFAULTS[section].get(k)
        }
        if values:
            compact[section] = values
    for name in ("alert_thresholds", "shadow_mode", "description", "lease"):
        if full[name] != _DEFAULTS[name]:
            compact[name] = full[name]
    return json.dumps(compact, sort_keys=True, separators=(",", ":"))


_MONEY_FIELDS = (
    "daily_limit",
    "monthly_limit",
    "per_request_limit",
    "weekly_limit",
    "lifetime_limit",
)


def _short(name: str, value: object) -> object:
    # "100.000000000" -> "100": the same exact amount in fewer bytes.
    if name in _MONEY_FIELDS and isinstance(value, str):
        return format(Decimal(value).normalize(), "f")
    return value


def config_from_json(document: str, version: int, updated_ms: int | None) -> QuotaConfig:
    data: Mapping[str, Any] = json.loads(document)
    rate = dict(data.get("rate_limits") or {})
    cost = {k: v for k, v in (data.get("cost_quota") or {}).items() if v is not None}
    updated: datetime | None = from_ms(updated_ms) if updated_ms else None
    return QuotaConfig(
        scope=data["scope"],
        identifier=data["identifier"],
        rate_limits=RateLimitConfig(**rate),
        cost_quota=CostQuota(**cost),
        alert_thresholds=tuple(data.get("alert_thresholds") or ()),
        shadow_mode=bool(data.get("shadow_mode", False)),
        description=str(data.get("description", "")),
        lease=str(data.get("lease", "off")),
        version=version,
        updated_at=updated,
    )
