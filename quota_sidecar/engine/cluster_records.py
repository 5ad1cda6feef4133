"""Records on Redis Cluster, where one record's subjects may live on several slots (see
engine/cluster.py for slot groups and checks).

Records: record.lua per group, each deduplicating on its own idempotency key on the slot of
its least subject by name (store/keys.idempotency_home), so the same subjects in any order use
the same keys (for the group of the least subject of all, the key a single Redis uses). A
record that fails midway leaves some groups recorded; retried with the same idempotency key,
those answer "duplicate" and only the missing groups count. Without a key a retry counts the
recorded groups twice. A payload conflict is found by the first group, before anything is
recorded, unless the key was used before with other subjects sharing only later groups. Each
group settles or releases its own subjects' hold entries; a group holding only subjects of the
reservation that the record does not name just releases their holds, after the named groups.
Alerts a group raises are published to the shared stream as on checks (engine/cluster.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quota_sidecar.domain.errors import StoreUnavailable
from quota_sidecar.domain.history import HistoryRetention
from quota_sidecar.domain.models import QuotaScope
from quota_sidecar.engine.cluster import (
    STALE_RETRIES,
    TOTALS_WIDTH,
    SlotGroup,
    admitted_to,
    ordered,
    publish_alerts,
    reindex,
    slot_groups,
)
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.dedupe import DedupeTarget
from quota_sidecar.engine.defaults import tenant_of
from quota_sidecar.engine.history_keys import record_extras
from quota_sidecar.engine.plan import SubjectPlan, plan_subjects
from quota_sidecar.engine.replies import exact_int
from quota_sidecar.store.keys import idempotency_home
from quota_sidecar.store.redis import Store

__all__ = ["SlotRecord", "record_across_slots"]


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """A record's parts that every slot group shares. `head` is record.lua's ARGV before N
    (now, cost, tokens in/out, fingerprint, dedupe ttl, hold id, release, provider, tool); the
    plans after the first `named` only release their holds. `sample`: the cost sample's keys
    and arguments (engine/samples.py), for the group of the first subject, on its slot."""

    now: int
    head: Sequence[Any]
    idempotency_key: str
    named: int
    history: HistoryRetention = field(default_factory=HistoryRetention)
    sample: tuple[list[str], list[Any]] = ([], [])


async def record_across_slots(
    store: Store, configs: ConfigRepository, plans: list[SubjectPlan], record: SlotRecord
) -> list[Any]:
    """record.lua per slot group, each with its own idempotency key. Returns a reply in
    record.lua's format with the caller's indexes (never "stale": a group re-plans on its own,
    since earlier groups may already have recorded); updates `plans` in place when a group
    re-plans. Each group writes its subjects' history rollups (on their own slot); the
    scope-wide top-spender sets are not kept on a cluster."""
    async with admitted_to(store):
        return await _record(store, configs, plans, record)


async def _record(
    store: Store, configs: ConfigRepository, plans: list[SubjectPlan], record: SlotRecord
) -> list[Any]:
    named, key = record.named, record.idempotency_key
    release = str(record.head[7]) == "1"
    # Groups with a subject the record names first: a conflict is then found before any hold
    # of the other subjects is released.
    # The group of the record's run (its leaf, the first run named) before all: a run that is
    # not open refuses the record there, before any other group counted it.
    leaf = next((i for i, p in enumerate(plans[:named]) if p.subject.scope is QuotaScope.RUN), -1)
    groups = sorted(
        slot_groups(plans), key=lambda g: (leaf not in g.positions, g.positions[0] >= named)
    )
    dedupes = [DedupeTarget.on(idempotency_home(p.subject for p in g.plans), key) for g in groups]
    replies: list[tuple[SlotGroup, list[Any]]] = []
    alerts: list[list[str]] = []
    for group, dedupe in zip(groups, dedupes, strict=True):
        only_released = sum(1 for p in group.positions if p >= named)
        reply = await _record_group(
            store, configs, plans, group, record, dedupe=dedupe, only_released=only_released,
            sample=record.sample if 0 in group.positions else ([], []),
        )  # fmt: skip
        if reply[0] in ("conflict", "closed"):
            return [reply[0]]
        # Published before the next group runs: a retry after a later group fails answers
        # "duplicate" here and would not raise these alerts again.
        alerts += await publish_alerts(store, reply[3])
        replies.append((group, reply))
    statuses = [str(reply[0]) for _, reply in replies]
    if release:
        verdict = "released"
    elif "ok" in statuses:
        verdict = "ok"  # a retry that completed the groups a failed attempt had missed
    else:
        verdict = "duplicate"
    settled = sum(exact_int(reply[1]) for _, reply in replies)
    totals = [v for group, reply in replies for v in reindex(group, reply[2], TOTALS_WIDTH)]
    totals = ordered(totals, TOTALS_WIDTH)
    return [verdict, settled, totals, alerts]


async def _record_group(
    store: Store,
    configs: ConfigRepository,
    plans: list[SubjectPlan],
    group: SlotGroup,
    record: SlotRecord,
    *,
    dedupe: DedupeTarget,
    only_released: int,
    sample: tuple[list[str], list[Any]],
) -> list[Any]:
    for _ in range(STALE_RETRIES):
        named = len(group.plans) - only_released
        more_keys, more_args = record_extras(group.plans, named, record.history, top=False)
        args = [
            *record.head,
            len(group.plans),
            0,
            only_released,
            *group.args,
            *more_args,
            *sample[1],
        ]
        keys = [*group.keys, dedupe.legacy, dedupe.index, *more_keys, *sample[0]]
        reply: list[Any] = await store.run("record.lua", keys, args)
        if reply[0] != "stale":
            return reply
        stale = [group.plans[exact_int(i) - 1].subject for i in reply[1]]
        tenant = tenant_of([p.subject for p in plans])  # the call's, not only this group's
        await configs.refresh(stale, tenant=tenant)
        subjects = [p.subject for p in group.plans]
        cached = await configs.get_many(subjects, tenant=tenant)
        group.plans = plan_subjects(subjects, cached, record.now)
        for position, plan in zip(group.positions, group.plans, strict=True):
            plans[position] = plan
    raise StoreUnavailable("quota configuration kept changing during the record")
