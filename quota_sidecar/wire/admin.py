"""Proto ⇄ domain translation of admin overrides and audit events (see fields.py for the
conventions: every bad input is an InvalidInput naming its proto field)."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import LimitKind
from quota_sidecar.domain.money import check_nanos
from quota_sidecar.domain.results import AuditEvent, Override, OverrideKind
from quota_sidecar.v1 import admin_pb2
from quota_sidecar.wire.fields import (
    check_count,
    check_short_text,
    limit_from_proto,
    limit_to_proto,
    required_subject_from_proto,
    subject_to_proto,
    timestamp_from_proto,
    timestamp_to_proto,
)

__all__ = [
    "audit_to_proto",
    "override_from_proto",
    "override_to_proto",
]


def _override_kind_from_proto(value: int, field: str) -> OverrideKind:
    if value == admin_pb2.OVERRIDE_KIND_UNSPECIFIED:
        raise InvalidInput(field, "must be set (OVERRIDE_KIND_BLOCK, ...)")
    try:
        name = admin_pb2.OverrideKind.Name(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidInput(field, f"unknown override kind {value}") from None
    return OverrideKind(name.removeprefix("OVERRIDE_KIND_"))


# --- overrides and audit ---------------------------------------------------------------------
def override_from_proto(override: admin_pb2.Override, field: str = "override") -> Override:
    subject = required_subject_from_proto(override, "subject", field)
    kind = _override_kind_from_proto(override.kind, f"{field}.kind")
    limit: LimitKind | None = None
    if kind in (OverrideKind.RAISE_LIMIT, OverrideKind.BONUS_CREDIT):
        limit = limit_from_proto(override.limit, f"{field}.limit")
        if kind is OverrideKind.BONUS_CREDIT and limit not in (
            LimitKind.COST_DAILY,
            LimitKind.COST_MONTHLY,
            LimitKind.COST_WEEKLY,
            LimitKind.COST_LIFETIME,
        ):
            raise InvalidInput(
                f"{field}.limit",
                "bonus credit applies to COST_DAILY, COST_MONTHLY, COST_WEEKLY or COST_LIFETIME",
            )
        if limit.is_cost:
            check_nanos(override.value, f"{field}.value")
        else:
            check_count(override.value, f"{field}.value")
    if not override.HasField("expires_at"):
        raise InvalidInput(f"{field}.expires_at", "is required")
    return Override(
        subject=subject,
        kind=kind,
        expires_at=timestamp_from_proto(override.expires_at),
        reason=check_short_text(override.reason, f"{field}.reason", required=True),
        actor=check_short_text(override.actor, f"{field}.actor", required=True),
        limit=limit,
        value=override.value if limit is not None else 0,
    )


def override_to_proto(override: Override) -> admin_pb2.Override:
    return admin_pb2.Override(
        id=override.id,
        subject=subject_to_proto(override.subject),
        kind=admin_pb2.OverrideKind.Value("OVERRIDE_KIND_" + override.kind.value),
        limit=limit_to_proto(override.limit),
        value=override.value,
        expires_at=timestamp_to_proto(override.expires_at),
        reason=override.reason,
        actor=override.actor,
        created_at=timestamp_to_proto(override.created_at),
    )


def _json(value: object) -> str:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.dumps(value, default=str, sort_keys=True)


def audit_to_proto(event: AuditEvent) -> admin_pb2.AuditEvent:
    return admin_pb2.AuditEvent(
        id=event.id,
        time=timestamp_to_proto(event.time),
        actor=event.actor,
        action=event.action,
        subject=subject_to_proto(event.subject) if event.subject else None,
        reason=event.reason,
        before_json=_json(event.before),
        after_json=_json(event.after),
    )
