"""The audit log of admin changes: one Redis stream (`qs:audit`), trimmed to a bounded length.

Owns: the stream's key, its entry format (fields t, actor, action, s, i, reason, before, after;
before and after as JSON) and trimming, and decoding entries into AuditEvent. Other gateways
queue an entry on their own pipeline (`queue_audit`), so a change and its record are written
together. Imports only the domain, redis and the rest of the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from quota_sidecar.domain.clock import from_ms
from quota_sidecar.domain.models import Subject
from quota_sidecar.domain.results import AuditEvent
from quota_sidecar.store.keys import AUDIT
from quota_sidecar.store.redis import Store

__all__ = ["AUDIT_MAXLEN", "AuditEntry", "append_audit", "audit_page", "queue_audit"]

AUDIT_MAXLEN = 1_000_000  # about 300 MB at the most; older entries are trimmed first


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One admin change to record: who did what to whom, when, and the state before and after
    (anything JSON can write; other values as their text)."""

    now_ms: int
    action: str
    subject: Subject
    actor: str
    reason: str
    before: object
    after: object


def queue_audit(pipe: Pipeline | ClusterPipeline, entry: AuditEntry) -> None:
    """Queue the entry's XADD on `pipe`, beside the change it records."""
    pipe.xadd(
        AUDIT,
        {
            "t": str(entry.now_ms),
            "actor": entry.actor,
            "action": entry.action,
            "s": entry.subject.scope.value,
            "i": entry.subject.identifier,
            "reason": entry.reason,
            "before": json.dumps(entry.before, sort_keys=True, default=str),
            "after": json.dumps(entry.after, sort_keys=True, default=str),
        },
        maxlen=AUDIT_MAXLEN,
        approximate=True,
    )


async def append_audit(store: Store, entry: AuditEntry, timeout: float | None) -> None:
    """Append one entry on its own (a change that has no Redis write of its own)."""

    async def append_audit_entry() -> None:
        pipe = store.client.pipeline(transaction=False)
        queue_audit(pipe, entry)
        await pipe.execute()

    await store.call(append_audit_entry, timeout)


async def audit_page(
    store: Store, before_id: str, count: int, timeout: float | None
) -> list[AuditEvent]:
    """Up to `count` entries, newest first, older than the entry `before_id` ("" from the
    newest)."""
    upper = f"({before_id}" if before_id else "+"
    batch = await store.call(
        lambda: store.client.xrevrange(AUDIT, max=upper, min="-", count=count), timeout
    )
    return [_decode(entry_id, fields) for entry_id, fields in batch]


def _decode(entry_id: str, fields: dict[str, str]) -> AuditEvent:
    return AuditEvent(
        id=entry_id,
        time=from_ms(int(fields["t"])),
        actor=fields["actor"],
        action=fields["action"],
        subject=Subject(fields["s"], fields["i"]),  # type: ignore[arg-type]
        reason=fields.get("reason", ""),
        before=json.loads(fields.get("before", "null")),
        after=json.loads(fields.get("after", "null")),
    )
