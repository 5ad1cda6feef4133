"""Durations as people write them in the quota file and on the command line: 90s, 30m, 2h,
1d, 1h30m. Whole seconds at most; hostile input (a thousand-digit number of days) is refused
before any timedelta arithmetic could overflow."""

from __future__ import annotations

import re
from datetime import timedelta

from quota_sidecar.domain.errors import InvalidInput

__all__ = ["MAX_DURATION", "duration_text", "parse_duration"]

_DURATION = re.compile(r"^(?:(\d{1,7})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,12})s)?$")
# Far past anything a quota needs, and far inside what timedelta holds.
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str, field: str, *, maximum: timedelta = MAX_DURATION) -> timedelta:
    """1h, 30m, 2d, 90s, 1h30m: more than 0 and at most `maximum`, or InvalidInput(field)."""
    stripped = text.strip()
    match = _DURATION.match(stripped)
    if not stripped or match is None:
        shown = text if len(text) <= 40 else f"{text[:40]}..."
        raise InvalidInput(
            field, f"expected a duration such as 1h, 30m, 2d or 1h30m, got {shown!r}"
        )
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if days > maximum.days:  # before timedelta, whose days stop at 999999999
        raise InvalidInput(field, f"is longer than {maximum.days} days")
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if span <= timedelta(0):
        raise InvalidInput(field, "must be more than 0")
    if span > maximum:
        raise InvalidInput(field, f"is longer than {maximum.days} days")
    return span


def duration_text(delta: timedelta, separator: str = "") -> str:
    """How long, in the same units people write: 1d2h, 5h3m, 42s (the sign is the caller's to
    say: "in ..." or "... ago"). Days drop the minutes, as a reset that far off needs no more."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes and not days else []
    parts += [f"{seconds}s"] if not parts else []
    return separator.join(parts)
