"""Turns subjects and their cached configs into the KEYS and ARGV of the Lua scripts.

Each subject is ONE argument, its fields separated by spaces (no field can hold whitespace:
identifiers are validated to have none), as _lib.lua's `subject()` reads it: version, scope,
identifier, day id, day end, month id, month end, shadow, thresholds, then the limits
in LIMIT_ORDER ("-" for none), the week id and end, when the subject ends ("-": never;
a run's keys all expire with it), and where its quota comes from ("own", the default's name, or
"-": none; alerts carry it). One pre-built string per subject instead of 17 arguments keeps
the client's command packing off the hot path; plans are cached per config version until the
quota day or month ends. Periods are computed here because they need the IANA zone database,
which Lua does not have.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from quota_sidecar.domain.models import DEFAULT_THRESHOLDS, LimitKind, Subject
from quota_sidecar.domain.periods import Period, day_period, month_period, week_period
from quota_sidecar.engine.configs import CachedConfig
from quota_sidecar.store.keys import subject_keys

__all__ = ["LIMIT_ORDER", "SUBJECT_ARGS", "SubjectPlan", "plan_subjects"]

LIMIT_ORDER = (
    LimitKind.REQUESTS_PER_MINUTE,
    LimitKind.REQUESTS_PER_HOUR,
    LimitKind.REQUESTS_PER_DAY,
    LimitKind.TOKENS_PER_MINUTE,
    LimitKind.TOKENS_PER_DAY,
    LimitKind.COST_PER_REQUEST,
    LimitKind.COST_DAILY,
    LimitKind.COST_MONTHLY,
    LimitKind.MAX_CONCURRENT,
    LimitKind.COST_WEEKLY,
    LimitKind.COST_LIFETIME,
    LimitKind.REQUESTS_LIFETIME,
    LimitKind.TOKENS_LIFETIME,
)
SUBJECT_ARGS = 1
_PLAN_CACHE_SIZE = 100_000


@dataclass(frozen=True, slots=True)
class SubjectPlan:
    """One subject as a script sees it."""

    subject: Subject
    cached: CachedConfig
    day: Period
    month: Period
    week: Period
    keys: list[str]
    args: list[str | int]
    # Each budget's period length (daily, weekly, monthly), for its LimitStatus.window.
    periods: dict[LimitKind, timedelta]

    def valid_at(self, now_ms: int) -> bool:
        return (
            self.day.start_ms <= now_ms < self.day.end_ms
            and now_ms < self.month.end_ms
            and now_ms < self.week.end_ms
        )


_Periods = tuple[Period, Period, Period]
_period_cache: dict[tuple[int, str, str], _Periods] = {}


def _periods(now_ms: int, reset_hour: int, time_zone: str, week_start: str) -> _Periods:
    # Periods change once a day; remember the last day, month and week per zone instead of
    # redoing zoneinfo arithmetic on every check.
    key = (reset_hour, time_zone, week_start)
    found = _period_cache.get(key)
    if (
        found
        and found[0].start_ms <= now_ms < found[0].end_ms
        and now_ms < found[1].end_ms
        and now_ms < found[2].end_ms
    ):
        return found
    pair = (
        day_period(now_ms, reset_hour, time_zone),
        month_period(now_ms, reset_hour, time_zone),
        week_period(now_ms, reset_hour, time_zone, week_start),
    )
    if len(_period_cache) > 4096:
        _period_cache.clear()
    _period_cache[key] = pair
    return pair


_plan_cache: OrderedDict[tuple[Subject, str], SubjectPlan] = OrderedDict()


def plan_subject(subject: Subject, cached: CachedConfig, now_ms: int) -> SubjectPlan:
    key = (subject, cached.version)
    found = _plan_cache.get(key)
    if found is not None and found.cached is cached and found.valid_at(now_ms):
        _plan_cache.move_to_end(key)
        return found
    plan = _build_plan(subject, cached, now_ms)
    _plan_cache[key] = plan
    if len(_plan_cache) > _PLAN_CACHE_SIZE:
        _plan_cache.popitem(last=False)
    return plan


def _build_plan(subject: Subject, cached: CachedConfig, now_ms: int) -> SubjectPlan:
    config = cached.config
    if config is None:
        day, month, week = _periods(now_ms, 0, "UTC", "monday")
        thresholds: Sequence[int] = DEFAULT_THRESHOLDS
        limits: dict[LimitKind, int] = {}
        shadow = False
    else:
        cost = config.cost_quota
        day, month, week = _periods(now_ms, cost.reset_hour, cost.time_zone, cost.week_start)
        thresholds = config.alert_thresholds
        limits = config.limits()
        shadow = config.shadow_mode
    keys = [*subject_keys(subject).script_keys(day.id, month.id, week.id), cached.defaults_key]
    fields = [
        cached.version,
        subject.scope.value,
        subject.identifier,
        day.id,
        day.end_ms,
        month.id,
        month.end_ms,
        "1" if shadow else "0",
        ",".join(str(t) for t in thresholds),
        *(limits.get(kind, "-") for kind in LIMIT_ORDER),
        week.id,
        week.end_ms,
        "-" if cached.expires_at_ms is None else cached.expires_at_ms,
        _source_field(cached),
    ]
    periods = {
        LimitKind.COST_DAILY: timedelta(milliseconds=day.end_ms - day.start_ms),
        LimitKind.COST_MONTHLY: timedelta(milliseconds=month.end_ms - month.start_ms),
        LimitKind.COST_WEEKLY: timedelta(milliseconds=week.end_ms - week.start_ms),
    }
    args: list[str | int] = [" ".join(map(str, fields))]
    return SubjectPlan(subject, cached, day, month, week, keys, args, periods)


def _source_field(cached: CachedConfig) -> str:
    """Where the quota comes from, for the alerts a script raises: "own", the default's name
    ("user:*", "user:*@acme": no whitespace), or "-" (no quota)."""
    if cached.config is None:
        return "-"
    return "own" if cached.default is None else str(cached.default)


def plan_subjects(
    subjects: Sequence[Subject], cached: Sequence[CachedConfig], now_ms: int
) -> list[SubjectPlan]:
    return [plan_subject(s, c, now_ms) for s, c in zip(subjects, cached, strict=True)]
