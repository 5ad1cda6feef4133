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
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from quota_sidecar.clock import Clock
from quota_sidecar.engine.audit import append_audit, publish_alert
from quota_sidecar.engine.codec import config_from_json, config_to_dict, config_to_json
from quota_sidecar.engine.defaults import (
    check_default,
    default_lookup,
    has_tenant_default,
    is_default,
    resolve_default,
    tenant_of,
    write_default,
)
from quota_sidecar.errors import InvalidInput, NotFound
from quota_sidecar.models import QuotaConfig, QuotaScope, Subject
from quota_sidecar.results import AlertKind
from quota_sidecar.store.keys import (
    DEFAULTS,
    QUOTA_INDEX,
    WINDOWS_CACHED_FIELDS,
    defaults_key,
    subject_keys,
)
from quota_sidecar.store.redis import Store

__all__ = ["CachedConfig", "ConfigRepository"]

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
        # The defaults as last read, by name (None: none): what a subject this process has never
        # seen follows while the store is unreachable (engine/failure.py).
        self._defaults_seen: dict[Subject, QuotaConfig | None] = {}

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
    ) -> None:
        lookups = [default_lookup(s, tenant) for s in subjects]
        cluster = self._store.is_cluster
        dflt_keys = [defaults_key(s, cluster=cluster) for s in subjects]

        async def load() -> list[list[str | None]]:
            pipe = self._store.client.pipeline(transaction=False)
            for s, lookup, dflt in zip(subjects, lookups, dflt_keys, strict=True):
                pipe.hmget(subject_keys(s).config, ["v", "j", "u", "x"])
                if lookup is not None:  # same slot as the subject: one round trip still
                    pipe.hmget(dflt, lookup.fields)
            return await pipe.execute()

        rows = iter(await self._store.call(load, timeout))
        for s, lookup, dflt in zip(subjects, lookups, dflt_keys, strict=True):
            version, document, updated, ends = next(rows)
            expires = int(ends) if ends else None
            own = version or "0"
            if document:
                config = config_from_json(document, int(own), int(updated or 0))
                entry = CachedConfig(config, own, expires, defaults_key=dflt)
                if lookup is not None:
                    next(rows)  # read along in the same round trip; the own quota wins
            elif lookup is not None:
                row = next(rows)
                resolved = resolve_default(s, lookup, row)
                self._note_defaults(lookup.names, row)
                entry = CachedConfig(
                    resolved.config, own + resolved.versions, expires, resolved.name, dflt
                )
            else:
                entry = CachedConfig(None, own, expires, defaults_key=dflt)
            self._remember(_key(s, tenant), entry)

    def _remember(self, key: _CacheKey, entry: CachedConfig) -> None:
        self._cache[key] = entry
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

    async def get(self, subject: Subject) -> QuotaConfig | None:
        # Reads for admin calls and for put/delete: not the hot path, so the admin timeout.
        await self.reload([subject], timeout=_ADMIN_TIMEOUT)
        return self._cache[(subject, "")].config

    async def put(
        self, config: QuotaConfig, *, actor: str, reason: str
    ) -> tuple[QuotaConfig, bool]:
        subject = config.subject
        check_default(subject)
        before = await self.get(subject)
        keys = subject_keys(subject)
        now = self._clock.now_ms()

        async def write() -> list[object]:
            pipe = self._store.client.pipeline(transaction=not self._store.is_cluster)
            pipe.hincrby(keys.config, "v", 1)
            pipe.hset(keys.config, mapping={"j": config_to_json(config), "u": str(now)})
            pipe.hdel(keys.windows, *WINDOWS_CACHED_FIELDS)  # after the version: see keys.py
            pipe.zadd(QUOTA_INDEX, {str(subject): 0})
            append_audit(
                pipe,
                now_ms=now,
                action="quota.put",
                subject=subject,
                actor=actor,
                reason=reason,
                before=config_to_dict(before) if before else None,
                after=config_to_dict(config),
            )
            return await pipe.execute()

        results = await self._store.call(write, _ADMIN_TIMEOUT)
        version = int(str(results[0]))
        if is_default(subject):  # every slot's copy, before the call is acknowledged
            await write_default(
                self._store, subject, version, config_to_json(config), timeout=_ADMIN_TIMEOUT
            )
        verb = "changed" if before else "created"
        message = f"quota of {subject} {verb} by {actor}"
        await publish_alert(self._store, AlertKind.QUOTA_CHANGED, subject, now, message)
        stored = config_from_json(config_to_json(config), version, now)
        self._forget(subject)  # entries resolved per tenant, then the own quota (wins for all)
        dflt = defaults_key(subject, cluster=self._store.is_cluster)
        self._remember((subject, ""), CachedConfig(stored, str(version), defaults_key=dflt))
        return stored, before is None

    async def delete(self, subject: Subject, *, actor: str, reason: str) -> QuotaConfig:
        before = await self.get(subject)
        if before is None:
            raise NotFound(f"no quota is configured for {subject}")
        keys = subject_keys(subject)
        now = self._clock.now_ms()

        async def write() -> list[object]:
            pipe = self._store.client.pipeline(transaction=not self._store.is_cluster)
            pipe.hincrby(keys.config, "v", 1)  # the tombstone: see the module docstring
            pipe.hdel(keys.config, "j", "u")
            pipe.hdel(keys.windows, *WINDOWS_CACHED_FIELDS)  # after the version: see keys.py
            pipe.zrem(QUOTA_INDEX, str(subject))
            append_audit(
                pipe,
                now_ms=now,
                action="quota.delete",
                subject=subject,
                actor=actor,
                reason=reason,
                before=config_to_dict(before),
                after=None,
            )
            return await pipe.execute()

        results = await self._store.call(write, _ADMIN_TIMEOUT)
        if is_default(subject):  # the tombstone version, on every slot's copy
            await write_default(
                self._store, subject, int(str(results[0])), "", timeout=_ADMIN_TIMEOUT
            )
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
        if scope is not None:
            low = f"[{scope.value}:" if not page_token else f"({page_token}"
            high = f"[{scope.value};"  # ';' sorts right after ':'
        else:
            low, high = (f"({page_token}" if page_token else "-"), "+"
        names: list[str] = await self._store.call(
            lambda: self._store.client.zrangebylex(QUOTA_INDEX, low, high, 0, page_size + 1),
            _ADMIN_TIMEOUT,
        )
        subjects = [Subject.parse(name) for name in names[:page_size]]
        await self.reload(subjects, timeout=_ADMIN_TIMEOUT)
        configs = [c for s in subjects if (c := self._cache[(s, "")].config) is not None]
        next_token = names[page_size - 1] if len(names) > page_size else ""
        return configs, next_token

    def _forget(self, subject: Subject) -> None:
        """Drop a subject's entries (one per tenant it was resolved for) after an admin
        change; not the hot path, so a scan is fine."""
        for key in [k for k in self._cache if k[0] == subject]:
            del self._cache[key]

    # -- scope defaults while the store is unreachable ------------------------------------

    def _note_defaults(self, names: Sequence[Subject], row: Sequence[str | None]) -> None:
        for i, name in enumerate(names):
            document = row[2 * i + 1]
            self._defaults_seen[name] = (
                config_from_json(document, int(row[2 * i] or 0), 0) if document else None
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
