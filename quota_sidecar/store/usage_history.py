"""Usage history as the store keeps it: a subject's day and month rollups (written by
record.lua), and the top-spender sets of a scope, one per calendar and period, with the set of
the scope's calendars.

Owns: those keys, the rollups' fields (c cost, r records, ti/to tokens in and out, and the day's
breakdown fields, handed back as they are), and decoding scores exactly. Top spenders are not
kept on Redis Cluster (the scope-wide sets would live on other slots than the records'
subjects), so reading them there is NotImplementedError. Imports only the domain, redis and the
rest of the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.store.decoding import exact_int, exact_score
from quota_sidecar.store.keys import subject_keys, top_calendars, top_day, top_month
from quota_sidecar.store.redis import Store

__all__ = [
    "PeriodTotal",
    "Rollup",
    "TopSet",
    "calendars_of",
    "period_totals",
    "read_rollups",
    "top_page",
]


@dataclass(frozen=True, slots=True)
class Rollup:
    """One day's or month's rollup (all zero when nothing was recorded in it); `fields` as
    stored, for the day's breakdown."""

    cost_nanos: int
    records: int
    tokens: int
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TopSet:
    """One calendar's top-spender set ("<reset_hour>@<time zone>") of one quota day or month."""

    scope: QuotaScope
    calendar: str
    period_id: str
    monthly: bool

    @property
    def key(self) -> str:
        make = top_month if self.monthly else top_day
        return make(self.scope.value, self.calendar, self.period_id)


@dataclass(frozen=True, slots=True)
class PeriodTotal:
    """A subject's rollup of one period to read a total from."""

    subject: Subject
    period_id: str
    monthly: bool


def _rollup(fields: Mapping[str, str]) -> Rollup:
    return Rollup(
        cost_nanos=exact_int(fields.get("c", 0)),
        records=exact_int(fields.get("r", 0)),
        tokens=exact_int(fields.get("ti", 0)) + exact_int(fields.get("to", 0)),
        fields=fields,
    )


async def read_rollups(
    store: Store,
    subject: Subject,
    day_ids: Sequence[str],
    month_ids: Sequence[str],
    timeout: float | None,
) -> tuple[list[Rollup], list[Rollup]]:
    """The subject's rollups of the given quota days and months, in one round trip."""
    keys = subject_keys(subject)
    names = [keys.history_day(d) for d in day_ids] + [keys.history_month(m) for m in month_ids]
    if not names:
        return [], []

    async def read_rollup_hashes() -> list[dict[str, str]]:
        # One subject's keys share its slot, so this pipeline is one node's on a cluster.
        pipe = store.client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(name)
        return list(await pipe.execute())

    found = [_rollup(fields) for fields in await store.call(read_rollup_hashes, timeout)]
    return found[: len(day_ids)], found[len(day_ids) :]


def _refuse_on_cluster(store: Store) -> None:
    if store.is_cluster:
        raise NotImplementedError("top spenders are not kept on Redis Cluster")


async def calendars_of(store: Store, scope: QuotaScope, timeout: float | None) -> list[str]:
    """The calendars the scope's subjects have recorded in, sorted."""
    _refuse_on_cluster(store)
    found = await store.call(lambda: store.client.smembers(top_calendars(scope.value)), timeout)
    return sorted(str(c) for c in found)


async def top_page(
    store: Store, top: TopSet, start: int, count: int, timeout: float | None
) -> list[tuple[str, int]]:
    """Members `start` to `start + count - 1` of the set, most first: (identifier, nanos)."""
    _refuse_on_cluster(store)

    async def read_top_page() -> list[tuple[str, int]]:
        return cast(
            "list[tuple[str, int]]",
            await store.client.zrevrange(
                top.key, start, start + count - 1, withscores=True, score_cast_func=exact_score
            ),
        )

    found: list[tuple[str, int]] = await store.call(read_top_page, timeout)
    return found


async def period_totals(
    store: Store, wanted: Sequence[PeriodTotal], timeout: float | None
) -> list[int | None]:
    """Each subject's cost in its period, from its rollup; None where it recorded nothing."""
    if not wanted:
        return []
    names = []
    for w in wanted:
        keys = subject_keys(w.subject)
        name = keys.history_month if w.monthly else keys.history_day
        names.append(name(w.period_id))

    async def read_period_totals() -> list[list[str | None]]:
        pipe = store.client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(name, "c", "r")
        return list(await pipe.execute())

    return [
        None if records is None else exact_int(cost or 0)
        for cost, records in await store.call(read_period_totals, timeout)
    ]
