"""Dates and instants given as text, read strictly.

`date.fromisoformat` and `datetime.fromisoformat` take far more than their names promise (ISO
week dates such as "2026-W49-1", "20261201", any separator between date and time, fractions
past microseconds that are then cut off), so every date or time a caller types goes through
these two instead: one spelling each, anything else InvalidInput naming the field.

- a day: `YYYY-MM-DD`, ASCII digits, nothing around it;
- an instant: `YYYY-MM-DDTHH:MM[:SS[.ffffff]]` followed by `Z` or `+HH:MM`/`-HH:MM` (a space may
  stand for the `T`, as RFC 3339 allows); at most microseconds, since finer digits could only
  be dropped. A caller that allows no zone says what it means (see `parse_instant`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from quota_sidecar.domain.errors import InvalidInput

__all__ = ["parse_day", "parse_instant"]

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTANT = re.compile(
    r"(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ]"
    r"(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)"
    r"(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?"
)
_SHOWN = 40  # characters of a bad text quoted back


def parse_day(text: str, field: str) -> date:
    """A calendar day written exactly `YYYY-MM-DD`."""
    if not isinstance(text, str) or not _DAY.fullmatch(text):
        raise InvalidInput(field, f"must be a date YYYY-MM-DD: {_shown(text)}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"must be a date YYYY-MM-DD: {_shown(text)}") from None


def parse_instant(text: str, field: str, *, zone_required: bool = True) -> datetime:
    """An aware instant written `YYYY-MM-DDTHH:MM[:SS[.ffffff]](Z|±HH:MM)`.

    With `zone_required=False` the zone may be left out and is then UTC (the CLI's `--until`)."""
    form = "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" + (" then Z or +HH:MM" if zone_required else "")
    what = "an ISO-8601 instant with a zone" if zone_required else "an ISO-8601 instant"
    match = _INSTANT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(field, f"is not {what} ({form}): {_shown(text)}")
    if match["zone"] is None and zone_required:
        # A price change or an expiry happens at one instant; a local time names none.
        raise InvalidInput(field, f"must carry a time zone (Z or +HH:MM): {_shown(text)}")
    try:
        at = datetime.fromisoformat(f"{match['day']}T{match['time']}{match['zone'] or ''}")
    except ValueError as exc:  # 2026-02-30, 25:00, +99:00
        raise InvalidInput(field, f"is not a valid instant ({exc}): {_shown(text)}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= _SHOWN else f"{shown[:_SHOWN]}... ({len(shown)} characters)"
