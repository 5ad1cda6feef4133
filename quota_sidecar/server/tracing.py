"""OpenTelemetry for the server: the exporter set-up and the span of each RPC.

Off by default. `--otlp-endpoint` (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT /
OTEL_EXPORTER_OTLP_ENDPOINT) turns it on: `start_tracing` builds a tracer provider of its own
with a batching OTLP/gRPC exporter and installs its tracer in quota_sidecar.tracing, whose hooks
are otherwise no-ops. The SDK and exporter are imported only then, so a sidecar without tracing
never loads them. The other OTEL_* variables (sampler, batch delay, headers, TLS, resource
attributes, OTEL_SERVICE_NAME) keep their standard meaning; the service is named
"quota-sidecar" unless they name it.

Why our own step rather than opentelemetry-instrumentation-grpc: SidecarInterceptor already
wraps every QuotaService/QuotaAdminService handler and is the one place that knows the
final status code (refusals, aborts, mapped domain errors), so the span ends there with the
right rpc.grpc.status_code. The instrumentation's aio interceptor would be a second wrapper
that sees our aborts only as exceptions, traces health and reflection too (a span per kubelet
probe), costs a span per call even when no exporter is set, and pins the beta
opentelemetry-instrumentation and semantic-conventions packages.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import grpc
from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter

from quota_sidecar import tracing
from quota_sidecar.domain.errors import InvalidInput

__all__ = ["RpcSpan", "TracingHandle", "open_rpc_span", "otlp_endpoint_from_env", "start_tracing"]

SERVICE_NAME = "quota-sidecar"
_ENDPOINT_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# The codes that make a server span an error (semantic conventions for gRPC servers): the
# caller's mistakes (INVALID_ARGUMENT, NOT_FOUND, ...) are answers, not failures of ours.
_SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def otlp_endpoint_from_env() -> str | None:
    """The endpoint the standard variables name (traces-specific first), if any."""
    for name in _ENDPOINT_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class TracingHandle:
    """The running provider; `shutdown` flushes the spans still queued (blocking: run it off
    the event loop)."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def shutdown(self) -> None:
        tracing.uninstall()
        self._provider.shutdown()


def start_tracing(endpoint: str, *, identifiers: bool = False) -> TracingHandle:
    """Export spans over OTLP/gRPC to `endpoint` (http://host:4317 for plaintext, https:// or a
    bare host:port for TLS, as the OTLP exporter reads it)."""
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        # xds-protos (Envoy's protocol) ships a stale opentelemetry/proto/ that can overwrite
        # opentelemetry-proto's files, by install order (grpc/grpc#42428). Say how to mend it.
        raise InvalidInput(
            "otlp_endpoint",
            f"the OTLP exporter cannot be imported ({exc}); reinstall the OpenTelemetry protos "
            "over xds-protos' copy: pip install --force-reinstall --no-deps opentelemetry-proto",
        ) from exc
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, if set
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))
    # A provider of our own, not the process-global one: the global can be set only once per
    # process, and a stopped sidecar must leave nothing behind for the next one.
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracing.install(provider.get_tracer("quota_sidecar"), identifiers=identifiers)
    return TracingHandle(provider)


class _MetadataGetter(Getter[Sequence[tuple[str, Any]]]):
    """Reads W3C trace context (traceparent, tracestate) from gRPC invocation metadata."""

    def get(self, carrier: Sequence[tuple[str, Any]], key: str) -> list[str] | None:
        found = [v for k, v in carrier if k == key and isinstance(v, str)]
        return found or None

    def keys(self, carrier: Sequence[tuple[str, Any]]) -> list[str]:
        return [k for k, _v in carrier]


_GETTER = _MetadataGetter()


class RpcSpan:
    """The server span of one call, made current for the handler's task when `current`, so
    the store's spans (quota_sidecar.tracing.store_span) become its children."""

    __slots__ = ("_span", "_token")

    def __init__(
        self,
        tracer: trace.Tracer,
        method: str,
        metadata: Iterable[tuple[str, Any]] | None,
        *,
        current: bool,
    ) -> None:
        full_name = method.lstrip("/")  # quota_sidecar.v1.QuotaService/CheckQuota
        service, _, rpc_method = full_name.rpartition("/")
        parent = propagate.extract(tuple(metadata or ()), getter=_GETTER)
        self._span = tracer.start_span(
            full_name,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": rpc_method},
        )
        self._token = (
            context.attach(trace.set_span_in_context(self._span, parent)) if current else None
        )

    def end(self, code: grpc.StatusCode) -> None:
        span = self._span
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in _SERVER_ERRORS:
            span.set_status(trace.Status(trace.StatusCode.ERROR, code.name))
        span.end()
        if self._token is not None:
            context.detach(self._token)


def open_rpc_span(method: str, context: Any, *, current: bool = True) -> RpcSpan | None:
    """The call's span, or None while tracing is off (the whole cost then: one check; the
    call's metadata, for the caller's trace context, is read only when tracing is on)."""
    tracer = tracing.current_tracer()
    if tracer is None:
        return None
    return RpcSpan(tracer, method, context.invocation_metadata(), current=current)
