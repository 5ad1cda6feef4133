"""Domain types the engine returns: check and record results, usage, alerts, overrides, audit.

Money is carried as integer `*_nanos`; each has a `Decimal` dollar property beside it for the
seed's API (`usage.cost_today`, formatted with `:.2f`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from quota_sidecar.domain.models import DenialCode, LimitKind, QuotaConfig, Subject
from quota_sidecar.domain.money import from_nanos

__all__ = [
    "Alert",
    "AlertKind",
    "AuditEvent",
    "BreakdownEntry",
    "CheckResult",
    "HoldExtension",
    "LimitStatus",
    "Override",
    "OverrideKind",
    "QuotaInForce",
    "RecordResult",
    "RunEnd",
    "RunUsage",
    "Severity",
    "ThresholdWarning",
    "Usage",
    "UsageTotals",
]


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """How one limit of one subject stands: counts for rate limits, nanos for cost limits."""

    subject: Subject
    limit: LimitKind
    limit_value: int
    used: int
    held: int
    remaining: int
    reset_at: datetime | None
    window: timedelta | None


@dataclass(frozen=True, slots=True)
class ThresholdWarning:
    """A budget threshold reached and in force now."""

    subject: Subject
    limit: LimitKind
    percent: int
    used: int
    limit_value: int


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The decision of a check. `reason` is empty when allowed."""

    allowed: bool
    code: DenialCode | None = None
    reason: str = ""
    denied_subject: Subject | None = None
    denied_limit: LimitKind | None = None
    denied_window: timedelta | None = None
    limits: tuple[LimitStatus, ...] = ()
    retry_after: timedelta | None = None
    reset_at: datetime | None = None
    warnings: tuple[ThresholdWarning, ...] = ()
    reservation_id: str | None = None
    decided_without_store: bool = False
    shadow_denied: bool = False


@dataclass(frozen=True, slots=True)
class HoldExtension:
    """The outcome of extending a hold (a streamed call that needs more than it held).

    `extended`: the hold now covers `hold_cost_nanos` on every subject it holds on. When denied,
    nothing changed (the hold still covers what it did): the caller must stop the call, and
    settle it with what was used so far (RecordUsage with cut_short)."""

    extended: bool
    hold_cost_nanos: int
    code: DenialCode | None = None
    reason: str = ""
    denied_subject: Subject | None = None
    denied_limit: LimitKind | None = None
    retry_after: timedelta | None = None

    @property
    def hold_cost(self) -> Decimal:
        return from_nanos(self.hold_cost_nanos)


class AlertKind(StrEnum):
    """What an alert is about (ALERT_KIND_<NAME> in the contract)."""

    THRESHOLD_WARNING = "THRESHOLD_WARNING"
    EXHAUSTED = "EXHAUSTED"
    PER_REQUEST_LIMIT_EXCEEDED = "PER_REQUEST_LIMIT_EXCEEDED"
    RESOLVED = "RESOLVED"
    OVERRIDE_GRANTED = "OVERRIDE_GRANTED"
    OVERRIDE_REVOKED = "OVERRIDE_REVOKED"
    OVERRIDE_EXPIRED = "OVERRIDE_EXPIRED"
    QUOTA_CHANGED = "QUOTA_CHANGED"
    USAGE_RESET = "USAGE_RESET"


class Severity(StrEnum):
    """How urgent an alert is, in increasing order."""

    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert from the shared stream; `id` is its stream id and the resume cursor."""

    id: str
    kind: AlertKind
    severity: Severity
    subject: Subject
    time: datetime
    limit: LimitKind | None = None
    threshold_percent: int = 0
    used: int = 0
    limit_value: int = 0
    period: str = ""
    message: str = ""
    # A budget alert's period spend at the moment it fired, costliest first.
    by_provider: tuple[BreakdownEntry, ...] = ()
    by_tool: tuple[BreakdownEntry, ...] = ()
    by_model: tuple[BreakdownEntry, ...] = ()
    # Alerts on usage: where the subject's quota came from ("own" or "default", quota_default
    # naming it); "" on admin events.
    quota_source: str = ""
    quota_default: str = ""


@dataclass(frozen=True, slots=True)
class QuotaInForce:
    """The quota that decides a subject's calls, as GetQuota answers it."""

    config: QuotaConfig | None  # the default's limits under the subject's name, if "default"
    source: str = ""  # "own", "default" (`default` names it) or "" (none)
    default: str = ""  # "user:*" or "user:*@acme"


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """One subject's running totals after a record."""

    subject: Subject
    cost_today_nanos: int
    cost_this_month_nanos: int
    requests_today: int
    tokens_today: int

    @property
    def cost_today(self) -> Decimal:
        return from_nanos(self.cost_today_nanos)

    @property
    def cost_this_month(self) -> Decimal:
        return from_nanos(self.cost_this_month_nanos)


@dataclass(frozen=True, slots=True)
class RecordResult:
    """The outcome of a record."""

    recorded: bool
    duplicate: bool
    totals: tuple[UsageTotals, ...] = ()
    alerts: tuple[Alert, ...] = ()
    hold_settled: bool = False
    spooled: bool = False
    idempotency_key: str = ""  # the caller's, or the one generated for a record without one
    priced_by: str = ""  # "caller", "override", "genai-prices <version>", "unpriced" or ""
    cost_nanos: int = 0  # the cost recorded: the caller's, or the priced one
    run_ended: bool = False  # the record asked to end its run (end_run) and the run is ended


@dataclass(frozen=True, slots=True)
class BreakdownEntry:
    """Cost and calls of one provider or tool in a period."""

    name: str
    cost_nanos: int
    requests: int

    @property
    def cost(self) -> Decimal:
        return from_nanos(self.cost_nanos)


@dataclass(frozen=True, slots=True)
class Usage:
    """One subject's usage, limits and breakdown, as GetUsage returns it."""

    subject: Subject
    cost_today_nanos: int = 0
    cost_this_month_nanos: int = 0
    held_nanos: int = 0
    requests_today: int = 0
    tokens_today: int = 0
    requests_last_minute: int = 0
    requests_last_hour: int = 0
    requests_last_day: int = 0
    tokens_last_minute: int = 0
    tokens_last_day: int = 0
    limits: tuple[LimitStatus, ...] = ()
    day_resets_at: datetime | None = None
    month_resets_at: datetime | None = None
    by_provider_today: tuple[BreakdownEntry, ...] = ()
    by_tool_today: tuple[BreakdownEntry, ...] = ()
    by_provider_month: tuple[BreakdownEntry, ...] = ()
    by_tool_month: tuple[BreakdownEntry, ...] = ()
    config: QuotaConfig | None = None
    by_model_today: tuple[BreakdownEntry, ...] = ()  # names are "provider/model"
    by_model_month: tuple[BreakdownEntry, ...] = ()
    cost_this_week_nanos: int = 0
    week_resets_at: datetime | None = None
    cost_lifetime_nanos: int = 0  # counted only while the quota has a lifetime_limit
    quota_source: str = ""  # "own", "default" (quota_default names it) or "" (none)
    quota_default: str = ""

    @property
    def cost_today(self) -> Decimal:
        return from_nanos(self.cost_today_nanos)

    @property
    def cost_this_week(self) -> Decimal:
        return from_nanos(self.cost_this_week_nanos)

    @property
    def cost_lifetime(self) -> Decimal:
        return from_nanos(self.cost_lifetime_nanos)

    @property
    def cost_this_month(self) -> Decimal:
        return from_nanos(self.cost_this_month_nanos)

    @property
    def held(self) -> Decimal:
        return from_nanos(self.held_nanos)


class OverrideKind(StrEnum):
    """What an override does."""

    BLOCK = "BLOCK"
    BYPASS = "BYPASS"
    RAISE_LIMIT = "RAISE_LIMIT"
    BONUS_CREDIT = "BONUS_CREDIT"


@dataclass(frozen=True, slots=True)
class Override:
    """An admin override; it expires by itself at `expires_at`."""

    subject: Subject
    kind: OverrideKind
    expires_at: datetime
    reason: str
    actor: str
    limit: LimitKind | None = None
    value: int = 0
    id: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry of the append-only audit log."""

    id: str
    time: datetime
    actor: str
    action: str
    subject: Subject | None
    reason: str
    before: object = None
    after: object = field(default=None)


@dataclass(frozen=True, slots=True)
class RunUsage:
    """One agent run and the runs below it (see engine/runs.py): its lifetime spend, holds,
    requests and tokens against its caps. A run's spend includes its sub-runs' (each is charged
    to every ancestor)."""

    run_id: str
    parent_run_id: str  # "" for a root run
    ends_at: datetime | None  # when its time to live ends (and every key of it with it)
    ended: bool  # ended early (EndRun or end_run): its checks are denied, records still count
    cost_nanos: int
    held_nanos: int
    requests: int
    tokens: int  # estimated at each check, corrected to the actual count when a hold settles
    max_cost_nanos: int | None
    max_requests: int | None
    max_tokens: int | None
    children: tuple[RunUsage, ...] = ()


@dataclass(frozen=True, slots=True)
class RunEnd:
    """What ending a run did: whether it was still open, and how many of its holds it gave
    back (to the run and every ancestor)."""

    run_id: str
    was_open: bool
    released_holds: int
