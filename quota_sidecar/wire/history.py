"""Proto ⇄ domain translation of usage history (GetUsageHistory) and top spenders
(ListTopSpenders); see fields.py for the conventions: every bad input is an InvalidInput naming
its proto field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.history import TopSpender, UsageDay, UsageHistory, UsageMonth
from quota_sidecar.domain.results import BreakdownEntry
from quota_sidecar.domain.timestamps import parse_day
from quota_sidecar.v1 import admin_pb2, quota_pb2
from quota_sidecar.wire.fields import (
    subject_from_proto,
    subject_to_proto,
    timestamp_from_proto,
    timestamp_to_proto,
)
from quota_sidecar.wire.replies import breakdown_to_proto

__all__ = [
    "DEFAULT_TOP_LIMIT",
    "date_from_proto",
    "date_to_proto",
    "history_from_proto",
    "history_to_proto",
    "period_from_proto",
    "period_to_proto",
    "top_limit_from_proto",
    "top_spender_from_proto",
    "top_spender_to_proto",
]

DEFAULT_TOP_LIMIT = 10
MAX_TOP_LIMIT = 1000
_PERIODS = {
    admin_pb2.SPEND_PERIOD_UNSPECIFIED: "today",
    admin_pb2.SPEND_PERIOD_TODAY: "today",
    admin_pb2.SPEND_PERIOD_MONTH: "month",
}


def date_from_proto(text: str, field: str) -> date | None:
    """A quota day "YYYY-MM-DD"; empty is None (the range's default edge)."""
    if not text:
        return None
    return parse_day(text, field)  # strictly YYYY-MM-DD: no week dates, no basic format


def date_to_proto(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def period_from_proto(value: int, field: str = "period") -> str:
    if value not in _PERIODS:
        raise InvalidInput(field, f"unknown period {value} (SPEND_PERIOD_TODAY or _MONTH)")
    return _PERIODS[value]  # type: ignore[index]


def period_to_proto(period: str) -> admin_pb2.SpendPeriod.ValueType:
    if period == "month":
        return admin_pb2.SPEND_PERIOD_MONTH
    return admin_pb2.SPEND_PERIOD_TODAY


def top_limit_from_proto(value: int, field: str = "limit") -> int:
    if value == 0:
        return DEFAULT_TOP_LIMIT
    if not 1 <= value <= MAX_TOP_LIMIT:
        raise InvalidInput(field, f"must be from 1 to {MAX_TOP_LIMIT} (0 means 10): {value}")
    return value


def _breakdown(entries: Iterable[quota_pb2.BreakdownEntry]) -> tuple[BreakdownEntry, ...]:
    return tuple(BreakdownEntry(e.name, e.cost_nanos, e.requests) for e in entries)


def history_to_proto(history: UsageHistory) -> quota_pb2.GetUsageHistoryResponse:
    return quota_pb2.GetUsageHistoryResponse(
        subject=subject_to_proto(history.subject),
        days=[
            quota_pb2.UsageDay(
                day=d.day.isoformat(),
                starts_at=timestamp_to_proto(d.starts_at),
                ends_at=timestamp_to_proto(d.ends_at),
                cost_nanos=d.cost_nanos,
                requests=d.requests,
                tokens=d.tokens,
                by_provider=breakdown_to_proto(d.by_provider),
                by_tool=breakdown_to_proto(d.by_tool),
                by_model=breakdown_to_proto(d.by_model),
            )
            for d in history.days
        ],
        months=[
            quota_pb2.UsageMonth(
                month=m.month,
                starts_at=timestamp_to_proto(m.starts_at),
                ends_at=timestamp_to_proto(m.ends_at),
                cost_nanos=m.cost_nanos,
                requests=m.requests,
                tokens=m.tokens,
            )
            for m in history.months
        ],
        quota_source=history.quota_source,
        quota_default=history.quota_default,
    )


def history_from_proto(message: quota_pb2.GetUsageHistoryResponse) -> UsageHistory:
    return UsageHistory(
        subject=subject_from_proto(message.subject),
        days=tuple(
            UsageDay(
                day=date.fromisoformat(d.day),
                starts_at=timestamp_from_proto(d.starts_at),
                ends_at=timestamp_from_proto(d.ends_at),
                cost_nanos=d.cost_nanos,
                requests=d.requests,
                tokens=d.tokens,
                by_provider=_breakdown(d.by_provider),
                by_tool=_breakdown(d.by_tool),
                by_model=_breakdown(d.by_model),
            )
            for d in message.days
        ),
        months=tuple(
            UsageMonth(
                month=m.month,
                starts_at=timestamp_from_proto(m.starts_at),
                ends_at=timestamp_from_proto(m.ends_at),
                cost_nanos=m.cost_nanos,
                requests=m.requests,
                tokens=m.tokens,
            )
            for m in message.months
        ),
        quota_source=message.quota_source,
        quota_default=message.quota_default,
    )


def top_spender_to_proto(spender: TopSpender) -> admin_pb2.TopSpender:
    message = admin_pb2.TopSpender(
        subject=subject_to_proto(spender.subject),
        cost_nanos=spender.cost_nanos,
        quota_source=spender.quota_source,
        quota_default=spender.quota_default,
    )
    if spender.limit_nanos is not None:
        message.limit_nanos = spender.limit_nanos
    return message


def top_spender_from_proto(message: admin_pb2.TopSpender) -> TopSpender:
    return TopSpender(
        subject=subject_from_proto(message.subject),
        cost_nanos=message.cost_nanos,
        limit_nanos=message.limit_nanos if message.HasField("limit_nanos") else None,
        quota_source=message.quota_source,
        quota_default=message.quota_default,
    )
