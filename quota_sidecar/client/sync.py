"""SyncQuotaClient: QuotaClient for callers without an event loop.

    with SyncQuotaClient("127.0.0.1:50051") as quota:
        quota.register_quota(user_quota)
        if quota.check_quota(scope="user", identifier="user-123", estimated_cost=0.05).allowed:
            ...
        with quota.guard(user_id="user-123", tool_name="createIssues", estimated_cost=0.05) as g:
            g.record(cost=0.04)

Why a private event loop in a background thread rather than `asyncio.run` per call: the loop
lives as long as the client, so one gRPC channel (one HTTP/2 connection) serves every call,
instead of a connect and a TLS handshake per call; and it works even when the calling thread
already runs an event loop of its own (asyncio.run would refuse). Calls from several threads
are fine: each is handed to the client's loop and the caller's thread blocks for its result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from quota_sidecar.client.guard import QuotaGuard
from quota_sidecar.client.quota_client import QuotaClient, RetryPolicy, TlsOptions
from quota_sidecar.client.transport import caller_trace_context, within_trace_context
from quota_sidecar.domain.models import QuotaConfig, QuotaScope
from quota_sidecar.domain.money import Money
from quota_sidecar.domain.results import Alert, AlertKind, CheckResult, RecordResult, Severity

__all__ = ["SyncQuotaClient", "SyncQuotaGuard"]

P = ParamSpec("P")
R = TypeVar("R")


def _blocking(
    method: Callable[Concatenate[QuotaClient, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SyncQuotaClient, P], R]:
    """The blocking twin of a QuotaClient coroutine method, with the same typed signature."""

    def call(self: SyncQuotaClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._run(method(self.client, *args, **kwargs))

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


async def _within(caller: Any, coro: Coroutine[Any, Any, R]) -> R:
    """Run `coro` in the OpenTelemetry context of the calling thread: the call runs on the
    client's own loop thread, where the caller's current span would otherwise be unknown and
    the sidecar could not join the caller's trace."""
    with within_trace_context(caller):
        return await coro


class SyncQuotaClient:
    """A blocking QuotaClient; see the module docstring. Close it (or use `with`)."""

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
        self.client = QuotaClient(target, token, tls, timeout, admin_token=admin_token, retry=retry)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="quota-sidecar-client", daemon=True
        )
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, R]) -> R:
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("this SyncQuotaClient is closed")
        caller = caller_trace_context()  # the caller's span, for the trace context
        return asyncio.run_coroutine_threadsafe(_within(caller, coro), self._loop).result()

    check_quota = _blocking(QuotaClient.check_quota)
    record_usage = _blocking(QuotaClient.record_usage)
    release_reservation = _blocking(QuotaClient.release_reservation)
    get_quota_usage = _blocking(QuotaClient.get_quota_usage)
    get_usage = _blocking(QuotaClient.get_usage)
    put_quota = _blocking(QuotaClient.put_quota)
    get_quota = _blocking(QuotaClient.get_quota)
    delete_quota = _blocking(QuotaClient.delete_quota)
    reset_usage = _blocking(QuotaClient.reset_usage)
    end_run = _blocking(QuotaClient.end_run)
    run_usage = _blocking(QuotaClient.run_usage)
    usage_history = _blocking(QuotaClient.usage_history)
    top_spenders = _blocking(QuotaClient.top_spenders)

    def register_quota(
        self, config: QuotaConfig, *, actor: str = "api", reason: str = ""
    ) -> QuotaConfig:
        """Store a quota and return it as stored (with its version)."""
        stored, _created = self._run(self.client.put_quota(config, actor=actor, reason=reason))
        return stored

    def guard(
        self,
        *,
        user_id: str,
        tool_name: str,
        provider: str = "",
        estimated_cost: Money = 0,
        estimated_tokens: int = 0,
        model: str = "",
        estimated_input_tokens: int = 0,
        estimated_output_tokens: int = 0,
        skip_model_subject: bool = False,
        run_id: str = "",
        parent_run_id: str = "",
        run_max_cost: Money | None = None,
    ) -> SyncQuotaGuard:
        """`with quota.guard(...) as g: ...; g.record(cost=...)` — as QuotaClient.guard."""
        inner = self.client.guard(
            user_id=user_id,
            tool_name=tool_name,
            provider=provider,
            estimated_cost=estimated_cost,
            estimated_tokens=estimated_tokens,
            model=model,
            estimated_input_tokens=estimated_input_tokens,
            estimated_output_tokens=estimated_output_tokens,
            skip_model_subject=skip_model_subject,
            run_id=run_id,
            parent_run_id=parent_run_id,
            run_max_cost=run_max_cost,
        )
        return SyncQuotaGuard(self, inner)

    def subscribe_alerts(
        self,
        *,
        scopes: Sequence[QuotaScope | str] = (),
        identifiers: Sequence[str] = (),
        kinds: Sequence[AlertKind] = (),
        min_severity: Severity | None = None,
        cursor: str = "",
        reconnects: int = 5,
    ) -> Iterator[Alert]:
        """A blocking iterator over QuotaClient.subscribe_alerts; close it to end the stream."""
        stream = self.client.subscribe_alerts(
            scopes=scopes,
            identifiers=identifiers,
            kinds=kinds,
            min_severity=min_severity,
            cursor=cursor,
            reconnects=reconnects,
        )

        async def next_alert() -> Alert:
            return await anext(stream)

        try:
            while True:
                try:
                    yield self._run(next_alert())
                except StopAsyncIteration:
                    return
        finally:
            if not self._loop.is_closed():
                self._run(stream.aclose())  # type: ignore[attr-defined]

    def close(self) -> None:
        """Close the channel and stop the background loop. Idempotent."""
        if self._loop.is_closed():
            return
        self._run(self.client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncQuotaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SyncQuotaGuard:
    """The blocking form of QuotaGuard."""

    def __init__(self, owner: SyncQuotaClient, inner: QuotaGuard) -> None:
        self._owner = owner
        self.inner = inner

    @property
    def check(self) -> CheckResult | None:
        return self.inner.check

    def __enter__(self) -> SyncQuotaGuard:
        self._owner._run(self.inner.__aenter__())
        return self

    def record(
        self,
        cost: Money | None = None,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        end_run: bool = False,
    ) -> RecordResult:
        return self._owner._run(
            self.inner.record(
                cost,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read_tokens,
                cache_write_tokens=cache_write_tokens,
                end_run=end_run,
            )
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner._run(self.inner.__aexit__(exc_type, exc, tb))
