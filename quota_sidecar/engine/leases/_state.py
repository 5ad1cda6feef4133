"""What a replica knows of one subject's lease: its open slice, or a denial in force."""

from __future__ import annotations

from dataclasses import dataclass, field

from quota_sidecar.domain.models import LimitKind
from quota_sidecar.domain.results import LimitStatus, ThresholdWarning
from quota_sidecar.engine.plan import SubjectPlan

__all__ = ["HotSubjects", "Lease"]


@dataclass(slots=True)
class Lease:
    """One subject's slice on this replica, for one config version. `left` is what is still
    unused; `taken_at` the instant it was counted at (its bucket in every ring), `day_id` the
    quota day it counted in. A denial (`denied` set) holds until `until` (the bucket's end:
    other holders give back no sooner), unless a give-back of ours comes first."""

    plan: SubjectPlan  # what it was taken with: its rest goes back through the same keys
    version: str
    until: int
    taken_at: int = 0
    day_id: str = ""
    left: int = 0
    denied: LimitKind | None = None
    denied_need: int = 1
    retry_at: int = -1
    statuses: tuple[LimitStatus, ...] = field(default=())
    warnings: tuple[ThresholdWarning, ...] = field(default=())
    leasable: bool = True

    def usable(self, version: str, now: int, need: int) -> bool:
        return (
            self.version == version
            and now < self.until
            and self.denied is None
            and self.leasable
            and self.left >= need
        )

    def denies(self, version: str, now: int, need: int) -> bool:
        """A denial in force that covers this need (a larger one was denied, this may fit)."""
        return (
            self.version == version
            and now < self.until
            and self.denied is not None
            and need >= self.denied_need
        )


class HotSubjects:
    """Checks per subject in the current and the previous second, bounded in size."""

    _LIMIT = 100_000

    def __init__(self) -> None:
        self._seen: dict[object, list[int]] = {}

    def rate(self, subject: object, now_ms: int) -> int:
        """Count this check and return the subject's checks per second."""
        second = now_ms // 1000
        entry = self._seen.get(subject)
        if entry is None:
            if len(self._seen) >= self._LIMIT:
                self._seen.clear()
            entry = self._seen[subject] = [second, 0, 0]
        if entry[0] != second:
            entry[2] = entry[1] if entry[0] == second - 1 else 0
            entry[0], entry[1] = second, 0
        entry[1] += 1
        return max(entry[1], entry[2])
