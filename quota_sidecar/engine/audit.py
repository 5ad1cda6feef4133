"""The append-only audit log of admin changes (a Redis stream, trimmed to a bounded length),
and the alerts that admin changes raise.

Each admin operation appends its audit entry in the same MULTI as the change itself, so a
change is never without its record; its alert follows right after (publish_alert).
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from quota_sidecar.domain.clock import Clock, from_ms
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.results import AlertKind, AuditEvent
from quota_sidecar.store.alert_codec import (
    ALERTS_STREAM,
    RETENTION_MS,
    SUBJECT_STREAM_MAXLEN,
    SUBJECT_STREAM_TTL_MS,
    encode_alert,
    subject_stream,
)
from quota_sidecar.store.keys import AUDIT
from quota_sidecar.store.redis import Store

__all__ = ["AUDIT_MAXLEN", "append_audit", "audit_change", "list_audit_events", "publish_alert"]

AUDIT_MAXLEN = 1_000_000  # about 300 MB at the most; older entries are trimmed first
_SCAN_BATCH = 500
_ADMIN_TIMEOUT = 2.0  # seconds; not the hot path
_DEPLOYMENT = Subject(QuotaScope.GLOBAL, "*")  # whom a deployment-wide change concerns


def append_audit(
    pipe: Pipeline | ClusterPipeline,
    *,
    now_ms: int,
    action: str,
    subject: Subject,
    actor: str,
    reason: str,
    before: object,
    after: object,
) -> None:
    """Queue the audit entry of one change on `pipe`, beside the change itself."""
    if not actor:
        raise InvalidInput("actor", "is required for admin changes")
    pipe.xadd(
        AUDIT,
        {
            "t": str(now_ms),
            "actor": actor,
            "action": action,
            "s": subject.scope.value,
            "i": subject.identifier,
            "reason": reason,
            "before": json.dumps(before, sort_keys=True, default=str),
            "after": json.dumps(after, sort_keys=True, default=str),
        },
        maxlen=AUDIT_MAXLEN,
        approximate=True,
    )


# Only alerts about a subject's own budgets go to its stream (check_quota_alerts reads it);
# admin events go to the shared stream alone. A stream costs Redis about 4.7 KB from its first
# entry, which every configured subject would otherwise pay for its QUOTA_CHANGED event.
_SUBJECT_STREAM_KINDS = frozenset({AlertKind.RESOLVED})


async def audit_change(
    store: Store,
    clock: Clock,
    action: str,
    *,
    actor: str,
    reason: str,
    before: object,
    after: object,
) -> None:
    """Append one audit entry for a deployment-wide change (subject global:*) on its own."""

    async def write() -> None:
        pipe = store.client.pipeline(transaction=False)
        append_audit(
            pipe, now_ms=clock.now_ms(), action=action, subject=_DEPLOYMENT, actor=actor,
            reason=reason, before=before, after=after,
        )  # fmt: skip
        await pipe.execute()

    await store.call(write, _ADMIN_TIMEOUT)


async def publish_alert(
    store: Store, kind: AlertKind, subject: Subject, now_ms: int, message: str, **detail: Any
) -> str:
    """Append an alert to the shared stream and, for budget alerts, to the subject's stream
    under the same id (as the Lua scripts do); return the id."""
    fields: dict[Any, Any] = encode_alert(kind, subject, now_ms, message, **detail)
    own = subject_stream(subject) if kind in _SUBJECT_STREAM_KINDS else None

    async def append() -> str:
        entry_id = str(
            await store.client.xadd(
                ALERTS_STREAM, fields, minid=str(now_ms - RETENTION_MS), approximate=True
            )
        )
        if own is not None:
            pipe = store.client.pipeline(transaction=False)
            pipe.xadd(own, fields, id=entry_id, maxlen=SUBJECT_STREAM_MAXLEN, approximate=True)
            pipe.pexpire(own, SUBJECT_STREAM_TTL_MS)
            await pipe.execute()
        return entry_id

    result: str = await store.call(append, 2.0)
    return result


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


async def list_audit_events(
    store: Store, subject: Subject | None, page_size: int, page_token: str
) -> tuple[list[AuditEvent], str]:
    """Newest first. The page token is the id of the last event returned (exclusive)."""
    if not 0 <= page_size <= 1000:
        raise InvalidInput("page_size", "must be between 1 and 1000")
    page_size = page_size or 100
    if page_token and not _is_stream_id(page_token):
        raise InvalidInput("page_token", "is not a token this server issued")
    upper = f"({page_token}" if page_token else "+"
    events: list[AuditEvent] = []
    while len(events) < page_size:
        batch = await store.call(
            lambda upper=upper: store.client.xrevrange(
                AUDIT, max=upper, min="-", count=_SCAN_BATCH
            ),
            timeout=2.0,
        )
        if not batch:
            return events, ""
        for entry_id, fields in batch:
            event = _decode(entry_id, fields)
            if subject is None or event.subject == subject:
                events.append(event)
                if len(events) == page_size:
                    return events, entry_id
        upper = f"({batch[-1][0]}"
    return events, ""


def _is_stream_id(token: str) -> bool:
    ms, _, seq = token.partition("-")
    return ms.isdigit() and seq.isdigit()
