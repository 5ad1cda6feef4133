"""The awaitable-or-not result of `QuotaClient.register_quota`, and its blocking fallback.

The seed calls `quota_service.register_quota(user_quota)` without await. Inside an event loop
the client starts the call as a task at once and returns a PendingCall; awaiting it gives the
stored config, and not awaiting it is fine too (the client's next call waits for it). Without
an event loop there is nothing to schedule on, so the call is made synchronously, on a
short-lived blocking channel, before register_quota returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Generator, Sequence
from typing import Any, Generic, TypeVar

import grpc

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc

__all__ = ["PendingCall", "run_blocking_put"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class PendingCall(Generic[T]):
    """A call already under way (or already finished); await it for its result."""

    def __init__(self, task: asyncio.Task[T] | None, value: T | None = None) -> None:
        self._task = task
        self._value = value
        self.observed = False
        self._error_claimed = False
        if task is not None:
            task.add_done_callback(self._log_unobserved_failure)

    @classmethod
    def start(cls, coro: Coroutine[Any, Any, T]) -> PendingCall[T]:
        return cls(asyncio.get_running_loop().create_task(coro))

    @classmethod
    def finished(cls, call: Callable[[], T]) -> PendingCall[T]:
        """Run `call` now; its error, if any, is raised to the caller at once."""
        return cls(None, call())

    def __await__(self) -> Generator[Any, None, T]:
        self.observed = True
        if self._task is not None:
            return self._task.__await__()
        return self._finished().__await__()

    async def _finished(self) -> T:
        return self._value  # type: ignore[return-value]

    def done(self) -> bool:
        return self._task is None or self._task.done()

    async def wait(self) -> BaseException | None:
        """Wait for the call to end; return its error instead of raising it."""
        if self._task is None:
            return None
        await asyncio.wait([self._task])
        return None if self._task.cancelled() else self._task.exception()

    def claim_unobserved_error(self) -> bool:
        """True once for a failed call that nobody awaited: the caller should raise its error."""
        if self.observed or self._error_claimed:
            return False
        self._error_claimed = True
        return True

    def _log_unobserved_failure(self, task: asyncio.Task[T]) -> None:
        if not task.cancelled() and task.exception() is not None and not self.observed:
            log.error("register_quota failed (not awaited)", exc_info=task.exception())


def run_blocking_put(
    target: str,
    request: admin_pb2.PutQuotaRequest,
    *,
    credentials: grpc.ChannelCredentials | None,
    options: Sequence[tuple[str, Any]],
    metadata: Sequence[tuple[str, str]],
    timeout: float,
) -> admin_pb2.PutQuotaResponse:
    """One PutQuota on a blocking channel that lives only for this call."""
    if credentials is None:
        channel = grpc.insecure_channel(target, options=list(options))
    else:
        channel = grpc.secure_channel(target, credentials, options=list(options))
    with channel:
        stub = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        response: admin_pb2.PutQuotaResponse = stub.PutQuota(
            request, timeout=timeout, metadata=tuple(metadata), wait_for_ready=True
        )
        return response
