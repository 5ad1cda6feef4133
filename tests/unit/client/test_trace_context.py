"""The client sends the caller's W3C trace context with its calls, and nothing outside a span."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from quota_sidecar.client.transport import with_trace_context

TOKEN = (("authorization", "Bearer t"),)


def test_outside_a_span_the_metadata_is_unchanged() -> None:
    assert with_trace_context(TOKEN) is TOKEN


def test_inside_a_span_traceparent_names_it() -> None:
    tracer = TracerProvider().get_tracer("agent")
    with tracer.start_as_current_span("step") as span:
        metadata = with_trace_context(TOKEN)
    ids = span.get_span_context()
    sent = dict(metadata)
    assert sent["authorization"] == "Bearer t"
    version, trace_id, span_id, flags = sent["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", f"{ids.trace_id:032x}", f"{ids.span_id:016x}")
    assert int(flags, 16) & 1  # sampled
