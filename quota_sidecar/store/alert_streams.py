"""Alert entries appended from Python: to the shared stream (`qs:alerts`) every replica tails,
and to a subject's own stream (`qs:{scope:identifier}:alerts`) under the same id.

Owns: the streams' keys and the XADD, trimming and expiry of each. The entry's fields and the
retention policy are alerting/codec.py's, handed in as values. Imports only the domain, redis
and the rest of the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quota_sidecar.domain.models import Subject
from quota_sidecar.store.keys import ALERTS, subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["OwnStream", "SharedEntry", "append_alert", "append_shared"]


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
            await store.client.xadd(ALERTS, entry, minid=str(trim_before_ms), approximate=True)
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
            pipe.xadd(ALERTS, fields, minid=str(entry.trim_before_ms), approximate=True)
        return list(await pipe.execute())

    return [str(i) for i in await store.call(append_shared_entries, timeout)]
