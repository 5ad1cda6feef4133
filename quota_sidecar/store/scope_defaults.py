"""Scope defaults as the scripts read them: copies in a defaults hash, `qs:dflt` on a single
Redis, and on Redis Cluster one copy per slot (`qs:{<slot tag>}:dflt`), so a subject's script
verifies the default on its own slot (see engine/defaults.py for what a default is).

Owns: which defaults hash a subject's scripts read, a default's fields in it (its version, and
"<name>:j" its JSON), decoding them, and writing a default's copy everywhere it must be (on
Cluster to all 16384 slots, before returning). Imports only the domain, redis and the rest of
the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quota_sidecar.domain.models import Subject
from quota_sidecar.store.keys import DEFAULTS, default_field, defaults_key, defaults_slot_keys
from quota_sidecar.store.redis import Store

__all__ = ["StoredDefault", "decode_defaults", "default_fields", "defaults_key_of", "write_default"]

_FAN_OUT_BATCH = 1024  # slot copies per pipeline round trip on Redis Cluster


@dataclass(frozen=True, slots=True)
class StoredDefault:
    """One default's copy as a defaults hash holds it: its version as text ("0" when never
    written) and its JSON (None or "" when removed or never written)."""

    version: str
    document: str | None


def defaults_key_of(store: Store, subject: Subject) -> str:
    """The defaults hash the subject's scripts read."""
    return defaults_key(subject, cluster=store.is_cluster)


def default_fields(names: Sequence[Subject]) -> list[str]:
    """Each default's version field, then its JSON field, for one HMGET."""
    return [f for name in names for f in (default_field(name), default_field(name) + ":j")]


def decode_defaults(row: Sequence[str | None]) -> tuple[StoredDefault, ...]:
    """The defaults read by one HMGET of `default_fields`, in order."""
    return tuple(StoredDefault(row[i] or "0", row[i + 1]) for i in range(0, len(row) - 1, 2))


async def write_default(
    store: Store, name: Subject, version: int, document: str, *, timeout: float | None
) -> None:
    """Write a default's copy (document '' = removed) to the defaults hash, or on Redis Cluster
    to every slot's copy, before returning: from then on every check sees it."""
    field = default_field(name)
    if not store.is_cluster:
        await store.run("default_put.lua", [DEFAULTS], [field, version, document], timeout)
        return
    script = store.script("default_put.lua")
    # SCRIPT LOAD goes to every master, so the pipelined EVALSHAs below find it on each.
    await store.call(lambda: store.client.script_load(script.script), timeout)
    keys = defaults_slot_keys()
    for start in range(0, len(keys), _FAN_OUT_BATCH):
        batch = keys[start : start + _FAN_OUT_BATCH]

        async def send(batch: list[str] = batch) -> None:
            pipe = store.client.pipeline(transaction=False)
            for key in batch:
                pipe.evalsha(script.sha, 1, key, field, version, document)
            await pipe.execute()

        await store.call(send, timeout)
