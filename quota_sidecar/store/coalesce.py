"""Coalescing: the script calls made in one event-loop turn share one round trip to Redis.

Each call is still its own EVALSHA, sent back to back with the others on one connection and
answered in order (a non-transactional pipeline). So each call keeps its own atomic outcome:
Redis runs one script at a time, and a script error, a denial or a refused argument in one
call is that call's reply alone. What a batch shares is only the wire:

  * a call whose arguments cannot be packed (redis-py's DataError) fails alone; nothing of it
    is sent, and the rest of the batch goes out;
  * a NOSCRIPT reply (Redis restarted, or SCRIPT FLUSH) is per call: once every reply of the
    batch is read, the missing scripts are loaded and only those calls are sent again, on the
    same connection, in one more round trip;
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
every call made before that, in the same turn of the loop, rides along. Nothing waits for a
batch to fill, so a lone call costs what it did (one round trip) plus one loop turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["Coalescer"]


@dataclass(slots=True)
class _Call:
    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[Any]
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Batch:
    calls: list[_Call]
    waiting: int  # callers still waiting for their replies
    reading: bool = False  # replies are being read: the only time abandoning it is safe
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Coalescer:
    """Sends the script calls of one event-loop turn as one pipeline on one pooled connection.

    `round_trips` and `calls` count what was sent (a NOSCRIPT reload is one more round trip),
    so tests and benchmarks can tell how much was shared without MONITOR."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._pending: list[_Call] = []
        self._batches: set[asyncio.Task[None]] = set()  # strong references until each ends
        self.round_trips = 0
        self.calls = 0

    def call(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """An awaitable of the script's reply, raising what a lone EVALSHA would raise."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(_Call(script, keys, args, future))
        return future

    def _flush(self) -> None:
        # A call abandoned before it was sent (its caller's timeout) is left out: nothing of it
        # reaches Redis.
        calls = [c for c in self._pending if not c.future.done()]
        self._pending = []
        if not calls:
            return
        batch = _Batch(calls, len(calls))
        batch.task = asyncio.get_running_loop().create_task(self._send(batch))
        self._batches.add(batch.task)
        batch.task.add_done_callback(self._batches.discard)
        abandon = functools.partial(_abandon_if_unwanted, batch)
        for call in calls:
            call.future.add_done_callback(abandon)

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
        sent = _packed(connection, batch.calls)
        missing = await self._round_trip(connection, [], sent, batch)
        if missing:
            # Each script the batch lacked is loaded once, ahead of the calls that need it
            # (the sha does not change, so their packed EVALSHAs are sent as they were).
            scripts = {c.script.sha: c.script for c, _ in missing}
            loads = [connection.pack_command("SCRIPT", "LOAD", s.script) for s in scripts.values()]
            missing = await self._round_trip(connection, loads, missing, batch)
            for call, _ in missing:  # loaded and still missing: nothing of it ran
                _settle(call, exc=NoScriptError("the script was not found after loading it"))

    async def _round_trip(
        self,
        connection: AbstractConnection,
        first: list[list[bytes]],
        calls: list[tuple[_Call, list[bytes]]],
        batch: _Batch,
    ) -> list[tuple[_Call, list[bytes]]]:
        """Send `first` (SCRIPT LOADs) and then `calls`, read every reply in order and settle
        each call; returns the calls that met NOSCRIPT."""
        if not calls:
            return []
        self.round_trips += 1
        self.calls += len(calls)
        batch.reading = True
        wire = [part for packed in first for part in packed]
        wire += [part for _, packed in calls for part in packed]
        await connection.send_packed_command(wire)
        for _ in first:
            await connection.read_response()  # the sha, known already
        missing: list[tuple[_Call, list[bytes]]] = []
        for call, packed in calls:
            try:
                reply = await connection.read_response()
            except NoScriptError:
                missing.append((call, packed))
                continue
            except ResponseError as exc:  # the script's own error: this call's reply alone
                _settle(call, exc=exc)
                continue
            _settle(call, reply=reply)
        batch.reading = False
        return missing


def _packed(connection: AbstractConnection, calls: list[_Call]) -> list[tuple[_Call, list[bytes]]]:
    """Each call with its EVALSHA packed; a call whose arguments do not pack fails alone, with
    nothing of it sent."""
    kept: list[tuple[_Call, list[bytes]]] = []
    for call in calls:
        try:
            packed = connection.pack_command(
                "EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args
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
