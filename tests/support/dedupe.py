"""Whether a Redis holds an idempotency key's dedupe entry (engine/dedupe.py), for tests that
look for a record on a master or a replica: any of its home subject's bucket hashes has the
key's digest, whatever hour and shard it is in."""

from __future__ import annotations

import hashlib

import redis

from quota_sidecar.engine.dedupe import GENERATED_KEY_PREFIX
from quota_sidecar.models import Subject
from quota_sidecar.store.keys import subject_keys

__all__ = ["holds_key"]


def holds_key(client: redis.Redis, home: Subject, idempotency_key: str) -> bool:
    generated = idempotency_key.startswith(GENERATED_KEY_PREFIX)
    index = subject_keys(home).dedupe(generated=generated)
    digest = hashlib.blake2b(idempotency_key.encode(), digest_size=14).digest()
    return any(client.hexists(key, digest) for key in client.scan_iter(match=f"{index}:*"))
