"""The connection to Redis and the registry of Lua scripts.

Every operation of the engine is one script call (EVALSHA, reloaded on NOSCRIPT by redis-py's
Script object), bounded by a timeout so a slow or dead Redis never hangs a caller. Driver
exceptions are wrapped in StoreUnavailable / StoreTimeout here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from quota_sidecar.errors import InvalidInput, StoreTimeout, StoreUnavailable
from quota_sidecar.store.embedded import EmbeddedRedis, default_data_dir

__all__ = ["DEFAULT_TIMEOUT", "Store", "resolve_redis_url"]

log = logging.getLogger(__name__)
MAX_CONNECTIONS = 128
MAX_SCRIPTS_IN_FLIGHT = 32
_TURN_WAIT_MIN = 1.0  # seconds
_TURN_WAIT_FACTOR = 20
DEFAULT_TIMEOUT = 0.05  # seconds; a sidecar answers in about a millisecond or not at all
_PRELUDE = "_lib.lua"
_URL_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://")


def _script_source(name: str) -> str:
    folder = resources.files("quota_sidecar.store") / "scripts"
    # Every script starts with the shared helpers, since Redis scripts cannot import each other.
    return (folder / _PRELUDE).read_text() + "\n" + (folder / name).read_text()


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


class Store:
    """A Redis client, the loaded scripts, and the timeout applied to every call."""

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        embedded: EmbeddedRedis | None = None,
        url: str | None = None,
    ) -> None:
        self.client = client
        self.url = url
        self.timeout = timeout
        self.embedded = embedded
        self.is_cluster = isinstance(client, RedisCluster)
        self._scripts: dict[str, AsyncScript] = {}
        self._turns = asyncio.Semaphore(MAX_SCRIPTS_IN_FLIGHT)

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        data_dir: Path | None = None,
    ) -> Store:
        resolved, embedded = resolve_redis_url(url, data_dir)
        client: aioredis.Redis | RedisCluster
        if resolved.startswith("redis+cluster://"):
            client = RedisCluster.from_url(
                "redis://" + resolved.removeprefix("redis+cluster://"), decode_responses=True
            )
        else:
            # A blocking pool: a burst beyond the pool waits for a connection (within the call's
            # timeout) instead of failing at once with "Too many connections".
            pool = aioredis.BlockingConnectionPool.from_url(
                resolved,
                decode_responses=True,
                socket_connect_timeout=1.0,
                max_connections=MAX_CONNECTIONS,
                timeout=None,
            )
            client = aioredis.Redis.from_pool(pool)  # the client owns and closes the pool
        return cls(client, timeout=timeout, embedded=embedded, url=resolved)

    def script(self, name: str) -> AsyncScript:
        """The registered script from store/scripts/NAME (loaded once, called by EVALSHA)."""
        found = self._scripts.get(name)
        if found is None:
            found = self.client.register_script(_script_source(name))
            self._scripts[name] = found
        return found

    async def run(
        self, name: str, keys: Sequence[str], args: Sequence[Any], timeout: float | None = None
    ) -> Any:
        """Run one script atomically, in one round trip, within the timeout.

        The timeout is there to notice a slow or dead Redis. When many calls are in flight
        the event loop itself becomes the wait, and a saturated sidecar would look like a slow
        Redis and start deciding checks without it. So at most MAX_SCRIPTS_IN_FLIGHT scripts
        run at once, and the timeout starts when a call gets its turn; the wait for a turn is
        bounded separately (an overloaded sidecar then answers StoreTimeout, not a hang).
        """
        script = self.script(name)
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(max(_TURN_WAIT_MIN, _TURN_WAIT_FACTOR * limit)):
                await self._turns.acquire()
        except TimeoutError as exc:
            raise StoreTimeout("too many store calls are waiting") from exc
        try:
            return await self.call(lambda: script(keys=list(keys), args=list(args)), limit)
        finally:
            self._turns.release()

    async def call(self, operation: Any, timeout: float | None = None) -> Any:
        """Await `operation()` within the timeout, wrapping driver failures."""
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                return await operation()
        except TimeoutError as exc:
            raise StoreTimeout("Redis did not answer in time") from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            await self._drop_idle_connections()
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc
        except ResponseError as exc:
            message = str(exc)
            # Only a server that cannot answer now; BUSYGROUP and the like are real errors.
            if message.startswith(("LOADING", "BUSY ", "MASTERDOWN")):
                raise StoreUnavailable(message) from exc
            raise
        except RedisError as exc:
            raise StoreUnavailable(f"Redis failed: {exc}") from exc

    async def _drop_idle_connections(self) -> None:
        # One broken connection means Redis went away (or restarted): the idle ones in the pool
        # are most likely broken too, and each would fail one more call after Redis is back.
        # Drop them, so calls after a restart start on fresh connections. In-use ones are left
        # to their callers.
        if isinstance(self.client, aioredis.Redis):
            with contextlib.suppress(Exception):
                await self.client.connection_pool.disconnect(inuse_connections=False)

    async def ping(self, timeout: float = 1.0) -> bool:
        """True when Redis answers."""
        try:
            await self.call(self.client.ping, timeout)
        except StoreUnavailable:
            return False
        return True

    async def close(self) -> None:
        await self.client.aclose()
        if self.embedded is not None:
            self.embedded.stop()
