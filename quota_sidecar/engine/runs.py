"""Run budgets: an agent run is a subject, `run:<id>`, with a lifetime cost limit and a time
to live, charged in the same atomic check as every ancestor run.

A run is opened by the first call that names it (run_open.lua): its limits come from the
`runs` template of the call's tenant (or the global one), or from the call, up to the
template's caps. Its cfg hash holds the config, the parent (`p`) and when it ends (`x`), with
that TTL; every other key of the run is capped at the same end by the check and record
scripts (`expire_with_subject` in _lib.lua), so an expired run leaves nothing behind.

A parent must be open before its child; a run nests at most MAX_RUN_DEPTH deep (the run and
its ancestors), and a child never outlives its parent. The chain of a run is read from Redis
once per process and cached until the run ends (a run's parent never changes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.errors import InvalidInput, NotFound, RunNotOpen
from quota_sidecar.domain.models import (
    CostQuota,
    QuotaConfig,
    QuotaScope,
    RateLimitConfig,
    Subject,
    check_count,
    validate_identifier,
)
from quota_sidecar.domain.money import Money, to_nanos
from quota_sidecar.store.config_codec import config_to_json
from quota_sidecar.store.redis import Store
from quota_sidecar.store.runs import index_child, open_run, read_run

__all__ = ["MAX_RUN_DEPTH", "RunAsk", "RunInfo", "RunRegistry", "RunTemplate"]

MAX_RUN_DEPTH = 8
# The proto field a run's asked cost comes in (the Python API's run_max_cost is its dollars).
_MAX_COST_FIELD = "run_max_cost_nanos"
_GLOBAL = "*"


@dataclass(frozen=True, slots=True)
class RunTemplate:
    """The limits of the runs of a tenant (or of all): `max_cost`, `max_requests` and
    `max_tokens` (None: no cap) and `ttl` are the defaults of a run and the caps of what a
    call may ask for."""

    max_cost: Money | None
    ttl: timedelta
    max_requests: int | None = None
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.max_cost is not None:
            to_nanos(self.max_cost, "runs.max_cost")
        if self.ttl <= timedelta(0):
            raise InvalidInput("runs.ttl", "must be positive")
        for name in ("max_requests", "max_tokens"):
            value = getattr(self, name)
            if value is not None:
                check_count(value, f"runs.{name}")


@dataclass(frozen=True, slots=True)
class RunAsk:
    """What the call opening a run asks for, each up to its template's cap (None: the
    template's own)."""

    max_cost: Money | None = None
    ttl: timedelta | None = None
    max_requests: int | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    parent: str | None
    ends_at_ms: int


class RunRegistry:
    """Opens runs and resolves a run's chain of ancestors."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._templates: dict[str, RunTemplate] = {}
        self._known: dict[str, RunInfo] = {}
        self._opening: dict[str, asyncio.Future[RunInfo]] = {}

    def set_template(self, template: RunTemplate | None, tenant: str = _GLOBAL) -> None:
        """The `runs:` template of a tenant, or the global one; None removes it."""
        if template is None:
            self._templates.pop(tenant, None)
        else:
            self._templates[tenant] = template

    def template_for(self, targets: Sequence[Subject]) -> RunTemplate:
        for s in targets:
            if s.scope is QuotaScope.TENANT and s.identifier in self._templates:
                return self._templates[s.identifier]
        found = self._templates.get(_GLOBAL)
        if found is None:
            raise InvalidInput("run_id", "no runs template is configured for this tenant")
        return found

    def forget(self, run_id: str) -> None:
        self._known.pop(run_id, None)

    async def subjects_for(
        self,
        targets: Sequence[Subject],
        run_id: str,
        parent_run_id: str,
        *,
        ask: RunAsk | None = None,
        timeout: float | None = None,
        opening: bool = True,
    ) -> list[Subject]:
        """The run subjects a call adds to its own: none without a run_id. They are counted
        apart from the caller's MAX_SUBJECTS (a run adds itself and its ancestors). A run is
        named by run_id only: a run among the subjects would be charged without its ancestors,
        so it is refused whether or not run_id is given. Only a check opens a run
        (`opening`); a record names an open run or is refused with RunNotOpen."""
        if any(s.scope is QuotaScope.RUN for s in targets):
            raise InvalidInput("subjects", "name a run by run_id, never as a subject")
        if not run_id:
            if parent_run_id:
                raise InvalidInput("parent_run_id", "needs a run_id")
            return []
        return await self.chain(
            run_id, parent_run_id, targets, ask=ask, timeout=timeout, opening=opening
        )

    async def chain(
        self,
        run_id: str,
        parent_run_id: str,
        targets: Sequence[Subject],
        *,
        ask: RunAsk | None = None,
        timeout: float | None = None,
        opening: bool = True,
    ) -> list[Subject]:
        """The run and its ancestors as subjects, leaf first, opening the run if need be."""
        validate_identifier(run_id, "run_id")
        if parent_run_id:
            validate_identifier(parent_run_id, "parent_run_id")
            if parent_run_id == run_id:
                raise InvalidInput("parent_run_id", "names the run itself")
        # A run seen by no call of this process is looked up in the store first, so every
        # replica answers a call on an existing run alike (its stored parent, never a new one).
        info = self._known.get(run_id) or await self._lookup(run_id, timeout)
        now = self._clock.now_ms()
        if info is not None and info.ends_at_ms <= now and not opening:
            raise RunNotOpen("run_id", f"run {run_id} has ended")
        if info is None:
            if not opening:
                raise RunNotOpen("run_id", f"run {run_id} is not open (a check opens a run)")
            info = await self._open(
                run_id=run_id, parent_run_id=parent_run_id, targets=targets,
                ask=ask or RunAsk(), timeout=timeout,
            )  # fmt: skip
        _same_parent(info, parent_run_id)
        runs = [info, *await self._ancestors_of(info.parent, timeout)]
        for r in runs:
            if r.ends_at_ms <= now:
                if not opening:
                    raise RunNotOpen("run_id", f"run {r.run_id} has ended")
                raise InvalidInput("run_id", f"run {r.run_id} has ended")
        return [Subject(QuotaScope.RUN, r.run_id) for r in runs]

    async def _ancestors_of(self, parent: str | None, timeout: float | None) -> list[RunInfo]:
        """The parent and its ancestors, parent first; InvalidInput past MAX_RUN_DEPTH."""
        found: list[RunInfo] = []
        while parent:
            if len(found) >= MAX_RUN_DEPTH:
                raise InvalidInput("parent_run_id", f"runs nest at most {MAX_RUN_DEPTH} deep")
            found.append(await self._read(parent, timeout))
            parent = found[-1].parent
        return found

    async def ancestors(self, run_id: str, timeout: float | None = None) -> list[RunInfo]:
        """The run (first) and its ancestors, as stored; NotFound when the run is not open."""
        try:
            runs = [await self._read(run_id, timeout)]
        except InvalidInput:
            raise NotFound(f"run {run_id} is not open (or has ended)") from None
        while runs[-1].parent and len(runs) <= MAX_RUN_DEPTH:
            runs.append(await self._read(runs[-1].parent, timeout))
        return runs

    async def is_open(self, run_id: str, timeout: float | None = None) -> bool:
        """Whether the run is open in the store now (read afresh: it may have just ended)."""
        self.forget(run_id)
        info = await self._lookup(run_id, timeout)
        return info is not None and info.ends_at_ms > self._clock.now_ms()

    async def _lookup(self, run_id: str, timeout: float | None) -> RunInfo | None:
        """The run as stored, or None when it is not open."""
        stored = await read_run(self._store, run_id, timeout)
        if stored is None:
            return None
        return self._remember(RunInfo(run_id, stored.parent or None, stored.ends_at_ms))

    async def _read(self, run_id: str, timeout: float | None) -> RunInfo:
        found = self._known.get(run_id) or await self._lookup(run_id, timeout)
        if found is None:
            raise InvalidInput("parent_run_id", f"run {run_id} is not open (or has ended)")
        return found

    def _remember(self, info: RunInfo) -> RunInfo:
        self._known[info.run_id] = info
        return info

    async def _open(
        self,
        *,
        run_id: str,
        parent_run_id: str,
        targets: Sequence[Subject],
        ask: RunAsk,
        timeout: float | None,
    ) -> RunInfo:
        # Concurrent first calls for one run share one open.
        pending = self._opening.get(run_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[RunInfo] = asyncio.get_running_loop().create_future()
        self._opening[run_id] = future
        try:
            info = await self._open_now(
                run_id=run_id, parent_run_id=parent_run_id, targets=targets, ask=ask,
                timeout=timeout,
            )  # fmt: skip
            future.set_result(info)
            return info
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a run no one else awaited logs nothing
            raise
        finally:
            del self._opening[run_id]

    async def _open_now(
        self,
        *,
        run_id: str,
        parent_run_id: str,
        targets: Sequence[Subject],
        ask: RunAsk,
        timeout: float | None,
    ) -> RunInfo:
        template = self.template_for(targets)
        cap = None if template.max_cost is None else to_nanos(template.max_cost, "runs.max_cost")
        asked = None if ask.max_cost is None else to_nanos(ask.max_cost, _MAX_COST_FIELD)
        ttl = ask.ttl
        if ttl is not None and not timedelta(0) < ttl <= template.ttl:
            raise InvalidInput("run_ttl", "must be positive and at most the template's ttl")
        now = self._clock.now_ms()
        ends = now + (ttl or template.ttl) // timedelta(milliseconds=1)
        if parent_run_id:
            # Before anything is written: a parent that is not open, has ended, or would put
            # this run past MAX_RUN_DEPTH refuses the run, which then leaves nothing behind.
            lineage = await self._ancestors_of(parent_run_id, timeout)
            if len(lineage) >= MAX_RUN_DEPTH:
                raise InvalidInput("parent_run_id", f"runs nest at most {MAX_RUN_DEPTH} deep")
            for r in lineage:
                if r.ends_at_ms <= now:
                    raise InvalidInput("parent_run_id", f"run {r.run_id} has ended")
            ends = min(ends, lineage[0].ends_at_ms)  # a child never outlives its parent
        limit = _within(asked, cap, _MAX_COST_FIELD, "max_cost")
        for value, field in (
            (ask.max_requests, "run_max_requests"),
            (ask.max_tokens, "run_max_tokens"),
        ):
            if value is not None:
                check_count(value, field)
        config = QuotaConfig(
            scope=QuotaScope.RUN,
            identifier=run_id,
            rate_limits=RateLimitConfig(
                requests_lifetime=_within(
                    ask.max_requests, template.max_requests, "run_max_requests", "max_requests"
                ),
                tokens_lifetime=_within(
                    ask.max_tokens, template.max_tokens, "run_max_tokens", "max_tokens"
                ),
            ),
            cost_quota=CostQuota(
                lifetime_limit=None if limit is None else Decimal(limit).scaleb(-9)
            ),
        )
        opened = await open_run(
            self._store, run_id, document=config_to_json(config), parent=parent_run_id,
            ends_at_ms=ends, now_ms=now, timeout=timeout,
        )  # fmt: skip
        info = self._remember(RunInfo(run_id, opened.run.parent or None, opened.run.ends_at_ms))
        if opened.state != "opened":  # another replica opened it first: the store's parent stands
            return info
        if info.parent:
            await self._index_child(info, timeout)
        return info

    async def _index_child(self, info: RunInfo, timeout: float | None) -> None:
        """List the run under its parent, for the run tree (GetUsage). A separate step: the
        parent's keys live on another cluster slot. The set ends with the parent."""
        assert info.parent is not None
        parent = await self._read(info.parent, timeout)
        left = max(parent.ends_at_ms - self._clock.now_ms(), 1)
        await index_child(self._store, info.parent, info.run_id, left, timeout)


def _same_parent(info: RunInfo, parent_run_id: str) -> None:
    """A call naming a parent names the run's own, as stored (a run's parent never changes)."""
    if parent_run_id and info.parent != parent_run_id:
        raise InvalidInput(
            "parent_run_id", f"run {info.run_id} is open with parent {info.parent or '(none)'}"
        )


def _within(asked: int | None, cap: int | None, field: str, template_field: str) -> int | None:
    """What a call asks for a run's limit, never above the template's cap."""
    if asked is not None:
        if cap is not None and asked > cap:
            raise InvalidInput(field, f"is above the runs template's {template_field}")
        return asked
    return cap
