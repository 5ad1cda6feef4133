"""Whether a Redis holds an idempotency key's dedupe entry (engine/dedupe.py), for tests that
look for a record on a master or a replica: any of its home subject's bucket hashes has the
key's digest, whatever hour and shard it is in."""

from __future__ import annotations

import hashlib

import redis

from quota_sidecar.domain.models import Subject
from quota_sidecar.engine.dedupe import GENERATED_KEY_PREFIX
from quota_sidecar.store.keys import subject_keys

__all__ = ["holds_key", "holds_keys"]


def holds_key(client: redis.Redis, home: Subject, idempotency_key: str) -> bool:
    return holds_keys(client, home, [idempotency_key]) == [True]


def holds_keys(client: redis.Redis, home: Subject, idempotency_keys: list[str]) -> list[bool]:
    """holds_key for many keys: every bucket is read once (a scan per key was quadratic)."""
    held: dict[bool, set[bytes]] = {}
    for generated in {k.startswith(GENERATED_KEY_PREFIX) for k in idempotency_keys}:
        index = subject_keys(home).dedupe(generated=generated)
        held[generated] = {
            field  # digests are binary: read undecoded whatever the client decodes
            for bucket in client.scan_iter(match=f"{index}:*")
            for field in client.execute_command("HKEYS", bucket, NEVER_DECODE=True)
        }
    return [
        hashlib.blake2b(k.encode(), digest_size=14).digest()
        in held[k.startswith(GENERATED_KEY_PREFIX)]
        for k in idempotency_keys
    ]
