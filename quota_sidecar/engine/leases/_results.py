"""Check results answered from leases: the same fields as a check in Redis, with the limits'
statuses as of the subject's last lease step (`held`: the open slices of every replica)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from quota_sidecar.domain.clock import from_ms
from quota_sidecar.domain.models import DenialCode, LimitKind, Subject
from quota_sidecar.domain.results import CheckResult, LimitStatus, ThresholdWarning
from quota_sidecar.engine.leases._state import Lease

__all__ = ["allowed", "denied", "warnings_of"]

_WINDOWS = {
    LimitKind.REQUESTS_PER_MINUTE: timedelta(minutes=1),
    LimitKind.REQUESTS_PER_HOUR: timedelta(hours=1),
    LimitKind.REQUESTS_PER_DAY: timedelta(days=1),
}


def allowed(leases: Sequence[Lease]) -> CheckResult:
    return CheckResult(
        allowed=True,
        limits=tuple(s for lease in leases for s in lease.statuses),
        warnings=tuple(w for lease in leases for w in lease.warnings),
    )


def denied(subjects: Sequence[Subject], leases: Sequence[Lease | None], now: int) -> CheckResult:
    """The denial of the most binding denying lease: the one whose retry comes latest."""
    chosen: tuple[Subject, Lease] | None = None
    for subject, lease in zip(subjects, leases, strict=True):
        if lease is None or lease.denied is None:
            continue
        if (
            chosen is None
            or lease.retry_at == -1
            or (chosen[1].retry_at != -1 and lease.retry_at > chosen[1].retry_at)
        ):
            chosen = (subject, lease)
    assert chosen is not None, "denied() needs a denying lease"
    subject, lease = chosen
    limit = lease.denied
    assert limit is not None
    statuses = tuple(s for entry in leases if entry is not None for s in entry.statuses)
    retry = None if lease.retry_at < 0 else timedelta(milliseconds=max(0, lease.retry_at - now))
    return CheckResult(
        allowed=False,
        code=DenialCode.RATE_LIMITED,
        reason=_reason(subject, limit, statuses, retry),
        denied_subject=subject,
        denied_limit=limit,
        denied_window=_WINDOWS.get(limit),
        limits=statuses,
        retry_after=retry,
        reset_at=from_ms(lease.retry_at) if lease.retry_at > 0 else None,
    )


def _reason(
    subject: Subject,
    limit: LimitKind,
    statuses: Sequence[LimitStatus],
    retry: timedelta | None,
) -> str:
    # As engine/rate_limits.py words a rate denial; `used` counts every replica's open slices.
    status = next((s for s in statuses if s.subject == subject and s.limit == limit), None)
    wait = f"; retry in {retry.total_seconds():.3f}s" if retry is not None else ""
    counted = "" if status is None else f" ({status.used + status.held} of {status.limit_value})"
    return f"{limit.value.replace('_', ' ')} limit of {subject} reached{counted}{wait}"


def warnings_of(
    statuses: Sequence[LimitStatus], thresholds: Sequence[int]
) -> tuple[ThresholdWarning, ...]:
    """The day's request threshold in force, on what closed slices used (as the alerts are)."""
    out = []
    for s in statuses:
        if s.limit is not LimitKind.REQUESTS_PER_DAY or s.limit_value <= 0:
            continue
        level = 100 if _reaches(s.used, s.limit_value, 100) else None
        for t in thresholds if level is None else ():
            if _reaches(s.used, s.limit_value, t):
                level = t
        if level is not None:
            out.append(ThresholdWarning(s.subject, s.limit, level, s.used, s.limit_value))
    return tuple(out)


def _reaches(used: int, limit: int, percent: int) -> bool:
    return used * 100 >= limit * percent  # exact: Python integers
