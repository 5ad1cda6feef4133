"""Quota configurations as the store keeps them: a subject's cfg hash (v version, j JSON, u when
written, x when a run ends) and the index of configured subjects (`qs:quotas`).

Owns: those keys and fields, reading a subject's config together with the defaults it may
follow (one pipelined round trip; a subject's defaults hash is on its own slot), writing and
deleting a config together with its audit entry (a MULTI on a single Redis; on Cluster one
node's ordered commands), the tombstone a delete leaves, dropping the copies of the version the
rings hash keeps, and paging through the index. The JSON itself is engine/codec.py's, handed in
and back as text. Imports only the domain, redis and the rest of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.store.audit_log import AuditEntry, queue_audit
from quota_sidecar.store.keys import QUOTA_INDEX, WINDOWS_CACHED_FIELDS, subject_keys
from quota_sidecar.store.redis import Store
from quota_sidecar.store.scope_defaults import (
    StoredDefault,
    decode_defaults,
    default_fields,
    defaults_key_of,
)

__all__ = ["StoredConfig", "delete_config", "list_configured", "put_config", "read_configs"]


@dataclass(frozen=True, slots=True)
class StoredConfig:
    """A subject's cfg hash as read: its version as text ("0" when never written), its JSON
    (None or "" when it has none: never written, or deleted), when it was written (0: never),
    when it ends (a run; None: never), the defaults hash its scripts read, and the defaults
    read along with it (in the order asked; empty when none were)."""

    version: str
    document: str | None
    written_ms: int
    expires_at_ms: int | None
    defaults_key: str
    defaults: tuple[StoredDefault, ...]


async def read_configs(
    store: Store,
    subjects: Sequence[Subject],
    defaults: Sequence[Sequence[Subject] | None],
    timeout: float | None,
) -> list[StoredConfig]:
    """The subjects' cfg hashes and, for each, the defaults named beside it (None: none), in
    one pipelined round trip."""
    dflt_keys = [defaults_key_of(store, s) for s in subjects]

    async def read_quota_configs() -> list[list[str | None]]:
        pipe = store.client.pipeline(transaction=False)
        for s, names, dflt in zip(subjects, defaults, dflt_keys, strict=True):
            pipe.hmget(subject_keys(s).config, ["v", "j", "u", "x"])
            if names is not None:  # same slot as the subject: one round trip still
                pipe.hmget(dflt, default_fields(names))
        return list(await pipe.execute())

    rows = iter(await store.call(read_quota_configs, timeout))
    found = []
    for names, dflt in zip(defaults, dflt_keys, strict=True):
        version, document, updated, ends = next(rows)
        found.append(
            StoredConfig(
                version=version or "0",
                document=document,
                written_ms=int(updated or 0),
                expires_at_ms=int(ends) if ends else None,
                defaults_key=dflt,
                defaults=() if names is None else decode_defaults(next(rows)),
            )
        )
    return found


async def put_config(
    store: Store,
    subject: Subject,
    document: str,
    *,
    now_ms: int,
    audit: AuditEntry,
    timeout: float | None,
) -> int:
    """Write the subject's config (its JSON) as a new version; the version."""
    keys = subject_keys(subject)

    async def put_quota_config() -> list[object]:
        pipe = store.client.pipeline(transaction=not store.is_cluster)
        pipe.hincrby(keys.config, "v", 1)
        pipe.hset(keys.config, mapping={"j": document, "u": str(now_ms)})
        pipe.hdel(keys.windows, *WINDOWS_CACHED_FIELDS)  # after the version: see keys.py
        pipe.zadd(QUOTA_INDEX, {str(subject): 0})
        queue_audit(pipe, audit)
        return list(await pipe.execute())

    results = await store.call(put_quota_config, timeout)
    return int(str(results[0]))


async def delete_config(
    store: Store, subject: Subject, *, now_ms: int, audit: AuditEntry, timeout: float | None
) -> int:
    """Delete the subject's config, leaving a tombstone (the next version without a document,
    so delete-then-recreate is never mistaken for the old version); the tombstone's version."""
    keys = subject_keys(subject)

    async def delete_quota_config() -> list[object]:
        pipe = store.client.pipeline(transaction=not store.is_cluster)
        pipe.hincrby(keys.config, "v", 1)
        pipe.hdel(keys.config, "j")
        pipe.hset(keys.config, "u", str(now_ms))  # when it was deleted
        pipe.hdel(keys.windows, *WINDOWS_CACHED_FIELDS)  # after the version: see keys.py
        pipe.zrem(QUOTA_INDEX, str(subject))
        queue_audit(pipe, audit)
        return list(await pipe.execute())

    results = await store.call(delete_quota_config, timeout)
    return int(str(results[0]))


async def list_configured(
    store: Store, scope: QuotaScope | None, after: str, count: int, timeout: float | None
) -> list[str]:
    """Up to `count` configured subjects ("scope:identifier", in that order) after `after`
    ("" from the first), of one scope or of all."""
    if scope is not None:
        low = f"[{scope.value}:" if not after else f"({after}"
        high = f"[{scope.value};"  # ';' sorts right after ':'
    else:
        low, high = (f"({after}" if after else "-"), "+"
    names: list[str] = await store.call(
        lambda: store.client.zrangebylex(QUOTA_INDEX, low, high, 0, count), timeout
    )
    return names
