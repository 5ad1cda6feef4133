"""The key schema: a caller's string inside a key never leaves its subject's hash tag, and the
tag is always exactly the (encoded) subject."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.store.keys import defaults_key, defaults_slot_keys, hash_tag, subject_keys


def _redis_hash_tag(key: str) -> str:
    """What Redis Cluster hashes: between the first '{' and the next '}' (if not empty)."""
    start = key.find("{")
    end = key.find("}", start + 1)
    if start == -1 or end == -1 or end == start + 1:
        return key
    return key[start + 1 : end]


def _all_keys(subject: Subject, idempotency_key: str) -> list[str]:
    keys = subject_keys(subject)
    return [
        *keys.script_keys("2026-11-18", "2026-11", "2026-11-16"),
        keys.override_meta,
        keys.idempotency(idempotency_key),
    ]


IDENTIFIERS = ["alice", "a}b", "a{b", "{x}", "}", "{", "%7D", "a%b", "x}:idem:k", "{user:bob}"]


@pytest.mark.parametrize("identifier", IDENTIFIERS)
@pytest.mark.parametrize("idempotency_key", ["k", "}", "{", "}{user:bob}", "%7D", "a}:cfg"])
def test_every_key_hashes_exactly_the_subject(identifier: str, idempotency_key: str) -> None:
    subject = Subject(QuotaScope.USER, identifier)
    tag = hash_tag(subject)
    assert "{" not in tag and "}" not in tag
    for key in _all_keys(subject, idempotency_key):
        assert _redis_hash_tag(key) == tag, key
        assert key_slot(key.encode()) == key_slot(f"{{{tag}}}".encode())


def test_tags_are_distinct_for_distinct_subjects() -> None:
    subjects = [Subject(scope, i) for scope in QuotaScope for i in IDENTIFIERS]
    assert len({hash_tag(s) for s in subjects}) == len(subjects)


def test_plain_subjects_keep_their_readable_keys() -> None:
    keys = subject_keys(Subject(QuotaScope.USER, "alice"))
    assert keys.config == "qs:{user:alice}:cfg"
    assert keys.idempotency("req-42") == "qs:{user:alice}:idem:req-42"


def test_an_idempotency_key_cannot_name_another_subjects_key() -> None:
    """'b}:idem:k' as an identifier and 'k}:cfg' as an idempotency key used to meet in one key
    name: qs:{user:b}:idem:k}:cfg."""
    crafted = subject_keys(Subject(QuotaScope.USER, "b}:idem:k")).config
    victim = subject_keys(Subject(QuotaScope.USER, "b")).idempotency("k}:cfg")
    assert crafted != victim
    names: list[str] = []
    for identifier in IDENTIFIERS:
        keys = subject_keys(Subject(QuotaScope.USER, identifier))
        names += [*keys.script_keys("d", "m", "w"), keys.override_meta]
        names += [keys.idempotency(k) for k in ("k", "}", "k}:cfg", "}:cfg", "%7D:cfg")]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("identifier", ["alice", "a}b", "{user:bob}", "x" * 100, "*"])
def test_a_subjects_defaults_copy_is_on_its_own_slot(identifier: str) -> None:
    subject = Subject(QuotaScope.USER, identifier)
    own = key_slot(subject_keys(subject).config.encode())
    assert key_slot(defaults_key(subject, cluster=True).encode()) == own
    assert defaults_key(subject, cluster=False) == "qs:dflt"


def test_there_is_one_defaults_copy_per_cluster_slot() -> None:
    slots = sorted(key_slot(key.encode()) for key in defaults_slot_keys())
    assert slots == list(range(16384))
