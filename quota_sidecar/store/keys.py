"""The Redis key schema. One prefix; one hash tag per subject, so every key a check touches for
one subject lives on one cluster slot; a TTL on every key, set by the script that writes it.

    qs:{user:alice}:cfg          hash    the subject's quota (v = version, j = JSON, limits;
                                         o = 1 once an override was granted: the scripts
                                         read `ovr` only then, or for a run)
    qs:{user:alice}:rw           hash    sliding-window rings, one field each ("rm", "td"):
                                         newest bucket, when it began, the counts (packed);
                                         and copies of cfg's v and o, so a check reads both
                                         in one HMGET (WINDOWS_CACHED_FIELDS, see below)
    qs:{user:alice}:ls           hash    open lease slices: holder -> "slice|until" (lease.lua)
    qs:{user:alice}:d:2026-11-28 hash    the quota day: cost, requests, tokens, breakdown, claims
    qs:{user:alice}:M:2026-11    hash    the quota month: the same fields but requests
    qs:{user:alice}:W:2026-11-16 hash    the quota week (named by its first day): cost, claims
    qs:{user:alice}:L            hash    lifetime spend and claims, only with a lifetime_limit;
                                         the one key without a TTL (prepaid credit never resets)
    qs:{user:alice}:holds        hash    open holds: id -> "cost|tokens|expiry|placed|tm,td"; _sum
    qs:{user:alice}:hexp         zset    open holds by expiry, to return expired ones
    qs:{user:alice}:ovr          hash    overrides in force: id -> "kind|limit|value|expiry|period"
    qs:{user:alice}:ovrmeta      hash    overrides' reason, actor and times as JSON
    qs:{user:alice}:alerts       stream  the subject's own alerts (see store/alert_codec.py)
    qs:{user:alice}:ck:<id>      string  a recent check (60 s): 1 admitted, 0 undone first;
                                         so a check whose reply was lost can be undone
    qs:{run:r1}:kids             set     a run's sub-runs, for its tree; ends with the run
    qs:{user:alice}:cs:t:<tool>  list    the last 64 actual costs of whole calls of a tool (or
                                         cs:m:<provider/model>: of a model), 30 days, for
                                         history estimates (engine/samples.py)
    qs:{user:alice}:dd           hash    the dedupe index of callers' idempotency keys: per
                                         hour of first use, "<level> <split> <count>" of its
                                         bucket (engine/dedupe.py, record.lua); 25 hours
    qs:{user:alice}:dd:<h>:<n>   hash    shard n of hour h's bucket: key digest -> payload
                                         digest (binary, 14 and 6 bytes); 24 h after the hour
    qs:{user:alice}:dg, :dg:<h>:<n>      the same for generated keys (records without one; 1 h)
    qs:{user:alice}:idem:<key>   string  an idempotency key's payload fingerprint, as releases
                                         before the dedupe index kept it: read, never written
    qs:{user:alice}:hd:2026-11-28 hash   the day's rollup for history: c, r (records), ti, to and
                                         the breakdown like the day's; kept the history retention
    qs:{user:alice}:hM:2026-11   hash    the month's rollup: c, r, ti, to (13 months)
    qs:quotas                    zset    every configured subject, for listing (score 0)

Caller strings in key names (identifiers, idempotency keys) have '%', '{' and '}'
percent-encoded (`encode`), so the hash tag is always exactly the subject: "user:a}b" is
qs:{user:a%7Db}:…, never a key on user:a's slot.
    qs:ovrexp                    zset    every override by expiry: "scope:identifier|id"
    qs:alerts                    stream  alerts, shared by every replica (7 days)
    qs:audit                     stream  the audit log of admin changes
    qs:top:user:d:<cal>:<day>    zset    the scope's spend in one quota day of one calendar
                                         (<cal> = "<reset_hour>@<time zone>"): identifier -> nanos
    qs:top:user:M:<cal>:<month>  zset    the same for one quota month
    qs:top:user:cal              set     the calendars the scope's subjects record in
    qs:dflt                      hash    every scope default ("user:*", "user:*@acme"): its
                                         version, and "<name>:j" its JSON; no TTL (like a quota)
    qs:{<slot tag>}:dflt         hash    on Redis Cluster, the same, copied to every one of the
                                         16384 slots (<slot tag> hashes to the slot), so a
                                         subject's script verifies the default on its own slot

Scope defaults (engine/defaults.py): a default is named like a subject whose identifier is
"*" ("user:*") or "*@<tenant>" ("user:*@acme"); in the defaults hash its name is
`default_field()` (percent-encoded, so it holds no '|', '=' or whitespace and goes into a script
argument as is).
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from quota_sidecar.domain.models import QuotaScope, Subject

__all__ = [
    "ALERTS",
    "AUDIT",
    "DEFAULTS",
    "KEYS_PER_SUBJECT",
    "OVERRIDES_FLAG",
    "OVERRIDE_EXPIRY",
    "PREFIX",
    "QUOTA_INDEX",
    "WINDOWS_CACHED_FIELDS",
    "SubjectKeys",
    "default_field",
    "defaults_key",
    "defaults_slot_keys",
    "encode",
    "hash_tag",
    "idempotency_home",
    "subject_keys",
    "top_calendars",
    "top_day",
    "top_month",
]

PREFIX = "qs"
QUOTA_INDEX = f"{PREFIX}:quotas"
ALERTS = f"{PREFIX}:alerts"
AUDIT = f"{PREFIX}:audit"
OVERRIDE_EXPIRY = f"{PREFIX}:ovrexp"
DEFAULTS = f"{PREFIX}:dflt"
# The config hash's field that says the subject has (had) overrides: see engine/overrides.py.
OVERRIDES_FLAG = "o"
# The cfg fields a check copies into the rings hash (check.lua via _lib.lua's read_subject), to
# read them with the rings. Whoever writes either in a cfg hash deletes the copies AFTER that
# write, in the same pipeline (a transaction, or on Cluster one node's ordered commands), so no
# script can copy the old value after the delete. Never for a run: its scripts read cfg.
WINDOWS_CACHED_FIELDS = ("v", OVERRIDES_FLAG)


def encode(text: str) -> str:
    """A caller's string as it goes into a key name: '%', '{' and '}' percent-encoded, so it
    can neither close its subject's hash tag nor open another, and distinct strings stay
    distinct. Ordinary identifiers and keys are unchanged."""
    return text.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def hash_tag(subject: Subject) -> str:
    """What Redis Cluster hashes for every key of the subject: exactly "scope:identifier"."""
    return f"{subject.scope.value}:{encode(subject.identifier)}"


def tag(subject: Subject) -> str:
    return f"{PREFIX}:{{{hash_tag(subject)}}}"


@dataclass(frozen=True, slots=True)
class SubjectKeys:
    """The keys of one subject that the check and record scripts take, in script order."""

    base: str

    @property
    def config(self) -> str:
        return f"{self.base}:cfg"

    @property
    def windows(self) -> str:
        return f"{self.base}:rw"

    @property
    def lease_registry(self) -> str:
        """The open lease slices of the subject, per holder (lease.lua; engine/leases/)."""
        return f"{self.base}:ls"

    def day(self, period_id: str) -> str:
        return f"{self.base}:d:{period_id}"

    def month(self, period_id: str) -> str:
        return f"{self.base}:M:{period_id}"

    def week(self, period_id: str) -> str:
        return f"{self.base}:W:{period_id}"

    @property
    def lifetime(self) -> str:
        return f"{self.base}:L"

    @property
    def holds(self) -> str:
        return f"{self.base}:holds"

    @property
    def hold_expiry(self) -> str:
        return f"{self.base}:hexp"

    @property
    def overrides(self) -> str:
        return f"{self.base}:ovr"

    @property
    def override_meta(self) -> str:
        return f"{self.base}:ovrmeta"

    @property
    def alerts(self) -> str:
        return f"{self.base}:alerts"

    @property
    def children(self) -> str:
        return f"{self.base}:kids"

    def check_mark(self, check_id: str) -> str:
        return f"{self.base}:ck:{check_id}"

    def history_day(self, period_id: str) -> str:
        return f"{self.base}:hd:{period_id}"

    def history_month(self, period_id: str) -> str:
        return f"{self.base}:hM:{period_id}"

    def cost_samples(self, kind: str, name: str) -> str:
        """The recent actual costs of one tool ("t") or model ("m"), for history estimates."""
        return f"{self.base}:cs:{kind}:{encode(name)}"

    def idempotency(self, key: str) -> str:
        """A key as releases before the dedupe index kept it (one string per key)."""
        return f"{self.base}:idem:{encode(key)}"

    def dedupe(self, *, generated: bool) -> str:
        """The dedupe index (its buckets' names start with it): callers' keys or generated."""
        return f"{self.base}:dg" if generated else f"{self.base}:dd"

    def script_keys(self, day_id: str, month_id: str, week_id: str) -> list[str]:
        """The subject's own KEYS in the check/record/usage scripts; the scripts take one more
        per subject after them, the defaults hash on its slot (`defaults_key`)."""
        return [
            self.config,
            self.windows,
            self.day(day_id),
            self.month(month_id),
            self.holds,
            self.hold_expiry,
            self.overrides,
            self.alerts,
            self.week(week_id),
            self.lifetime,
        ]


KEYS_PER_SUBJECT = 11  # script_keys(), then the subject's defaults_key()


def subject_keys(subject: Subject) -> SubjectKeys:
    return SubjectKeys(tag(subject))


def idempotency_home(subjects: Iterable[Subject]) -> Subject:
    """The subject whose slot keeps an idempotency key for these subjects: the least by name,
    so the same subjects in any order find the same key; never a run when another subject is
    named, since every key of a run ends with it and a key must last its 24 hours."""
    named = list(subjects)
    lasting = [s for s in named if s.scope is not QuotaScope.RUN]
    return min(lasting or named, key=str)


def top_day(scope: str, calendar: str, day_id: str) -> str:
    """The spend of `scope`'s subjects in one quota day of one calendar ("6@America/New_York")."""
    return f"{PREFIX}:top:{scope}:d:{calendar}:{day_id}"


def top_month(scope: str, calendar: str, month_id: str) -> str:
    return f"{PREFIX}:top:{scope}:M:{calendar}:{month_id}"


def top_calendars(scope: str) -> str:
    return f"{PREFIX}:top:{scope}:cal"


def default_field(name: Subject) -> str:
    """A default's field in a defaults hash ("user:*", "user:*@acme"), percent-encoded so that
    it holds none of the separators of a script's subject argument."""
    return quote(str(name), safe=":*@/")


@cache
def _slot_tags() -> tuple[str, ...]:
    """For each cluster slot, the shortest decimal text that hashes to it (CRC16 is what Redis
    checks, not the tag's text): computed once, in a few tenths of a second."""
    tags: list[str | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
    left, n = REDIS_CLUSTER_HASH_SLOTS, 0
    while left:
        text = b"%d" % n
        slot = crc_hqx(text, 0) % REDIS_CLUSTER_HASH_SLOTS  # key_slot() of a bare tag
        if tags[slot] is None:
            tags[slot] = text.decode()
            left -= 1
        n += 1
    return tuple(t for t in tags if t is not None)


def defaults_key(subject: Subject, *, cluster: bool) -> str:
    """The defaults hash a subject's scripts read: on a cluster, the copy on its own slot."""
    if not cluster:
        return DEFAULTS
    slot = key_slot(tag(subject).encode())
    return f"{PREFIX}:{{{_slot_tags()[slot]}}}:dflt"


def defaults_slot_keys() -> list[str]:
    """Every slot's copy of the defaults hash (Redis Cluster), one per slot."""
    return [f"{PREFIX}:{{{t}}}:dflt" for t in _slot_tags()]
