"""quota-sidecar: rate limits and cost quotas for LLM agents, over gRPC, on Redis.

The seed's examples work with `from quota_sidecar import ...` in place of `from quota import`.
"""

from __future__ import annotations

from importlib.metadata import version as _version

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
from quota_sidecar.clock import Clock, ManualClock, SystemClock
from quota_sidecar.engine.costs import CostTracker
from quota_sidecar.engine.rate_limits import RateLimitManager
from quota_sidecar.engine.service import EngineSettings, QuotaService
from quota_sidecar.errors import (
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
from quota_sidecar.models import (
    CostQuota,
    DenialCode,
    FailureMode,
    LimitKind,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
)
from quota_sidecar.results import (
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

# The one version (pyproject.toml [project] version): the package, the contract, the image tag.
__version__ = _version("quota-sidecar")

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
