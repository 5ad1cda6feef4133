"""The transport side of QuotaClient: TLS options, the retry policy, channel options, and the
mapping of gRPC status codes to the domain's exception tree.

    QuotaSidecarError
     ├── InvalidInput       ← INVALID_ARGUMENT (the server's "field: message" keeps its field)
     │    └── IdempotencyConflict ← INVALID_ARGUMENT on the idempotency_key field
     ├── NotFound           ← NOT_FOUND
     ├── RunNotOpen         ← FAILED_PRECONDITION (a record on a run that is not open)
     ├── StoreUnavailable
     │    ├── SidecarUnavailable ← UNAVAILABLE after the retries (sidecar or its Redis down)
     │    └── StoreTimeout
     │         └── SidecarTimeout ← DEADLINE_EXCEEDED
     └── SidecarError       ← any other status (UNAUTHENTICATED, PERMISSION_DENIED, ...)
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

try:  # OpenTelemetry is the application's choice: the client distribution does not bring it.
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace

    TRACING = True
except ModuleNotFoundError:
    TRACING = False

from quota_sidecar.domain.errors import (
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    QuotaSidecarError,
    RunNotOpen,
    StoreTimeout,
    StoreUnavailable,
)

__all__ = [
    "CHANNEL_OPTIONS",
    "RetryPolicy",
    "SidecarError",
    "SidecarTimeout",
    "SidecarUnavailable",
    "TlsOptions",
    "error_from_rpc",
    "with_trace_context",
]


class SidecarError(QuotaSidecarError):
    """A gRPC status the client has no domain error for (for example PERMISSION_DENIED)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class SidecarUnavailable(StoreUnavailable):
    """The sidecar (or its store) could not be reached, even after the retries."""


class SidecarTimeout(StoreTimeout):
    """The call's deadline passed before the sidecar answered."""


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """TLS towards the sidecar. No root certificates means the system's; a certificate chain
    and private key make it mTLS. `server_name` overrides the name checked in the certificate."""

    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    server_name: str | None = None

    @classmethod
    def from_files(
        cls, ca: str | None = None, cert: str | None = None, key: str | None = None, **kw: Any
    ) -> TlsOptions:
        def read(path: str | None) -> bytes | None:
            if path is None:
                return None
            with open(path, "rb") as handle:
                return handle.read()

        return cls(read(ca), read(cert), read(key), **kw)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            self.root_certificates, self.private_key, self.certificate_chain
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How UNAVAILABLE is retried: `attempts` in all, backoff doubling from `initial` to `cap`
    (seconds), with jitter so many agents do not retry in step."""

    attempts: int = 4
    initial: float = 0.05
    cap: float = 1.0

    def backoff(self, retry: int) -> float:
        delay: float = min(self.cap, self.initial * 2.0**retry)
        return delay * random.uniform(0.5, 1.0)


# Reconnect quickly after a dropped connection: a sidecar is local, and the default first
# backoff (1 s) would turn one dropped connection into a second of failed calls.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def with_trace_context(metadata: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """`metadata` plus the W3C trace context (traceparent, tracestate) of the caller's current
    span, so the sidecar's spans join the caller's trace. Outside a span (or with no
    OpenTelemetry SDK set up by the application) it is one check and the metadata as is."""
    if not TRACING or not trace.get_current_span().get_span_context().is_valid:
        return metadata
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # the application's propagators (W3C trace context by default)
    return metadata + tuple(carrier.items())


def caller_trace_context() -> Any:
    """The calling thread's OpenTelemetry context (None without OpenTelemetry), for
    `within_trace_context` on another thread."""
    return otel_context.get_current() if TRACING else None


@contextlib.contextmanager
def within_trace_context(caller: Any) -> Iterator[None]:
    """Run the block in the caller's OpenTelemetry context, taken by `caller_trace_context`."""
    if caller is None:
        yield
        return
    token = otel_context.attach(caller)
    try:
        yield
    finally:
        otel_context.detach(token)


def error_from_rpc(exc: grpc.aio.AioRpcError) -> QuotaSidecarError:
    """The domain error of a failed call; INVALID_ARGUMENT keeps the server's field name."""
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        field, sep, message = details.partition(": ")
        field, message = (field, message) if sep and " " not in field else ("request", details)
        if field == "idempotency_key":
            return IdempotencyConflict(field, message)
        return InvalidInput(field, message)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        field, sep, message = details.partition(": ")
        return RunNotOpen(field, message) if sep else RunNotOpen("run_id", details)
    if code == grpc.StatusCode.UNAVAILABLE:
        return SidecarUnavailable(details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return SidecarTimeout(details)
    return SidecarError(code, details)
