"""How the pages show values: dollars exactly, counts with separators, times with how far off
they are, limits by name, and how full a budget is (for its bar's colour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quota_sidecar.domain.durations import duration_text
from quota_sidecar.domain.models import LimitKind, Subject
from quota_sidecar.domain.money import format_dollars

__all__ = [
    "amount_text",
    "fill_class",
    "fill_percent",
    "limit_label",
    "span_text",
    "subject_text",
    "when_text",
]

_LABELS = {
    LimitKind.REQUESTS_PER_MINUTE: "requests / minute",
    LimitKind.REQUESTS_PER_HOUR: "requests / hour",
    LimitKind.REQUESTS_PER_DAY: "requests / day",
    LimitKind.TOKENS_PER_MINUTE: "tokens / minute",
    LimitKind.TOKENS_PER_DAY: "tokens / day",
    LimitKind.COST_PER_REQUEST: "cost per request",
    LimitKind.COST_DAILY: "cost today",
    LimitKind.COST_MONTHLY: "cost this month",
    LimitKind.COST_WEEKLY: "cost this week",
    LimitKind.COST_LIFETIME: "lifetime cost",
    LimitKind.MAX_CONCURRENT: "concurrent holds",
}


def limit_label(kind: LimitKind) -> str:
    return _LABELS.get(kind, kind.value)


def amount_text(kind: LimitKind, value: int) -> str:
    """Dollars (exact) for a cost limit, a plain count otherwise."""
    return format_dollars(value) if kind.is_cost else f"{value:,}"


def subject_text(subject: Subject) -> str:
    return f"{subject.scope.value}:{subject.identifier}"


def span_text(delta: timedelta) -> str:
    return duration_text(delta, " ")


def when_text(when: datetime | None, now: datetime | None = None) -> str:
    """'2026-12-02 00:00 UTC (in 1h 26m)'; '-' when there is no time."""
    if when is None:
        return "-"
    now = now or datetime.now(UTC)
    left = when - now
    relative = f"in {span_text(left)}" if left >= timedelta(0) else f"{span_text(left)} ago"
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({relative})"


def fill_percent(used: int, limit: int) -> int:
    """How full, in whole percent (capped at 100 for the bar; the numbers beside it are exact)."""
    if limit <= 0:
        return 100 if used > 0 else 0
    return min(100, used * 100 // limit)


def fill_class(used: int, limit: int) -> str:
    """The bar's colour class: ok below 80 %, warn below 100 %, full at or past the limit."""
    if limit <= 0 or used >= limit:
        return "full"
    return "warn" if used * 100 >= 80 * limit else "ok"
