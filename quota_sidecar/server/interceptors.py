"""The one place where a call is authenticated, timed, and where domain exceptions become gRPC
status codes:

    InvalidInput (and IdempotencyConflict, ConfigError)  → INVALID_ARGUMENT  "field: message"
    NotFound                                             → NOT_FOUND
    StoreUnavailable / StoreTimeout                      → UNAVAILABLE
    Overloaded                                           → RESOURCE_EXHAUSTED (retryable)
    DeadlineExceeded                                     → DEADLINE_EXCEEDED
    NotImplementedError                                  → UNIMPLEMENTED
    anything else                                        → INTERNAL, a generic message; the
                                                           traceback goes to the log only

Servicers therefore never catch domain errors themselves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from quota_sidecar.errors import (
    DeadlineExceeded,
    InvalidInput,
    NotFound,
    Overloaded,
    StoreTimeout,
    StoreUnavailable,
)
from quota_sidecar.server.auth import ADMIN_SERVICE_PREFIX, DATA_SERVICE_PREFIX, AuthPolicy
from quota_sidecar.server.metrics import Metrics

__all__ = ["SidecarInterceptor", "status_of"]

log = logging.getLogger(__name__)
_OURS = (ADMIN_SERVICE_PREFIX, DATA_SERVICE_PREFIX)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and message a domain exception is answered with."""
    if isinstance(exc, InvalidInput):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND, str(exc) or "not found"
    if isinstance(exc, StoreTimeout):
        return grpc.StatusCode.UNAVAILABLE, "the store (Redis) did not answer in time"
    if isinstance(exc, StoreUnavailable):
        return grpc.StatusCode.UNAVAILABLE, "the store (Redis) is unavailable"
    if isinstance(exc, Overloaded):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, f"the sidecar is overloaded, retry: {exc}"
    if isinstance(exc, DeadlineExceeded):
        return grpc.StatusCode.DEADLINE_EXCEEDED, str(exc) or "deadline exceeded"
    if isinstance(exc, NotImplementedError):
        return grpc.StatusCode.UNIMPLEMENTED, "not implemented yet"
    return grpc.StatusCode.INTERNAL, "internal error"


class SidecarInterceptor(aio.ServerInterceptor):  # type: ignore[misc]
    """Auth, metrics and error mapping around every QuotaService / QuotaAdminService handler."""

    def __init__(self, auth: AuthPolicy, metrics: Metrics) -> None:
        self._auth = auth
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not method.startswith(_OURS):
            return handler  # health, reflection and unknown methods pass untouched
        denial = self._auth.check(method, handler_call_details.invocation_metadata)
        name = method.rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, name, denial),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream, name, denial),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # the contract has no client-streaming RPCs

    def _unary(self, behavior: Any, name: str, denial: Any) -> Any:
        async def call(request: Any, context: aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if denial is not None:
                    code = denial.code
                    await context.abort(denial.code, denial.message)
                return await behavior(request, context)
            except aio.AbortError:
                code = _code_of(context, code)
                raise
            except Exception as exc:
                code, message = self._classify(exc, name)
                await context.abort(code, message)
            finally:
                self._observe(name, code, started)

        return call

    def _stream(self, behavior: Any, name: str, denial: Any) -> Any:
        async def call(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if denial is not None:
                    code = denial.code
                    await context.abort(denial.code, denial.message)
                async for item in behavior(request, context):
                    yield item
            except aio.AbortError:
                code = _code_of(context, code)
                raise
            except Exception as exc:
                code, message = self._classify(exc, name)
                await context.abort(code, message)
            finally:
                self._observe(name, code, started)

        return call

    def _classify(self, exc: Exception, name: str) -> tuple[grpc.StatusCode, str]:
        code, message = status_of(exc)
        if isinstance(exc, StoreTimeout):
            self._metrics.store_errors.labels("timeout").inc()
        elif isinstance(exc, StoreUnavailable):
            self._metrics.store_errors.labels("unavailable").inc()
        if code is grpc.StatusCode.INTERNAL:
            log.exception("%s failed unexpectedly", name)
        else:
            log.debug("%s answered %s: %s", name, code.name, message)
        return code, message

    def _observe(self, name: str, code: grpc.StatusCode, started: float) -> None:
        self._metrics.rpc_latency.labels(name).observe(time.perf_counter() - started)
        self._metrics.rpcs.labels(name, code.name).inc()


def _code_of(context: aio.ServicerContext, default: grpc.StatusCode) -> grpc.StatusCode:
    try:
        found = context.code()
    except Exception:  # older grpc versions do not expose the code
        return default
    return found if isinstance(found, grpc.StatusCode) else default
