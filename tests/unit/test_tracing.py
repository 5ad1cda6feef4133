"""quota_sidecar.tracing: free while off, spans and attributes once a tracer is installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from quota_sidecar import tracing
from quota_sidecar.domain.models import DenialCode, QuotaScope, Subject

ALICE = Subject(QuotaScope.USER, "alice")
ACME = Subject(QuotaScope.TENANT, "acme")


class _Kept(SpanExporter):
    """Keeps the finished spans in memory (the SDK's own in-memory exporter is test-only)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: object) -> SpanExportResult:
        self.spans.extend(spans)  # type: ignore[call-overload]
        return SpanExportResult.SUCCESS


@pytest.fixture
def kept() -> Iterator[tuple[TracerProvider, _Kept]]:
    exporter = _Kept()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    tracing.uninstall()
    provider.shutdown()


def test_off_the_hooks_are_one_shared_no_op() -> None:
    tracing.uninstall()
    assert tracing.current_tracer() is None
    assert tracing.store_span("check.lua") is tracing.store_span("record.lua")
    with tracing.store_span("check.lua") as span:
        assert span is None
    tracing.annotate_subjects([ALICE])  # nothing to annotate, and nothing raised
    tracing.annotate_decision(False, DenialCode.BLOCKED)


def test_a_store_span_is_a_child_of_the_current_span_only(kept: tuple) -> None:
    provider, exporter = kept
    tracer = provider.get_tracer("t")
    tracing.install(tracer)
    with tracing.store_span("orphan.lua") as orphan:
        assert orphan is None  # no call is being traced: a background task starts no trace
    with tracer.start_as_current_span("rpc") as rpc:
        with tracing.store_span("check.lua"):
            pass
        with tracing.store_span("load", script=False):
            pass
        with tracing.store_span("<lambda>", script=False):
            pass
    script, command, anonymous, parent = exporter.spans
    assert anonymous.name == "redis command"
    assert parent.context.span_id == rpc.get_span_context().span_id
    assert script.parent is not None and script.parent.span_id == parent.context.span_id
    assert script.name == "EVALSHA check.lua"
    assert script.attributes == {
        "db.system.name": "redis",
        "db.operation.name": "EVALSHA",
        "quota.store.call": "check.lua",
    }
    assert command.name == "redis load"
    assert "db.operation.name" not in (command.attributes or {})


def test_scopes_always_identifiers_only_when_enabled(kept: tuple) -> None:
    provider, exporter = kept
    tracer = provider.get_tracer("t")
    for identifiers in (False, True):
        tracing.install(tracer, identifiers=identifiers)
        with tracer.start_as_current_span("rpc"):
            tracing.annotate_subjects([ALICE, ACME])
            tracing.annotate_decision(False, DenialCode.RATE_LIMITED)
    hidden, shown = (dict(s.attributes or {}) for s in exporter.spans)
    assert hidden == {
        "quota.subject.scopes": ("user", "tenant"),
        "quota.decision": "denied",
        "quota.denial_code": "RATE_LIMITED",
    }
    assert shown["quota.subject.identifiers"] == ("alice", "acme")
