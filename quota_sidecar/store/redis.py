"""The connection to Redis, the registry of Lua scripts, and the store's state.

Every operation of the engine is one script call: FCALL of the scripts' Functions library
(store/functions.py), or EVALSHA on a Redis without Functions (reloaded on NOSCRIPT). The calls
made in one turn of the event loop share one round trip (store/coalesce.py), each keeping its
own outcome; not on Cluster, and not for records replicas must confirm. Driver exceptions are
wrapped here and nowhere else.

Overload is not outage. The store is in one of two states:
  * reachable: calls wait for Redis, however long a burst makes them queue. At most
    MAX_SCRIPTS_IN_FLIGHT scripts are in flight; the others wait in a queue of at most
    `max_queue` calls, past which a call is refused at once with Overloaded (nothing sent). A
    caller may bound its own wait with `timeout=`: DeadlineExceeded, never a decision.
  * unreachable: entered when a connection fails (and a fresh probe fails too) or probes go
    unanswered on the wire (see probe.py: PING every `timeout` seconds from a thread; four
    unanswered in a row, each given `timeout`), so a dead Redis (refused) is noticed at once
    and a stopped one within about 5 x `timeout`. Entering it ends every call in flight
    at once with StoreUnavailable (maybe_applied=True for calls already sent), and new calls
    fail at once, so the engine applies the quotas' failure modes. It is left when a probe
    answers.

On Sentinel (store/sentinel.py) the probe checks the master the sentinels name, the pool
follows it, a call that meets a demoted master (READONLY: nothing written) is sent once more
to the new one, and a record is confirmed by replicas before it counts as recorded
(store/replication.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from quota_sidecar.domain.errors import DeadlineExceeded, Overloaded, StoreUnavailable
from quota_sidecar.store.clients import drop_idle_connections, open_client, resolve_redis_url
from quota_sidecar.store.coalesce import Coalescer
from quota_sidecar.store.embedded import EmbeddedRedis
from quota_sidecar.store.functions import (
    LibraryScript,
    ScriptLibrary,
    bundled_library,
    bundled_script,
)
from quota_sidecar.store.options import DEFAULT_MAX_QUEUE, DEFAULT_TIMEOUT, StoreOptions
from quota_sidecar.store.probe import Prober, SharedProbe
from quota_sidecar.store.replication import run_confirmed
from quota_sidecar.store.sentinel import following_pool, is_demoted
from quota_sidecar.tracing import store_span

__all__ = ["DEFAULT_MAX_QUEUE", "DEFAULT_TIMEOUT", "Store", "StoreOptions", "resolve_redis_url"]

log = logging.getLogger(__name__)
MAX_SCRIPTS_IN_FLIGHT = 32
# Other calls (pipelines, commands) in flight at once on a cluster. redis-py's cluster client
# keeps at most 100 connections per node and fails a call beyond them (MaxConnectionsError,
# which would read as an outage) where a single Redis's blocking pool makes it wait; with the
# scripts' turns this leaves room for the direct commands and the probe.
MAX_CLUSTER_CALLS_IN_FLIGHT = 48
_BUSY_REPLIES = ("LOADING", "BUSY ", "MASTERDOWN")


class Store:
    """A Redis client, the loaded scripts, the call queue and the store's state."""

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        options: StoreOptions | None = None,
        *,
        embedded: EmbeddedRedis | None = None,
        url: str | None = None,
        sentinel: AsyncSentinel | None = None,
    ) -> None:
        self.options = options = options or StoreOptions()
        self.client = client
        self.sentinel = sentinel  # the sentinels naming the master, closed with the store
        self.replica_acks = options.replica_acks
        self.replica_ack_timeout_ms = options.replica_ack_timeout_ms
        self.url = url
        self.timeout = options.timeout  # the probe's: see the module docstring
        self.max_queue = options.max_queue
        self.embedded = embedded
        self.is_cluster = isinstance(client, RedisCluster)
        # On Cluster each call goes alone: a batch would have to be split by node, and redirects
        # (MOVED, ASK) during a reshard answered per call; engine/cluster.py already sends one
        # script per slot group.
        self.coalescer = (
            Coalescer(client.connection_pool)
            if options.coalesce and isinstance(client, aioredis.Redis)
            else None
        )
        self._scripts: dict[str, LibraryScript] = {}
        self._library: ScriptLibrary | None = None
        self._turns = asyncio.Semaphore(MAX_SCRIPTS_IN_FLIGHT)
        self._cluster_calls = (
            asyncio.Semaphore(MAX_CLUSTER_CALLS_IN_FLIGHT) if self.is_cluster else None
        )
        self._waiting = 0
        self._reachable = True
        self._reason = ""
        self._listeners: list[Callable[[bool], None]] = []
        self._in_flight: set[asyncio.Timeout] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._prober: Prober | None = None
        self._probing = SharedProbe()  # on-demand probes (ping)
        self._verdict_sent = 0.0  # when the probe behind the state in force was sent

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        data_dir: Path | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        coalesce: bool = True,
    ) -> Store:
        resolved, embedded = resolve_redis_url(url, data_dir)
        opened = open_client(resolved)
        options = StoreOptions(
            timeout=timeout,
            max_queue=max_queue,
            replica_acks=opened.replica_acks,
            replica_ack_timeout_ms=opened.replica_ack_timeout_ms,
            coalesce=coalesce,
        )
        return cls(
            opened.client, options, embedded=embedded, url=resolved, sentinel=opened.sentinel
        )

    # --- state -----------------------------------------------------------------------------
    @property
    def reachable(self) -> bool:
        """False while the store is in its unreachable state (see the module docstring)."""
        return self._reachable

    @property
    def replicas(self) -> int | None:
        """Replicas connected to the master at the last probe (Sentinel only, else None)."""
        return None if self._prober is None else self._prober.replicas

    @property
    def queued(self) -> int:
        """Calls waiting for a turn now."""
        return self._waiting

    def on_state_change(self, listener: Callable[[bool], None]) -> None:
        """Call `listener(reachable)` on the event loop at every change of state."""
        self._listeners.append(listener)

    def _bind_loop(self) -> None:
        # The probe reports to the loop that uses the store; started on first use, since a
        # store may be built before any loop runs.
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        if self._prober is not None:
            self._prober.stop()
        if self.url is not None:
            self._prober = Prober(
                self.url, timeout=self.timeout, interval=self.timeout, report=self._report
            ).start()

    def _report(self, ok: bool, reason: str, started: float) -> None:
        """From the probe's thread: hand the result to the loop (RuntimeError once it closed)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("the store's event loop is closed")
        loop.call_soon_threadsafe(self._observe, ok, reason, started)

    def _observe(self, ok: bool, reason: str, started: float) -> None:
        # Verdicts can arrive out of order (the probe thread's and an on-demand ping's): the
        # one from the probe sent last wins, so a stale "down" never undoes a fresh "up".
        if started < self._verdict_sent:
            return
        self._verdict_sent = started
        self._follow_master()
        if ok == self._reachable:
            return
        self._reachable, self._reason = ok, reason
        if ok:
            log.warning("store is reachable again")
        else:
            log.error("store is UNREACHABLE (%s): deciding by the quotas' failure modes", reason)
            now = asyncio.get_running_loop().time()
            for pending in list(self._in_flight):
                with contextlib.suppress(RuntimeError):  # already expiring on its own
                    pending.reschedule(now)
        for listener in list(self._listeners):
            try:
                listener(ok)
            except Exception:  # one listener must not stop the others
                log.exception("store state listener failed")

    def _follow_master(self) -> None:
        # On Sentinel, the probe verifies the master the sentinels name; the pool moves there.
        pool = following_pool(self.client)
        named = None if self._prober is None else self._prober.master
        if pool is not None and named is not None and pool.master_address not in (None, named):
            log.warning("the sentinels name a new master, %s:%s", *named)
            pool.follow(named)

    async def _connection_failed(self, reason: str) -> None:
        # A broken connection is a reason to look, not yet proof: after a Redis restart the
        # pool's old connections fail once each while Redis answers fine. So probe at once on
        # a fresh connection: a refused one enters the unreachable state, one that only goes
        # unanswered is left to the probe thread's rule (several misses in a row).
        if self.url is None:
            self._observe(False, reason, time.monotonic())
        elif self._reachable:
            await self.ping()

    # --- calls -----------------------------------------------------------------------------
    def script(self, name: str) -> LibraryScript:
        """The script store/scripts/NAME: a function of the library (FCALL) where Redis has
        Functions, else EVALSHA of its text (store/functions.py)."""
        found = self._scripts.get(name)
        if found is None:
            if self._library is None:
                self._library = bundled_library()
            fallback = self.client.register_script(bundled_script(name))
            found = LibraryScript(self._library, name, fallback)
            self._scripts[name] = found
        return found

    async def run(
        self,
        name: str,
        keys: Sequence[str],
        args: Sequence[Any],
        timeout: float | None = None,
        *,
        replicated: bool = False,
    ) -> Any:
        """Run one script atomically, in one round trip, after waiting for a turn.

        `timeout` bounds this caller's whole wait (None: wait as long as the store is
        reachable). Raises Overloaded when the queue is full, DeadlineExceeded when the timeout
        passes first, StoreUnavailable when the store is or becomes unreachable; each says in
        `maybe_applied` whether the script had been sent. `replicated`: the write must also be
        confirmed by `replica_acks` replicas (if the store asks for any), else StoreUnavailable
        with maybe_applied=True (see store/replication.py).
        """
        script = self.script(name)
        self._bind_loop()
        self._refuse_if_unreachable()
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        if self._turns.locked() and self._waiting >= self.max_queue:
            raise Overloaded(f"{self._waiting} store calls are already waiting")
        if self._turns.locked():
            self._waiting += 1
            try:
                await self._within(self._turns.acquire(), deadline, sent=False)
            finally:
                self._waiting -= 1
        else:
            await self._turns.acquire()  # a free turn is taken at once: nothing to time
        try:
            self._refuse_if_unreachable()
            send = self._send(script, keys, args, replicated=replicated)
            with store_span(name):  # a no-op unless tracing is on (quota_sidecar/tracing.py)
                return await self._within(send, deadline)
        finally:
            self._turns.release()

    async def _send(
        self, script: LibraryScript, keys: Sequence[str], args: Sequence[Any], *, replicated: bool
    ) -> Any:
        for attempt in range(2):
            try:
                if replicated and self.replica_acks and isinstance(self.client, aioredis.Redis):
                    return await run_confirmed(
                        self.client,
                        script,
                        keys,
                        args,
                        acks=self.replica_acks,
                        timeout_ms=self.replica_ack_timeout_ms,
                        replicas_known=self.replicas,
                    )
                if self.coalescer is not None:
                    return await self.coalescer.call(script, keys, args)
                return await script(keys=list(keys), args=list(args))
            except (RedisConnectionError, ResponseError) as exc:
                # A master demoted by a failover refuses the script's first write: nothing ran.
                # Its connections are dropped, and one more attempt asks the sentinels afresh.
                if attempt or not is_demoted(exc):
                    raise
                log.warning("the master was demoted (%s): sending to the new one", exc)
                pool = following_pool(self.client)
                if pool is not None:
                    await pool.get_master_address()  # the pool moves to the new master
                else:
                    await drop_idle_connections(self.client)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def call(self, operation: Any, timeout: float | None = None) -> Any:
        """Await `operation()` (a pipeline, a command) under the same rules as `run`, without
        waiting for a turn."""
        self._bind_loop()
        self._refuse_if_unreachable()
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        with store_span(getattr(operation, "__name__", "operation"), script=False):
            return await self._within(self._bounded(operation), deadline)

    async def _bounded(self, operation: Any) -> Any:
        """`operation()`, on a cluster once fewer than MAX_CLUSTER_CALLS_IN_FLIGHT are out."""
        if self._cluster_calls is None:
            return await operation()
        async with self._cluster_calls:
            return await operation()

    def _refuse_if_unreachable(self) -> None:
        if not self._reachable:
            raise StoreUnavailable(f"Redis is unreachable: {self._reason}")

    async def _within(
        self, step: Awaitable[Any], deadline: float | None, *, sent: bool = True
    ) -> Any:
        try:
            async with asyncio.timeout_at(deadline) as pending:
                self._in_flight.add(pending)
                try:
                    return await step
                finally:
                    self._in_flight.discard(pending)
        except TimeoutError as exc:
            if not self._reachable:
                raise StoreUnavailable(
                    f"Redis is unreachable: {self._reason}", maybe_applied=sent
                ) from exc
            what = "before Redis answered" if sent else "while the call waited for its turn"
            raise DeadlineExceeded(f"the timeout passed {what}", maybe_applied=sent) from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            await drop_idle_connections(self.client)
            await self._connection_failed(f"{type(exc).__name__}: {exc}")
            applied = sent and not is_demoted(exc)  # a demoted master wrote nothing
            raise StoreUnavailable(f"Redis is unreachable: {exc}", maybe_applied=applied) from exc
        except ResponseError as exc:
            message = str(exc)
            if is_demoted(exc):  # still no master after a second try: nothing was written
                await drop_idle_connections(self.client)
                await self._connection_failed(f"the master was demoted: {message}")
                raise StoreUnavailable(f"no master now: {message}") from exc
            # A server that cannot answer now ran nothing; BUSYGROUP and the like are errors.
            if message.startswith(_BUSY_REPLIES):
                if self._prober is not None:
                    self._prober.wake()
                raise StoreUnavailable(message) from exc
            raise
        except RedisError as exc:
            raise StoreUnavailable(f"Redis failed: {exc}", maybe_applied=sent) from exc

    async def ping(self, timeout: float | None = None) -> bool:
        """Probe now, on a fresh connection off the event loop; updates the state. Callers
        that ask while a probe is under way share its answer."""
        self._bind_loop()
        if self.url is None:
            return self._reachable
        ok, reason, missed, sent = await self._probing.probe(self.url, timeout or self.timeout)
        if ok or not missed:
            self._observe(ok, reason, sent)
        elif self._prober is not None:
            self._prober.wake()  # a miss alone is no verdict: the probe thread's rule decides
        return ok

    async def close(self) -> None:
        prober, self._prober = self._prober, None
        if prober is not None:
            await asyncio.to_thread(prober.stop)
        await self.client.aclose()
        if self.sentinel is not None:
            await self.sentinel.aclose()
        if self.embedded is not None:
            self.embedded.stop()
