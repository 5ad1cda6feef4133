"""Quota configurations: stored in Redis (so every replica sees a change at once) and cached
in each engine with their version.

The cache never decides alone: every check and record passes the cached version to its
script, which compares it with the stored one and answers "stale" on a mismatch; the engine
then reloads and retries. A steady-state check therefore costs one round trip, and a change
made through any replica takes effect on the very next call everywhere. A deleted quota
leaves a tombstone (the version without the document), so delete-then-recreate can never
be mistaken for the old version.

The cache only moves forward. Redis replicates asynchronously, so the store can answer from an
older state than this engine has already seen: a replica promoted before it received a quota
write, or a server read during a failover. Such a read never replaces a cached entry (see
`_supersedes`): least of all "no quota" over a known one, which would let a closed budget be
decided as unlimited, by the store and then, in an outage, by the failure modes. The engine
keeps the quota it knows and the store is "behind" for that subject (StoreBehind) until it
holds that version or a later write.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from quota_sidecar.clock import Clock
from quota_sidecar.engine.audit import append_audit, publish_alert
from quota_sidecar.engine.codec import config_from_json, config_to_dict, config_to_json
from quota_sidecar.errors import InvalidInput, NotFound, StoreBehind
from quota_sidecar.models import QuotaConfig, QuotaScope, Subject
from quota_sidecar.results import AlertKind
from quota_sidecar.store.keys import QUOTA_INDEX, subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["CachedConfig", "ConfigRepository"]

log = logging.getLogger(__name__)
_ADMIN_TIMEOUT = 2.0  # admin calls are not on the hot path; give Redis room


@dataclass(frozen=True, slots=True)
class CachedConfig:
    """A subject's config as last read (None when it has none) and the version it had;
    `expires_at_ms` when the subject ends (a run: every key it has expires then);
    `written_ms` when that version was written (the hash's `u`; 0: never, or not recorded)."""

    config: QuotaConfig | None
    version: str
    expires_at_ms: int | None = None
    written_ms: int = 0


class ConfigRepository:
    """Reads, caches and writes quota configurations."""

    def __init__(self, store: Store, clock: Clock, *, max_cached: int = 100_000) -> None:
        self._store = store
        self._clock = clock
        self._max_cached = max_cached
        self._cache: OrderedDict[Subject, CachedConfig] = OrderedDict()
        self._behind: set[Subject] = set()  # subjects the store was last found behind on

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

    async def reload(
        self, subjects: Sequence[Subject], *, timeout: float | None = None
    ) -> list[Subject]:
        """Read the subjects' configs into the cache. Returns those the store is behind on:
        their cached entries are kept (see `_supersedes`)."""
        return self._merge(subjects, await self._read(subjects, timeout))

    async def _read(self, subjects: Sequence[Subject], timeout: float | None) -> list[CachedConfig]:
        """The subjects' configs as the store holds them now, in one pipelined round trip."""

        async def load() -> list[list[str | None]]:
            pipe = self._store.client.pipeline(transaction=False)
            for s in subjects:
                pipe.hmget(subject_keys(s).config, ["v", "j", "u", "x"])
            return await pipe.execute()

        reads = []
        for version, document, updated, ends in await self._store.call(load, timeout):
            written = int(updated or 0)
            config = config_from_json(document, int(version or 0), written) if document else None
            expires = int(ends) if ends else None
            reads.append(CachedConfig(config, version or "0", expires, written))
        return reads

    def _merge(self, subjects: Sequence[Subject], reads: Sequence[CachedConfig]) -> list[Subject]:
        """Cache each read unless the store is behind on it; returns those it is behind on."""
        behind = []
        for s, read in zip(subjects, reads, strict=True):
            known = self._cache.get(s)
            if known is None or _supersedes(read, known):
                self._remember(s, read)
            else:
                behind.append(s)
                self._note_behind(s, read, known)
        return behind

    async def refresh(self, subjects: Sequence[Subject], *, timeout: float | None = None) -> None:
        """Reload the subjects a script found stale. StoreBehind when the store is behind on
        any of them: the script would only meet the same older state again."""
        behind = await self.reload(subjects, timeout=timeout)
        if behind:
            names = ", ".join(str(s) for s in behind)
            raise StoreBehind(f"the store holds older quotas than this sidecar has seen: {names}")

    def _note_behind(self, subject: Subject, read: CachedConfig, known: CachedConfig) -> None:
        if subject in self._behind:
            return  # logged once per subject until the store catches up
        self._behind.add(subject)
        log.warning(
            "the store holds version %s of the quota of %s, older than version %s seen before "
            "(a failover lost or has not yet replicated it): keeping the known quota, and "
            "deciding %s by its failure modes until the store holds it or a later one",
            read.version, subject, known.version, subject,
        )  # fmt: skip

    def _remember(self, subject: Subject, entry: CachedConfig) -> None:
        self._behind.discard(subject)
        self._cache[subject] = entry
        self._cache.move_to_end(subject)
        while len(self._cache) > self._max_cached:
            evicted, _ = self._cache.popitem(last=False)
            self._behind.discard(evicted)

    async def get(self, subject: Subject) -> QuotaConfig | None:
        """The quota as the store holds it now (admin reads, and put/delete's "before"), even
        where the cache keeps a later one the store is behind on: an admin, or the quota file,
        then sees the loss and can put the quota again."""
        # Not the hot path, so the admin timeout.
        (read,) = await self._read([subject], _ADMIN_TIMEOUT)
        self._merge([subject], [read])
        return read.config

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
        # What this call wrote is the store's state now: remembered as it is, even over a
        # later version seen before (a quota put again after the store lost it).
        self._remember(subject, CachedConfig(stored, str(version), written_ms=now))
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
            pipe.hdel(keys.config, "j")
            pipe.hset(keys.config, "u", str(now))  # when it was deleted: see _supersedes
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
        self._remember(subject, CachedConfig(None, str(results[0]), written_ms=now))
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
        reads = await self._read(subjects, _ADMIN_TIMEOUT)
        self._merge(subjects, reads)
        configs = [read.config for read in reads if read.config is not None]  # as stored
        next_token = names[page_size - 1] if len(names) > page_size else ""
        return configs, next_token


def _supersedes(read: CachedConfig, known: CachedConfig) -> bool:
    """Whether `read`, just read from the store, may replace the cached `known`.

    Within one store's history a subject's version only grows (every put and delete adds
    one), so a read with a lower version comes from a store that has not received, or has
    lost, a write this engine has seen. It replaces the known entry only when it is a later
    write all the same:
      * its version is not lower (a deletion is: its tombstone has the next version);
      * it was written after the known one (`u`): the store lost that history and the quota
        was put, or deleted, again since, so its versions started over;
      * it is nothing at all where a run was: a run's config expires with it (and a run
        without one is refused as ended, never decided open).
    "No quota" read from a store that never had the write (version 0, never written) is
    none of these: a known quota is never replaced by it.
    """
    if _number(read.version) >= _number(known.version):
        return True
    if read.written_ms > known.written_ms:
        return True
    return known.expires_at_ms is not None and read.config is None


def _number(version: str) -> int:
    return int(version) if version else 0
