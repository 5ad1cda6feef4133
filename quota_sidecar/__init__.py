"""quota-sidecar: rate limits and cost quotas for LLM agents, over gRPC, on Redis.

The seed's examples work with `from quota_sidecar import ...` in place of `from quota import`.

Names are imported when first used (PEP 562), so that `import quota_sidecar.client` does
not import the engine and Redis: the client distribution (clients/python) ships without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quota_sidecar.alerting.service import QuotaAlertService
    from quota_sidecar.client import (
        QuotaClient,
        RetryPolicy,
        SidecarError,
        SidecarTimeout,
        SidecarUnavailable,
        TlsOptions,
    )
    from quota_sidecar.client.guard import QuotaGuard, make_quota_checker
    from quota_sidecar.client.sync import SyncQuotaClient
    from quota_sidecar.domain.clock import Clock, ManualClock, SystemClock
    from quota_sidecar.domain.errors import (
        ConfigError,
        DeadlineExceeded,
        IdempotencyConflict,
        InvalidInput,
        NotFound,
        Overloaded,
        QuotaExceeded,
        QuotaSidecarError,
        StoreTimeout,
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
        AuditEvent,
        BreakdownEntry,
        CheckResult,
        LimitStatus,
        Override,
        OverrideKind,
        RecordResult,
        Severity,
        ThresholdWarning,
        Usage,
        UsageTotals,
    )
    from quota_sidecar.engine.costs import CostTracker
    from quota_sidecar.engine.rate_limits import RateLimitManager
    from quota_sidecar.engine.service import EngineSettings, QuotaService

# Where each public name lives.
_MODULES = {
    "Alert": "quota_sidecar.domain.results",
    "AlertKind": "quota_sidecar.domain.results",
    "AuditEvent": "quota_sidecar.domain.results",
    "BreakdownEntry": "quota_sidecar.domain.results",
    "CheckResult": "quota_sidecar.domain.results",
    "Clock": "quota_sidecar.domain.clock",
    "ConfigError": "quota_sidecar.domain.errors",
    "CostQuota": "quota_sidecar.domain.models",
    "CostTracker": "quota_sidecar.engine.costs",
    "DeadlineExceeded": "quota_sidecar.domain.errors",
    "DenialCode": "quota_sidecar.domain.models",
    "EngineSettings": "quota_sidecar.engine.service",
    "FailureMode": "quota_sidecar.domain.models",
    "IdempotencyConflict": "quota_sidecar.domain.errors",
    "InvalidInput": "quota_sidecar.domain.errors",
    "LimitKind": "quota_sidecar.domain.models",
    "LimitStatus": "quota_sidecar.domain.results",
    "ManualClock": "quota_sidecar.domain.clock",
    "NotFound": "quota_sidecar.domain.errors",
    "Overloaded": "quota_sidecar.domain.errors",
    "Override": "quota_sidecar.domain.results",
    "OverrideKind": "quota_sidecar.domain.results",
    "QuotaAlertService": "quota_sidecar.alerting.service",
    "QuotaClient": "quota_sidecar.client",
    "QuotaConfig": "quota_sidecar.domain.models",
    "QuotaExceeded": "quota_sidecar.domain.errors",
    "QuotaGuard": "quota_sidecar.client.guard",
    "QuotaScope": "quota_sidecar.domain.models",
    "QuotaService": "quota_sidecar.engine.service",
    "QuotaSidecarError": "quota_sidecar.domain.errors",
    "RateLimitConfig": "quota_sidecar.domain.models",
    "RateLimitManager": "quota_sidecar.engine.rate_limits",
    "RecordResult": "quota_sidecar.domain.results",
    "RetryPolicy": "quota_sidecar.client",
    "Severity": "quota_sidecar.domain.results",
    "SidecarError": "quota_sidecar.client",
    "SidecarTimeout": "quota_sidecar.client",
    "SidecarUnavailable": "quota_sidecar.client",
    "StoreTimeout": "quota_sidecar.domain.errors",
    "StoreUnavailable": "quota_sidecar.domain.errors",
    "Subject": "quota_sidecar.domain.models",
    "SyncQuotaClient": "quota_sidecar.client.sync",
    "SystemClock": "quota_sidecar.domain.clock",
    "ThresholdWarning": "quota_sidecar.domain.results",
    "TlsOptions": "quota_sidecar.client",
    "Usage": "quota_sidecar.domain.results",
    "UsageTotals": "quota_sidecar.domain.results",
    "make_quota_checker": "quota_sidecar.client.guard",
}

__all__ = [
    "Alert",
    "AlertKind",
    "AuditEvent",
    "BreakdownEntry",
    "CheckResult",
    "Clock",
    "ConfigError",
    "CostQuota",
    "CostTracker",
    "DeadlineExceeded",
    "DenialCode",
    "EngineSettings",
    "FailureMode",
    "IdempotencyConflict",
    "InvalidInput",
    "LimitKind",
    "LimitStatus",
    "ManualClock",
    "NotFound",
    "Overloaded",
    "Override",
    "OverrideKind",
    "QuotaAlertService",
    "QuotaClient",
    "QuotaConfig",
    "QuotaExceeded",
    "QuotaGuard",
    "QuotaScope",
    "QuotaService",
    "QuotaSidecarError",
    "RateLimitConfig",
    "RateLimitManager",
    "RecordResult",
    "RetryPolicy",
    "Severity",
    "SidecarError",
    "SidecarTimeout",
    "SidecarUnavailable",
    "StoreTimeout",
    "StoreUnavailable",
    "Subject",
    "SyncQuotaClient",
    "SystemClock",
    "ThresholdWarning",
    "TlsOptions",
    "Usage",
    "UsageTotals",
    "__version__",
    "make_quota_checker",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # The one version (pyproject.toml [project] version): the package, the contract, the
        # image tag; read from the installed metadata on first use.
        from importlib.metadata import version

        return version("quota-sidecar")
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'quota_sidecar' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
