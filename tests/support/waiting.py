"""Waiting for a condition in async tests, bounded, without sleeping for time to pass."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], object], what: str, limit: float = 10.0) -> float:
    """Poll `condition` until it is true; how long that took. Fails after `limit` seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < limit, what
        await asyncio.sleep(0.01)
    return time.monotonic() - started
