"""The store's reachability probe: a PING on its own connection, in its own thread.

"Unreachable" must mean that Redis did not answer on the wire, never that this process was too
busy to read the answer. A probe on the event loop cannot tell the two apart: under a burst, the
loop itself is the wait. So the probe runs in a thread, on a blocking socket whose timeout the
kernel enforces (poll), and only reports its verdict to the loop.

One probe is sent every `interval`. A refused or broken connection, or a Redis that answers it
cannot serve (LOADING, BUSY, MASTERDOWN), fails it at once. A probe with no answer within
`timeout` is only a miss: a Redis starved of CPU on a loaded machine is slow, not gone. After a
miss the next probe goes out at once, and `misses` (4) misses in a row fail. So a stopped or
unreachable Redis is noticed within about (misses + 1) x timeout. The owner is told of every
verdict (`report(ok, reason, started)`, `started` being the time.monotonic() at which the probe
behind it was sent, so the owner can drop a verdict older than one it already has), from this
thread; it hops to its event loop itself.

On a redis+sentinel:// URL the probe asks the sentinels where the master is (on each fresh
connection) and sends ROLE instead of PING: a server that answers but is no longer the master
(demoted by a failover) fails the probe like a refused connection, and the probe's next, fresh
connection asks the sentinels again. ROLE also says how many replicas are connected
(`replicas`), which decides whether a record can be confirmed by one (store/replication.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from quota_sidecar.store.sentinel import SENTINEL_SCHEME, parse_sentinel_url, sync_master

__all__ = ["Prober", "SharedProbe", "probe_url"]

log = logging.getLogger(__name__)


class Prober:
    """Pings Redis every `interval` seconds from a daemon thread until stopped."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        interval: float,
        report: Callable[[bool, str, float], None],
        misses: int = 4,
    ) -> None:
        self._url = url
        self._misses = misses
        self._timeout = timeout
        self._interval = interval
        self._report = report
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quota-store-probe", daemon=True)
        self._client: redis.Redis | RedisCluster | None = None
        self._sentinel: Sentinel | None = None
        # Replicas connected to the master at the last probe (None: not known, not Sentinel).
        # Written by the probe's thread, read by the store: one reference, no lock needed.
        self.replicas: int | None = None
        self.master: tuple[str, int] | None = None  # the master the last probe verified
        self._service = ""

    def start(self) -> Prober:
        self._thread.start()
        return self

    def wake(self) -> None:
        """Probe now instead of at the next interval (a call just saw a connection fail)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self._timeout + 1.0)
        self._close_client()

    def _probe(self) -> tuple[bool, str, bool]:
        """(answered, why not, only a miss: no answer in time). A connection kept from an
        earlier probe may have died with a Redis that is back by now: such a failure is tried
        once more on a fresh connection before it counts."""
        reused = self._client is not None
        ok, reason, missed = self._ping()
        if not ok and reused and not missed and self._client is None:
            return self._ping()
        return ok, reason, missed

    def _ping(self) -> tuple[bool, str, bool]:
        try:
            client = self._connect()
            if isinstance(client, RedisCluster):
                client.ping(target_nodes=RedisCluster.ALL_NODES)
            elif self._sentinel is not None:
                refused = self._check_master(client, self._sentinel)
                if refused:
                    self._close_client()  # the next try asks the sentinels afresh
                    return False, refused, False
            else:
                client.ping()
        except redis.exceptions.ResponseError as exc:
            # LOADING, BUSY, MASTERDOWN: Redis answered, but cannot serve calls now.
            return False, str(exc), False
        except (redis.exceptions.RedisError, OSError) as exc:
            self._close_client()  # a fresh connection next time
            missed = isinstance(exc, redis.exceptions.TimeoutError | TimeoutError)
            return False, f"{type(exc).__name__}: {exc}", missed
        return True, "", False

    def _check_master(self, client: redis.Redis, sentinel: Sentinel) -> str:
        """'' when the server this connection reached is the master the sentinels name now
        (and how many replicas it has is noted); else why not."""
        role = client.execute_command("ROLE")  # type: ignore[no-untyped-call]
        if _text(role[0]) != "master":
            return f"the server the sentinels named is a {_text(role[0])} now"
        pool: Any = client.connection_pool  # a SentinelConnectionPool
        reached = pool.master_address
        discover: Callable[[str], Any] = sentinel.discover_master
        if discover(self._service) != reached:
            return "the sentinels name another master now"
        self.replicas, self.master = len(role[2]), reached
        return ""

    def _connect(self) -> redis.Redis | RedisCluster:
        if self._client is None:
            options = {"socket_timeout": self._timeout, "socket_connect_timeout": self._timeout}
            if self._url.startswith(SENTINEL_SCHEME):
                target = parse_sentinel_url(self._url)
                self._sentinel, self._client = sync_master(target, timeout=self._timeout)
                self._service = target.service
            elif self._url.startswith("redis+cluster://"):
                url = "redis://" + self._url.removeprefix("redis+cluster://")
                self._client = RedisCluster.from_url(url, **options)
            else:
                self._client = redis.Redis.from_url(
                    self._url, single_connection_client=True, **options
                )
        return self._client

    def _close_client(self) -> None:
        client, self._client = self._client, None
        sentinel, self._sentinel = self._sentinel, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        for each in sentinel.sentinels if sentinel is not None else []:
            with contextlib.suppress(Exception):
                each.close()

    def _run(self) -> None:
        try:
            missed = 0
            while not self._stop.is_set():
                started = time.monotonic()
                ok, reason, miss = self._probe()
                if self._stop.is_set():
                    break
                missed = missed + 1 if miss else 0
                if miss and missed < self._misses:
                    continue  # no verdict yet: ask again at once
                try:
                    self._report(ok, reason, started)
                except RuntimeError:  # the loop it reports to is closed: nobody is listening
                    break
                self._wake.wait(self._interval)
                self._wake.clear()
        finally:
            self._close_client()


def probe_url(url: str, timeout: float) -> tuple[bool, str, bool]:
    """One probe on a fresh connection; (answered, why not, only a miss: no answer in time).
    Blocking: call it from a thread."""
    prober = Prober(url, timeout=timeout, interval=timeout, report=lambda ok, why, at: None)
    try:
        return prober._probe()
    finally:
        prober.stop()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SharedProbe:
    """One on-demand probe at a time (Store.ping), off the event loop: callers that ask while
    one is under way share its answer."""

    def __init__(self) -> None:
        self._future: asyncio.Future[tuple[bool, str, bool]] | None = None
        self._sent = 0.0

    async def probe(self, url: str, timeout: float) -> tuple[bool, str, bool, float]:
        """`probe_url`'s (ok, reason, missed), and when the probe answering was sent
        (time.monotonic())."""
        if self._future is None or self._future.done():
            self._sent = time.monotonic()
            self._future = asyncio.ensure_future(asyncio.to_thread(probe_url, url, timeout))
        sent = self._sent
        ok, reason, missed = await asyncio.shield(self._future)
        return ok, reason, missed, sent
