"""Decoding of the Lua scripts' array replies into domain types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from quota_sidecar.domain.clock import EPOCH
from quota_sidecar.domain.models import LimitKind
from quota_sidecar.domain.results import Alert, LimitStatus, ThresholdWarning, UsageTotals
from quota_sidecar.engine.plan import SubjectPlan
from quota_sidecar.store.alert_codec import decode_alert
from quota_sidecar.store.decoding import exact_int

__all__ = [
    "decode_alerts",
    "decode_statuses",
    "decode_totals",
    "decode_warnings",
    "exact_int",
    "window_length",
]

_KINDS = {kind.value: kind for kind in LimitKind}
# A rate limit's window is fixed by its kind; a budget's period is the plan's (see below).
_WINDOWS = {
    kind: timedelta(milliseconds=kind.window.length_ms)
    for kind in LimitKind
    if kind.window is not None
}


def _kind(name: Any) -> LimitKind:
    found = _KINDS.get(name) if type(name) is str else None
    return found if found is not None else LimitKind(name)  # ValueError names a bad one


def window_length(kind: LimitKind, plan: SubjectPlan) -> timedelta | None:
    """The window of a rate limit, or the period of a budget."""
    window = _WINDOWS.get(kind)
    return window if window is not None else plan.periods.get(kind)


def _rows(flat: Sequence[Any], width: int) -> list[Sequence[Any]]:
    return [flat[i : i + width] for i in range(0, len(flat), width)]


def decode_statuses(flat: Sequence[Any], plans: Sequence[SubjectPlan]) -> tuple[LimitStatus, ...]:
    # Every check decodes a status per limit of every subject (10 for two subjects with three
    # windows and two budgets): the common case inline (integer replies, a known limit name),
    # exact_int() and _kind() only for anything else.
    out = []
    for at in range(0, len(flat), 6):
        index, limit_value, used, held, reset_ms = [
            v if type(v) is int else exact_int(v) for v in (flat[at], *flat[at + 2 : at + 6])
        ]
        plan = plans[index - 1]
        name = flat[at + 1]
        kind = _KINDS.get(name) if type(name) is str else None
        if kind is None:
            kind = _kind(name)
        window = _WINDOWS.get(kind)
        out.append(
            LimitStatus(
                plan.subject,
                kind,
                limit_value,
                used,
                held,
                max(0, limit_value - used - held),
                EPOCH + timedelta(milliseconds=reset_ms) if reset_ms > 0 else None,
                window if window is not None else plan.periods.get(kind),
            )
        )
    return tuple(out)


def decode_warnings(
    flat: Sequence[Any], plans: Sequence[SubjectPlan]
) -> tuple[ThresholdWarning, ...]:
    return tuple(
        ThresholdWarning(
            subject=plans[exact_int(index) - 1].subject,
            limit=LimitKind(name),
            percent=exact_int(percent),
            used=exact_int(used),
            limit_value=exact_int(limit_value),
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
            subject=plans[exact_int(index) - 1].subject,
            cost_today_nanos=exact_int(cost_day),
            cost_this_month_nanos=exact_int(cost_month),
            requests_today=exact_int(requests),
            tokens_today=exact_int(tokens),
        )
        for index, cost_day, cost_month, requests, tokens in _rows(flat, 5)
    )
