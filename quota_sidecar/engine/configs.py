"""Quota configurations: stored in Redis (so every replica sees a change at once) and cached
in each engine with their version.

The cache never decides alone: every check and record passes the cached version to its
script, which compares it with the stored one and answers "stale" on a mismatch; the engine
then reloads and retries. A steady-state check therefore costs one round trip, and a change
made through any replica takes effect on the very next call everywhere. A deleted quota
leaves a tombstone (the version without the document), so delete-then-recreate can never
be mistaken for the old version.

A subject without a quota of its own follows its scope's default (engine/defaults.py): its
entry is the default's config under the subject's name, and its version names the defaults
it was resolved from, which the script verifies as well. Entries are cached per subject and
tenant, since the call's tenant decides which default applies.

The cache only moves forward. Redis replicates asynchronously, so the store can answer from an
older state than this engine has already seen: a replica promoted before it received a quota
write, or a server read during a failover. Such a read never replaces a cached entry (see
`_supersedes`): least of all "no quota" over a known one, which would let a closed budget be
decided as unlimited, by the store and then, in an outage, by the failure modes. The engine
keeps the quota it knows and the store is "behind" for that subject (StoreBehind) until it
holds that version or a later write. The same holds for the defaults a subject follows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.errors import InvalidInput, NotFound, StoreBehind
from quota_sidecar.domain.models import QuotaConfig, QuotaScope, Subject
from quota_sidecar.domain.results import AlertKind
from quota_sidecar.engine.audit import audit_entry, publish_alert
from quota_sidecar.engine.defaults import (
    check_default,
    default_lookup,
    has_tenant_default,
    is_default,
    resolve_default,
    tenant_of,
)
from quota_sidecar.store.config_codec import config_from_json, config_to_dict, config_to_json
from quota_sidecar.store.keys import DEFAULTS
from quota_sidecar.store.quota_configs import (
    delete_config,
    list_configured,
    put_config,
    read_configs,
)
from quota_sidecar.store.redis import Store
from quota_sidecar.store.scope_defaults import StoredDefault, defaults_key_of, write_default

__all__ = ["CachedConfig", "ConfigRepository"]

log = logging.getLogger(__name__)

_ADMIN_TIMEOUT = 2.0  # admin calls are not on the hot path; give Redis room


@dataclass(frozen=True, slots=True)
class CachedConfig:
    """A subject's config as last read (None when it has none) and the version it had;
    `expires_at_ms` when the subject ends (a run: every key it has expires then)."""

    config: QuotaConfig | None
    version: str
    expires_at_ms: int | None = None
    # The default the subject follows (None: its own quota, or none), and the defaults hash
    # its scripts verify it with (on the subject's slot on Redis Cluster).
    default: Subject | None = None
    defaults_key: str = DEFAULTS
    written_ms: int = 0  # when the own version was written (the hash's `u`; 0: never)

    @property
    def source(self) -> str:
        """Where the quota comes from: "own", "default", or "" (none)."""
        if self.config is None:
            return ""
        return "default" if self.default is not None else "own"


_CacheKey = tuple[Subject, str]  # the subject and the tenant its default was resolved for


class ConfigRepository:
    """Reads, caches and writes quota configurations."""

    def __init__(self, store: Store, clock: Clock, *, max_cached: int = 100_000) -> None:
        self._store = store
        self._clock = clock
        self._max_cached = max_cached
        self._cache: OrderedDict[_CacheKey, CachedConfig] = OrderedDict()
        # The tenants each subject is cached for beside (subject, ""), so an admin change drops
        # its entries without scanning the cache (a scan per change made registering 100k
        # subjects in one process quadratic: bench/redis_scenarios.py's memory run).
        self._tenants: dict[Subject, set[str]] = {}
        # The defaults as last read, by name (None: none): what a subject this process has never
        # seen follows while the store is unreachable (engine/failure.py).
        self._defaults_seen: dict[Subject, QuotaConfig | None] = {}
        self._behind: set[_CacheKey] = set()  # entries the store was last found behind on

    def cached(self, subject: Subject, tenant: str = "") -> CachedConfig | None:
        """The cached entry, without I/O (used to decide failure modes with the store down)."""
        return self._cache.get(_key(subject, tenant))

    async def get_many(
        self,
        subjects: Sequence[Subject],
        *,
        timeout: float | None = None,
        tenant: str | None = None,
    ) -> list[CachedConfig]:
        """Cached entries, loading the missing ones in one pipelined round trip. `tenant`:
        the call's (default: the one its subjects name, engine/defaults.tenant_of)."""
        tenant = tenant_of(subjects) if tenant is None else tenant
        missing = [s for s in subjects if _key(s, tenant) not in self._cache]
        if missing:
            await self.reload(missing, timeout=timeout, tenant=tenant)
        found = []
        for s in subjects:
            key = _key(s, tenant)
            entry = self._cache[key]
            self._cache.move_to_end(key)
            found.append(entry)
        return found

    async def reload(
        self, subjects: Sequence[Subject], *, timeout: float | None = None, tenant: str = ""
    ) -> list[Subject]:
        """Read the subjects' configs into the cache. Returns those the store is behind on:
        their cached entries are kept (see `_supersedes`)."""
        return self._merge(subjects, await self._read(subjects, timeout, tenant), tenant)

    async def refresh(
        self, subjects: Sequence[Subject], *, timeout: float | None = None, tenant: str = ""
    ) -> None:
        """Reload the subjects a script found stale. StoreBehind when the store is behind on
        any of them: the script would only meet the same older state again."""
        behind = await self.reload(subjects, timeout=timeout, tenant=tenant)
        if behind:
            names = ", ".join(str(s) for s in behind)
            raise StoreBehind(f"the store holds older quotas than this sidecar has seen: {names}")

    async def _read(
        self, subjects: Sequence[Subject], timeout: float | None, tenant: str
    ) -> list[CachedConfig]:
        """The subjects' configs as the store holds them now (a default resolved where a
        subject has none of its own), in one pipelined round trip."""
        lookups = [default_lookup(s, tenant) for s in subjects]
        names = [None if lookup is None else lookup.names for lookup in lookups]
        stored = await read_configs(self._store, subjects, names, timeout)
        reads = []
        for s, lookup, row in zip(subjects, lookups, stored, strict=True):
            own, expires, written = row.version, row.expires_at_ms, row.written_ms
            if row.document:  # the own quota wins over any default read along
                config = config_from_json(row.document, int(own), written)
                entry = CachedConfig(config, own, expires, None, row.defaults_key, written)
            elif lookup is not None:
                resolved = resolve_default(s, lookup, row.defaults)
                self._note_defaults(lookup.names, row.defaults)
                versions = own + resolved.versions
                entry = CachedConfig(
                    resolved.config, versions, expires, resolved.name, row.defaults_key, written
                )
            else:
                entry = CachedConfig(None, own, expires, None, row.defaults_key, written)
            reads.append(entry)
        return reads

    def _merge(
        self, subjects: Sequence[Subject], reads: Sequence[CachedConfig], tenant: str
    ) -> list[Subject]:
        """Cache each read unless the store is behind on it; returns those it is behind on."""
        behind = []
        for s, read in zip(subjects, reads, strict=True):
            key = _key(s, tenant)
            known = self._cache.get(key)
            if known is None or _supersedes(read, known):
                self._remember(key, read)
            else:
                behind.append(s)
                self._note_behind(key, read, known)
        return behind

    def _note_behind(self, key: _CacheKey, read: CachedConfig, known: CachedConfig) -> None:
        if key in self._behind:
            return  # logged once per subject until the store catches up
        self._behind.add(key)
        log.warning(
            "the store holds version %s of the quota of %s, older than version %s seen before "
            "(a failover lost or has not yet replicated it): keeping the known quota, and "
            "deciding %s by its failure modes until the store holds it or a later one",
            read.version, key[0], known.version, key[0],
        )  # fmt: skip

    def _remember(self, key: _CacheKey, entry: CachedConfig) -> None:
        self._behind.discard(key)
        self._cache[key] = entry
        self._cache.move_to_end(key)
        if key[1]:
            self._tenants.setdefault(key[0], set()).add(key[1])
        while len(self._cache) > self._max_cached:
            evicted, _ = self._cache.popitem(last=False)
            self._behind.discard(evicted)
            if evicted[1] and (tenants := self._tenants.get(evicted[0])) is not None:
                tenants.discard(evicted[1])
                if not tenants:
                    del self._tenants[evicted[0]]

    async def in_force(self, subject: Subject, tenant: str = "") -> CachedConfig:
        """The quota in force as the store holds it now: the subject's own, else the default
        it follows (as a call naming tenant:<tenant> would resolve it). Admin reads only."""
        # Not the hot path, so the admin timeout.
        (read,) = await self._read([subject], _ADMIN_TIMEOUT, tenant)
        self._merge([subject], [read], tenant)
        return read

    async def get(self, subject: Subject) -> QuotaConfig | None:
        """The subject's own quota as the store holds it now (None when it has none, even if a
        default applies): what put replaces, delete removes and the quota file compares with;
        even where the cache keeps a later one the store is behind on, so an admin, or the
        quota file, sees the loss and can put the quota again."""
        read = await self.in_force(subject)
        return read.config if read.default is None else None

    async def put(
        self, config: QuotaConfig, *, actor: str, reason: str
    ) -> tuple[QuotaConfig, bool]:
        subject = config.subject
        check_default(subject)
        before = await self.get(subject)
        now = self._clock.now_ms()
        audit = audit_entry(
            now_ms=now, action="quota.put", subject=subject, actor=actor, reason=reason,
            before=config_to_dict(before) if before else None, after=config_to_dict(config),
        )  # fmt: skip
        document = config_to_json(config)
        version = await put_config(
            self._store, subject, document, now_ms=now, audit=audit, timeout=_ADMIN_TIMEOUT
        )
        if is_default(subject):  # every slot's copy, before the call is acknowledged
            await write_default(self._store, subject, version, document, timeout=_ADMIN_TIMEOUT)
        verb = "changed" if before else "created"
        message = f"quota of {subject} {verb} by {actor}"
        await publish_alert(self._store, AlertKind.QUOTA_CHANGED, subject, now, message)
        stored = config_from_json(document, version, now)
        # What this call wrote is the store's state now: remembered as it is, even over a
        # later version seen before (a quota put again after the store lost it).
        self._forget(subject)  # entries resolved per tenant, then the own quota (wins for all)
        dflt = defaults_key_of(self._store, subject)
        entry = CachedConfig(stored, str(version), defaults_key=dflt, written_ms=now)
        self._remember((subject, ""), entry)
        return stored, before is None

    async def delete(self, subject: Subject, *, actor: str, reason: str) -> QuotaConfig:
        before = await self.get(subject)
        if before is None:
            raise NotFound(f"no quota is configured for {subject}")
        now = self._clock.now_ms()
        audit = audit_entry(
            now_ms=now, action="quota.delete", subject=subject, actor=actor, reason=reason,
            before=config_to_dict(before), after=None,
        )  # fmt: skip
        # The tombstone (see the module docstring), and on every slot's copy of a default.
        version = await delete_config(
            self._store, subject, now_ms=now, audit=audit, timeout=_ADMIN_TIMEOUT
        )
        if is_default(subject):
            await write_default(self._store, subject, version, "", timeout=_ADMIN_TIMEOUT)
        self._forget(subject)  # the next call resolves it afresh: a default may apply now
        message = f"quota of {subject} deleted by {actor}"
        await publish_alert(self._store, AlertKind.QUOTA_CHANGED, subject, now, message)
        return before

    async def list(
        self, scope: QuotaScope | None, page_size: int, page_token: str
    ) -> tuple[list[QuotaConfig], str]:
        """A page of quotas ordered by "scope:identifier"; the token is the last one returned."""
        if not 0 <= page_size <= 1000:
            raise InvalidInput("page_size", "must be between 1 and 1000")
        page_size = page_size or 100
        names = await list_configured(self._store, scope, page_token, page_size + 1, _ADMIN_TIMEOUT)
        subjects = [Subject.parse(name) for name in names[:page_size]]
        reads = await self._read(subjects, _ADMIN_TIMEOUT, "")
        self._merge(subjects, reads, "")
        # As stored: a registered subject whose own quota the store lost is not listed.
        configs = [r.config for r in reads if r.config is not None and r.default is None]
        next_token = names[page_size - 1] if len(names) > page_size else ""
        return configs, next_token

    def _forget(self, subject: Subject) -> None:
        """Drop a subject's entries (its own, and one per tenant it was resolved for) after an
        admin change."""
        self._cache.pop((subject, ""), None)
        for tenant in self._tenants.pop(subject, ()):
            self._cache.pop((subject, tenant), None)

    # -- scope defaults while the store is unreachable ------------------------------------

    def _note_defaults(self, names: Sequence[Subject], stored: Sequence[StoredDefault]) -> None:
        for name, copy in zip(names, stored, strict=True):
            self._defaults_seen[name] = (
                config_from_json(copy.document, int(copy.version), 0) if copy.document else None
            )

    def under_known_default(self, subject: Subject, tenant: str = "") -> CachedConfig | None:
        """For a subject this process has never read: the default it would follow, as last
        read for any other subject. None when that is not known (a default it looks up was
        never read) or when no default applies: the subject is then unknown, and its own quota
        might hold a budget. Used only to decide failure modes with the store down."""
        lookup = default_lookup(subject, tenant)
        if lookup is None or any(n not in self._defaults_seen for n in lookup.names):
            return None
        for name in lookup.names:
            found = self._defaults_seen[name]
            if found is not None:
                config = dataclasses.replace(found, identifier=subject.identifier)
                return CachedConfig(config, "", default=name)
        return None


def _key(subject: Subject, tenant: str) -> _CacheKey:
    """Only a subject with a tenant default to look up is cached per tenant."""
    if tenant and has_tenant_default(subject):
        return (subject, tenant)
    return (subject, "")


def _supersedes(read: CachedConfig, known: CachedConfig) -> bool:
    """Whether `read`, just read from the store, may replace the cached `known`.

    Within one store's history a subject's version only grows (every put and delete adds
    one), so a read with a lower version comes from a store that has not received, or has
    lost, a write this engine has seen. It replaces the known entry only when it is a later
    write all the same:
      * its own version is higher, or equal with no default version lower than the known
        one's (a deletion counts: its tombstone has the next version);
      * it was written after the known one (`u`): the store lost that history and the quota
        was put, or deleted, again since, so its versions started over;
      * it is nothing at all where a run was: a run's config expires with it (and a run
        without one is refused as ended, never decided open).
    "No quota" read from a store that never had the write (version 0, never written) is
    none of these: a known quota is never replaced by it.
    """
    own_read, defaults_read = _versions(read.version)
    own_known, defaults_known = _versions(known.version)
    if own_read > own_known:
        return True
    if own_read == own_known and all(
        defaults_read.get(name, 0) >= version for name, version in defaults_known.items()
    ):
        return True
    if read.written_ms > known.written_ms:
        return True
    return known.expires_at_ms is not None and read.config is None


def _versions(version: str) -> tuple[int, dict[str, int]]:
    """The own version and the defaults' ("<own>|user:*@acme=0|user:*=7", engine/defaults)."""
    own, *defaults = version.split("|")
    named = dict(part.rpartition("=")[::2] for part in defaults)
    return (int(own) if own else 0), {name: int(v or 0) for name, v in named.items()}
