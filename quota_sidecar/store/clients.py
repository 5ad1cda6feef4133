"""Which Redis a URL names, and the client for it: a plain Redis, a cluster, or the master a
set of sentinels names."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel as AsyncSentinel

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.store.embedded import EmbeddedRedis, default_data_dir
from quota_sidecar.store.packing import use_c_packer
from quota_sidecar.store.sentinel import SENTINEL_SCHEME, async_master, parse_sentinel_url

__all__ = ["Opened", "drop_idle_connections", "open_client", "resolve_redis_url"]

MAX_CONNECTIONS = 128
_CONNECT_TIMEOUT = 30.0  # seconds
_CLUSTER_SCHEME = "redis+cluster://"
_URL_SCHEMES = ("redis://", "rediss://", "unix://", _CLUSTER_SCHEME, SENTINEL_SCHEME)


@dataclass(frozen=True, slots=True)
class Opened:
    """A client, and on Sentinel the sentinels behind it and how records are confirmed."""

    client: aioredis.Redis | RedisCluster
    sentinel: AsyncSentinel | None = None
    replica_acks: int = 0  # replicas that must confirm a record (store/replication.py)
    replica_ack_timeout_ms: int = 0


def resolve_redis_url(
    url: str | None, data_dir: Path | None = None
) -> tuple[str, EmbeddedRedis | None]:
    """The URL to use: the one given, else QUOTA_SIDECAR_REDIS_URL, else an embedded Redis."""
    url = url or os.environ.get("QUOTA_SIDECAR_REDIS_URL") or None
    if url:
        if not url.startswith(_URL_SCHEMES):
            raise InvalidInput("redis_url", f"must start with one of {', '.join(_URL_SCHEMES)}")
        return url, None
    embedded = EmbeddedRedis(data_dir or default_data_dir())
    return embedded.start(), embedded


def open_client(url: str) -> Opened:
    """The client for a resolved URL (nothing is connected until its first call)."""
    if url.startswith(SENTINEL_SCHEME):
        target = parse_sentinel_url(url)
        sentinel, client = async_master(
            target, max_connections=MAX_CONNECTIONS, connect_timeout=_CONNECT_TIMEOUT
        )
        use_c_packer(client.connection_pool)  # see packing.py
        return Opened(client, sentinel, target.replica_acks, target.replica_ack_timeout_ms)
    if url.startswith(_CLUSTER_SCHEME):
        cluster = RedisCluster.from_url(
            "redis://" + url.removeprefix(_CLUSTER_SCHEME),
            decode_responses=True,
            # As for a single Redis below: redis-py's 5 s default tripped on a burst's connects.
            socket_connect_timeout=_CONNECT_TIMEOUT,
        )
        return Opened(cluster)
    # A blocking pool: a burst beyond the pool waits for a connection instead of failing at
    # once with "Too many connections".
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        # Measured on the event loop, so a burst would trip a short one: reachability is the
        # probe's to judge, this only bounds a connect nobody answers.
        socket_connect_timeout=_CONNECT_TIMEOUT,
        max_connections=MAX_CONNECTIONS,
        timeout=None,
    )
    use_c_packer(pool)  # a check's 30-odd arguments packed in C: see packing.py
    return Opened(aioredis.Redis.from_pool(pool))  # the client owns and closes the pool


async def drop_idle_connections(client: aioredis.Redis | RedisCluster) -> None:
    """Disconnect the pool's idle connections (a plain Redis's; a cluster's are left)."""
    # One broken connection means Redis went away (or restarted): the idle ones in the pool
    # are most likely broken too, and each would fail one more call after Redis is back.
    # Drop them, so calls after a restart start on fresh connections. In-use ones are left
    # to their callers.
    if isinstance(client, aioredis.Redis):
        with contextlib.suppress(Exception):
            await client.connection_pool.disconnect(inuse_connections=False)
