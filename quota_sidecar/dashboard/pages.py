"""The two pages: the overview (top spenders, budget bars, live alerts) and a subject's page
(spend per day, breakdowns, limits, holds, overrides, audit, its alerts). Each page is read
from the engine in one go (the reads run together) and rendered on the server.

What each role sees is what its gRPC counterpart may read (docs/dashboard.md): the viewer
(read-only dashboard token) sees what QuotaService returns (GetUsage: usage, limits,
breakdowns and the quota in force; GetUsageHistory; StreamAlerts), the admin also what only
QuotaAdminService returns (top spenders, every quota's budget, overrides, the audit log) and
the open holds with their ids (ids that settle or release a hold; no RPC lists them). The
admin-only reads are not even made for a viewer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from quota_sidecar.dashboard.alert_json import alert_json
from quota_sidecar.dashboard.context import CONTEXT, SESSION, render
from quota_sidecar.dashboard.sessions import Role
from quota_sidecar.domain.alert_filters import AlertFilter
from quota_sidecar.domain.clock import from_ms
from quota_sidecar.domain.errors import InvalidInput, StoreUnavailable
from quota_sidecar.domain.history import UsageHistory
from quota_sidecar.domain.models import LimitKind, QuotaConfig, QuotaScope, Subject, parse_scope
from quota_sidecar.domain.results import BreakdownEntry, LimitStatus
from quota_sidecar.engine.service import QuotaService

__all__ = ["page_routes"]

TOP = 10  # spenders per table
RECENT_ALERTS = 20
AUDIT_ENTRIES = 20
BUDGET_QUOTAS = 100  # the overview's bars cover the first this many quotas
_READS_AT_ONCE = 8  # usage reads in flight for the bars: a page must not flood Redis
_BUDGET_LIMITS = (LimitKind.COST_DAILY, LimitKind.COST_WEEKLY, LimitKind.COST_MONTHLY,
                  LimitKind.COST_LIFETIME)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BudgetBar:
    subject: Subject
    status: LimitStatus

    @property
    def spent(self) -> int:
        """What counts against the limit: spent plus held."""
        return self.status.used + self.status.held


async def _budget_bars(service: QuotaService) -> tuple[list[BudgetBar], bool]:
    """A bar per cost limit of the first BUDGET_QUOTAS quotas, fullest first; and whether
    there were more quotas than that."""
    configs, more = await service.list_quotas(page_size=BUDGET_QUOTAS)
    gate = asyncio.Semaphore(_READS_AT_ONCE)

    async def bars_of(config: QuotaConfig) -> list[BudgetBar]:
        async with gate:
            usage = await service.get_usage(Subject(config.scope, config.identifier))
        return [BudgetBar(usage.subject, s) for s in usage.limits if s.limit in _BUDGET_LIMITS]

    limited = [c for c in configs if _has_budget(c)]
    nested = await asyncio.gather(*(bars_of(c) for c in limited))
    bars = [bar for group in nested for bar in group]
    bars.sort(key=lambda b: (-_fullness(b), str(b.subject), b.status.limit.value))
    return bars, bool(more)


def _has_budget(config: QuotaConfig) -> bool:
    cost = config.cost_quota
    return any(
        limit is not None
        for limit in (cost.daily_limit, cost.weekly_limit, cost.monthly_limit, cost.lifetime_limit)
    )


def _fullness(bar: BudgetBar) -> float:
    limit = bar.status.limit_value
    return float("inf") if limit <= 0 else bar.spent / limit


def _scope_from(request: web.Request, default: QuotaScope | None) -> QuotaScope:
    text = request.query.get("scope")
    if not text:
        if default is None:
            raise InvalidInput("scope", "is required")
        return default
    return parse_scope(text)


def _is_admin(request: web.Request) -> bool:
    return request[SESSION].role is Role.ADMIN


async def _admin_overview(
    service: QuotaService, scope: QuotaScope
) -> tuple[list[Any], list[Any], list[BudgetBar], bool]:
    today, month, (bars, more) = await asyncio.gather(
        service.top_spenders(scope, period="today", limit=TOP),
        service.top_spenders(scope, period="month", limit=TOP),
        _budget_bars(service),
    )
    return list(today), list(month), bars, more


async def _nothing() -> tuple[list[Any], list[Any], list[BudgetBar], bool]:
    return [], [], [], False


async def overview(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    service = context.service
    try:
        scope = _scope_from(request, QuotaScope.USER)
    except InvalidInput as exc:
        return render(request, "error.html", status=400, message=str(exc))
    admin = _is_admin(request)
    try:
        (today, month, bars, more), (alerts, cursor) = await asyncio.gather(
            _admin_overview(service, scope) if admin else _nothing(),
            context.hub.recent(AlertFilter(), RECENT_ALERTS),
        )
    except StoreUnavailable as exc:
        return render(request, "error.html", status=503, message=f"The store is away: {exc}")
    return render(
        request,
        "overview.html",
        admin=admin,
        scopes=list(QuotaScope),
        scope=scope,
        top_today=today,
        top_month=month,
        bars=bars,
        more_quotas=more,
        alerts=[alert_json(a) for a in alerts],
        cursor=cursor,
        alert_filter={},
        now=from_ms(service.clock.now_ms()),  # the engine's time: resets agree with it
    )


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    name: str
    today_nanos: int
    today_calls: int
    month_nanos: int
    month_calls: int


def _breakdown_rows(
    today: tuple[BreakdownEntry, ...], month: tuple[BreakdownEntry, ...]
) -> list[BreakdownRow]:
    """Today's and this month's spend side by side, costliest this month first."""
    by_day = {e.name: e for e in today}
    rows = [
        BreakdownRow(
            m.name,
            by_day[m.name].cost_nanos if m.name in by_day else 0,
            by_day[m.name].requests if m.name in by_day else 0,
            m.cost_nanos,
            m.requests,
        )
        for m in month
    ]
    # The month holds the day, except across a reset hour's edge: keep today-only names too.
    month_names = {m.name for m in month}
    rows += [BreakdownRow(e.name, e.cost_nanos, e.requests, 0, 0)
             for e in today if e.name not in month_names]  # fmt: skip
    return sorted(rows, key=lambda r: (-r.month_nanos, -r.today_nanos, r.name))


def _chart_data(history: UsageHistory) -> dict[str, Any]:
    """The daily series as the chart script reads them. Nanos go as decimal strings (as proto3
    JSON sends int64): a JavaScript number would round past 2**53, the legend shows them exact."""
    days = list(history.days)
    return {
        "days": [d.day.isoformat() for d in days],
        "cost_nanos": [str(d.cost_nanos) for d in days],
        "requests": [d.requests for d in days],
        "tokens": [d.tokens for d in days],
    }


async def _admin_subject(service: QuotaService, subject: Subject) -> tuple[Any, Any, Any]:
    holds, overrides, (audit, _) = await asyncio.gather(
        service.open_holds(subject),
        service.list_overrides(subject),
        service.list_audit_events(subject, page_size=AUDIT_ENTRIES),
    )
    return holds, overrides, audit


async def _none_of_it() -> tuple[Any, Any, Any]:
    return (), (), ()


async def subject_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    service = context.service
    try:
        subject = Subject(_scope_from(request, None), request.query.get("id", ""))
    except InvalidInput as exc:
        return render(request, "error.html", status=400, message=str(exc))
    only_subject = AlertFilter(
        scopes=frozenset({subject.scope}), identifiers=frozenset({subject.identifier})
    )
    admin = _is_admin(request)
    try:
        usage, history, (alerts, cursor), (holds, overrides, audit) = await asyncio.gather(
            service.get_usage(subject),
            service.usage_history(subject),
            context.hub.recent(only_subject, RECENT_ALERTS),
            _admin_subject(service, subject) if admin else _none_of_it(),
        )
    except StoreUnavailable as exc:
        return render(request, "error.html", status=503, message=f"The store is away: {exc}")
    return render(
        request,
        "subject.html",
        admin=admin,
        subject=subject,
        usage=usage,
        history=history,
        chart=_chart_data(history),
        breakdowns=[
            ("provider", _breakdown_rows(usage.by_provider_today, usage.by_provider_month)),
            ("tool", _breakdown_rows(usage.by_tool_today, usage.by_tool_month)),
            ("model", _breakdown_rows(usage.by_model_today, usage.by_model_month)),
        ],
        holds=holds,
        overrides=overrides,
        audit=audit,
        alerts=[alert_json(a) for a in alerts],
        cursor=cursor,
        alert_filter={"scope": subject.scope.value, "id": subject.identifier},
        now=from_ms(service.clock.now_ms()),  # the engine's time: resets agree with it
    )


def page_routes() -> list[web.RouteDef]:
    return [web.get("/", overview), web.get("/subject", subject_page)]
