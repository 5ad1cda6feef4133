"""Threshold claims: the `a:<limit>:<percent>` fields a script sets in a period's usage hash
when usage first crosses a threshold, so each crossing alerts once.

Owns: the claims' field format and which hash holds a period's ("day:<id>", "month:<id>",
"week:<id>", "lifetime"); reading them, and releasing one (HDEL, which decides races: only the
caller that removes a claim gets True). Imports only the domain, redis and the rest of the store.
"""

from __future__ import annotations

from typing import NamedTuple

from quota_sidecar.domain.models import Subject
from quota_sidecar.store.keys import SubjectKeys, subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["ThresholdClaim", "read_claims", "release_claim"]

_PER_REQUEST = "a:cost_per_request"  # a per-request limit's alerts claim nothing per period


class ThresholdClaim(NamedTuple):
    """A claim on one threshold of one limit in one period."""

    limit: str
    percent: int
    period: str


def _period_key(keys: SubjectKeys, period: str) -> str:
    kind, _, period_id = period.partition(":")
    if kind == "lifetime":
        return keys.lifetime
    return {"day": keys.day, "month": keys.month, "week": keys.week}[kind](period_id)


async def read_claims(
    store: Store,
    subject: Subject,
    *,
    day_id: str,
    month_id: str,
    week_id: str,
    timeout: float | None,
) -> list[ThresholdClaim]:
    """The claims of the subject's given day, month and week, and of its lifetime."""
    keys = subject_keys(subject)
    periods = [f"day:{day_id}", f"month:{month_id}", f"week:{week_id}", "lifetime"]

    async def read_claim_fields() -> list[list[str]]:
        pipe = store.client.pipeline(transaction=False)
        for period in periods:
            pipe.hkeys(_period_key(keys, period))
        return list(await pipe.execute())

    found = []
    for period, fields in zip(periods, await store.call(read_claim_fields, timeout), strict=True):
        for field in fields:
            if field.startswith("a:") and not field.startswith(_PER_REQUEST):
                _, limit, pct = field.split(":")
                found.append(ThresholdClaim(limit, int(pct), period))
    return found


async def release_claim(
    store: Store, subject: Subject, claim: ThresholdClaim, timeout: float | None
) -> bool:
    """Remove the claim; True only for the caller that removed it."""
    key = _period_key(subject_keys(subject), claim.period)
    field = f"a:{claim.limit}:{claim.percent}"
    return bool(await store.call(lambda: store.client.hdel(key, field), timeout))
