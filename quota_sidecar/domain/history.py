"""Usage history and top spenders: the domain types the engine returns (engine/history.py) and
how long history is kept.

A quota day is named by its local start date in the quota's zone and runs from `reset_hour`
that day to `reset_hour` the next (23 or 25 hours across DST); a quota month from day 1 at
`reset_hour` to the next day 1. A subject without a quota keeps its history in UTC days and
months starting at 00:00, as its usage is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from quota_sidecar.domain.models import Subject
from quota_sidecar.domain.money import from_nanos
from quota_sidecar.domain.results import BreakdownEntry

__all__ = [
    "DEFAULT_HISTORY_DAYS",
    "DEFAULT_HISTORY_MONTHS",
    "HistoryRetention",
    "TopSpender",
    "UsageDay",
    "UsageHistory",
    "UsageMonth",
]

DEFAULT_HISTORY_DAYS = 90
DEFAULT_HISTORY_MONTHS = 13


@dataclass(frozen=True, slots=True)
class HistoryRetention:
    """How long rollups live after their period ends: a day's for `days` (so today and the
    `days` whole days before it can be read), a month's for `months - 1` months of 31 days (so
    the current month and the `months - 1` before it)."""

    days: timedelta = timedelta(days=DEFAULT_HISTORY_DAYS)
    months: int = DEFAULT_HISTORY_MONTHS

    def __post_init__(self) -> None:
        if self.days <= timedelta(0):
            raise ValueError("history days must be positive")
        if self.months < 1:
            raise ValueError("history months must be at least 1")

    @property
    def day_ms(self) -> int:
        return self.days // timedelta(milliseconds=1)

    @property
    def month_ms(self) -> int:
        # A month stays readable for at least `months - 1` months after it ends, plus an hour
        # so the last one does not vanish exactly as the range moves past it.
        return (self.months - 1) * 31 * 86_400_000 + 3_600_000

    @property
    def whole_days(self) -> int:
        """How many whole days before today are kept (a retention below a day keeps one)."""
        return max(1, -(-self.days // timedelta(days=1)))


@dataclass(frozen=True, slots=True)
class UsageDay:
    """One quota day's recorded spend (zeros when nothing was recorded)."""

    day: date  # the quota day, named by its local start date in the quota's zone
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    cost_nanos: int
    requests: int  # records (calls) counted that day
    tokens: int
    by_provider: tuple[BreakdownEntry, ...] = ()
    by_tool: tuple[BreakdownEntry, ...] = ()
    by_model: tuple[BreakdownEntry, ...] = ()

    @property
    def cost(self) -> Decimal:
        return from_nanos(self.cost_nanos)


@dataclass(frozen=True, slots=True)
class UsageMonth:
    """One quota month's recorded spend."""

    month: str  # "2026-11", the quota month by its local start
    starts_at: datetime
    ends_at: datetime
    cost_nanos: int
    requests: int
    tokens: int

    @property
    def cost(self) -> Decimal:
        return from_nanos(self.cost_nanos)


@dataclass(frozen=True, slots=True)
class UsageHistory:
    subject: Subject
    days: tuple[UsageDay, ...]  # oldest first, one row per quota day in range (zeros included)
    months: tuple[UsageMonth, ...]  # oldest first, months touching the range
    # Where the quota naming the days comes from: "own", "default" (quota_default) or "".
    quota_source: str = ""
    quota_default: str = ""


@dataclass(frozen=True, slots=True)
class TopSpender:
    subject: Subject
    cost_nanos: int
    # The period's cost limit (daily for today, monthly for month), None if none.
    limit_nanos: int | None
    quota_source: str = ""  # where the limit comes from: "own", "default" or "" (none)
    quota_default: str = ""  # the default, when quota_source is "default"

    @property
    def cost(self) -> Decimal:
        return from_nanos(self.cost_nanos)
