"""Calendar periods (quota days and months) and sliding rate windows.

Quota days start at `reset_hour` local time in the quota's IANA zone, so a day can be 23 or 25
hours long across a DST change. Weeks start on `week_start` (monday ... sunday) at `reset_hour`,
so a week holding a DST change lasts 167 or 169 hours. Months start on day 1 at `reset_hour`.
All instants are integer milliseconds since the epoch (see clock.py); zoneinfo does the
calendar work.

Rate windows are sliding: each window of length T is split into SUB_BUCKETS buckets of T/k.
A request is admitted only if the requests in the current bucket and the k buckets before it
(a span between T and T + T/k long) leave room for it. Because that span always covers the
last T, no interval of length T ever holds more than the limit. The price is that capacity
freed by old requests returns up to T/k later than a perfect sliding log would return it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quota_sidecar.domain.clock import from_ms, to_ms
from quota_sidecar.domain.errors import InvalidInput

__all__ = [
    "SUB_BUCKETS",
    "WEEKDAYS",
    "Period",
    "Window",
    "day_period",
    "month_period",
    "named_day",
    "named_month",
    "week_period",
    "zone",
]

SUB_BUCKETS = 10
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Window(StrEnum):
    """A sliding rate window, valued by its short key in Redis."""

    MINUTE = "m"
    HOUR = "h"
    DAY = "d"

    @property
    def length_ms(self) -> int:
        return _WINDOW_MS[self]

    @property
    def bucket_ms(self) -> int:
        return _WINDOW_MS[self] // SUB_BUCKETS


_WINDOW_MS = {Window.MINUTE: 60_000, Window.HOUR: 3_600_000, Window.DAY: 86_400_000}


@dataclass(frozen=True, slots=True)
class Period:
    """One quota day or month: [start_ms, end_ms), named by its local start date."""

    id: str
    start_ms: int
    end_ms: int

    @property
    def start(self) -> datetime:
        return from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        return from_ms(self.end_ms)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or InvalidInput naming the time_zone field."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise InvalidInput("time_zone", f"is not an IANA time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("time_zone", f"is not an IANA time zone: {name!r}") from None


def _local_start(day: date, reset_hour: int, tz: ZoneInfo) -> int:
    # An hour skipped by DST (02:00 on a spring-forward day) resolves to the first instant
    # after the gap, which zoneinfo gives us for fold=0 with the pre-transition offset.
    return to_ms(datetime(day.year, day.month, day.day, reset_hour, tzinfo=tz))


def day_period(now_ms: int, reset_hour: int, time_zone: str) -> Period:
    """The quota day containing `now_ms`."""
    tz = zone(time_zone)
    local = from_ms(now_ms).astimezone(tz)
    day = local.date()
    if now_ms < _local_start(day, reset_hour, tz):
        day -= timedelta(days=1)
    start = _local_start(day, reset_hour, tz)
    end = _local_start(day + timedelta(days=1), reset_hour, tz)
    return Period(f"{day.isoformat()}", start, end)


def month_period(now_ms: int, reset_hour: int, time_zone: str) -> Period:
    """The quota month containing `now_ms`: from day 1 at reset_hour to the next day 1."""
    tz = zone(time_zone)
    local = from_ms(now_ms).astimezone(tz)
    first = date(local.year, local.month, 1)
    if now_ms < _local_start(first, reset_hour, tz):
        first = _previous_month(first)
    following = _next_month(first)
    return Period(
        f"{first.year:04d}-{first.month:02d}",
        _local_start(first, reset_hour, tz),
        _local_start(following, reset_hour, tz),
    )


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _previous_month(first: date) -> date:
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def week_period(now_ms: int, reset_hour: int, time_zone: str, week_start: str) -> Period:
    """The quota week containing `now_ms`: from `week_start` at reset_hour, seven local days
    (named by its first day's date)."""
    tz = zone(time_zone)
    first_weekday = WEEKDAYS.index(week_start)
    day = date.fromisoformat(day_period(now_ms, reset_hour, time_zone).id)
    first = day - timedelta(days=(day.weekday() - first_weekday) % 7)
    following = first + timedelta(days=7)
    return Period(
        first.isoformat(),
        _local_start(first, reset_hour, tz),
        _local_start(following, reset_hour, tz),
    )


def named_day(day: date, reset_hour: int, time_zone: str) -> Period:
    """The quota day named `day` (its local start date)."""
    tz = zone(time_zone)
    start = _local_start(day, reset_hour, tz)
    return Period(day.isoformat(), start, _local_start(day + timedelta(days=1), reset_hour, tz))


def named_month(first: date, reset_hour: int, time_zone: str) -> Period:
    """The quota month of `first`'s year and month."""
    tz = zone(time_zone)
    first = first.replace(day=1)
    return Period(
        f"{first.year:04d}-{first.month:02d}",
        _local_start(first, reset_hour, tz),
        _local_start(_next_month(first), reset_hour, tz),
    )
