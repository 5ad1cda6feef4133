"""Usage history and top spenders.

Written by record.lua in the record's own script call (no extra round trip): for every subject a
record names, a day rollup (cost, records, tokens and the bounded provider/tool/model breakdown)
and a month rollup (cost, records, tokens), each kept for the retention after its period ends
(HistoryRetention); and the period's absolute totals in one sorted set per scope, calendar and
period, the calendar being the subject's "<reset_hour>@<time zone>", so that every set holds
exactly one quota day (or month) of its subjects. `record_extras` builds those keys and
arguments (engine/history_keys.py); HistoryReader reads them.

The rollups are apart from the budget's day and month hashes on purpose: an admin usage reset
forgives the budget (it deletes those hashes), but the spend happened and stays in the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.history import (
    HistoryRetention,
    TopSpender,
    UsageDay,
    UsageHistory,
    UsageMonth,
)
from quota_sidecar.domain.models import LimitKind, QuotaScope, Subject
from quota_sidecar.domain.periods import Period, day_period, month_period, named_day, named_month
from quota_sidecar.engine.configs import CachedConfig, ConfigRepository
from quota_sidecar.engine.costs import breakdown_entries
from quota_sidecar.engine.history_keys import calendar_name, calendar_of
from quota_sidecar.store.redis import Store
from quota_sidecar.store.usage_history import (
    PeriodTotal,
    Rollup,
    TopSet,
    calendars_of,
    period_totals,
    read_rollups,
    top_page,
)

__all__ = ["PERIODS", "TOP_LIMIT_MAX", "HistoryReader"]

PERIODS = ("today", "month")
TOP_LIMIT_MAX = 1000
_READ_TIMEOUT = 5.0


class HistoryReader:
    """Reads the rollups and the top-spender sets."""

    def __init__(
        self, store: Store, configs: ConfigRepository, clock: Clock, retention: HistoryRetention
    ) -> None:
        self._store = store
        self._configs = configs
        self._clock = clock
        self.retention = retention

    async def usage_history(
        self,
        subject: Subject,
        *,
        start: date | None = None,
        end: date | None = None,
        tenant: str | None = None,
    ) -> UsageHistory:
        """One row per quota day from `start` to `end` (inclusive, by local start date),
        clamped to what the retention keeps (today and `retention.whole_days` days before it);
        by default all of it. Months: every quota month touching the range that is kept.
        `tenant`: whose default names the days if the subject has no quota of its own."""
        if start is not None and end is not None and start > end:
            raise InvalidInput("start", f"is after end ({start} > {end})")
        (cached,) = await self._configs.get_many([subject], tenant=tenant)
        reset_hour, time_zone = calendar_of(cached.config)
        now = self._clock.now_ms()
        today = date.fromisoformat(day_period(now, reset_hour, time_zone).id)
        oldest = today - timedelta(days=self.retention.whole_days)
        first = max(start or oldest, oldest)
        last = min(end or today, today)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        this_month = date.fromisoformat(month_period(now, reset_hour, time_zone).id + "-01")
        months = _months_between(first, last) if days else []
        kept = _months_back(this_month, self.retention.months - 1)
        months = [m for m in months if m >= kept]
        day_periods = [named_day(d, reset_hour, time_zone) for d in days]
        month_periods = [named_month(m, reset_hour, time_zone) for m in months]
        day_rollups, month_rollups = await read_rollups(
            self._store,
            subject,
            [p.id for p in day_periods],
            [p.id for p in month_periods],
            _READ_TIMEOUT,
        )
        day_rows = tuple(
            _day_row(d, p, rollup)
            for d, p, rollup in zip(days, day_periods, day_rollups, strict=True)
        )
        month_rows = tuple(
            UsageMonth(
                month=p.id,
                starts_at=p.start,
                ends_at=p.end,
                cost_nanos=rollup.cost_nanos,
                requests=rollup.records,
                tokens=rollup.tokens,
            )
            for p, rollup in zip(month_periods, month_rollups, strict=True)
        )
        return UsageHistory(
            subject=subject,
            days=day_rows,
            months=month_rows,
            quota_source=cached.source,
            quota_default=_default_name(cached),
        )

    async def top_spenders(
        self, scope: QuotaScope, *, period: str = "today", limit: int = 10
    ) -> tuple[TopSpender, ...]:
        """The scope's subjects by spend in their current quota day (or month), most first
        (ties by identifier), with the period's cost limit of each; each subject once.

        A subject is counted in the set of the calendar its quota follows now. A subject whose
        calendar changed (time zone or reset hour) still has a row in its old calendar's set
        until that set expires: such a row is never taken at its word, but read again from the
        subject's rollup of its current period (the total GetUsage shows), so a calendar change
        can neither list a subject twice nor with a stale total."""
        if period not in PERIODS:
            raise InvalidInput("period", f"must be one of {', '.join(PERIODS)}: {period!r}")
        if not 1 <= limit <= TOP_LIMIT_MAX:
            raise InvalidInput("limit", f"must be from 1 to {TOP_LIMIT_MAX}: {limit}")
        now = self._clock.now_ms()
        totals: dict[Subject, int] = {}
        moved: dict[Subject, CachedConfig] = {}
        for calendar in await calendars_of(self._store, scope, _READ_TIMEOUT):
            top = _current_set(scope, calendar, period, now)
            await self._collect(_SetScan(top, limit), totals, moved)
        totals.update(await self._rescored(moved, period, now, skip=totals))
        ranked = sorted(totals.items(), key=lambda e: (-e[1], e[0].identifier))[:limit]
        configs = await self._configs.get_many([subject for subject, _ in ranked])
        kind = LimitKind.COST_DAILY if period == "today" else LimitKind.COST_MONTHLY
        return tuple(
            TopSpender(
                subject=subject,
                cost_nanos=cost,
                limit_nanos=None if c.config is None else c.config.limits().get(kind),
                quota_source=c.source,
                quota_default=_default_name(c),
            )
            for (subject, cost), c in zip(ranked, configs, strict=True)
        )

    async def _collect(
        self, scan: _SetScan, totals: dict[Subject, int], moved: dict[Subject, CachedConfig]
    ) -> None:
        """Page through one calendar's set, most first, until it has given `limit` subjects
        that follow that calendar now and every member tied with the last of them (so the cut
        by (cost, identifier) is exact however Redis orders equal scores). Rows of subjects
        that follow another calendar now go to `moved`, to be read again."""
        own: list[int] = []
        start = 0
        while True:
            page = await top_page(self._store, scan.top, start, scan.limit, _READ_TIMEOUT)
            subjects = [Subject(scan.top.scope, member) for member, _ in page]
            for subject, (_, score), cached in zip(
                subjects, page, await self._configs.get_many(subjects), strict=True
            ):
                if calendar_name(*calendar_of(cached.config)) == scan.top.calendar:
                    totals[subject] = score
                    own.append(score)
                else:
                    moved[subject] = cached
            start += len(page)
            if len(page) < scan.limit:
                return  # the whole set was read
            if len(own) >= scan.limit and page[-1][1] < sorted(own, reverse=True)[scan.limit - 1]:
                return  # past the cut and past every tie with it

    async def _rescored(
        self, moved: dict[Subject, CachedConfig], period: str, now: int, *, skip: dict[Subject, int]
    ) -> dict[Subject, int]:
        """The current period's total of each subject met only in another calendar's set,
        from its rollup (the source of every set's scores); none if it recorded nothing in it."""
        subjects = [s for s in moved if s not in skip]
        wanted = []
        for subject in subjects:
            reset_hour, time_zone = calendar_of(moved[subject].config)
            if period == "today":
                period_id = day_period(now, reset_hour, time_zone).id
            else:
                period_id = month_period(now, reset_hour, time_zone).id
            wanted.append(PeriodTotal(subject, period_id, monthly=period != "today"))
        found = await period_totals(self._store, wanted, _READ_TIMEOUT)
        return {
            subject: cost for subject, cost in zip(subjects, found, strict=True) if cost is not None
        }


@dataclass(frozen=True, slots=True)
class _SetScan:
    """One calendar's top-spender set of the current period, read `limit` members a page."""

    top: TopSet
    limit: int


def _current_set(scope: QuotaScope, calendar: str, period: str, now: int) -> TopSet:
    hour, _, time_zone = calendar.partition("@")
    reset_hour = int(hour)
    if period == "today":
        return TopSet(scope, calendar, day_period(now, reset_hour, time_zone).id, monthly=False)
    return TopSet(scope, calendar, month_period(now, reset_hour, time_zone).id, monthly=True)


def _default_name(cached: CachedConfig) -> str:
    return "" if cached.default is None else str(cached.default)


def _day_row(day: date, period: Period, rollup: Rollup) -> UsageDay:
    return UsageDay(
        day=day,
        starts_at=period.start,
        ends_at=period.end,
        cost_nanos=rollup.cost_nanos,
        requests=rollup.records,
        tokens=rollup.tokens,
        by_provider=breakdown_entries(rollup.fields, "p"),
        by_tool=breakdown_entries(rollup.fields, "t"),
        by_model=breakdown_entries(rollup.fields, "m"),
    )


def _months_between(first: date, last: date) -> list[date]:
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return out


def _months_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)
