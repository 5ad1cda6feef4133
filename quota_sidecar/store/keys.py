"""The Redis key schema. One prefix; one hash tag per subject, so every key a check touches for
one subject lives on one cluster slot; a TTL on every key, set by the script that writes it.

    qs:{user:alice}:cfg          hash    the subject's quota (v = version, j = JSON, limits)
    qs:{user:alice}:rw           hash    sliding-window rings; "<ring>:c" = when it began
    qs:{user:alice}:d:2026-11-28 hash    the quota day: cost, requests, tokens, breakdown, claims
    qs:{user:alice}:M:2026-11    hash    the quota month: the same fields
    qs:{user:alice}:holds        hash    open holds: id -> "cost|tokens|expiry|placed|tm,td"; _sum
    qs:{user:alice}:hexp         zset    open holds by expiry, to return expired ones
    qs:{user:alice}:ovr          hash    overrides in force: id -> "kind|limit|value|expiry|period"
    qs:{user:alice}:ovrmeta      hash    overrides' reason, actor and times as JSON
    qs:{user:alice}:alerts       stream  the subject's own alerts (see alerting/codec.py)
    qs:{user:alice}:idem:<key>   string  an idempotency key's payload fingerprint (24 hours)
    qs:quotas                    zset    every configured subject, for listing (score 0)
    qs:ovrexp                    zset    every override by expiry: "scope:identifier|id"
    qs:alerts                    stream  alerts, shared by every replica (7 days)
    qs:audit                     stream  the audit log of admin changes
"""

from __future__ import annotations

from dataclasses import dataclass

from quota_sidecar.models import Subject

__all__ = [
    "ALERTS",
    "AUDIT",
    "KEYS_PER_SUBJECT",
    "OVERRIDE_EXPIRY",
    "PREFIX",
    "QUOTA_INDEX",
    "SubjectKeys",
    "subject_keys",
]

PREFIX = "qs"
QUOTA_INDEX = f"{PREFIX}:quotas"
ALERTS = f"{PREFIX}:alerts"
AUDIT = f"{PREFIX}:audit"
OVERRIDE_EXPIRY = f"{PREFIX}:ovrexp"


def tag(subject: Subject) -> str:
    return f"{PREFIX}:{{{subject.scope.value}:{subject.identifier}}}"


@dataclass(frozen=True, slots=True)
class SubjectKeys:
    """The keys of one subject that the check and record scripts take, in script order."""

    base: str

    @property
    def config(self) -> str:
        return f"{self.base}:cfg"

    @property
    def windows(self) -> str:
        return f"{self.base}:rw"

    def day(self, period_id: str) -> str:
        return f"{self.base}:d:{period_id}"

    def month(self, period_id: str) -> str:
        return f"{self.base}:M:{period_id}"

    @property
    def holds(self) -> str:
        return f"{self.base}:holds"

    @property
    def hold_expiry(self) -> str:
        return f"{self.base}:hexp"

    @property
    def overrides(self) -> str:
        return f"{self.base}:ovr"

    @property
    def override_meta(self) -> str:
        return f"{self.base}:ovrmeta"

    @property
    def alerts(self) -> str:
        return f"{self.base}:alerts"

    def idempotency(self, key: str) -> str:
        return f"{self.base}:idem:{key}"

    def script_keys(self, day_id: str, month_id: str) -> list[str]:
        """KEYS for one subject in the check/record/usage scripts (KEYS_PER_SUBJECT of them)."""
        return [
            self.config,
            self.windows,
            self.day(day_id),
            self.month(month_id),
            self.holds,
            self.hold_expiry,
            self.overrides,
            self.alerts,
        ]


KEYS_PER_SUBJECT = 8


def subject_keys(subject: Subject) -> SubjectKeys:
    return SubjectKeys(tag(subject))
