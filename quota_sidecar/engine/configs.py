"""Quota configurations: stored in Redis (so every replica sees a change at once) and cached
in each engine with their version.

The cache never decides alone: every check and record passes the cached version to its
script, which compares it with the stored one and answers "stale" on a mismatch; the engine
then reloads and retries. A steady-state check therefore costs one round trip, and a change
made through any replica takes effect on the very next call everywhere. A deleted quota
leaves a tombstone (the version without the document), so delete-then-recreate can never
be mistaken for the old version.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from quota_sidecar.clock import Clock
from quota_sidecar.engine.audit import append_audit, publish_alert
from quota_sidecar.engine.codec import config_from_json, config_to_dict, config_to_json
from quota_sidecar.errors import InvalidInput, NotFound
from quota_sidecar.models import QuotaConfig, QuotaScope, Subject
from quota_sidecar.results import AlertKind
from quota_sidecar.store.keys import QUOTA_INDEX, subject_keys
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


class ConfigRepository:
    """Reads, caches and writes quota configurations."""

    def __init__(self, store: Store, clock: Clock, *, max_cached: int = 100_000) -> None:
        self._store = store
        self._clock = clock
        self._max_cached = max_cached
        self._cache: OrderedDict[Subject, CachedConfig] = OrderedDict()

    def cached(self, subject: Subject) -> CachedConfig | None:
        """The cached entry, without I/O (used to decide failure modes with the store down)."""
        return self._cache.get(subject)

    async def get_many(
        self, subjects: Sequence[Subject], *, timeout: float | None = None
    ) -> list[CachedConfig]:
        """Cached entries, loading the missing ones in one pipelined round trip."""
        missing = [s for s in subjects if s not in self._cache]
        if missing:
            await self.reload(missing, timeout=timeout)
        found = []
        for s in subjects:
            entry = self._cache[s]
            self._cache.move_to_end(s)
            found.append(entry)
        return found

    async def reload(self, subjects: Sequence[Subject], *, timeout: float | None = None) -> None:
        async def load() -> list[list[str | None]]:
            pipe = self._store.client.pipeline(transaction=False)
            for s in subjects:
                pipe.hmget(subject_keys(s).config, ["v", "j", "u", "x"])
            return await pipe.execute()

        rows = await self._store.call(load, timeout)
        for s, (version, document, updated, ends) in zip(subjects, rows, strict=True):
            config = (
                config_from_json(document, int(version or 0), int(updated or 0))
                if document
                else None
            )
            expires = int(ends) if ends else None
            self._remember(s, CachedConfig(config, version or "0", expires))

    def _remember(self, subject: Subject, entry: CachedConfig) -> None:
        self._cache[subject] = entry
        self._cache.move_to_end(subject)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

    async def get(self, subject: Subject) -> QuotaConfig | None:
        # Reads for admin calls and for put/delete: not the hot path, so the admin timeout.
        await self.reload([subject], timeout=_ADMIN_TIMEOUT)
        return self._cache[subject].config

    async def put(
        self, config: QuotaConfig, *, actor: str, reason: str
    ) -> tuple[QuotaConfig, bool]:
        subject = config.subject
        before = await self.get(subject)
        keys = subject_keys(subject)
        now = self._clock.now_ms()

        async def write() -> list[object]:
            pipe = self._store.client.pipeline(transaction=not self._store.is_cluster)
            pipe.hincrby(keys.config, "v", 1)
            pipe.hset(keys.config, mapping={"j": config_to_json(config), "u": str(now)})
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
        verb = "changed" if before else "created"
        message = f"quota of {subject} {verb} by {actor}"
        await publish_alert(self._store, AlertKind.QUOTA_CHANGED, subject, now, message)
        stored = config_from_json(config_to_json(config), version, now)
        self._remember(subject, CachedConfig(stored, str(version)))
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
        self._remember(subject, CachedConfig(None, str(results[0])))
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
        configs = [c for s in subjects if (c := self._cache[s].config) is not None]
        next_token = names[page_size - 1] if len(names) > page_size else ""
        return configs, next_token
