"""Quota days and months in a time zone, DST included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quota_sidecar.domain.clock import to_ms
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.periods import Window, day_period, month_period


def at(*args: int) -> int:
    return to_ms(datetime(*args, tzinfo=UTC))  # type: ignore[misc]


def test_utc_midnight_day() -> None:
    day = day_period(at(2026, 11, 28, 13, 5), 0, "UTC")
    assert (day.id, day.start, day.end) == (
        "2026-11-28",
        datetime(2026, 11, 28, tzinfo=UTC),
        datetime(2026, 11, 29, tzinfo=UTC),
    )


def test_before_the_reset_hour_is_still_yesterday() -> None:
    day = day_period(at(2026, 11, 28, 5, 59), 6, "UTC")
    assert day.id == "2026-11-27" and day.end == datetime(2026, 11, 28, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "hours"),
    [((2026, 3, 28, 12), 23), ((2026, 10, 24, 12), 25), ((2026, 6, 1, 12), 24)],
)
def test_dst_days_are_23_or_25_hours(when: tuple[int, ...], hours: int) -> None:
    day = day_period(at(*when), 3, "Europe/Berlin")
    assert (day.end_ms - day.start_ms) / 3_600_000 == hours


def test_months_roll_over_at_the_reset_hour() -> None:
    december = month_period(at(2026, 12, 31, 23, 0), 0, "Asia/Tokyo")
    assert december.id == "2027-01"  # already 08:00 on Jan 1st in Tokyo
    january = month_period(at(2026, 1, 1, 0, 30), 3, "Europe/Berlin")
    assert january.id == "2025-12" and january.end == datetime(2026, 1, 1, 2, tzinfo=UTC)


def test_bad_zone_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        day_period(0, 0, "Mars/Olympus")
    assert caught.value.field == "time_zone"


def test_window_buckets() -> None:
    assert Window.MINUTE.bucket_ms == 6_000 and Window.DAY.length_ms == 86_400_000


def test_a_named_day_and_month_are_the_ones_an_instant_falls_in() -> None:
    from datetime import date, timedelta

    from quota_sidecar.domain.periods import named_day, named_month

    zone = "America/New_York"
    start = datetime(2026, 3, 1, 11, tzinfo=UTC)  # 06:00 EST
    for offset in range(40):  # across the spring-forward change on Mar 8
        now = to_ms(start + timedelta(days=offset, hours=3))
        current = day_period(now, 6, zone)
        assert named_day(date.fromisoformat(current.id), 6, zone) == current
        month = month_period(now, 6, zone)
        assert named_month(date.fromisoformat(current.id), 6, zone) == month
    short = named_day(date(2026, 3, 7), 6, zone)
    assert short.end_ms - short.start_ms == 23 * 3_600_000
