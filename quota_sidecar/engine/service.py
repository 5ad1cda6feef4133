"""QuotaService: the facade that the seed's examples and the gRPC servicers both use.

QuotaService
 ├─ RateLimitManager   admission: windows and budgets, atomically (check.lua)
 ├─ CostTracker        records, holds, idempotency, usage (record.lua, usage.lua)
 ├─ ConfigRepository   quotas in Redis, cached with their version
 ├─ OverrideManager    overrides, resets, resolved thresholds
 ├─ Pricer             the cost of a call from its tokens (pricing/)
 ├─ RunRegistry        runs: opening, templates, the chain of ancestors (run_open.lua)
 └─ RunControl         ending a run, its tree
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from quota_sidecar.domain.clock import Clock, SystemClock
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.history import TopSpender, UsageHistory
from quota_sidecar.domain.models import QuotaConfig, QuotaScope, Subject, UnpricedPolicy
from quota_sidecar.domain.money import from_nanos
from quota_sidecar.domain.requests import CheckRequest, ExtendRequest, RecordRequest, UsageRequest
from quota_sidecar.domain.results import (
    AuditEvent,
    CheckResult,
    HoldExtension,
    Override,
    QuotaInForce,
    RecordResult,
    RunEnd,
    RunUsage,
    Usage,
)
from quota_sidecar.engine.audit import audit_change, list_audit_events
from quota_sidecar.engine.charges import ChargeAsk, Pricer, charge_call, unpriced_denial
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.costs import CostTracker
from quota_sidecar.engine.durability.spool import RecordSpool
from quota_sidecar.engine.extensions import HoldExtender
from quota_sidecar.engine.history import HistoryReader
from quota_sidecar.engine.holds import OpenHold, open_holds
from quota_sidecar.engine.overrides import OverrideManager
from quota_sidecar.engine.rate_limits import RateLimitManager
from quota_sidecar.engine.recording import Recorder
from quota_sidecar.engine.registration import Registration
from quota_sidecar.engine.reservations import decode_reservation
from quota_sidecar.engine.run_control import RunControl
from quota_sidecar.engine.runs import RunAsk, RunRegistry, RunTemplate
from quota_sidecar.engine.samples import CostSamples
from quota_sidecar.engine.seed_compat import SeedFacade
from quota_sidecar.engine.settings import EngineSettings
from quota_sidecar.pricing import PriceOverride
from quota_sidecar.store.redis import Store

__all__ = ["EngineSettings", "QuotaService", "Registration"]


class QuotaService(SeedFacade):
    """Checks and records quota usage on Redis; every replica on one Redis shares all state.
    Its own operations take one checked request each (`check`, `record`, `usage`, `extend`:
    see quota_sidecar.domain.requests); the seed's keyword API is SeedFacade's."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        settings: EngineSettings | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        self._store = store or Store.from_url(
            redis_url, timeout=self.settings.store_timeout, data_dir=self.settings.data_dir
        )
        self.clock: Clock = clock or SystemClock()
        self.configs = ConfigRepository(self._store, self.clock)
        self.rate_limits = RateLimitManager(self._store, self.configs, self.clock)
        self.costs = CostTracker(self._store, self.configs, self.clock, self.settings.history)
        self.history = HistoryReader(self._store, self.configs, self.clock, self.settings.history)
        self.overrides = OverrideManager(self._store, self.configs, self.costs, self.clock)
        self.pricer = Pricer(self.clock)
        self.extender = HoldExtender(self._store, self.configs, self.clock)
        self.samples = CostSamples(self._store)
        self.runs = RunRegistry(self._store, self.clock)
        self.run_control = RunControl(
            self._store, self.clock, self.runs, self.overrides, self.get_usage
        )
        self._pending: set[asyncio.Task[QuotaConfig]] = set()
        self._last_registration: asyncio.Task[QuotaConfig] | None = None
        spool_dir = self.settings.spool_dir
        self.spool = RecordSpool(spool_dir) if spool_dir is not None else None
        self.recorder = Recorder(
            self.pricer, self.configs, self.costs, self.runs, self.spool,
            self._end_run_after_record,
        )  # fmt: skip

    @property
    def store(self) -> Store:
        return self._store

    # --- configuration -------------------------------------------------------------------
    async def put_quota(
        self, config: QuotaConfig, *, actor: str = "api", reason: str = ""
    ) -> tuple[QuotaConfig, bool]:
        """Create or replace a quota; returns (stored config with its version, created)."""
        return await self.configs.put(config, actor=actor, reason=reason)

    async def get_quota(self, subject: Subject) -> QuotaConfig | None:
        """The subject's own quota; None when it has none (even when a default applies to it:
        see quota_in_force)."""
        await self._settled()
        return await self.configs.get(subject)

    async def quota_in_force(self, subject: Subject, *, tenant: str = "") -> QuotaInForce:
        """The quota that decides the subject's calls: its own, else the default it follows
        (`tenant`: as a call naming tenant:<tenant> would resolve it), and which it is."""
        await self._settled()
        entry = await self.configs.in_force(subject, tenant)
        default = "" if entry.default is None else str(entry.default)
        return QuotaInForce(entry.config, entry.source, default)

    async def list_quotas(
        self, scope: QuotaScope | None = None, page_size: int = 100, page_token: str = ""
    ) -> tuple[list[QuotaConfig], str]:
        await self._settled()
        return await self.configs.list(scope, page_size, page_token)

    async def delete_quota(self, subject: Subject, *, actor: str, reason: str = "") -> QuotaConfig:
        """Raises NotFound when the subject has no quota."""
        await self._settled()
        return await self.configs.delete(subject, actor=actor, reason=reason)

    # --- data plane ----------------------------------------------------------------------
    async def check(self, req: CheckRequest) -> CheckResult:
        """Decide a checked check (quota_sidecar.domain.validation.checked_check; see
        RateLimitManager.check). Past `req.timeout`, DeadlineExceeded with nothing held or
        counted. With a provider and model, estimated input and output tokens (say the
        request's max_tokens) are priced instead of a dollar estimate; a hold reserves that.
        With a run, the run and every ancestor run are checked too, in the same atomic check
        (the first call naming a run opens it: see engine/runs.py). With
        `estimate_from_history` and no estimate given, the estimate is the p95 of the first
        subject's recent actual costs for the model or tool (engine/samples.py)."""
        given = req.estimated_cost_nanos
        tokens = req.estimated_input_tokens, req.estimated_output_tokens
        estimated_tokens = req.estimated_tokens or tokens[0] + tokens[1]
        ask = ChargeAsk(req.provider, req.model, given or None, (*tokens, 0, 0),
                        req.skip_model_subject, is_check=True)  # fmt: skip
        if req.estimate_from_history and not (given or estimated_tokens):
            estimate = await self.samples.estimate(
                req.subjects[0], tool_name=req.tool_name, model=ask.name
            )
            ask = ChargeAsk(req.provider, req.model, estimate or None, ask.tokens,
                            req.skip_model_subject, is_check=True)  # fmt: skip
        targets, charge = await charge_call(
            self.pricer, self.configs, list(req.subjects), ask, req.timeout
        )
        if charge.denied_by is not None:
            return unpriced_denial(charge.denied_by, ask.name)
        run = req.run
        if run.run_id:
            limits = RunAsk(self._run_cost(run.max_cost_nanos), run.ttl, run.max_requests,
                            run.max_tokens)  # fmt: skip
            targets += await self.runs.subjects_for(
                targets, run.run_id, run.parent_run_id, ask=limits, timeout=req.timeout
            )
        return await self.rate_limits.check(
            targets,
            estimated_cost_nanos=charge.cost_nanos,
            estimated_tokens=estimated_tokens,
            reserve=req.reserve,
            lease=req.reservation_lease or self.settings.hold_lease,
            timeout=req.timeout,
            requests=req.requests,
        )

    @staticmethod
    def _run_cost(nanos: int | None) -> Decimal | None:
        # RunAsk (engine/runs.py) still takes dollars: exact, and checked already.
        return None if nanos is None else from_nanos(nanos)

    async def record(self, req: RecordRequest) -> RecordResult:
        """Record what a checked call cost (see engine/recording.py): once under its
        idempotency key, spooled when the store cannot confirm it. Without a cost, a record
        with a provider, a model and tokens is priced (`priced_by` says how). With a run, the
        spend counts on the run and every ancestor too; `end_run` then ends the run once the
        record is confirmed. `cut_short`: the call stopped early (a stream); what it used so
        far is charged, and it is left out of the cost samples of history estimates."""
        return await self.recorder.record(req)

    async def _end_run_after_record(self, run_id: str, timeout: float | None) -> RunEnd:
        return await self.end_run(run_id, timeout=timeout)

    async def replay_spool(self, on_recorded: Callable[[], None] | None = None) -> int:
        """Record what the spool holds (see Recorder.replay_spool)."""
        return await self.recorder.replay_spool(on_recorded)

    def set_run_template(self, template: RunTemplate | None, tenant: str = "*") -> None:
        """The `runs:` template of a tenant's runs, or of all ("*"); None removes it."""
        self.runs.set_template(template, tenant)

    async def end_run(self, run_id: str, *, timeout: float | None = None) -> RunEnd:
        """End a run early: later checks on it (or below it) are denied, its holds released
        (see engine/run_control.py). NotFound when the run is not open."""
        return await self.run_control.end(run_id, timeout=timeout)

    async def run_usage(self, run_id: str, *, timeout: float | None = None) -> RunUsage:
        """A run and every run below it, with their spend (NotFound when not open)."""
        return await self.run_control.tree(run_id, timeout=timeout)

    async def release_reservation(self, reservation_id: str) -> bool:
        """Return a hold without recording anything; False when it was already gone."""
        if not reservation_id:
            raise InvalidInput("reservation_id", "is required")
        return await self.costs.release(reservation_id)

    async def extend(self, req: ExtendRequest) -> HoldExtension:
        """Grow a hold while its call streams (see engine/extensions.py): to `hold_cost_nanos`,
        or to the price of the tokens (totals so far plus what the next chunk may use). All its
        subjects or none; a denial leaves the hold as it was and the caller must stop.
        NotFound when the hold is no longer open."""
        _, subjects = decode_reservation(req.reservation_id)
        tokens = (req.input_tokens, req.output_tokens, 0, 0)
        ask = ChargeAsk(req.provider, req.model, req.hold_cost_nanos, tokens, True)
        _, charge = await charge_call(self.pricer, self.configs, list(subjects), ask, req.timeout)
        if charge.denied_by is not None:
            denied = unpriced_denial(charge.denied_by, ask.name)
            return HoldExtension(False, 0, denied.code, denied.reason, denied.denied_subject)
        return await self.extender.extend(
            req.reservation_id,
            cost_nanos=charge.cost_nanos,
            lease=req.reservation_lease or self.settings.hold_lease,
            timeout=req.timeout,
        )

    async def open_holds(self, subject: Subject) -> tuple[OpenHold, ...]:
        """The subject's unexpired holds, soonest expiry first (read only)."""
        return await open_holds(self._store, self.clock, subject)

    async def usage(self, req: UsageRequest) -> Usage:
        return await self.costs.usage(req.subject, tenant=req.tenant)

    # --- admin ---------------------------------------------------------------------------
    async def usage_history(
        self,
        subject: Subject,
        *,
        start: date | None = None,
        end: date | None = None,
        tenant: str = "",
    ) -> UsageHistory:
        """`tenant`: whose default names the days if the subject has no quota of its own."""
        return await self.history.usage_history(
            subject, start=start, end=end, tenant=tenant or None
        )

    async def top_spenders(
        self, scope: QuotaScope, *, period: str = "today", limit: int = 10
    ) -> tuple[TopSpender, ...]:
        return await self.history.top_spenders(scope, period=period, limit=limit)

    async def grant_override(self, override: Override) -> Override:
        return await self.overrides.grant(override)

    async def revoke_override(
        self, subject: Subject, override_id: str, *, actor: str, reason: str = ""
    ) -> Override:
        return await self.overrides.revoke(subject, override_id, actor=actor, reason=reason)

    async def list_overrides(self, subject: Subject) -> list[Override]:
        return await self.overrides.in_force(subject)

    async def reset_usage(
        self, subject: Subject, *, actor: str, reason: str = ""
    ) -> tuple[int, int]:
        """Clear usage; returns (cost today, cost this month) in nanos as they were."""
        return await self.overrides.reset(subject, actor=actor, reason=reason)

    async def set_prices(
        self,
        overrides: Sequence[PriceOverride],
        default_policy: UnpricedPolicy | None,
        *,
        actor: str,
        reason: str = "",
        audit: bool = True,
    ) -> bool:
        """Install price overrides and the default unpriced policy; a change is audited
        (action `prices.put`, subject global:*) before it takes effect. True when it changed."""
        before = self.pricer.describe()
        after = self.pricer.describe(overrides, default_policy)
        if before == after:
            return False
        if audit:
            await audit_change(
                self._store, self.clock, "prices.put", actor=actor, reason=reason,
                before=before, after=after,
            )  # fmt: skip
        self.pricer.configure(overrides, default_policy)
        return True

    async def list_audit_events(
        self, subject: Subject | None = None, page_size: int = 100, page_token: str = ""
    ) -> tuple[list[AuditEvent], str]:
        return await list_audit_events(self._store, subject, page_size, page_token)

    # --- lifecycle -----------------------------------------------------------------------
    async def ping(self) -> bool:
        return await self._store.ping()

    async def close(self) -> None:
        await self._settled()
        await self.rate_limits.close()
        if self.spool is not None:
            self.spool.close()
        await self._store.close()
