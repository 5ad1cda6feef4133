"""The keys and arguments record.lua takes for the history rollups and top-spender sets
(see engine/history.py), and the calendar a subject's periods follow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quota_sidecar.domain.history import HistoryRetention
from quota_sidecar.domain.models import QuotaConfig
from quota_sidecar.engine.plan import SubjectPlan
from quota_sidecar.store.keys import subject_keys, top_calendars, top_day, top_month

__all__ = ["calendar_name", "calendar_of", "record_extras"]


def calendar_of(config: QuotaConfig | None) -> tuple[int, str]:
    """The reset hour and zone a subject's periods follow (UTC midnight without a quota)."""
    if config is None:
        return 0, "UTC"
    return config.cost_quota.reset_hour, config.cost_quota.time_zone


def calendar_name(reset_hour: int, time_zone: str) -> str:
    return f"{reset_hour}@{time_zone}"


def record_extras(
    plans: Sequence[SubjectPlan], named: int, retention: HistoryRetention, *, top: bool
) -> tuple[list[str], list[Any]]:
    """The KEYS and ARGV record.lua takes after its own for the history of the first `named`
    plans (see the script's header). `top` is False on Redis Cluster, where the scope-wide sets
    live on other slots than the record's subjects."""
    keys: list[str] = []
    for plan in plans[:named]:
        base = subject_keys(plan.subject)
        keys += [base.history_day(plan.day.id), base.history_month(plan.month.id)]
    args: list[Any] = [retention.day_ms, retention.month_ms, int(top)]
    if top:
        for plan in plans[:named]:
            scope = plan.subject.scope.value
            calendar = calendar_name(*calendar_of(plan.cached.config))
            keys += [
                top_day(scope, calendar, plan.day.id),
                top_month(scope, calendar, plan.month.id),
                top_calendars(scope),
            ]
            args.append(calendar)
    return keys, args
