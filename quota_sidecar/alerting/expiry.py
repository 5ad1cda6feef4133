"""Overrides end by themselves: a sweeper that every replica runs removes overrides whose expiry
has passed and raises OVERRIDE_EXPIRED for each, exactly once across replicas.

Grants index every override in the global zset qs:ovrexp (score = expiry ms, member =
"<scope>:<identifier>|<override id>"). A sweep reads the due members and, for each, runs one
script (store/scripts/expire_override.lua) on the subject's keys that deletes the override ONLY
IF its stored value is still the one the sweep read, and appends the alert in the same atomic
step. HDEL answers 1 on exactly one replica, so exactly one replica raises the alert; only then
is the member removed from the zset. If a replica dies between the two steps, the next sweep
finds the override already gone, raises nothing, and removes the member: no loss, no duplicate.
(The engine ignores expired overrides on its own, so the sweeper only tidies up and tells
people.)
"""

from __future__ import annotations

import asyncio
import logging

from quota_sidecar.domain.clock import Clock, SystemClock, from_ms
from quota_sidecar.domain.models import LimitKind, Subject
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.store.alert_codec import NewAlert, encode_alert
from quota_sidecar.store.alert_streams import AlertStreams
from quota_sidecar.store.redis import Store

__all__ = ["OverrideExpirySweeper", "run_override_expiry_sweeper"]

log = logging.getLogger(__name__)
BATCH = 100  # due overrides handled per round trip to the index


def _parse_member(member: str) -> tuple[Subject, str] | None:
    target, _sep, override_id = member.rpartition("|")
    try:
        return Subject.parse(target), override_id
    except ValueError:
        return None


class OverrideExpirySweeper:
    """Expires due overrides every `interval` seconds; start() it on every replica."""

    def __init__(self, store: Store, clock: Clock | None = None, interval: float = 1.0) -> None:
        self._streams = AlertStreams(store)
        self._clock = clock or SystemClock()
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> OverrideExpirySweeper:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="override-expiry-sweeper")
        return self

    async def close(self) -> None:
        # The flag as well as the cancel: the Redis driver may turn a cancel that lands
        # mid-command into a connection error, which the loop would otherwise carry on past.
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=5.0)
            self._task = None

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self.sweep_once()
            except Exception as exc:  # a bad sweep must not stop the next one
                if self._closing:
                    return
                log.warning("override expiry sweep failed: %s", exc)
            await asyncio.sleep(self._interval)

    async def sweep_once(self) -> int:
        """Expire every override due now; returns how many alerts THIS replica raised."""
        raised = 0
        while True:
            now = self._clock.now_ms()
            due = await self._streams.due_overrides(now, BATCH)
            for member in due:
                if await self._expire(member, now):
                    raised += 1
                await self._streams.drop_due_override(member)
            if len(due) < BATCH:
                return raised

    async def _expire(self, member: str, now: int) -> bool:
        parsed = _parse_member(member)
        if parsed is None:
            log.warning("dropping malformed override index entry %r", member)
            return False
        subject, override_id = parsed
        stored = await self._streams.stored_override(subject, override_id)
        if stored is None:
            return False  # revoked, or another replica expired it
        kind, limit, value, expiry, *_ = [*stored.split("|"), "", "", "", ""]
        if expiry.isdigit() and int(expiry) > now:
            return False  # extended after the sweep read the index; a later sweep handles it
        limit_kind = LimitKind(limit) if limit in LimitKind._value2member_map_ else None
        fields = encode_alert(
            NewAlert(
                AlertKind.OVERRIDE_EXPIRED,
                subject,
                now,
                f"{kind.lower() or 'override'} override {override_id} for {subject} expired"
                + (f" at {from_ms(int(expiry)).isoformat()}" if expiry.isdigit() else ""),
                limit=limit_kind,
                limit_value=int(value) if value.lstrip("-").isdigit() else 0,
            )
        )
        # Deleted only if still the value read, with the alert in the same step: exactly once.
        alert_id = await self._streams.expire_override(subject, override_id, stored, now, fields)
        return alert_id is not None


async def run_override_expiry_sweeper(
    store: Store, clock: Clock | None = None, interval: float = 1.0
) -> None:
    """Sweep forever (until cancelled): for servers that prefer a plain task."""
    await OverrideExpirySweeper(store, clock, interval)._run()
