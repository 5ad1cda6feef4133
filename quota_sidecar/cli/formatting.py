"""Readable output of the client-side commands: dollars, amounts, times, spans, tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from quota_sidecar.domain.durations import duration_text
from quota_sidecar.domain.models import LimitKind
from quota_sidecar.domain.money import from_nanos
from quota_sidecar.v1 import types_pb2

__all__ = [
    "amount_text",
    "format_dollars",
    "source_text",
    "span_text",
    "subject_text",
    "table",
    "when_text",
]


# --- formatting ------------------------------------------------------------------------------
def format_dollars(nanos: int) -> str:
    """$1.50, $0.000125: at least cents, every significant digit, never rounded."""
    whole, _, frac = f"{from_nanos(nanos):.9f}".partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"${whole}.{frac}"


def amount_text(limit: int, value: int) -> str:
    kind = types_pb2.LimitKind.Name(limit).removeprefix("LIMIT_KIND_").lower()  # type: ignore[arg-type]
    return format_dollars(value) if LimitKind(kind).is_cost else f"{value:,}"


def when_text(stamp: Any, now: datetime) -> str:
    if stamp.seconds == 0 and stamp.nanos == 0:
        return "-"
    when = stamp.ToDatetime(tzinfo=UTC)
    left = when - now
    rel = f"in {span_text(left)}" if left.total_seconds() >= 0 else f"{span_text(-left)} ago"
    return f"{when:%Y-%m-%d %H:%M:%S}Z ({rel})"


def span_text(delta: timedelta) -> str:
    return duration_text(delta, "")


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def source_text(source: str, default: str) -> str:
    """Where a quota comes from: "own", "default user:*", or "-" (no quota)."""
    if source == "default":
        return f"default {default}"
    return source or "-"


def subject_text(subject: types_pb2.Subject) -> str:
    scope = types_pb2.Scope.Name(subject.scope).removeprefix("SCOPE_").lower()
    return f"{scope}:{subject.identifier}"
