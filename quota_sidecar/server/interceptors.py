"""The one place where a call is authenticated, timed, and where domain exceptions become gRPC
status codes (each of our handlers is wrapped once, when its servicer is registered: no gRPC
interceptor runs per call):

    InvalidInput (and IdempotencyConflict, ConfigError)  → INVALID_ARGUMENT  "field: message"
    NotFound                                             → NOT_FOUND
    RunNotOpen                                           → FAILED_PRECONDITION "run_id: ..."
    StoreUnavailable / StoreTimeout                      → UNAVAILABLE
    Overloaded                                           → RESOURCE_EXHAUSTED (retryable)
    DeadlineExceeded                                     → DEADLINE_EXCEEDED
    NotImplementedError                                  → UNIMPLEMENTED
    anything else                                        → INTERNAL, a generic message; the
                                                           traceback goes to the log only

Servicers therefore never catch domain errors themselves.

Two more refusals happen here, before a servicer runs:

* Load shedding. At most `max_in_flight` (--max-concurrent-rpcs) data-plane unary calls
  (QuotaService and Envoy's ShouldRateLimit) run at
  once; one more is answered RESOURCE_EXHAUSTED at once ("overloaded, retry"), having done
  nothing, so a flood is shed with an explicit, retryable status and never decided without
  Redis. Admin calls, health, reflection and open StreamAlerts streams are not counted, so an
  operator and the load balancer's probe are still answered during a data-plane flood, and any
  number of idle alert subscribers never starve the checks. (gRPC's own
  maximum_concurrent_rpcs counted all of those alike; it is not used.)
* Undecodable requests. Bytes that do not parse as the request message (corrupt wire format,
  invalid UTF-8 in a string field) are INVALID_ARGUMENT naming the request, not the INTERNAL
  that gRPC answers when a deserializer raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc import aio

from quota_sidecar.domain.errors import (
    DeadlineExceeded,
    InvalidInput,
    NotFound,
    Overloaded,
    RunNotOpen,
    StoreTimeout,
    StoreUnavailable,
)
from quota_sidecar.server.auth import ADMIN_SERVICE_PREFIX, DATA_PLANE_PREFIXES, AuthPolicy
from quota_sidecar.server.metrics import Metrics
from quota_sidecar.server.tracing import open_rpc_span

__all__ = ["SidecarInterceptor", "status_of"]

log = logging.getLogger(__name__)
_OURS = (ADMIN_SERVICE_PREFIX, *DATA_PLANE_PREFIXES)
_OK = grpc.StatusCode.OK


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and message a domain exception is answered with."""
    if isinstance(exc, InvalidInput):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND, str(exc) or "not found"
    if isinstance(exc, RunNotOpen):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
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


class _Undecodable:
    """What the deserializer hands on instead of raising, so the call can answer
    INVALID_ARGUMENT (a raising deserializer makes gRPC answer INTERNAL)."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, UnicodeDecodeError, ValueError) as exc:
            return _Undecodable(str(exc) or type(exc).__name__)

    return deserialize


class SidecarInterceptor:
    """Auth, load shedding, metrics, tracing and error mapping around every QuotaService /
    QuotaAdminService / Envoy handler.

    Not a gRPC interceptor: an interceptor runs a coroutine chain on every call just to find
    the handler (gRPC's own lookup is a dict). Each handler is wrapped once, when `register`
    adds its servicer, and everything a wrapper can know from its method (the name, whether
    auth or shedding can refuse it, its metric children) is settled then, not per call."""

    def __init__(
        self, auth: AuthPolicy, metrics: Metrics, max_in_flight: int | None = None
    ) -> None:
        self._auth = auth
        self._metrics = metrics
        self._max_in_flight = max_in_flight
        # Only the event loop's thread touches these, so plain numbers are enough.
        self._in_flight = 0
        # Of our services' calls (perf_counter); shutdown drains by it.
        self.last_arrival = time.perf_counter()
        # method -> (the servicer's handler, our wrapper of it): built once per method.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        # The gauge reads the count at scrape time: nothing to update per call.
        metrics.rpcs_in_flight.set_function(lambda: self._in_flight)

    @property
    def in_flight(self) -> int:
        """Data-plane unary calls running now (the count that --max-concurrent-rpcs bounds)."""
        return self._in_flight

    def register(self, add: Callable[[Any, Any], None], servicer: Any, server: Any) -> None:
        """Add a servicer through its generated `add_..._to_server(servicer, server)`, with
        every handler of ours wrapped (health, reflection and others go on untouched)."""
        add(servicer, _Registrar(server, self.wrapped))

    def wrapped(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """Our wrapper of one method's handler (the same one for every lookup)."""
        if handler is None or not method.startswith(_OURS):
            return handler
        found = self._wrapped.get(method)
        if found is not None and found[0] is handler:
            return found[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        shed = method.startswith(DATA_PLANE_PREFIXES)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method, shed=shed),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream, method),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler  # the contract has no client-streaming RPCs

    def _refusal(
        self, request: Any, method: str, name: str, context: Any, *, shed: bool
    ) -> tuple[grpc.StatusCode, str] | None:
        """Why the call is answered before its servicer runs: auth, bytes, then load."""
        denial = self._auth.check(method, context.invocation_metadata())
        if denial is not None:
            return denial.code, denial.message
        if isinstance(request, _Undecodable):
            problem = f"the bytes are not a valid {name} request ({request.problem})"
            return grpc.StatusCode.INVALID_ARGUMENT, f"request: {problem}"
        limit = self._max_in_flight
        if not shed or limit is None or self._in_flight < limit:
            return None
        return grpc.StatusCode.RESOURCE_EXHAUSTED, (
            f"the sidecar is overloaded ({limit} calls in flight, --max-concurrent-rpcs); "
            "nothing was done: retry with backoff"
        )

    def _unary(self, behavior: Any, method: str, *, shed: bool) -> Any:
        name = method.rsplit("/", 1)[-1]
        # Settled once: a policy that lets this method through without metadata lets every
        # call through (AuthPolicy only refuses), so such calls never read their metadata.
        guarded = self._auth.check(method, ()) is not None
        limit = self._max_in_flight if shed else None
        observe_ok, count_ok = self._metrics.rpc_children(name, _OK.name)

        async def call(request: Any, context: aio.ServicerContext) -> Any:
            started = self.last_arrival = time.perf_counter()
            span = open_rpc_span(method, context)  # None: tracing off
            code = _OK
            admitted = False
            try:
                if (
                    guarded
                    or type(request) is _Undecodable
                    or (limit is not None and self._in_flight >= limit)
                ):
                    refusal = self._refusal(request, method, name, context, shed=shed)
                    if refusal is not None:
                        code = refusal[0]
                        await context.abort(*refusal)
                if shed:
                    admitted = True
                    self._in_flight += 1
                return await behavior(request, context)
            except aio.AbortError:
                code = _code_of(context, code)
                raise
            except Exception as exc:
                code, message = self._classify(exc, name)
                await context.abort(code, message)
            finally:
                if admitted:
                    self._in_flight -= 1
                if code is _OK:
                    observe_ok(time.perf_counter() - started)
                    count_ok()
                else:
                    self._observe(name, code, started)
                if span is not None:
                    span.end(code)

        return call

    def _stream(self, behavior: Any, method: str) -> Any:
        name = method.rsplit("/", 1)[-1]

        async def call(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            started = self.last_arrival = time.perf_counter()
            # Not made current: an async generator may be closed from another context, where
            # detaching would fail; a stream's span is the stream's length and status alone.
            span = open_rpc_span(method, context, current=False)
            code = grpc.StatusCode.OK
            self._metrics.streams_open.inc()
            try:
                refusal = self._refusal(request, method, name, context, shed=False)
                if refusal is not None:
                    code = refusal[0]
                    await context.abort(*refusal)
                async for item in behavior(request, context):
                    yield item
            except aio.AbortError:
                code = _code_of(context, code)
                raise
            except Exception as exc:
                code, message = self._classify(exc, name)
                await context.abort(code, message)
            finally:
                self._metrics.streams_open.dec()
                self._observe(name, code, started)
                if span is not None:
                    span.end(code)

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
        self._metrics.record_rpc(name, code.name, time.perf_counter() - started)


class _Registrar:
    """Stands in for the server in a generated `add_..._to_server`: each handler it is given
    is wrapped (once per method) before the real server gets it."""

    def __init__(
        self, server: Any, wrap: Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]
    ) -> None:
        self._server = server
        self._wrap = wrap

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(tuple(_Generic(h, self._wrap) for h in handlers))

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        wrapped = {name: self._wrap(f"/{service}/{name}", h) for name, h in handlers.items()}
        self._server.add_registered_method_handlers(service, wrapped)


class _Generic(grpc.GenericRpcHandler):  # type: ignore[misc]
    """A generic handler whose handlers come out wrapped (the lookup gRPC falls back to)."""

    def __init__(
        self,
        inner: grpc.GenericRpcHandler,
        wrap: Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler],
    ) -> None:
        self._inner = inner
        self._wrap = wrap

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._inner.service(details)
        return None if handler is None else self._wrap(details.method, handler)


def _code_of(context: aio.ServicerContext, default: grpc.StatusCode) -> grpc.StatusCode:
    try:
        found = context.code()
    except Exception:  # older grpc versions do not expose the code
        return default
    return found if isinstance(found, grpc.StatusCode) else default
