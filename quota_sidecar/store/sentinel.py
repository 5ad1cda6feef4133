"""Redis Sentinel: the URL that names a monitored master, and clients that follow it.

    redis+sentinel://[user:password@]host[:port][,host[:port]...]/service_name[/db][?options]

The hosts are the sentinels (port 26379 when omitted); the user and password, if any, are the
master's (and its replicas'), as in redis://. Options:
  * sentinel_username, sentinel_password: the sentinels' own auth (none by default);
  * replica_acks (default 1): how many replicas must confirm a record (WAIT) before it is
    acknowledged as recorded; 0 turns the confirmation off;
  * replica_ack_timeout_ms (default 250): how long a record waits for those confirmations
    before it is treated as unconfirmed (spooled, replayed later by its idempotency key).

Master discovery is redis-py's own (Sentinel.master_for): every new connection asks the
sentinels where the master is now, and a connection whose server answers READONLY (a demoted
master) is closed and reported as a ConnectionError, so the next one goes to the new master.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.retry import Retry
from redis.sentinel import Sentinel

from quota_sidecar.domain.errors import InvalidInput

__all__ = [
    "SENTINEL_SCHEME",
    "FollowingPool",
    "SentinelTarget",
    "async_master",
    "following_pool",
    "is_demoted",
    "parse_sentinel_url",
    "sync_master",
]

SENTINEL_SCHEME = "redis+sentinel://"
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_REPLICA_ACKS = 1
DEFAULT_REPLICA_ACK_TIMEOUT_MS = 250
# Seconds a sentinel may take to say where the master is. Asked on the event loop for each new
# connection; a sentinel that does not answer in time is skipped for the next one.
_SENTINEL_TIMEOUT = 2.0
_OPTIONS = ("sentinel_username", "sentinel_password", "replica_acks", "replica_ack_timeout_ms")
_FIELD = "redis_url"


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a redis+sentinel:// URL names."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    replica_acks: int = DEFAULT_REPLICA_ACKS
    replica_ack_timeout_ms: int = DEFAULT_REPLICA_ACK_TIMEOUT_MS

    def sentinel_options(self, timeout: float) -> dict[str, Any]:
        return {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "username": self.sentinel_username,
            "password": self.sentinel_password,
        }

    def master_options(self) -> dict[str, Any]:
        return {"db": self.db, "username": self.username, "password": self.password}


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The target of a redis+sentinel:// URL; InvalidInput (field redis_url) naming the part
    that is wrong."""
    if not url.startswith(SENTINEL_SCHEME):
        raise InvalidInput(_FIELD, f"a Sentinel URL starts with {SENTINEL_SCHEME}")
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, password = _userinfo(userinfo)
    sentinels = tuple(_host_port(item) for item in hosts.split(","))
    names = [unquote(p) for p in parts.path.split("/")[1:]]
    if not names or not names[0] or len(names) > 2:
        raise InvalidInput(_FIELD, "expected /service_name or /service_name/db after the hosts")
    db = _integer(names[1], "the db", minimum=0) if len(names) == 2 else 0
    options = _options(parts.query)
    return SentinelTarget(
        sentinels=sentinels,
        service=names[0],
        db=db,
        username=username,
        password=password,
        sentinel_username=options.get("sentinel_username"),
        sentinel_password=options.get("sentinel_password"),
        replica_acks=_integer(
            options.get("replica_acks", str(DEFAULT_REPLICA_ACKS)), "replica_acks", minimum=0
        ),
        replica_ack_timeout_ms=_integer(
            options.get("replica_ack_timeout_ms", str(DEFAULT_REPLICA_ACK_TIMEOUT_MS)),
            "replica_ack_timeout_ms",
            minimum=1,
        ),
    )


def _userinfo(userinfo: str) -> tuple[str | None, str | None]:
    if not userinfo:
        return None, None
    user, sep, password = userinfo.partition(":")
    if not sep:  # redis://secret@host means a password, as redis-py reads it
        return None, unquote(user)
    return unquote(user) or None, unquote(password)


def _host_port(item: str) -> tuple[str, int]:
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
        if rest and not rest.startswith(":"):
            raise InvalidInput(_FIELD, f"bad sentinel address {item!r}")
    else:
        host, _, port = item.partition(":")
    if not host:
        raise InvalidInput(_FIELD, f"a sentinel address has no host: {item!r}")
    if not port:
        return host, DEFAULT_SENTINEL_PORT
    number = _integer(port, f"the port of {item!r}", minimum=1)
    if number > 65535:
        raise InvalidInput(_FIELD, f"the port of {item!r} is above 65535")
    return host, number


def _integer(text: str, what: str, *, minimum: int) -> int:
    if not text.isdigit() or int(text) < minimum:
        raise InvalidInput(_FIELD, f"{what} must be an integer of at least {minimum}, got {text!r}")
    return int(text)


def _options(query: str) -> dict[str, str]:
    try:
        found = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise InvalidInput(_FIELD, f"bad query string: {exc}") from exc
    options: dict[str, str] = {}
    for name, values in found.items():
        if name not in _OPTIONS:
            raise InvalidInput(_FIELD, f"unknown option {name!r} (known: {', '.join(_OPTIONS)})")
        if len(values) != 1:
            raise InvalidInput(_FIELD, f"option {name!r} is given more than once")
        options[name] = values[0]
    return options


class FollowingPool(SentinelConnectionPool, BlockingConnectionPool):
    """SentinelConnectionPool's master discovery with BlockingConnectionPool's wait for a free
    connection (a burst beyond the pool waits instead of failing with "Too many connections",
    as on a plain Redis URL), and a pool that moves to a new master as soon as it is known.

    redis-py asks the sentinels only when it opens a connection, so a warm pool keeps writing
    to a master that a coordinated failover replaced but has not demoted yet (the sentinels
    demote it seconds later, and its writes since the switch are lost). So the store's probe
    tells the pool (`follow`), and a connection to any other server is reconnected by the task
    that takes it, before its first command. (redis-py's own way, closing the idle connections
    when the address changes, races with a task that takes one of them meanwhile: that task's
    command fails with "Connection lost" on a healthy master.)
    """

    def follow(self, address: tuple[str, int]) -> None:
        """Use the master at `address` from now on."""
        self.master_address = address

    async def get_master_address(self) -> Any:
        address = await self.sentinel_manager.discover_master(self.service_name)
        self.master_address = address  # connections elsewhere move as they are taken
        return address

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        connection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        address = (connection.host, connection.port)
        if self.master_address is None or address == self.master_address:
            return connection
        try:
            await connection.disconnect()
            await connection.connect()  # to the master the sentinels name now
        except BaseException:
            await self.release(connection)
            raise
        return connection


def following_pool(client: object) -> FollowingPool | None:
    """The client's connection pool when it follows the sentinels' master, else None."""
    pool = client.connection_pool if isinstance(client, aioredis.Redis) else None
    return pool if isinstance(pool, FollowingPool) else None


def async_master(
    target: SentinelTarget, *, max_connections: int, connect_timeout: float
) -> tuple[AsyncSentinel, aioredis.Redis]:
    """The sentinels and a client of the master they name now (and after every failover).
    The caller closes both."""
    # No retries inside the driver: a sentinel that is down is skipped for the next one, and a
    # failed call is the store's to judge (store/redis.py), never silently sent twice.
    no_retry = AsyncRetry(NoBackoff(), 0)
    sentinel = AsyncSentinel(
        list(target.sentinels),
        sentinel_kwargs={**target.sentinel_options(_SENTINEL_TIMEOUT), "retry": no_retry},
    )
    client = sentinel.master_for(
        target.service,
        connection_pool_class=FollowingPool,
        decode_responses=True,
        socket_connect_timeout=connect_timeout,
        max_connections=max_connections,
        timeout=None,  # the pool's wait for a free connection: as long as it takes
        **target.master_options(),
    )
    return sentinel, client


def sync_master(target: SentinelTarget, *, timeout: float) -> tuple[Sentinel, redis.Redis]:
    """Blocking clients for the probe's thread: the sentinels and the master they name now."""
    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    sentinel = Sentinel(
        list(target.sentinels),
        sentinel_kwargs={**target.sentinel_options(timeout), "retry": Retry(NoBackoff(), 0)},
    )
    client: redis.Redis = sentinel.master_for(target.service, **options, **target.master_options())
    return sentinel, client


def is_demoted(exc: BaseException) -> bool:
    """Whether a failed call met a server that is no longer the master (READONLY): it wrote
    nothing. redis-py turns READONLY on a master connection into a ConnectionError raised while
    handling the ReadOnlyError; Redis before 7 wraps a script's READONLY in its own error."""
    if isinstance(exc, RedisConnectionError) and isinstance(exc.__context__, ReadOnlyError):
        return True
    return isinstance(exc, ResponseError) and "READONLY" in str(exc)
