"""Domain types shared by every layer: the quota configuration, subjects and limit names.

The seed's API is kept: `QuotaConfig(scope=..., identifier=..., rate_limits=RateLimitConfig(...),
cost_quota=CostQuota(daily_limit=100.0, ...))`. Money given as int, str or Decimal is converted
exactly (or refused) to `Decimal` on construction, a float to the nearest nano (money.py); the
engine works in integer nanos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.money import MAX_LIMIT_NANOS, Money, from_nanos, to_nanos
from quota_sidecar.domain.periods import WEEKDAYS, Window, zone

__all__ = [
    "DEFAULT_ALL",
    "DEFAULT_SCOPES",
    "DEFAULT_TENANT_MARK",
    "DEFAULT_THRESHOLDS",
    "LEASE_MODES",
    "CostQuota",
    "DenialCode",
    "FailureMode",
    "LimitKind",
    "QuotaConfig",
    "QuotaScope",
    "RateLimitConfig",
    "Subject",
    "UnpricedPolicy",
    "check_default",
    "default_tenant",
    "is_default",
]

DEFAULT_THRESHOLDS = (80, 90, 95)
LEASE_MODES = ("off", "auto")  # a quota's `lease`: see docs/semantics.md, Leases
MAX_IDENTIFIER_LENGTH = 128
MAX_COUNT_LIMIT = 10**12
_IDENTIFIER = re.compile(r"^[^\s\x00-\x1f\x7f]{1,128}$")


class QuotaScope(StrEnum):
    """What a quota applies to."""

    USER = "user"
    TOOL = "tool"
    PROVIDER = "provider"
    TENANT = "tenant"
    GLOBAL = "global"
    MODEL = "model"  # identified as "provider/model", for example "model:openai/gpt-4o"
    RUN = "run"  # one agent run (engine/runs.py): lifetime limits, a parent, a time to live


class FailureMode(StrEnum):
    """What a check does when the store cannot be reached in time."""

    OPEN = "open"
    CLOSED = "closed"


class LimitKind(StrEnum):
    """Every limit, named as in the contract (LIMIT_KIND_<NAME>)."""

    REQUESTS_PER_MINUTE = "requests_per_minute"
    REQUESTS_PER_HOUR = "requests_per_hour"
    REQUESTS_PER_DAY = "requests_per_day"
    TOKENS_PER_MINUTE = "tokens_per_minute"
    TOKENS_PER_DAY = "tokens_per_day"
    COST_PER_REQUEST = "cost_per_request"
    COST_DAILY = "cost_daily"
    COST_MONTHLY = "cost_monthly"
    COST_WEEKLY = "cost_weekly"  # the quota week, from week_start at reset_hour
    COST_LIFETIME = "cost_lifetime"  # never resets: prepaid credit
    # Open holds at once (reserving checks not yet settled, released or expired).
    MAX_CONCURRENT = "max_concurrent"
    # Requests and tokens ever admitted, never reset (a run's lifetime caps; see engine/runs.py).
    REQUESTS_LIFETIME = "requests_lifetime"
    TOKENS_LIFETIME = "tokens_lifetime"

    @property
    def is_cost(self) -> bool:
        return self in (
            LimitKind.COST_PER_REQUEST,
            LimitKind.COST_DAILY,
            LimitKind.COST_MONTHLY,
            LimitKind.COST_WEEKLY,
            LimitKind.COST_LIFETIME,
        )

    @property
    def consumed_by_check(self) -> bool:
        """Does an admitted check count into this limit (a rate window, or a lifetime count)?
        Those are what an undo or a cluster refund gives back."""
        return self.window is not None or self in _LIFETIME_COUNTS

    @property
    def window(self) -> Window | None:
        """The sliding window of a rate limit; None for cost limits."""
        return _RATE_WINDOWS.get(self)


_LIFETIME_COUNTS = frozenset({"requests_lifetime", "tokens_lifetime"})
_RATE_WINDOWS = {
    LimitKind.REQUESTS_PER_MINUTE: Window.MINUTE,
    LimitKind.REQUESTS_PER_HOUR: Window.HOUR,
    LimitKind.REQUESTS_PER_DAY: Window.DAY,
    LimitKind.TOKENS_PER_MINUTE: Window.MINUTE,
    LimitKind.TOKENS_PER_DAY: Window.DAY,
}


class DenialCode(StrEnum):
    """Why a check was denied (DENIAL_CODE_<NAME> in the contract)."""

    RATE_LIMITED = "RATE_LIMITED"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    PER_REQUEST_LIMIT_EXCEEDED = "PER_REQUEST_LIMIT_EXCEEDED"
    BLOCKED = "BLOCKED"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    UNPRICED_MODEL = "UNPRICED_MODEL"
    CONCURRENCY_LIMITED = "CONCURRENCY_LIMITED"


class UnpricedPolicy(StrEnum):
    """What a budget does with a call whose model has no price and that gave no cost."""

    DENY = "deny"  # checks denied (UNPRICED_MODEL); records refused
    REQUIRE_COST = "require_cost"  # refused, InvalidInput naming `model` (the default)
    ALLOW_ZERO = "allow_zero"  # counted as $0


@dataclass(frozen=True, slots=True)
class Subject:
    """A scope plus an identifier: whom a limit applies to."""

    scope: QuotaScope
    identifier: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", parse_scope(self.scope))
        validate_identifier(self.identifier)

    def __str__(self) -> str:
        return f"{self.scope.value}:{self.identifier}"

    @classmethod
    def parse(cls, text: str, field_name: str = "subject") -> Subject:
        """Parse "scope:identifier", for example "user:alice"."""
        scope, sep, identifier = text.partition(":")
        if not sep:
            raise InvalidInput(field_name, f"expected SCOPE:IDENTIFIER, got {text!r}")
        return cls(parse_scope(scope, field_name), identifier)


# Scope defaults (engine/defaults.py): a quota named "<scope>:*" is the default of every
# identifier of the scope without a quota of its own; "<scope>:*@<tenant>" the default of
# those named in a call together with tenant:<tenant>.
DEFAULT_SCOPES = frozenset(
    {QuotaScope.USER, QuotaScope.TOOL, QuotaScope.PROVIDER, QuotaScope.MODEL, QuotaScope.TENANT}
)
DEFAULT_ALL = "*"
DEFAULT_TENANT_MARK = "*@"


def is_default(subject: Subject) -> bool:
    """Whether the subject names a scope default ("user:*", "user:*@acme")."""
    return subject.identifier == DEFAULT_ALL or subject.identifier.startswith(DEFAULT_TENANT_MARK)


def default_tenant(subject: Subject) -> str:
    """The tenant of a default ("" for the scope's own)."""
    return (
        subject.identifier.removeprefix(DEFAULT_TENANT_MARK)
        if subject.identifier != DEFAULT_ALL
        else ""
    )


def check_default(subject: Subject, field_name: str = "identifier") -> None:
    """Refuse a default that cannot be one: of a scope without defaults, or for a tenant's
    tenants (a tenant is never a member of another)."""
    if not is_default(subject):
        return
    if subject.scope not in DEFAULT_SCOPES:
        names = ", ".join(sorted(s.value for s in DEFAULT_SCOPES))
        raise InvalidInput(field_name, f"a {subject.scope.value} quota has no default ({names})")
    if subject.identifier.startswith(DEFAULT_TENANT_MARK):
        if subject.scope is QuotaScope.TENANT:
            raise InvalidInput(field_name, "a tenant's default cannot be per tenant")
        if not default_tenant(subject) or "*" in default_tenant(subject):
            raise InvalidInput(field_name, "a tenant default is '*@<tenant identifier>'")


def parse_scope(value: object, field_name: str = "scope") -> QuotaScope:
    if isinstance(value, QuotaScope):
        return value
    try:
        return QuotaScope(str(value).lower())
    except ValueError:
        names = ", ".join(s.value for s in QuotaScope)
        raise InvalidInput(field_name, f"unknown scope {value!r} (one of {names})") from None


def validate_identifier(identifier: object, field_name: str = "identifier") -> str:
    if not isinstance(identifier, str) or not identifier:
        raise InvalidInput(field_name, "must be a non-empty string")
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        raise InvalidInput(field_name, f"is longer than {MAX_IDENTIFIER_LENGTH} characters")
    if not _IDENTIFIER.match(identifier):
        raise InvalidInput(field_name, "must not contain whitespace or control characters")
    return identifier


def check_count(value: int | None, field_name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field_name, f"must be a whole number, got {value!r}")
    if not 0 <= value <= MAX_COUNT_LIMIT:
        raise InvalidInput(field_name, f"must be between 0 and {MAX_COUNT_LIMIT}, got {value}")


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Request and token rate limits over sliding windows, the number of open holds at once
    (max_concurrent: only reserving checks take a slot), and requests and tokens ever admitted
    (requests_lifetime, tokens_lifetime: never reset; a run's caps). None means no limit."""

    requests_per_minute: int | None = None
    requests_per_hour: int | None = None
    requests_per_day: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_day: int | None = None
    failure_mode: FailureMode = FailureMode.OPEN
    max_concurrent: int | None = None
    requests_lifetime: int | None = None
    tokens_lifetime: int | None = None

    def __post_init__(self) -> None:
        for kind in RATE_LIMIT_KINDS:
            check_count(getattr(self, kind.value), f"rate_limits.{kind.value}")
        object.__setattr__(self, "failure_mode", _failure_mode(self.failure_mode, "rate_limits"))

    def limits(self) -> dict[LimitKind, int]:
        """The configured limits by kind."""
        return {k: v for k in RATE_LIMIT_KINDS if (v := getattr(self, k.value)) is not None}


RATE_LIMIT_KINDS = (
    LimitKind.REQUESTS_PER_MINUTE,
    LimitKind.REQUESTS_PER_HOUR,
    LimitKind.REQUESTS_PER_DAY,
    LimitKind.TOKENS_PER_MINUTE,
    LimitKind.TOKENS_PER_DAY,
    LimitKind.MAX_CONCURRENT,
    LimitKind.REQUESTS_LIFETIME,
    LimitKind.TOKENS_LIFETIME,
)


def _failure_mode(value: object, section: str) -> FailureMode:
    try:
        return FailureMode(str(value).lower())
    except ValueError:
        raise InvalidInput(
            f"{section}.failure_mode", f"must be open or closed: {value!r}"
        ) from None


def _money_or_none(value: Money | None, field_name: str) -> Decimal | None:
    if value is None:
        return None
    return from_nanos(to_nanos(value, field_name, maximum=MAX_LIMIT_NANOS))


_MONEY_FIELDS = (
    "daily_limit",
    "monthly_limit",
    "per_request_limit",
    "weekly_limit",
    "lifetime_limit",
)


@dataclass(frozen=True, slots=True)
class CostQuota:
    """Cost budgets in dollars (exact Decimal). None means no limit. The week starts on
    `week_start` at `reset_hour`; the lifetime budget never resets (BONUS_CREDIT raises it)."""

    daily_limit: Decimal | None = None
    monthly_limit: Decimal | None = None
    per_request_limit: Decimal | None = None
    reset_hour: int = 0
    time_zone: str = "UTC"
    failure_mode: FailureMode = FailureMode.CLOSED
    unpriced: UnpricedPolicy | None = None  # None: the sidecar's default
    weekly_limit: Decimal | None = None
    lifetime_limit: Decimal | None = None
    week_start: str = "monday"

    def __post_init__(self) -> None:
        if self.unpriced is not None:
            try:
                object.__setattr__(self, "unpriced", UnpricedPolicy(str(self.unpriced)))
            except ValueError:
                names = ", ".join(p.value for p in UnpricedPolicy)
                raise InvalidInput("cost_quota.unpriced", f"must be one of {names}") from None
        start = str(self.week_start or "monday").lower()
        if start not in WEEKDAYS:
            raise InvalidInput("cost_quota.week_start", f"must be one of {', '.join(WEEKDAYS)}")
        object.__setattr__(self, "week_start", start)
        for name in _MONEY_FIELDS:
            value = _money_or_none(getattr(self, name), f"cost_quota.{name}")
            object.__setattr__(self, name, value)
        if isinstance(self.reset_hour, bool) or not isinstance(self.reset_hour, int):
            raise InvalidInput("cost_quota.reset_hour", "must be a whole hour from 0 to 23")
        if not 0 <= self.reset_hour <= 23:
            raise InvalidInput("cost_quota.reset_hour", f"must be 0-23, got {self.reset_hour}")
        object.__setattr__(self, "time_zone", self.time_zone or "UTC")
        try:
            zone(self.time_zone)
        except InvalidInput as exc:
            raise InvalidInput("cost_quota.time_zone", exc.message) from None
        object.__setattr__(self, "failure_mode", _failure_mode(self.failure_mode, "cost_quota"))

    def limits_nanos(self) -> dict[LimitKind, int]:
        """The configured budgets in nanos by kind."""
        pairs = (
            (LimitKind.COST_PER_REQUEST, self.per_request_limit),
            (LimitKind.COST_DAILY, self.daily_limit),
            (LimitKind.COST_MONTHLY, self.monthly_limit),
            (LimitKind.COST_WEEKLY, self.weekly_limit),
            (LimitKind.COST_LIFETIME, self.lifetime_limit),
        )
        return {k: to_nanos(v, k.value, maximum=MAX_LIMIT_NANOS) for k, v in pairs if v is not None}


@dataclass(frozen=True, slots=True)
class QuotaConfig:
    """The whole quota of one subject."""

    scope: QuotaScope
    identifier: str
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    cost_quota: CostQuota = field(default_factory=CostQuota)
    alert_thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    shadow_mode: bool = False
    description: str = ""
    version: int = 0
    updated_at: datetime | None = None
    # "auto": a replica that checks this subject often admits from exact local leases (slices
    # of its request windows taken in Redis; engine/leases/). "off": every check goes to Redis.
    lease: str = "off"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", parse_scope(self.scope))
        validate_identifier(self.identifier)
        thresholds = tuple(sorted(set(self.alert_thresholds or DEFAULT_THRESHOLDS)))
        for t in thresholds:
            if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 99:
                raise InvalidInput("alert_thresholds", f"each must be a whole 1-99, got {t!r}")
        object.__setattr__(self, "alert_thresholds", thresholds)
        if len(self.description) > 1024:
            raise InvalidInput("description", "is longer than 1024 characters")
        if self.lease not in LEASE_MODES:
            raise InvalidInput("lease", f"must be off or auto, got {self.lease!r}")

    @property
    def subject(self) -> Subject:
        return Subject(self.scope, self.identifier)

    def limits(self) -> dict[LimitKind, int]:
        """Every configured limit: counts for rate limits, nanos for cost limits."""
        return {**self.rate_limits.limits(), **self.cost_quota.limits_nanos()}


def window_of(kind: LimitKind) -> timedelta | None:
    """The length of a rate limit's sliding window."""
    w = kind.window
    return None if w is None else timedelta(milliseconds=w.length_ms)
