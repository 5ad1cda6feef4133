"""The one injectable clock. Everything that reads time takes a Clock, so tests move time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["EPOCH", "Clock", "ManualClock", "SystemClock", "from_ms", "to_ms"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH = EPOCH


class Clock(Protocol):
    """A source of the current time in integer milliseconds since the Unix epoch."""

    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock time."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to, for tests and simulations."""

    def __init__(self, start: datetime | int | None = None) -> None:
        if start is None:
            self._ms = SystemClock().now_ms()
        elif isinstance(start, datetime):
            self._ms = to_ms(start)
        else:
            self._ms = start

    def now_ms(self) -> int:
        return self._ms

    def set(self, when: datetime) -> None:
        self._ms = to_ms(when)

    def advance(self, delta: timedelta | float) -> None:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else delta
        self._ms += round(seconds * 1000)


def to_ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    # Integer arithmetic, so no float rounding moves an instant across a window edge.
    return (when - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)
