"""Overrides end by themselves: a sweeper that every replica runs removes overrides whose expiry
has passed and raises OVERRIDE_EXPIRED for each, exactly once across replicas.

Grants index every override in the global zset qs:ovrexp (score = expiry ms, member =
"<scope>:<identifier>|<override id>"). A sweep reads the due members and, for each, runs one
script on the subject's keys that deletes the override ONLY IF its stored value is still the one
the sweep read, and appends the alert in the same atomic step. HDEL answers 1 on exactly one
replica, so exactly one replica raises the alert; only then is the member removed from the zset.
If a replica dies between the two steps, the next sweep finds the override already gone, raises
nothing, and removes the member: no loss, no duplicate. (The engine ignores expired overrides on
its own, so the sweeper only tidies up and tells people.)
"""

from __future__ import annotations

import asyncio
import logging

from redis.commands.core import AsyncScript
from redis.typing import EncodableT, FieldT

from quota_sidecar.alerting.codec import (
    ALERTS_STREAM,
    RETENTION_MS,
    SUBJECT_STREAM_MAXLEN,
    SUBJECT_STREAM_TTL_MS,
    encode_alert,
    subject_stream,
)
from quota_sidecar.domain.clock import Clock, SystemClock, from_ms
from quota_sidecar.domain.models import LimitKind, Subject
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.store.keys import OVERRIDE_EXPIRY, subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["OverrideExpirySweeper", "run_override_expiry_sweeper"]

log = logging.getLogger(__name__)
BATCH = 100  # due overrides handled per round trip to the index

# KEYS[1] ovr hash, KEYS[2] ovrmeta hash, KEYS[3] subject alert stream, KEYS[4] shared alert
# stream (absent on Redis Cluster, where it lives on another slot).
# ARGV[1] override id, ARGV[2] the value the sweep read, ARGV[3] now ms, ARGV[4] retention ms,
# ARGV[5] subject stream MAXLEN, ARGV[6] subject stream TTL ms, then the alert's field pairs.
# Reply: the alert id, or false when another replica (or a revoke) got there first.
_EXPIRE_OVERRIDE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = '*'
if KEYS[4] then
  id = redis.call('XADD', KEYS[4], 'MINID', '~', tonumber(ARGV[3]) - tonumber(ARGV[4]), '*',
    unpack(fields))
end
id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], id, unpack(fields))
redis.call('PEXPIRE', KEYS[3], ARGV[6])
return id
"""


def _stream_fields(fields: dict[str, str]) -> dict[FieldT, EncodableT]:
    return {name: text for name, text in fields.items()}


def _parse_member(member: str) -> tuple[Subject, str] | None:
    target, _sep, override_id = member.rpartition("|")
    try:
        return Subject.parse(target), override_id
    except ValueError:
        return None


class OverrideExpirySweeper:
    """Expires due overrides every `interval` seconds; start() it on every replica."""

    def __init__(self, store: Store, clock: Clock | None = None, interval: float = 1.0) -> None:
        self._store = store
        self._clock = clock or SystemClock()
        self._interval = interval
        self._script: AsyncScript | None = None
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
        client = self._store.client
        while True:
            now = self._clock.now_ms()
            due: list[str] = await self._store.call(
                lambda now=now: client.zrangebyscore(OVERRIDE_EXPIRY, "-inf", now, 0, BATCH), 1.0
            )
            for member in due:
                if await self._expire(member, now):
                    raised += 1
                await self._store.call(lambda m=member: client.zrem(OVERRIDE_EXPIRY, m), 1.0)
            if len(due) < BATCH:
                return raised

    async def _expire(self, member: str, now: int) -> bool:
        parsed = _parse_member(member)
        if parsed is None:
            log.warning("dropping malformed override index entry %r", member)
            return False
        subject, override_id = parsed
        keys = subject_keys(subject)
        client = self._store.client
        stored = await self._store.call(lambda: client.hget(keys.overrides, override_id), 1.0)
        if stored is None:
            return False  # revoked, or another replica expired it
        kind, limit, value, expiry, *_ = [*str(stored).split("|"), "", "", "", ""]
        if expiry.isdigit() and int(expiry) > now:
            return False  # extended after the sweep read the index; a later sweep handles it
        limit_kind = LimitKind(limit) if limit in LimitKind._value2member_map_ else None
        fields = encode_alert(
            AlertKind.OVERRIDE_EXPIRED,
            subject,
            now,
            f"{kind.lower() or 'override'} override {override_id} for {subject} expired"
            + (f" at {from_ms(int(expiry)).isoformat()}" if expiry.isdigit() else ""),
            limit=limit_kind,
            limit_value=int(value) if value.lstrip("-").isdigit() else 0,
        )
        stream_keys = [keys.overrides, keys.override_meta, subject_stream(subject)]
        if not self._store.is_cluster:
            stream_keys.append(ALERTS_STREAM)
        args: list[str | int] = [
            override_id,
            stored,
            now,
            RETENTION_MS,
            SUBJECT_STREAM_MAXLEN,
            SUBJECT_STREAM_TTL_MS,
        ]
        for name, text in fields.items():
            args += [name, text]
        if self._script is None:
            self._script = client.register_script(_EXPIRE_OVERRIDE)
        script = self._script
        alert_id = await self._store.call(lambda: script(keys=stream_keys, args=args), 1.0)
        if alert_id and self._store.is_cluster:
            # On a cluster the shared stream is on another slot: append it in a second step.
            await self._store.call(lambda: client.xadd(ALERTS_STREAM, _stream_fields(fields)), 1.0)
        return bool(alert_id)


async def run_override_expiry_sweeper(
    store: Store, clock: Clock | None = None, interval: float = 1.0
) -> None:
    """Sweep forever (until cancelled): for servers that prefer a plain task."""
    await OverrideExpirySweeper(store, clock, interval)._run()
