"""A real OTLP/gRPC trace receiver for tests: TraceService/Export on 127.0.0.1:<free port>,
built from the opentelemetry-proto package, keeping every span it is sent.

    with OtlpReceiver() as receiver:                 # receiver.endpoint: http://127.0.0.1:PORT
        ... a sidecar exports to receiver.endpoint ...
        spans = receiver.wait_for(lambda s: any(x.name == "..." for x in s))

A threaded (not grpc.aio) server, so a test may block on a sidecar process's shutdown while
the exporter flushes to this receiver.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2

__all__ = ["OtlpReceiver", "ReceivedSpan"]


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, decoded: ids as hex, attributes as Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int


def _value(value: common_pb2.AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which) if which else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.changed = threading.Condition()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes=_attributes(span.attributes),
                            resource=resource,
                            status_code=span.status.code,
                        )
                    )
        with self.changed:
            self.spans.extend(received)
            self.changed.notify_all()
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    """A started receiver; stop it (or use `with`)."""

    def __init__(self) -> None:
        self._collector = _Collector()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self._collector, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        # http:// tells the OTLP/gRPC exporter to send in plaintext.
        self.endpoint = f"http://127.0.0.1:{self.port}"

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._collector.changed:
            return list(self._collector.spans)

    def wait_for(
        self, done: Callable[[list[ReceivedSpan]], bool], timeout: float = 20.0
    ) -> list[ReceivedSpan]:
        """The spans received, once `done(spans)` holds; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._collector.changed:
            while not done(self._collector.spans):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = [s.name for s in self._collector.spans]
                    raise AssertionError(f"the spans expected did not arrive; got {names}")
                self._collector.changed.wait(remaining)
            return list(self._collector.spans)

    def __enter__(self) -> OtlpReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None).wait()
