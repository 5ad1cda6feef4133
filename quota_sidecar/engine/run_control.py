"""Ending a run early, and reading a run's tree.

Ending a run (EndRun, or a record with end_run) does three things, each safe to repeat:
  * marks the run ended (`e` in its cfg hash, which keeps the run's TTL), for its usage;
  * grants an audited BLOCK override on the run until its time to live ends, so every later
    check on the run or on any run below it is denied (BLOCKED) in the same atomic step that
    enforces everything else, on every replica; records still count (usage is never lost);
  * ends the reservations open on the run (which are all those made on it or on any run below
    it) everywhere they hold something: on every subject each names (the user's, the tool's,
    its ancestors and the runs below it: a run's hold id names them, engine/reservations.py),
    with release_holds.lua, one subject at a time (their keys live on different cluster
    slots). A hold already settled or released is skipped, so a release racing a record
    counts once; the call whose hold was released still records what it spent.

A run's tree is read run by run (its `kids` set lists the runs opened under it), at most
MAX_TREE_RUNS runs, so one GetUsage stays bounded however many sub-agents a run spawned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from quota_sidecar.domain.clock import Clock, from_ms
from quota_sidecar.domain.errors import NotFound
from quota_sidecar.domain.models import LimitKind, QuotaScope, Subject, validate_identifier
from quota_sidecar.domain.results import Override, OverrideKind, RunEnd, RunUsage, Usage
from quota_sidecar.engine.overrides import OverrideManager
from quota_sidecar.engine.reservations import hold_subjects
from quota_sidecar.engine.runs import RunRegistry
from quota_sidecar.store.config_codec import config_from_json
from quota_sidecar.store.holds import hold_ids, release_holds
from quota_sidecar.store.redis import Store
from quota_sidecar.store.runs import mark_ended, read_node

__all__ = ["MAX_TREE_RUNS", "RunControl"]

MAX_TREE_RUNS = 1000
_ACTOR = "end_run"


class RunControl:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        runs: RunRegistry,
        overrides: OverrideManager,
        usage_of: Callable[[Subject], Awaitable[Usage]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._runs = runs
        self._overrides = overrides
        self._usage_of = usage_of

    async def end(self, run_id: str, *, timeout: float | None = None) -> RunEnd:
        """End a run now; NotFound when it is not open (never opened, or expired)."""
        validate_identifier(run_id, "run_id")
        chain = await self._runs.ancestors(run_id, timeout)
        run = chain[0]
        subject = Subject(QuotaScope.RUN, run_id)
        now = self._clock.now_ms()
        if run.ends_at_ms <= now:
            raise NotFound(f"run {run_id} has ended")
        was_open = await mark_ended(self._store, run_id, now, timeout)
        if was_open:
            await self._overrides.grant(
                Override(
                    subject=subject,
                    kind=OverrideKind.BLOCK,
                    expires_at=from_ms(run.ends_at_ms),
                    reason="run ended",
                    actor=_ACTOR,
                )
            )
        ids_held = await hold_ids(self._store, subject, timeout)
        released = 0
        chain_subjects = [Subject(QuotaScope.RUN, info.run_id) for info in chain]
        for holder, ids in _holders(ids_held, chain_subjects).items():
            count = await release_holds(self._store, holder, ids, timeout)
            if holder == subject:
                released = count
        return RunEnd(run_id=run_id, was_open=was_open, released_holds=released)

    async def tree(self, run_id: str, *, timeout: float | None = None) -> RunUsage:
        """The run and every run below it, with spend, holds, requests and tokens."""
        validate_identifier(run_id, "run_id")
        budget = [MAX_TREE_RUNS]
        return await self._node(run_id, budget, timeout)

    async def _node(self, run_id: str, budget: list[int], timeout: float | None) -> RunUsage:
        budget[0] -= 1
        subject = Subject(QuotaScope.RUN, run_id)
        node = await read_node(self._store, run_id, timeout)
        if node is None:
            raise NotFound(f"run {run_id} is not open (or has ended)")
        usage = await self._usage_of(subject)
        config = config_from_json(node.document, node.version, None)
        limits = config.limits()
        children = []
        for kid in node.children:
            if budget[0] <= 0:
                break
            try:
                children.append(await self._node(kid, budget, timeout))
            except NotFound:
                continue  # the sub-run expired (or ended) since it was listed
        ends_ms = node.run.ends_at_ms
        return RunUsage(
            run_id=run_id,
            parent_run_id=node.run.parent,
            ends_at=from_ms(ends_ms),
            # Ended itself (EndRun, end_run) or past its time to live; a run below an ended run
            # is not marked, though its checks are denied through that ancestor (docs/semantics.md).
            ended=node.ended or ends_ms <= self._clock.now_ms(),
            cost_nanos=usage.cost_lifetime_nanos,
            held_nanos=usage.held_nanos,
            requests=node.requests,
            tokens=node.tokens,
            max_cost_nanos=limits.get(LimitKind.COST_LIFETIME),
            max_requests=limits.get(LimitKind.REQUESTS_LIFETIME),
            max_tokens=limits.get(LimitKind.TOKENS_LIFETIME),
            children=tuple(children),
        )


def _holders(hold_ids: Sequence[str], chain: Sequence[Subject]) -> dict[Subject, list[str]]:
    """Every subject that holds one of an ended run's holds, with the ids it holds: each hold
    of a run's reservation names its subjects (engine/reservations.py): the user's, the tool's,
    the run's ancestors and the runs below it. A hold that names none (written before hold ids
    named them) is released on the run's chain, as far as it can be found."""
    found: dict[Subject, list[str]] = {s: [] for s in chain}
    for hold_id in hold_ids:
        for holder in [*chain, *(hold_subjects(hold_id) or ())]:
            ids = found.setdefault(holder, [])
            if not ids or ids[-1] != hold_id:
                ids.append(hold_id)
    return {holder: ids for holder, ids in found.items() if ids}
