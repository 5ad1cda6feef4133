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
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TypeVar

from quota_sidecar.domain.clock import Clock, SystemClock
from quota_sidecar.domain.errors import DeadlineExceeded, InvalidInput, RunNotOpen, StoreUnavailable
from quota_sidecar.domain.history import TopSpender, UsageHistory
from quota_sidecar.domain.models import (
    QuotaConfig,
    QuotaScope,
    Subject,
    UnpricedPolicy,
    parse_scope,
)
from quota_sidecar.domain.money import Money
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
from quota_sidecar.domain.validation import (
    check_label,
    check_lease,
    check_tokens,
    money_nanos,
    resolve_subjects,
)
from quota_sidecar.engine.audit import audit_change, list_audit_events
from quota_sidecar.engine.charges import Pricer, charge_call, unpriced_denial
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.costs import GENERATED_KEY_PREFIX, CostTracker, record_identity
from quota_sidecar.engine.durability.spool import RecordSpool, SpooledRecord
from quota_sidecar.engine.extensions import HoldExtender
from quota_sidecar.engine.history import HistoryReader
from quota_sidecar.engine.holds import OpenHold, open_holds
from quota_sidecar.engine.model_subject import model_name
from quota_sidecar.engine.overrides import OverrideManager
from quota_sidecar.engine.rate_limits import RateLimitManager
from quota_sidecar.engine.registration import Registration, write_without_loop
from quota_sidecar.engine.reservations import decode_reservation
from quota_sidecar.engine.run_control import RunControl
from quota_sidecar.engine.runs import RunAsk, RunRegistry, RunTemplate
from quota_sidecar.engine.samples import CostSamples
from quota_sidecar.engine.settings import EngineSettings, with_key
from quota_sidecar.pricing import PriceOverride, TokenUsage
from quota_sidecar.store.redis import Store

__all__ = ["EngineSettings", "QuotaService", "Registration"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class QuotaService:
    """Checks and records quota usage on Redis; every replica on one Redis shares all state."""

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

    @property
    def store(self) -> Store:
        return self._store

    async def _settled(self) -> None:
        """Wait for registrations started without await, so calls see them."""
        if self._pending:
            await asyncio.gather(*list(self._pending))

    # --- configuration -------------------------------------------------------------------
    def register_quota(self, config: QuotaConfig) -> Registration:
        """Store a quota. Works without await (as the seed calls it) and is also awaitable."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return Registration(None, self._register_without_loop(config))
        # One after another, in call order, so the last registration is the one that stays.
        task = asyncio.ensure_future(self._put_registered(config, self._last_registration))
        self._last_registration = task
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return Registration(task, None)

    async def _put_registered(
        self, config: QuotaConfig, previous: asyncio.Task[QuotaConfig] | None
    ) -> QuotaConfig:
        if previous is not None:
            with contextlib.suppress(Exception):  # its failure is its own caller's to see
                await asyncio.shield(previous)
        stored, _ = await self.put_quota(config, actor="register_quota")
        return stored

    def _register_without_loop(self, config: QuotaConfig) -> QuotaConfig:
        url = self._store.url
        if url is None:
            raise InvalidInput("register_quota", "await it: this store has no URL to reach it by")
        return write_without_loop(url, self.clock, config)

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
    async def check_quota(
        self,
        scope: QuotaScope | str | None = None,
        identifier: str | None = None,
        estimated_cost: Money = 0,
        *,
        subjects: Sequence[Subject] | None = None,
        estimated_cost_nanos: int | None = None,
        estimated_tokens: int = 0,
        tool_name: str = "",
        provider: str = "",
        reserve: bool = False,
        request_id: str = "",
        reservation_lease: timedelta | None = None,
        timeout: float | None = None,
        model: str = "",
        skip_model_subject: bool = False,
        estimated_input_tokens: int = 0,
        estimated_output_tokens: int = 0,
        run_id: str = "",
        parent_run_id: str = "",
        run_max_cost: Money | None = None,
        run_ttl: timedelta | None = None,
        run_max_requests: int | None = None,
        run_max_tokens: int | None = None,
        requests: int = 1,
        estimate_from_history: bool = False,
    ) -> CheckResult:
        """Decide a check (see RateLimitManager.check). `timeout` bounds the wait in seconds
        (None: as long as the store is reachable): past it, DeadlineExceeded with nothing held
        or counted. With a provider and model, estimated input and output tokens (say the
        request's max_tokens) are priced instead of a dollar estimate; a hold reserves that.
        With a `run_id`, the run and every ancestor run are checked too, in the same atomic
        check (the first call naming a run opens it: see engine/runs.py). `requests` is how many
        requests the check counts in the request windows and the day's counter (1; a gateway's
        hits may be more; 0 only looks: is there room for one more?). With
        `estimate_from_history` and no estimate given, the estimate is the p95 of the first
        subject's recent actual costs for the model or tool (engine/samples.py)."""
        targets = resolve_subjects(scope, identifier, subjects)
        given = money_nanos(estimated_cost, estimated_cost_nanos, "estimated_cost")
        check_tokens(estimated_tokens, "estimated_tokens")
        check_tokens(requests, "requests")
        usage = TokenUsage(estimated_input_tokens, estimated_output_tokens)
        estimated_tokens = estimated_tokens or usage.input_tokens + usage.output_tokens
        check_label(tool_name, "tool_name")
        check_label(provider, "provider")
        check_label(request_id, "request_id")
        lease = check_lease(reservation_lease, self.settings.hold_lease)
        name = model_name(provider, model)
        await self._settled()
        if estimate_from_history and not (given or estimated_tokens):
            given = await self.samples.estimate(targets[0], tool_name=tool_name, model=name) or 0
        targets, charge = await charge_call(
            self.pricer, self.configs, targets, name=name, provider=provider, model=model,
            usage=usage, given=given or None, skip_model_subject=skip_model_subject,
            is_check=True, timeout=timeout,
        )  # fmt: skip
        if charge.denied_by is not None:
            return unpriced_denial(charge.denied_by, name)
        ask = RunAsk(run_max_cost, run_ttl, run_max_requests, run_max_tokens)
        targets += await self.runs.subjects_for(
            targets, run_id, parent_run_id, ask=ask, timeout=timeout
        )
        return await self.rate_limits.check(
            targets,
            estimated_cost_nanos=charge.cost_nanos,
            estimated_tokens=estimated_tokens,
            reserve=reserve,
            lease=lease,
            timeout=timeout,
            requests=requests,
        )

    async def record_usage(
        self,
        scope: QuotaScope | str | None = None,
        identifier: str | None = None,
        cost: Money | None = None,
        provider: str = "",
        tool_name: str = "",
        *,
        subjects: Sequence[Subject] | None = None,
        cost_nanos: int | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        idempotency_key: str = "",
        reservation_id: str | None = None,
        timeout: float | None = None,
        model: str = "",
        skip_model_subject: bool = False,
        run_id: str = "",
        parent_run_id: str = "",
        end_run: bool = False,
        cut_short: bool = False,
    ) -> RecordResult:
        """Record what a call cost. Every record carries an idempotency key (a generated one
        when none is given, returned in the result), which a retry and the spool reuse, so a
        record counts exactly once whatever fails. With a spool, a record the store could not
        confirm (unreachable, or `timeout` passed) is kept on disk and answered spooled=True;
        without one, the error carries the key to retry with. Without a cost, a record with a
        provider, a model and tokens is priced (`priced_by` says how). With a `run_id`, the
        spend is counted on the run and every ancestor run too; `end_run` then ends the run
        once the record is confirmed (not when it is spooled: `run_ended` says). `cut_short`:
        the call stopped early (a stream); what it used so far is charged as usual, and it is
        left out of the cost samples of history estimates."""
        targets = resolve_subjects(scope, identifier, subjects)
        if end_run and not run_id:
            raise InvalidInput("end_run", "needs a run_id")
        # 0 is "no cost given", as in the contract: with a model and tokens, they are priced.
        given = money_nanos(cost or 0, cost_nanos, "cost") or None
        usage = TokenUsage(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
        check_label(provider, "provider")
        check_label(tool_name, "tool_name")
        check_label(idempotency_key, "idempotency_key")
        name = model_name(provider, model)
        await self._settled()
        targets, charge = await charge_call(
            self.pricer, self.configs, targets, name=name, provider=provider, model=model,
            usage=usage, given=given, skip_model_subject=skip_model_subject,
            is_check=False, timeout=timeout,
        )  # fmt: skip
        targets += await self._record_runs(targets, run_id, parent_run_id, timeout)
        amount = charge.cost_nanos
        key = idempotency_key or f"{GENERATED_KEY_PREFIX}{uuid.uuid4().hex}"
        entry: SpooledRecord = {
            "subjects": [str(s) for s in targets],
            "cost_nanos": amount,
            "provider": provider,
            "tool_name": tool_name,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "idempotency_key": key,
            "reservation_id": reservation_id or None,
            "model": name,
        }
        try:
            # A whole call's cost joins the sample of history estimates, in the record's call.
            result = await self._record(entry, timeout, sample=not cut_short)
            if end_run:  # once the record is confirmed: a spooled one leaves the run open
                await self.end_run(run_id, timeout=timeout)
            ended = end_run
            return dataclasses.replace(
                result, priced_by=charge.priced_by, cost_nanos=amount, run_ended=ended
            )
        except (StoreUnavailable, DeadlineExceeded) as exc:
            if self.spool is None:
                raise with_key(exc, key) from exc
        # Unconfirmed: keep the record on disk under the same key, so it counts exactly once
        # whether or not the store applied it.
        self.spool.append(entry)
        spooled = RecordResult(recorded=False, duplicate=False, spooled=True, idempotency_key=key)
        return dataclasses.replace(spooled, priced_by=charge.priced_by, cost_nanos=amount)

    async def _record_runs(
        self, targets: Sequence[Subject], run_id: str, parent_run_id: str, timeout: float | None
    ) -> list[Subject]:
        """The runs a record counts on: its open run and every ancestor. A run that is not open
        is named alone: record.lua then answers a retry of a record counted while it was open
        as the duplicate it is (its idempotency key outlives the run), and refuses any other
        record on it (RunNotOpen) before anything is written."""
        try:
            return await self.runs.subjects_for(
                targets, run_id, parent_run_id, timeout=timeout, opening=False
            )
        except RunNotOpen:
            return [Subject(QuotaScope.RUN, run_id)]

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

    async def _record(
        self,
        entry: SpooledRecord,
        timeout: float | None = None,
        identity: Sequence[Subject] | None = None,
        *,
        sample: bool = False,
    ) -> RecordResult:
        result = await self.costs.record(
            [Subject.parse(name) for name in entry["subjects"]],
            cost_nanos=entry["cost_nanos"],
            provider=entry["provider"],
            tool_name=entry["tool_name"],
            model=str(entry.get("model") or ""),  # absent in spools written before models
            input_tokens=entry["input_tokens"],
            output_tokens=entry["output_tokens"],
            idempotency_key=entry["idempotency_key"],
            reservation_id=entry["reservation_id"],
            timeout=timeout,
            identity=identity,
            sample=sample,
        )
        return dataclasses.replace(result, idempotency_key=entry["idempotency_key"])

    async def _replay_record(self, entry: SpooledRecord) -> RecordResult:
        """A spooled record, whose runs may have ended while it waited: it still counts on
        its other subjects and on its runs that are open (usage is never lost), under its key."""
        try:
            return await self._record(entry)
        except RunNotOpen:
            pass
        subjects = [Subject.parse(name) for name in entry["subjects"]]
        identity = record_identity(subjects)
        kept = [s for s in subjects if s.scope is not QuotaScope.RUN]
        for run in (s for s in subjects if s.scope is QuotaScope.RUN):
            if await self.runs.is_open(run.identifier):
                kept.append(run)
        entry = {**entry, "subjects": [str(s) for s in kept]}
        return await self._record(entry, identity=identity)

    async def replay_spool(self, on_recorded: Callable[[], None] | None = None) -> int:
        """Record what the spool holds (a no-op without one); StoreUnavailable if the store is
        still away. Returns how many spooled records were recorded; `on_recorded` hears of
        each one as it is, so a pass cut short by another outage is counted too."""
        if self.spool is None or not self.spool.waiting():
            return 0

        async def record(entry: SpooledRecord) -> RecordResult:
            result = await self._replay_record(entry)
            if on_recorded is not None:
                on_recorded()
            return result

        replayed = await self.spool.replay(record)
        log.info("recorded %d spooled records", replayed)
        return replayed

    async def release_reservation(self, reservation_id: str) -> bool:
        """Return a hold without recording anything; False when it was already gone."""
        if not reservation_id:
            raise InvalidInput("reservation_id", "is required")
        return await self.costs.release(reservation_id)

    async def extend_reservation(
        self,
        reservation_id: str,
        *,
        hold_cost: Money | None = None,
        hold_cost_nanos: int | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        provider: str = "",
        model: str = "",
        reservation_lease: timedelta | None = None,
        timeout: float | None = None,
    ) -> HoldExtension:
        """Grow a hold while its call streams (see engine/extensions.py): to `hold_cost`, or to
        the price of `input_tokens` + `output_tokens` (totals so far plus what the next chunk
        may use) for the provider and model. All its subjects or none; a denial leaves the hold
        as it was and the caller must stop. NotFound when the hold is no longer open."""
        if not reservation_id:
            raise InvalidInput("reservation_id", "is required")
        _, subjects = decode_reservation(reservation_id)
        given = money_nanos(hold_cost or 0, hold_cost_nanos, "hold_cost") or None
        usage = TokenUsage(input_tokens, output_tokens)
        if given is None and not (provider and model and usage.has_tokens):
            raise InvalidInput(
                "hold_cost_nanos", "give the hold's new total, or tokens with a provider and model"
            )
        check_label(provider, "provider")
        lease = check_lease(reservation_lease, self.settings.hold_lease)
        await self._settled()
        _, charge = await charge_call(
            self.pricer, self.configs, list(subjects), name=model_name(provider, model),
            provider=provider, model=model, usage=usage, given=given, skip_model_subject=True,
            is_check=True, timeout=timeout,
        )  # fmt: skip
        if charge.denied_by is not None:
            denied = unpriced_denial(charge.denied_by, model_name(provider, model))
            return HoldExtension(False, 0, denied.code, denied.reason, denied.denied_subject)
        return await self.extender.extend(
            reservation_id, cost_nanos=charge.cost_nanos, lease=lease, timeout=timeout
        )

    async def open_holds(self, subject: Subject) -> tuple[OpenHold, ...]:
        """The subject's unexpired holds, soonest expiry first (read only)."""
        return await open_holds(self._store, self.clock, subject)

    async def get_quota_usage(self, scope: QuotaScope | str, identifier: str) -> Usage:
        return await self.get_usage(Subject(parse_scope(scope), identifier))

    async def get_usage(self, subject: Subject, *, tenant: str = "") -> Usage:
        """`tenant`: whose default applies if the subject has no quota of its own (as a check
        naming tenant:<tenant> would apply it)."""
        await self._settled()
        return await self.costs.usage(subject, tenant=tenant)

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
