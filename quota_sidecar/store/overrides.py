"""Admin overrides as the store keeps them, and usage resets.

Owns: a subject's `ovr` hash (id -> "KIND|limit|value|expiry_ms|period", which check.lua and
record.lua read), its `ovrmeta` hash (the override as JSON, with reason, actor and times), the
`qs:ovrexp` index by expiry, the cfg flag that makes the scripts read overrides at all, and the
copies of that flag the rings hash keeps; each write together with its audit entry, in a MULTI
on a single Redis (on Cluster, one node's ordered commands). Imports only the domain, redis and
the rest of the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quota_sidecar.domain.clock import from_ms, to_ms
from quota_sidecar.domain.models import LimitKind, QuotaScope, Subject
from quota_sidecar.domain.results import Override, OverrideKind
from quota_sidecar.store.audit_log import AuditEntry, queue_audit
from quota_sidecar.store.keys import (
    OVERRIDE_EXPIRY,
    OVERRIDES_FLAG,
    WINDOWS_CACHED_FIELDS,
    subject_keys,
)
from quota_sidecar.store.redis import Store

__all__ = [
    "StoredOverride",
    "override_record",
    "read_override",
    "read_overrides",
    "remove_override",
    "reset_usage",
    "write_override",
]


@dataclass(frozen=True, slots=True)
class StoredOverride:
    """An override as read back, and the record it was stored as (what an audit entry shows)."""

    override: Override
    record: dict[str, Any]


def override_record(override: Override) -> dict[str, Any]:
    """The override as `ovrmeta` stores it (JSON-ready)."""
    return {
        "id": override.id,
        "kind": override.kind.value,
        "limit": override.limit.value if override.limit else None,
        "value": override.value,
        "expires_at": to_ms(override.expires_at),
        "created_at": to_ms(override.created_at or datetime.now(UTC)),
        "reason": override.reason,
        "actor": override.actor,
    }


def _from_record(subject: Subject, data: dict[str, Any]) -> Override:
    return Override(
        id=data["id"],
        subject=subject,
        kind=OverrideKind(data["kind"]),
        limit=LimitKind(data["limit"]) if data.get("limit") else None,
        value=int(data["value"]),
        expires_at=from_ms(int(data["expires_at"])),
        created_at=from_ms(int(data["created_at"])),
        reason=data["reason"],
        actor=data["actor"],
    )


async def write_override(
    store: Store,
    override: Override,
    *,
    period: str,
    ttl_ms: int,
    audit: AuditEntry,
    timeout: float | None,
) -> None:
    """Store a granted override (it has its id) for the scripts, with its record, its place in
    the expiry index and its audit entry. `period`: the one a bonus credits ("" for none);
    `ttl_ms`: how long the subject's override hashes live now."""
    subject = override.subject
    keys = subject_keys(subject)
    expiry = to_ms(override.expires_at)
    limit = override.limit.value if override.limit else ""
    spec = f"{override.kind.value}|{limit}|{override.value}|{expiry}|{period}"
    document = json.dumps(override_record(override), sort_keys=True)

    async def write_override_entry() -> object:
        pipe = store.client.pipeline(transaction=not store.is_cluster)
        if subject.scope is not QuotaScope.RUN:
            # The flag that makes the scripts read the overrides at all (see _lib.lua's
            # apply_overrides), written before the override (a Cluster pipeline is no
            # transaction), so no script sees the override without it. Never removed: a
            # config hash lives as long as its subject. A run's config hash ends with the
            # run, so a run's scripts read its overrides without a flag.
            pipe.hset(keys.config, OVERRIDES_FLAG, 1)
            pipe.hdel(keys.windows, *WINDOWS_CACHED_FIELDS)  # after the flag: see keys.py
        pipe.hset(keys.overrides, override.id, spec)
        pipe.hset(keys.override_meta, override.id, document)
        pipe.pexpire(keys.overrides, ttl_ms)
        pipe.pexpire(keys.override_meta, ttl_ms)
        pipe.zadd(OVERRIDE_EXPIRY, {f"{subject}|{override.id}": expiry})
        queue_audit(pipe, audit)
        return await pipe.execute()

    await store.call(write_override_entry, timeout)


async def read_override(
    store: Store, subject: Subject, override_id: str, timeout: float | None
) -> StoredOverride | None:
    """One of the subject's overrides as stored (None: there is none by that id)."""
    key = subject_keys(subject).override_meta
    document = await store.call(lambda: store.client.hget(key, override_id), timeout)
    if not document:
        return None
    record: dict[str, Any] = json.loads(document)
    return StoredOverride(_from_record(subject, record), record)


async def read_overrides(store: Store, subject: Subject, timeout: float | None) -> list[Override]:
    """Every override stored for the subject, expired or not, in no order."""
    key = subject_keys(subject).override_meta
    meta: dict[str, str] = await store.call(lambda: store.client.hgetall(key), timeout)
    return [_from_record(subject, json.loads(d)) for d in meta.values()]


async def remove_override(
    store: Store, subject: Subject, override_id: str, *, audit: AuditEntry, timeout: float | None
) -> None:
    """Remove one override (from the scripts' hash, its record and the expiry index)."""
    keys = subject_keys(subject)

    async def remove_override_entry() -> object:
        pipe = store.client.pipeline(transaction=not store.is_cluster)
        pipe.hdel(keys.overrides, override_id)
        pipe.hdel(keys.override_meta, override_id)
        pipe.zrem(OVERRIDE_EXPIRY, f"{subject}|{override_id}")
        queue_audit(pipe, audit)
        return await pipe.execute()

    await store.call(remove_override_entry, timeout)


async def reset_usage(
    store: Store,
    subject: Subject,
    *,
    day_id: str,
    month_id: str,
    audit: AuditEntry,
    timeout: float | None,
) -> None:
    """Delete the subject's rate windows and the usage of one quota day and month (its holds,
    week and lifetime stay)."""
    keys = subject_keys(subject)

    async def reset_usage_keys() -> object:
        pipe = store.client.pipeline(transaction=not store.is_cluster)
        pipe.delete(keys.windows, keys.day(day_id), keys.month(month_id))
        queue_audit(pipe, audit)
        return await pipe.execute()

    await store.call(reset_usage_keys, timeout)
