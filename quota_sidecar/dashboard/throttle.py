"""Login throttling: wrong tokens are slowed down per client address and overall, in a way that
never locks the owner out.

* Per address: an address may send FREE_FAILURES wrong tokens; after that each further one
  makes it wait twice as long (1 s, 2 s, 4 s ... at most MAX_DELAY), and while it waits its
  login attempts are answered 429 with Retry-After *before* the token is compared, so waiting
  is the only way on. A correct token clears the address's record; records are forgotten after
  FORGET_AFTER quiet seconds. IPv6 addresses count per /64 (one host usually owns a whole /64).
  One address's failures never slow another address.
* Overall: failures from all addresses draw from one bucket (GLOBAL_BURST, refilled at
  GLOBAL_PER_SECOND). While it is empty, an address that has failed recently must wait for the
  next refill; an address with no recent failure still has its token compared. So during a
  spread-out attack each attacking address gets one guess per refill, not one per request,
  while the owner, from any address that has not just failed, logs in at once with a correct
  token. Only failures are limited: a correct token never waits for other addresses' failures.

The address is the TCP peer: behind a proxy every client shares the proxy's address, so there
the per-address limit acts as a second global one (X-Forwarded-For is not trusted: any client
can send it). Memory is bounded: at most MAX_ADDRESSES records, the oldest dropped first.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginThrottle", "client_key"]

FREE_FAILURES = 5
BASE_DELAY = 1.0  # seconds, doubled per failure past the free ones
MAX_DELAY = 300.0
FORGET_AFTER = 900.0  # seconds without a failure after which an address starts afresh
MAX_ADDRESSES = 10_000
GLOBAL_BURST = 30.0
GLOBAL_PER_SECOND = 0.5


def client_key(remote: str | None) -> str:
    """The address a failure is counted against: IPv4 as is, IPv6 by its /64."""
    if not remote:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote.partition("%")[0])
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0


class LoginThrottle:
    """Decides whether an address may try a token now, and learns from each outcome."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._tokens = GLOBAL_BURST
        self._refilled = clock()

    def retry_after(self, address: str) -> int | None:
        """Whole seconds the address must wait before its next try, or None: it may try now."""
        now = self._clock()
        record = self._record(address, now)
        if record is None:
            return None
        if record.blocked_until > now:
            return math.ceil(record.blocked_until - now)
        if self._global_tokens(now) < 1:
            return math.ceil((1 - self._tokens) / GLOBAL_PER_SECOND)
        return None

    def failed(self, address: str) -> None:
        now = self._clock()
        self._tokens = max(0.0, self._global_tokens(now) - 1)
        record = self._record(address, now) or _Record()
        record.failures += 1
        record.last_failure = now
        past_free = record.failures - FREE_FAILURES
        if past_free > 0:
            delay = min(MAX_DELAY, BASE_DELAY * 2 ** min(past_free - 1, 32))
            record.blocked_until = now + delay
        self._records[address] = record
        self._records.move_to_end(address)
        while len(self._records) > MAX_ADDRESSES:
            self._records.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._records.pop(address, None)

    def _record(self, address: str, now: float) -> _Record | None:
        record = self._records.get(address)
        if record is not None and now - record.last_failure > FORGET_AFTER:
            del self._records[address]
            return None
        return record

    def _global_tokens(self, now: float) -> float:
        elapsed = max(0.0, now - self._refilled)
        self._tokens = min(GLOBAL_BURST, self._tokens + elapsed * GLOBAL_PER_SECOND)
        self._refilled = now
        return self._tokens
