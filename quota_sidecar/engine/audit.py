"""The append-only audit log of admin changes, and the alerts that admin changes raise.

Each admin operation hands its audit entry (`audit_entry`) to the store's gateway that writes
the change, which appends it in the same step (a MULTI on a single Redis), so a change is never
without its record; its alert follows right after (publish_alert). The stream itself, its
format and its trimming are store/audit_log.py's.
"""

from __future__ import annotations

from typing import Any

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.results import AlertKind, AuditEvent
from quota_sidecar.store.alert_codec import (
    RETENTION_MS,
    SUBJECT_STREAM_MAXLEN,
    SUBJECT_STREAM_TTL_MS,
    NewAlert,
    encode_alert,
)
from quota_sidecar.store.alert_streams import OwnStream, append_alert
from quota_sidecar.store.audit_log import AUDIT_MAXLEN, AuditEntry, append_audit, audit_page
from quota_sidecar.store.redis import Store

__all__ = ["AUDIT_MAXLEN", "audit_change", "audit_entry", "list_audit_events", "publish_alert"]

_SCAN_BATCH = 500
_ADMIN_TIMEOUT = 2.0  # seconds; not the hot path
_DEPLOYMENT = Subject(QuotaScope.GLOBAL, "*")  # whom a deployment-wide change concerns


def audit_entry(
    *,
    now_ms: int,
    action: str,
    subject: Subject,
    actor: str,
    reason: str,
    before: object,
    after: object,
) -> AuditEntry:
    """The audit entry of one change (the store writes it beside the change itself);
    InvalidInput without an actor."""
    if not actor:
        raise InvalidInput("actor", "is required for admin changes")
    return AuditEntry(now_ms, action, subject, actor, reason, before, after)


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
    entry = audit_entry(
        now_ms=clock.now_ms(), action=action, subject=_DEPLOYMENT, actor=actor, reason=reason,
        before=before, after=after,
    )  # fmt: skip
    await append_audit(store, entry, _ADMIN_TIMEOUT)


async def publish_alert(
    store: Store, kind: AlertKind, subject: Subject, now_ms: int, message: str, **detail: Any
) -> str:
    """Append an alert to the shared stream and, for budget alerts, to the subject's stream
    under the same id (as the Lua scripts do); return the id."""
    fields = encode_alert(NewAlert(kind, subject, now_ms, message, **detail))
    own = (
        OwnStream(subject, SUBJECT_STREAM_MAXLEN, SUBJECT_STREAM_TTL_MS)
        if kind in _SUBJECT_STREAM_KINDS
        else None
    )
    return await append_alert(
        store, fields, trim_before_ms=now_ms - RETENTION_MS, own=own, timeout=2.0
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
    cursor = page_token
    events: list[AuditEvent] = []
    while len(events) < page_size:
        batch = await audit_page(store, cursor, _SCAN_BATCH, _ADMIN_TIMEOUT)
        if not batch:
            return events, ""
        for event in batch:
            if subject is None or event.subject == subject:
                events.append(event)
                if len(events) == page_size:
                    return events, event.id
        cursor = batch[-1].id
    return events, ""


def _is_stream_id(token: str) -> bool:
    ms, _, seq = token.partition("-")
    return ms.isdigit() and seq.isdigit()
