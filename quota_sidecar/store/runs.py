"""Runs as the store keeps them: a run's cfg hash (its config `j`/`v`, parent `p`, end `x`,
ended mark `e`), its `kids` set of sub-runs, and its lifetime hash's counts.

Owns: those keys and fields, opening a run (run_open.lua), and decoding what is read into plain
values. Imports only the domain, redis and the rest of the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.store.decoding import exact_int
from quota_sidecar.store.keys import SubjectKeys, subject_keys
from quota_sidecar.store.redis import Store

__all__ = [
    "OpenedRun",
    "RunNode",
    "StoredRun",
    "index_child",
    "mark_ended",
    "open_run",
    "read_node",
    "read_run",
]


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run's parent ("" for none) and when it ends."""

    parent: str
    ends_at_ms: int


@dataclass(frozen=True, slots=True)
class OpenedRun:
    """What run_open.lua answered: whether this call opened the run ("opened") or found it
    open, and the run as stored."""

    state: str
    run: StoredRun


@dataclass(frozen=True, slots=True)
class RunNode:
    """One run of a run tree as stored: the run, whether it was ended early, its config
    document and version, its lifetime counts and its sub-runs."""

    run: StoredRun
    ended: bool
    document: str
    version: int
    requests: int
    tokens: int
    children: tuple[str, ...]


def _keys(run_id: str) -> SubjectKeys:
    return subject_keys(Subject(QuotaScope.RUN, run_id))


async def read_run(store: Store, run_id: str, timeout: float | None) -> StoredRun | None:
    """The run as stored, or None when it is not open (never opened, or expired)."""
    key = _keys(run_id).config
    parent, ends = await store.call(lambda: store.client.hmget(key, ["p", "x"]), timeout)
    if not ends:
        return None
    return StoredRun(parent or "", int(ends))


async def open_run(
    store: Store,
    run_id: str,
    *,
    document: str,
    parent: str,
    ends_at_ms: int,
    now_ms: int,
    timeout: float | None,
) -> OpenedRun:
    """Open the run unless it is open already (then the stored one stands)."""
    keys = [_keys(run_id).config]
    args = [document, parent, ends_at_ms, now_ms]
    state, parent_id, stored_ends = await store.run("run_open.lua", keys, args, timeout=timeout)
    return OpenedRun(str(state), StoredRun(str(parent_id), int(stored_ends)))


async def index_child(
    store: Store, parent: str, child: str, ttl_ms: int, timeout: float | None
) -> None:
    """List `child` in its parent's set of sub-runs, which lives `ttl_ms` more (a separate
    step: the parent's keys live on another cluster slot)."""
    kids = _keys(parent).children

    async def index_run_child() -> object:
        pipe = store.client.pipeline(transaction=False)
        pipe.sadd(kids, child)
        pipe.pexpire(kids, ttl_ms)
        return await pipe.execute()

    await store.call(index_run_child, timeout)


async def mark_ended(store: Store, run_id: str, now_ms: int, timeout: float | None) -> bool:
    """Mark the run ended now; False when it was marked before (its TTL is kept)."""
    key = _keys(run_id).config
    return bool(await store.call(lambda: store.client.hsetnx(key, "e", now_ms), timeout))


async def read_node(store: Store, run_id: str, timeout: float | None) -> RunNode | None:
    """The run with its counts and sub-runs, in one round trip; None when it is not open."""
    keys = _keys(run_id)

    async def read_run_node() -> list[object]:
        pipe = store.client.pipeline(transaction=False)
        pipe.hmget(keys.config, ["p", "x", "e", "j", "v"])
        pipe.hmget(keys.lifetime, ["r", "t"])
        pipe.smembers(keys.children)
        return list(await pipe.execute())

    (parent, ends, ended, document, version), (requests, tokens), kids = await store.call(
        read_run_node, timeout
    )
    if not ends:
        return None
    return RunNode(
        run=StoredRun(str(parent or ""), exact_int(ends)),
        ended=bool(ended),
        document=str(document),
        version=exact_int(version or 0),
        requests=exact_int(requests or 0),
        tokens=exact_int(tokens or 0),
        children=tuple(sorted(str(k) for k in kids)),
    )
