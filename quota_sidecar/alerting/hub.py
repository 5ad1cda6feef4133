"""Live alert delivery inside one process: ONE reader task tails the shared stream and fans each
alert out into small bounded per-subscriber queues.

Why one reader: a blocking XREAD holds a Redis connection for as long as it waits, so a reader
per subscriber would tie up one connection per open stream. One reader per process costs one
connection however many subscribers there are.

Why bounded queues: a slow subscriber must neither block the others nor grow memory. The reader
never waits on a subscriber; when a subscriber's queue is full it is detached, drains what it
already holds (a contiguous run of alerts), and then ends with SubscriberTooSlow carrying the
last alert id it passed, so it can resume from there with no loss (the stream retains 7 days).

Replay then live, with no loss and no duplicate at the seam: a subscriber with a cursor first
pages through the stream with XRANGE until it is (nearly) caught up, then attaches to the reader
at the reader's position P in one synchronous step, fills the remaining gap (last, P] with one
more XRANGE, and from then on takes only queued alerts, which are all after P.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from quota_sidecar.domain.alert_filters import MAX_CURSOR, AlertFilter, cursor_key, later_cursor
from quota_sidecar.domain.errors import QuotaSidecarError
from quota_sidecar.domain.results import Alert
from quota_sidecar.store.alert_codec import ALERTS_STREAM, decode_entry
from quota_sidecar.store.alert_streams import AlertEntry, AlertStreams
from quota_sidecar.store.redis import Store

__all__ = [
    "AlertHub",
    "Heartbeat",
    "LagObserver",
    "SubscriberTooSlow",
    "decode_entry",
    "entry_age",
    "read_entries",
]

log = logging.getLogger(__name__)

PAGE = 500  # entries per XRANGE / XREAD round trip


class SubscriberTooSlow(QuotaSidecarError):
    """A subscriber fell more than its queue behind; resume from `cursor`."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"subscriber fell too far behind; resume from cursor {cursor}")
        self.cursor = cursor


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Sent on idle subscriptions; `cursor` is the last alert id passed (sent or filtered out)."""

    cursor: str


async def read_entries(
    store: Store, stream: str, after: str, *, until: str = "+", count: int = PAGE
) -> list[AlertEntry]:
    """Up to `count` entries strictly after `after` (and at most `until`)."""
    if cursor_key(after) == cursor_key(MAX_CURSOR):
        return []  # Redis refuses an exclusive start at the last possible id: nothing follows
    return await AlertStreams(store, stream).read_range(after, until, count=count)


LagObserver = Callable[[float], None]


def entry_age(entry_id: str, now: float | None = None) -> float:
    """Seconds since the stream entry was added (its id is Redis's clock in ms; a Redis clock
    ahead of ours reads as 0, never negative)."""
    added_ms = int(entry_id.split("-", 1)[0])
    now_ms = (time.time() if now is None else now) * 1000
    return max(0.0, (now_ms - added_ms) / 1000)


class _Subscriber:
    def __init__(self, flt: AlertFilter, queue_size: int, passed: str) -> None:
        self.filter = flt
        self.queue: asyncio.Queue[Alert | None] = asyncio.Queue(maxsize=queue_size)
        self.passed = passed  # the last alert id handed out, or the start position
        self.filtered = passed  # the last id filtered out while the queue was empty
        self.overflowed = False


class AlertHub:
    """Fans the shared alert stream out to any number of subscribers in this process."""

    def __init__(
        self,
        store: Store,
        *,
        stream: str = ALERTS_STREAM,
        queue_size: int = 1000,
        block_ms: int = 1000,
        on_delivery: LagObserver | None = None,
    ) -> None:
        self._store = store
        self._streams = AlertStreams(store, stream)
        self._on_delivery = on_delivery  # each live alert's lag, when it reaches the queues
        self._stream = stream
        self._queue_size = queue_size
        self._block_ms = block_ms
        self._subscribers: set[_Subscriber] = set()
        self._position = "0-0"
        self._reader: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def recent(
        self, flt: AlertFilter, count: int, *, scan: int = PAGE
    ) -> tuple[list[Alert], str]:
        """Up to `count` matching alerts, newest first, from the newest `scan` entries (a bound:
        a page of recent alerts must not read the whole 7-day stream for a quiet subject), and
        the id of the newest entry ("0" for an empty stream): the cursor to follow live from,
        so nothing that arrives after this read is missed."""
        entries = await self._streams.newest(scan)
        found: list[Alert] = []
        for entry in entries:
            if entry.alert is not None and flt.matches(entry.alert):
                found.append(entry.alert)
                if len(found) == count:
                    break
        return found, (entries[0].id if entries else "0")

    async def events(
        self,
        flt: AlertFilter,
        cursor: str | None = None,
        heartbeat_interval: float | None = None,
    ) -> AsyncIterator[Alert | Heartbeat]:
        """Matching alerts after `cursor` (None: live only), then live ones, until close().

        Yields a Heartbeat after each `heartbeat_interval` seconds without an alert. Raises
        SubscriberTooSlow when the subscriber fell behind, StoreUnavailable when a replay read
        fails.
        """
        last = cursor
        if cursor is not None:
            async for alert, passed in self._replay(flt, cursor, "+"):
                last = passed
                if alert is not None:
                    yield alert
        await self._ensure_reader()
        # Attach at the reader's position in one synchronous step (no await in between).
        position = self._position
        start = position if last is None else later_cursor(last, position)
        sub = _Subscriber(flt, self._queue_size, start)
        self._subscribers.add(sub)
        try:
            if last is not None and cursor_key(position) > cursor_key(last):
                async for alert, _ in self._replay(flt, last, position):
                    if alert is not None:
                        yield alert
            async for event in self._live(sub, heartbeat_interval):
                yield event
        finally:
            self._subscribers.discard(sub)

    async def _replay(
        self, flt: AlertFilter, after: str, until: str
    ) -> AsyncIterator[tuple[Alert | None, str]]:
        while True:
            page = await read_entries(self._store, self._stream, after, until=until)
            for entry in page:
                after, alert = entry.id, entry.alert
                yield (alert if alert is not None and flt.matches(alert) else None), after
            if len(page) < PAGE:
                return

    async def _live(
        self, sub: _Subscriber, heartbeat_interval: float | None
    ) -> AsyncIterator[Alert | Heartbeat]:
        while not self._closed:
            if sub.overflowed and sub.queue.empty():
                raise SubscriberTooSlow(sub.passed)
            try:
                async with asyncio.timeout(heartbeat_interval):
                    item = await sub.queue.get()
            except TimeoutError:
                yield Heartbeat(later_cursor(sub.passed, sub.filtered))
                continue
            if item is None:  # a wake-up: closing
                continue
            sub.passed = item.id
            yield item

    async def _ensure_reader(self) -> None:
        if self._closed or (self._reader is not None and not self._reader.done()):
            return
        async with self._start_lock:
            if self._reader is not None and not self._reader.done():
                return
            last = await self._streams.newest(1)
            self._position = last[0].id if last else "0-0"
            self._reader = asyncio.create_task(self._read_forever(), name="alert-hub-reader")

    async def _read_forever(self) -> None:
        backoff = 0.05
        while not self._closed:
            try:
                entries = await self._streams.read_after(
                    self._position, count=PAGE, block_ms=self._block_ms
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # StoreUnavailable, or anything else: never die silently
                # Subscribers keep their place; they get heartbeats until Redis is back.
                log.warning("alert stream read failed, retrying in %.2fs: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            for entry in entries:
                self._dispatch(entry)

    def _dispatch(self, entry: AlertEntry) -> None:
        """Hand one entry to every subscriber; never waits (synchronous by design)."""
        entry_id, alert = entry.id, entry.alert
        self._position = entry_id
        if alert is not None and self._on_delivery is not None:
            self._on_delivery(entry_age(entry_id))
        for sub in list(self._subscribers):
            if alert is None or not sub.filter.matches(alert):
                if sub.queue.empty():
                    sub.filtered = entry_id
                continue
            try:
                sub.queue.put_nowait(alert)
            except asyncio.QueueFull:
                sub.overflowed = True
                self._subscribers.discard(sub)

    async def close(self) -> None:
        """End every subscription cleanly and stop the reader."""
        self._closed = True
        for sub in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)
        if self._reader is not None:
            # The loop also checks the flag: the Redis driver may turn a cancel that lands
            # mid-command into a connection error, which the loop would otherwise retry.
            self._reader.cancel()
            await asyncio.wait([self._reader], timeout=5.0)
