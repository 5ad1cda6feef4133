"""Decoding of the Lua scripts' array replies into domain types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from quota_sidecar.alerting.codec import decode_alert
from quota_sidecar.clock import from_ms
from quota_sidecar.engine.plan import SubjectPlan
from quota_sidecar.models import LimitKind
from quota_sidecar.results import Alert, LimitStatus, ThresholdWarning, UsageTotals

__all__ = ["decode_alerts", "decode_statuses", "decode_totals", "decode_warnings", "window_length"]


def window_length(kind: LimitKind, plan: SubjectPlan) -> timedelta | None:
    """The window of a rate limit, or the period of a budget."""
    if kind.window is not None:
        return timedelta(milliseconds=kind.window.length_ms)
    if kind is LimitKind.COST_DAILY:
        return timedelta(milliseconds=plan.day.end_ms - plan.day.start_ms)
    if kind is LimitKind.COST_MONTHLY:
        return timedelta(milliseconds=plan.month.end_ms - plan.month.start_ms)
    return None


def _rows(flat: Sequence[Any], width: int) -> list[Sequence[Any]]:
    return [flat[i : i + width] for i in range(0, len(flat), width)]


def decode_statuses(flat: Sequence[Any], plans: Sequence[SubjectPlan]) -> tuple[LimitStatus, ...]:
    out = []
    for index, name, raw_limit, raw_used, raw_held, reset_ms in _rows(flat, 6):
        plan = plans[int(index) - 1]
        kind = LimitKind(name)
        limit_value, used, held = int(raw_limit), int(raw_used), int(raw_held)
        out.append(
            LimitStatus(
                subject=plan.subject,
                limit=kind,
                limit_value=limit_value,
                used=used,
                held=held,
                remaining=max(0, limit_value - used - held),
                reset_at=from_ms(int(reset_ms)) if int(reset_ms) > 0 else None,
                window=window_length(kind, plan),
            )
        )
    return tuple(out)


def decode_warnings(
    flat: Sequence[Any], plans: Sequence[SubjectPlan]
) -> tuple[ThresholdWarning, ...]:
    return tuple(
        ThresholdWarning(
            subject=plans[int(index) - 1].subject,
            limit=LimitKind(name),
            percent=int(percent),
            used=int(used),
            limit_value=int(limit_value),
        )
        for index, name, percent, used, limit_value in _rows(flat, 5)
    )


def decode_alerts(entries: Sequence[Sequence[str]]) -> tuple[Alert, ...]:
    alerts = []
    for entry in entries:
        fields = dict(zip(entry[1::2], entry[2::2], strict=True))
        alerts.append(decode_alert(entry[0], fields))
    return tuple(alerts)


def decode_totals(flat: Sequence[Any], plans: Sequence[SubjectPlan]) -> tuple[UsageTotals, ...]:
    return tuple(
        UsageTotals(
            subject=plans[int(index) - 1].subject,
            cost_today_nanos=int(cost_day),
            cost_this_month_nanos=int(cost_month),
            requests_today=int(requests),
            tokens_today=int(tokens),
        )
        for index, cost_day, cost_month, requests, tokens in _rows(flat, 5)
    )
