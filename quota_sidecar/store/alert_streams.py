"""The alert streams as typed operations: every Redis call of alerting/ (the hub's reads, the
webhooks' consumer groups, the alert service's claims, the override expiry sweep) is one method
here, taking and returning domain values. Keys, pipelines, scripts (store/scripts/
claim_alerts.lua, expire_override.lua) and reply decoding live here and nowhere else; driver
errors leave as the domain's (a refusal Redis answers with is StoreUnavailable, since nothing
the caller did can fix it, and the alerting loops retry it like an outage). Also the alerts the
engine appends from Python (append_alert, append_shared): to the shared stream every replica
tails and to a subject's own stream under the same id. Imports only the domain, redis and the
rest of the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from quota_sidecar.domain.errors import StoreUnavailable
from quota_sidecar.domain.models import Subject
from quota_sidecar.domain.results import Alert
from quota_sidecar.store.alert_codec import (
    ALERTS_STREAM,
    RETENTION_MS,
    SUBJECT_STREAM_MAXLEN,
    SUBJECT_STREAM_TTL_MS,
    decode_entry,
    subject_stream,
)
from quota_sidecar.store.keys import OVERRIDE_EXPIRY, subject_keys
from quota_sidecar.store.redis import Store

__all__ = [
    "AlertEntry",
    "AlertStreams",
    "ClaimedEntries",
    "OwnStream",
    "SharedEntry",
    "append_alert",
    "append_shared",
]

_STEP_TIMEOUT = 1.0  # seconds for one short, non-blocking call
_READ_TIMEOUT = 2.0  # seconds for one page of a stream


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """One stream entry: its id (the alert id and resume cursor) and its alert, None when the
    entry is malformed (logged by the codec; readers still move past its id)."""

    id: str
    alert: Alert | None


@dataclass(frozen=True, slots=True)
class ClaimedEntries:
    """What a claim of stale pending entries found: the entries to deliver again, and the ids
    of entries trimmed from the stream meanwhile (nothing left to deliver: acknowledge them)."""

    entries: list[AlertEntry]
    gone: list[str]


def _entry(entry_id: str, fields: Mapping[str, str]) -> AlertEntry:
    return AlertEntry(entry_id, decode_entry(entry_id, fields))


def _pairs(flat: Sequence[str]) -> Mapping[str, str]:
    """A script's flat [field, value, ...] list as a mapping."""
    return {flat[i]: flat[i + 1] for i in range(0, len(flat) - 1, 2)}


class AlertStreams:
    """The alert streams of one store (`stream`: the shared one, or another for tests)."""

    def __init__(self, store: Store, stream: str = ALERTS_STREAM) -> None:
        self._store = store
        self.stream = stream

    async def _call(self, operation: Callable[[], Awaitable[Any]], timeout: float) -> Any:
        try:
            return await self._store.call(operation, timeout)
        except ResponseError as exc:  # Store.call passes Redis' refusals on as they are
            raise StoreUnavailable(f"Redis refused an alert-stream call: {exc}") from exc

    # --- reading (the hub) ---------------------------------------------------------------
    async def read_range(
        self, after: str, until: str = "+", *, count: int = 500
    ) -> list[AlertEntry]:
        """Up to `count` entries strictly after `after` ("0"/"0-0": from the start), and at
        most `until`."""
        start = "-" if after in ("0", "0-0") else f"({after}"
        client = self._store.client
        reply = await self._call(
            lambda: client.xrange(self.stream, min=start, max=until, count=count), _READ_TIMEOUT
        )
        return [_entry(entry_id, fields) for entry_id, fields in reply]

    async def newest(self, count: int) -> list[AlertEntry]:
        """The newest `count` entries, newest first."""
        client = self._store.client
        reply = await self._call(
            lambda: client.xrevrange(self.stream, "+", "-", count=count), _READ_TIMEOUT
        )
        return [_entry(entry_id, fields) for entry_id, fields in reply]

    async def read_after(self, position: str, *, count: int, block_ms: int) -> list[AlertEntry]:
        """Entries after `position`, waiting up to `block_ms` for the first one."""
        client = self._store.client
        reply = await self._call(
            lambda: client.xread({self.stream: position}, count=count, block=block_ms),
            block_ms / 1000 + _READ_TIMEOUT,
        )
        # RESP2: [[stream, [(id, fields), ...]], ...]
        return [_entry(i, f) for _stream, entries in reply or [] for i, f in entries]

    # --- consumer groups (the webhooks) ----------------------------------------------------
    async def ensure_group(self, group: str) -> bool:
        """Create the consumer group at the stream's end (creating the stream too); False when
        it exists already (another replica, or an earlier start)."""
        client = self._store.client
        try:
            await self._store.call(
                lambda: client.xgroup_create(self.stream, group, id="$", mkstream=True),
                _STEP_TIMEOUT,
            )
        except (ResponseError, StoreUnavailable) as exc:
            # Store.call may report the reply as StoreUnavailable, since it treats "BUSY..."
            # replies as a busy server.
            if "BUSYGROUP" in str(exc):
                return False
            if isinstance(exc, ResponseError):
                raise StoreUnavailable(f"Redis refused to create group {group}: {exc}") from exc
            raise
        return True

    async def read_group(
        self, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[AlertEntry]:
        """Entries never delivered to the group, now pending for `consumer`."""
        client = self._store.client
        reply = await self._call(
            lambda: client.xreadgroup(
                group, consumer, {self.stream: ">"}, count=count, block=block_ms
            ),
            block_ms / 1000 + _READ_TIMEOUT,
        )
        return [_entry(i, f) for _stream, entries in reply or [] for i, f in entries]

    async def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> ClaimedEntries:
        """Entries pending in the group for at least `min_idle_ms`, now `consumer`'s."""
        client = self._store.client
        reply = await self._call(
            lambda: client.xautoclaim(
                self.stream, group, consumer, min_idle_ms, "0-0", count=count
            ),
            _READ_TIMEOUT,
        )
        entries: list[AlertEntry] = []
        gone: list[str] = []
        for entry_id, fields in reply[1]:
            if fields is None:  # trimmed away (Redis 6.2 reports it like this)
                gone.append(entry_id)
            else:
                entries.append(_entry(entry_id, fields))
        return ClaimedEntries(entries, gone)

    async def ack(self, group: str, entry_id: str) -> None:
        """Acknowledge one entry: the group is done with it."""
        client = self._store.client
        await self._call(lambda: client.xack(self.stream, group, entry_id), _STEP_TIMEOUT)

    # --- per-subject claims (QuotaAlertService) ------------------------------------------
    async def claim_new_alerts(self, subject: Subject, reader: str, limit: int) -> list[Alert]:
        """The subject's alerts after `reader`'s cursor, oldest first; the cursor moves past
        them in the same step (store/scripts/claim_alerts.lua). Malformed entries are
        skipped."""
        stream = subject_stream(subject)
        keys = [stream, f"{stream}:cursor:{reader}"]
        reply = await self._run("claim_alerts.lua", keys, [limit, SUBJECT_STREAM_TTL_MS])
        found = (decode_entry(entry_id, _pairs(flat)) for entry_id, flat in reply or [])
        return [alert for alert in found if alert is not None]

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await self._store.run(name, keys, args, timeout=_STEP_TIMEOUT)
        except ResponseError as exc:
            raise StoreUnavailable(f"Redis refused {name}: {exc}") from exc

    # --- override expiry (alerting/expiry.py) ----------------------------------------------
    async def due_overrides(self, now_ms: int, count: int) -> list[str]:
        """Up to `count` members of the override expiry index due at `now_ms`
        ("<scope>:<identifier>|<override id>")."""
        client = self._store.client
        due: list[str] = await self._call(
            lambda: client.zrangebyscore(OVERRIDE_EXPIRY, "-inf", now_ms, 0, count),
            _STEP_TIMEOUT,
        )
        return due

    async def drop_due_override(self, member: str) -> None:
        """Remove one member from the override expiry index."""
        client = self._store.client
        await self._call(lambda: client.zrem(OVERRIDE_EXPIRY, member), _STEP_TIMEOUT)

    async def stored_override(self, subject: Subject, override_id: str) -> str | None:
        """The stored value of one override, or None when it is gone."""
        client = self._store.client
        key = subject_keys(subject).overrides
        stored = await self._call(lambda: client.hget(key, override_id), _STEP_TIMEOUT)
        return None if stored is None else str(stored)

    async def expire_override(
        self,
        subject: Subject,
        override_id: str,
        stored: str,
        now_ms: int,
        fields: Mapping[str, str],
    ) -> str | None:
        """Delete the override if it still holds `stored`, raising the alert of `fields` in the
        same step (store/scripts/expire_override.lua): the alert id, or None when another
        replica (or a revoke) got there first."""
        keys = subject_keys(subject)
        script_keys = [keys.overrides, keys.override_meta, subject_stream(subject)]
        if not self._store.is_cluster:
            script_keys.append(self.stream)
        args: list[str | int] = [
            override_id,
            stored,
            now_ms,
            RETENTION_MS,
            SUBJECT_STREAM_MAXLEN,
            SUBJECT_STREAM_TTL_MS,
        ]
        for name, text in fields.items():
            args += [name, text]
        alert_id = await self._run("expire_override.lua", script_keys, args)
        if alert_id and self._store.is_cluster:
            # On a cluster the shared stream is on another slot: append it in a second step.
            client = self._store.client
            entry: dict[FieldT, EncodableT] = {name: text for name, text in fields.items()}
            await self._call(lambda: client.xadd(self.stream, entry), _STEP_TIMEOUT)
        return str(alert_id) if alert_id else None


@dataclass(frozen=True, slots=True)
class OwnStream:
    """A subject's own alert stream, with its length bound and its time to live."""

    subject: Subject
    maxlen: int
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class SharedEntry:
    """One alert for the shared stream, and the time before which that stream is trimmed."""

    fields: Mapping[str, str]
    trim_before_ms: int


async def append_alert(
    store: Store,
    fields: Mapping[str, Any],
    *,
    trim_before_ms: int,
    own: OwnStream | None,
    timeout: float | None,
) -> str:
    """Append one alert to the shared stream and, with `own`, to the subject's stream under
    the same id (as the Lua scripts do); return the id."""
    entry: dict[Any, Any] = dict(fields)

    async def append_alert_entry() -> str:
        entry_id = str(
            await store.client.xadd(
                ALERTS_STREAM, entry, minid=str(trim_before_ms), approximate=True
            )
        )
        if own is not None:
            stream = subject_keys(own.subject).alerts
            pipe = store.client.pipeline(transaction=False)
            pipe.xadd(stream, entry, id=entry_id, maxlen=own.maxlen, approximate=True)
            pipe.pexpire(stream, own.ttl_ms)
            await pipe.execute()
        return entry_id

    result: str = await store.call(append_alert_entry, timeout)
    return result


async def append_shared(
    store: Store, entries: Sequence[SharedEntry], timeout: float | None
) -> list[str]:
    """Append alerts to the shared stream in one pipeline; their new ids, in order."""

    async def append_shared_entries() -> list[Any]:
        pipe = store.client.pipeline(transaction=False)
        for entry in entries:
            fields: dict[Any, Any] = dict(entry.fields)
            pipe.xadd(ALERTS_STREAM, fields, minid=str(entry.trim_before_ms), approximate=True)
        return list(await pipe.execute())

    return [str(i) for i in await store.call(append_shared_entries, timeout)]
