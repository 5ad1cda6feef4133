"""ChannelClient: QuotaClient's connection to one sidecar (see client/quota_client.py's
design notes): the lazily opened grpc.aio channel and its stubs, the registrations not yet
awaited, and unary calls with a deadline per attempt and UNAVAILABLE retried with backoff."""

from __future__ import annotations

import asyncio
from typing import Any, Self

import grpc
import grpc.aio

from quota_sidecar.client.pending import PendingCall
from quota_sidecar.client.transport import (
    CHANNEL_OPTIONS,
    RetryPolicy,
    TlsOptions,
    with_trace_context,
)
from quota_sidecar.client.transport import error_from_rpc as _error
from quota_sidecar.domain.models import QuotaConfig
from quota_sidecar.v1 import admin_pb2_grpc, quota_pb2_grpc

__all__ = ["ChannelClient"]


class ChannelClient:
    """The connection part of QuotaClient; its calls live in the subclasses."""

    def __init__(
        self,
        target: str,
        token: str | None = None,
        tls: TlsOptions | None = None,
        timeout: float = 5.0,
        *,
        admin_token: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._tls = tls
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        admin = admin_token or token
        self._admin_metadata = (("authorization", f"Bearer {admin}"),) if admin else ()
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._quota: Any = None
        self._admin: Any = None
        self._pending: set[PendingCall[QuotaConfig]] = set()

    # --- connection ----------------------------------------------------------------------------
    def _options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = list(CHANNEL_OPTIONS)
        if self._tls is not None and self._tls.server_name:
            options.append(("grpc.ssl_target_name_override", self._tls.server_name))
        return options

    def _stubs(self) -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            if self._tls is None:
                channel = grpc.aio.insecure_channel(self.target, options=self._options())
            else:
                channel = grpc.aio.secure_channel(
                    self.target, self._tls.credentials(), options=self._options()
                )
            self._channel, self._loop = channel, loop
            self._quota = quota_pb2_grpc.QuotaServiceStub(channel)
            self._admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        return self._quota, self._admin

    async def close(self) -> None:
        """Wait for unawaited registrations, then close the channel."""
        await self._settle_pending(raise_errors=False)
        if self._channel is not None and self._loop is asyncio.get_running_loop():
            await self._channel.close()
        self._channel = self._loop = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _settle_pending(self, *, raise_errors: bool = True) -> None:
        """Let registrations made without await finish before any later call is sent, so the
        seed's `register_quota(q)` followed by `await check_quota(...)` sees the quota. A
        failed registration nobody awaited is raised here, once, rather than lost."""
        while self._pending:
            batch = list(self._pending)
            errors = [await pending.wait() for pending in batch]
            self._pending.difference_update(batch)
            for pending, error in zip(batch, errors, strict=True):
                if error is not None and raise_errors and pending.claim_unobserved_error():
                    raise error

    async def _unary(
        self,
        rpc: str,
        request: Any,
        *,
        admin: bool = False,
        timeout: float | None = None,  # a gRPC deadline per attempt
        settle: bool = True,
    ) -> Any:
        if settle:
            await self._settle_pending()
        quota, admin_stub = self._stubs()
        method = getattr(admin_stub if admin else quota, rpc)
        metadata = with_trace_context(self._admin_metadata if admin else self._metadata)
        for attempt in range(self.retry.attempts):
            try:
                return await method(request, timeout=timeout or self.timeout, metadata=metadata)
            except grpc.aio.AioRpcError as exc:
                last = attempt + 1 == self.retry.attempts
                if exc.code() != grpc.StatusCode.UNAVAILABLE or last:
                    raise _error(exc) from exc
            await asyncio.sleep(self.retry.backoff(attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")
