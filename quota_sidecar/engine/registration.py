"""`register_quota` as the seed calls it: without await, with or without a running loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from typing import Any, TypeVar

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.models import QuotaConfig
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.store.redis import Store

__all__ = ["Registration", "write_without_loop"]

T = TypeVar("T")


class Registration:
    """What `register_quota` returns: already under way, and awaitable for its result.

    The seed calls `quota_service.register_quota(config)` without await. Inside a running
    event loop the write starts as a task, and the engine's next call waits for it, so a check
    right after a registration always sees it. Without a running loop it is written at once.
    """

    def __init__(self, task: asyncio.Task[QuotaConfig] | None, done: QuotaConfig | None) -> None:
        self._task = task
        self._done = done

    def __await__(self) -> Generator[Any, None, QuotaConfig]:
        if self._task is not None:
            return self._task.__await__()
        assert self._done is not None
        return _ready(self._done).__await__()


async def _ready(value: T) -> T:
    return value


def write_without_loop(url: str, clock: Clock, config: QuotaConfig) -> QuotaConfig:
    """Store `config` from synchronous code. The engine's async client belongs to the loop that
    will later use it, so this one-off write runs on a private connection in a private loop,
    in a thread."""
    result: list[QuotaConfig] = []
    errors: list[BaseException] = []

    async def write() -> None:
        store = Store.from_url(url, timeout=2.0)
        try:
            private = ConfigRepository(store, clock)
            stored, _ = await private.put(config, actor="register_quota", reason="")
            result.append(stored)
        finally:
            await store.close()  # the client, its probe, and on Sentinel the sentinels

    def run() -> None:
        try:
            asyncio.run(write())
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]
