"""Idempotency keys as record.lua keeps them: a compact entry in the home subject's dedupe index.

A record with a key sends record.lua one 52-byte argument, its dedupe entry:

    payload fingerprint, 32 hex digits   compared with a key kept the old way (one string per
                                         key, `SubjectKeys.idempotency`), until those expire
    key digest, 14 bytes                 BLAKE2b-112 of the idempotency key: the hash field
    payload digest, 6 bytes              the first 6 bytes of the fingerprint: the hash value

The entry lives in the home subject's (store/keys.idempotency_home) hourly bucket; see the
"Dedupe" section of record.lua for the buckets and their shards. What the digests risk:

- a false duplicate (a new key taken for one already used in its window, the same payload)
  needs two distinct keys of one subject with equal 112-bit digests and equal payload digests
  within 25 hours: for n keys in that time, under n^2 / 2^113 (1e-18 at 100 million keys a
  day); the digest is not keyed, but a caller who forges a collision only hides its own record,
  which it could as well not send;
- a conflict taken for a duplicate (one key, two payloads) has a chance of 2^-48 (4e-15).

Redis keeps about 30 bytes per keyed record (a listpack entry of 24 bytes, its share of the
shard hash), for 24 to 25 hours; generated keys (records sent without one) only one to two
hours, in their own index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from quota_sidecar.domain.models import Subject
from quota_sidecar.store.keys import subject_keys

__all__ = [
    "DEDUPE_WINDOW_MS",
    "GENERATED_DEDUPE_WINDOW_MS",
    "GENERATED_KEY_PREFIX",
    "DedupeTarget",
    "dedupe_entry",
]

DEDUPE_WINDOW_MS = 24 * 3600 * 1000
# Keys the engine generates for records sent without one (see QuotaService.record_usage) only
# have to outlive a lost reply until its retry or spool replay, which follows as soon as the
# store answers again; a shorter window spares Redis a day of keys for every such record.
GENERATED_KEY_PREFIX = "gen-"
GENERATED_DEDUPE_WINDOW_MS = 3600 * 1000
_KEY_DIGEST_BYTES = 14  # with the 3-byte length and end bytes, 16: one small allocation
_PAYLOAD_DIGEST_BYTES = 6


def dedupe_entry(idempotency_key: str, payload: str) -> bytes:
    """record.lua's dedupe entry for a key and the record's payload (b"" without a key)."""
    if not idempotency_key:
        return b""
    fingerprint = hashlib.sha256(payload.encode()).digest()
    key_digest = hashlib.blake2b(idempotency_key.encode(), digest_size=_KEY_DIGEST_BYTES)
    legacy = fingerprint[:16].hex().encode()  # what a key kept the old way holds
    return legacy + key_digest.digest() + fingerprint[:_PAYLOAD_DIGEST_BYTES]


@dataclass(frozen=True, slots=True)
class DedupeTarget:
    """Where record.lua looks for and keeps one key on one subject's slot: the old per-key
    string (read only), the dedupe index, and how long the key is remembered."""

    legacy: str
    index: str
    window_ms: int

    @classmethod
    def on(cls, home: Subject, idempotency_key: str) -> DedupeTarget:
        keys = subject_keys(home)
        generated = idempotency_key.startswith(GENERATED_KEY_PREFIX)
        return cls(
            legacy=keys.idempotency(idempotency_key or "-"),
            index=keys.dedupe(generated=generated),
            window_ms=GENERATED_DEDUPE_WINDOW_MS if generated else DEDUPE_WINDOW_MS,
        )
