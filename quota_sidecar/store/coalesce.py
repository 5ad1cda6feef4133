"""Coalescing: the script calls made in one event-loop turn share one round trip to Redis.

Each call is still its own FCALL (EVALSHA where Redis has no Functions: store/functions.py),
sent back to back with the others on one connection and
answered in order (a non-transactional pipeline). So each call keeps its own atomic outcome:
Redis runs one script at a time, and a script error, a denial or a refused argument in one
call is that call's reply alone. What a batch shares is only the wire:

  * a call whose arguments cannot be packed (redis-py's DataError) fails alone; nothing of it
    is sent, and the rest of the batch goes out;
  * a reply saying the call's script did not run (NOSCRIPT, "Function not found" after a
    restart or a flush; no Functions on this Redis) is per call: once every reply of the batch
    is read, what is missing is loaded (SCRIPT LOAD, FUNCTION LOAD) and only those calls are
    sent again, on the same connection, in one more round trip (by EVALSHA where Functions
    turned out unusable);
  * a connection that fails mid-batch gives every call whose reply was already read its real
    reply, and every other call the connection error, exactly as a lone call gets it today:
    the store turns it into StoreUnavailable(maybe_applied=True) and the engine undoes the
    check by its id (see Store._within and engine/durability/undo.py);
  * a caller that stops waiting (its timeout, or the store entering its unreachable state)
    leaves the batch reading the replies of the others; only when every caller of a batch has
    stopped waiting is the read abandoned and the connection dropped, so no reply is ever
    handed to the wrong call.

The queue bound and load shedding are the store's, unchanged: a call joins a batch only once
it holds one of the store's turns (store/redis.py), so a batch is never larger than the turns
in flight, and a call refused with Overloaded was never queued here.

Calls are gathered until the loop runs the flush scheduled by the first of them (call_soon):
every call made before that, in the same turn of the loop, rides along. While
BATCHES_IN_FLIGHT batches are out, calls gather until one comes back. Nothing waits for a batch
to fill, so a lone call costs what it did (one round trip) plus one loop turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from quota_sidecar.store.functions import LibraryScript, lacks_function, refuses_functions

__all__ = ["BATCHES_IN_FLIGHT", "Coalescer"]

# Batches on the wire at once. Calls made while all are out wait for one to come back and then
# go together: under a gRPC server, requests arrive one per loop turn, so batching by turn alone
# would send each call alone. Two keep Redis busy while the sidecar reads a batch's replies.
BATCHES_IN_FLIGHT = 2

# Sends of one call at most: the worst is an ACL user that may FCALL but not FUNCTION LOAD, on
# a Redis without our library: FCALL (not found), FUNCTION LOAD (refused) + FCALL, EVALSHA
# (NOSCRIPT), SCRIPT LOAD + EVALSHA.
_SENDS = 4


@dataclass(slots=True)
class _Call:
    script: LibraryScript
    keys: Sequence[str]
    args: Sequence[Any]
    future: asyncio.Future[Any]
    by_function: bool = True  # sent as FCALL (else EVALSHA)


@dataclass(slots=True)
class _Batch:
    calls: list[_Call]
    waiting: int  # callers still waiting for their replies
    reading: bool = False  # replies are being read: the only time abandoning it is safe
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Coalescer:
    """Sends the script calls of one event-loop turn (or made while BATCHES_IN_FLIGHT batches
    were out) as one pipeline on one pooled connection.

    `round_trips` and `calls` count what was sent (a NOSCRIPT reload is one more round trip),
    so tests and benchmarks can tell how much was shared without MONITOR."""

    def __init__(self, pool: ConnectionPool, batches_in_flight: int = BATCHES_IN_FLIGHT) -> None:
        self._pool = pool
        self._pending: list[_Call] = []
        self._scheduled = False  # a flush is due on the loop
        self._batches: set[asyncio.Task[None]] = set()  # in flight; strong references
        self._most = batches_in_flight
        self.round_trips = 0
        self.calls = 0

    def call(self, script: LibraryScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """An awaitable of the script's reply, raising what a lone call would raise."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Call(script, keys, args, future))
        if not self._scheduled and len(self._batches) < self._most:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        # A call abandoned before it was sent (its caller's timeout) is left out: nothing of it
        # reaches Redis.
        calls = [c for c in self._pending if not c.future.done()]
        self._pending = []
        if not calls:
            return
        batch = _Batch(calls, len(calls))
        batch.task = asyncio.get_running_loop().create_task(self._send(batch))
        self._batches.add(batch.task)
        batch.task.add_done_callback(self._batch_done)
        abandon = functools.partial(_abandon_if_unwanted, batch)
        for call in calls:
            call.future.add_done_callback(abandon)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        # The calls that arrived while the batches in flight were all taken go now, together.
        if self._pending and not self._scheduled:
            self._flush()

    async def _send(self, batch: _Batch) -> None:
        connection: AbstractConnection | None = None
        try:
            connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
            await self._exchange(connection, batch)
        except (Exception, asyncio.CancelledError) as exc:
            # Replies still on the wire belong to no one now: the connection goes. Nobody
            # awaits this task, so the failure is handed to the callers, not raised.
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.disconnect(nowait=True)
            _fail(batch.calls, exc)
        finally:
            if connection is not None:
                await self._pool.release(connection)

    async def _exchange(self, connection: AbstractConnection, batch: _Batch) -> None:
        calls = batch.calls
        loads: list[tuple[str, ...]] = []
        unrun: list[tuple[_Call, ResponseError]] = []
        for _ in range(_SENDS):
            sent = _packed(connection, calls)
            if not sent:
                return
            unrun, loads = await self._round_trip(connection, loads, sent, batch)
            calls = [call for call, _ in unrun]
        for call, exc in unrun:  # still not run after loading: as a lone call reports it
            _settle(call, exc=exc)

    async def _round_trip(
        self,
        connection: AbstractConnection,
        loads: list[tuple[str, ...]],
        calls: list[tuple[_Call, list[bytes]]],
        batch: _Batch,
    ) -> tuple[list[tuple[_Call, ResponseError]], list[tuple[str, ...]]]:
        """Send `loads` and then `calls`, read every reply in order and settle each call.
        Returns the calls whose scripts did not run, and what to load before sending them
        again."""
        self.round_trips += 1
        self.calls += len(calls)
        batch.reading = True
        wire = [part for load in loads for part in connection.pack_command(*load)]
        wire += [part for _, packed in calls for part in packed]
        await connection.send_packed_command(wire)
        for load in loads:
            try:
                await connection.read_response()
            except ResponseError as exc:  # FUNCTION LOAD refused: run by EVALSHA from now on
                if load[0] == "FUNCTION":
                    calls[0][0].script.library.give_up(exc)
        unrun: list[tuple[_Call, ResponseError]] = []
        needed: dict[str, tuple[str, ...]] = {}
        for call, _ in calls:
            try:
                reply = await connection.read_response()
            except ResponseError as exc:
                if _did_not_run(call, exc, needed):
                    unrun.append((call, exc))
                else:  # the script's own error: this call's reply alone
                    _settle(call, exc=exc)
                continue
            if call.by_function:
                call.script.library.usable = True
            _settle(call, reply=reply)
        batch.reading = False
        return unrun, list(needed.values())


def _did_not_run(call: _Call, exc: ResponseError, needed: dict[str, tuple[str, ...]]) -> bool:
    """Whether `exc` says that the call's script did not run, so that sending it again is safe;
    notes in `needed` what to load first."""
    script, text = call.script, str(exc)
    if isinstance(exc, NoScriptError):
        needed[script.sha] = ("SCRIPT", "LOAD", script.script)
        return True
    if not call.by_function:
        return False
    if refuses_functions(text):
        script.library.give_up(text)
        return True
    if lacks_function(text):
        if script.library.usable is not False:
            needed[""] = ("FUNCTION", "LOAD", "REPLACE", script.library.code)
        return True
    return False


def _packed(connection: AbstractConnection, calls: list[_Call]) -> list[tuple[_Call, list[bytes]]]:
    """Each call packed, as FCALL while this Redis may run our functions, else EVALSHA; a call
    whose arguments do not pack fails alone, with nothing of it sent."""
    kept: list[tuple[_Call, list[bytes]]] = []
    for call in calls:
        if call.future.done():  # its caller left before it was sent: nothing of it goes
            continue
        script = call.script
        call.by_function = script.library.usable is not False
        name = script.function if call.by_function else script.sha
        try:
            packed = connection.pack_command(
                "FCALL" if call.by_function else "EVALSHA",
                name,
                len(call.keys),
                *call.keys,
                *call.args,
            )
        except DataError as exc:
            _settle(call, exc=exc)
            continue
        kept.append((call, packed))
    return kept


def _settle(call: _Call, *, reply: Any = None, exc: BaseException | None = None) -> None:
    if call.future.done():  # its caller stopped waiting: the reply is dropped
        return
    if exc is None:
        call.future.set_result(reply)
    else:
        call.future.set_exception(exc)


def _fail(calls: list[_Call], exc: BaseException) -> None:
    """Every call not settled yet gets the failure as a lone call would have met it."""
    for call in calls:
        if call.future.done():
            continue
        if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
            # One exception object per caller: each raises and chains it on its own.
            failure: BaseException = RedisConnectionError(f"{type(exc).__name__}: {exc}")
            failure.__context__ = exc.__context__  # READONLY behind it: see sentinel.is_demoted
        elif isinstance(exc, asyncio.CancelledError):
            failure = RedisConnectionError("the batch was abandoned before its reply was read")
        else:
            failure = exc
        call.future.set_exception(failure)


def _abandon_if_unwanted(batch: _Batch, _settled: asyncio.Future[Any]) -> None:
    # Every caller stopped waiting (timeouts, or the store became unreachable): stop reading a
    # connection that may never answer. Only mid-read, so a connection is never left half-read.
    batch.waiting -= 1
    task = batch.task
    if not batch.waiting and batch.reading and task is not None and not task.done():
        task.cancel()
