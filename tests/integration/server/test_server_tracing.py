"""OpenTelemetry: a real `quota-sidecar serve` process exports its spans over OTLP/gRPC to a real
receiver (tests/support/otlp_receiver.py), under the trace the client's span started."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from quota_sidecar import CostQuota, QuotaConfig, QuotaScope
from quota_sidecar.client import SidecarError, SyncQuotaClient
from quota_sidecar.domain.models import DenialCode
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.redis_servers import free_port
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

CHECK = "quota_sidecar.v1.QuotaService/CheckQuota"
SERVER, CLIENT = 2, 3  # Span.SpanKind in the OTLP protocol
STATUS_ERROR = 2
# The batch processor's delay (ms): spans arrive within a test's patience, not 5 s later.
ENV = {
    "QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN,
    "QUOTA_SIDECAR_REDIS_URL": "",
    "OTEL_BSP_SCHEDULE_DELAY": "50",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
    "OTEL_SERVICE_NAME": "",
}
# The agent's side: an SDK tracer of its own, so its span has real, random ids.
AGENT = TracerProvider().get_tracer("agent")


def _budget(target: str) -> None:
    """alice may spend $1 a day."""
    with SyncQuotaClient(target, admin_token=ADMIN_TOKEN) as quota:
        quota.register_quota(
            QuotaConfig(
                scope=QuotaScope.USER,
                identifier="alice",
                cost_quota=CostQuota(daily_limit=Decimal("1")),
            )
        )


def _check_in_a_span(target: str, cost: str) -> tuple[trace.SpanContext, bool]:
    """One CheckQuota made inside the agent's span: that span's context and the decision."""
    with SyncQuotaClient(target) as quota, AGENT.start_as_current_span("agent step") as parent:
        result = quota.check_quota(scope="user", identifier="alice", estimated_cost=Decimal(cost))
    return parent.get_span_context(), result.allowed


def _rpc_span(spans: list[ReceivedSpan], trace_id: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == CHECK and s.trace_id == trace_id]
    assert len(found) == 1, [(s.name, s.trace_id) for s in spans]
    return found[0]


def test_a_denied_check_is_one_server_span_with_store_children_in_the_callers_trace(
    redis_url: str,
) -> None:
    with OtlpReceiver() as receiver:
        args = ("--redis-url", redis_url, "--otlp-endpoint", receiver.endpoint)
        with SidecarProcess(*args, env=ENV) as process:
            _budget(process.target)
            parent, allowed = _check_in_a_span(process.target, "5")
            assert not allowed
            trace_id = format(parent.trace_id, "032x")
            spans = receiver.wait_for(
                lambda got: any(s.name == CHECK and s.trace_id == trace_id for s in got)
            )
            assert process.terminate() == 0

        rpc = _rpc_span(spans, trace_id)
        assert rpc.parent_span_id == format(parent.span_id, "016x")  # the agent's span
        assert rpc.kind == SERVER
        assert rpc.resource["service.name"] == "quota-sidecar"
        assert rpc.attributes["rpc.system"] == "grpc"
        assert rpc.attributes["rpc.service"] == "quota_sidecar.v1.QuotaService"
        assert rpc.attributes["rpc.method"] == "CheckQuota"
        assert rpc.attributes["rpc.grpc.status_code"] == 0
        assert rpc.attributes["quota.subject.scopes"] == ["user"]
        assert "quota.subject.identifiers" not in rpc.attributes  # off unless asked for
        assert rpc.attributes["quota.decision"] == "denied"
        assert rpc.attributes["quota.denial_code"] == DenialCode.BUDGET_EXHAUSTED.value

        # The store's work for this call: client spans under the RPC's, in the same trace.
        children = [s for s in spans if s.parent_span_id == rpc.span_id]
        assert children, [s.name for s in spans]
        assert all(s.trace_id == trace_id and s.kind == CLIENT for s in children)
        scripts = [s for s in children if s.name.startswith("EVALSHA ")]
        assert scripts, [s.name for s in children]
        assert all(s.attributes["db.system.name"] == "redis" for s in scripts)
        assert all(s.attributes["quota.store.call"].endswith(".lua") for s in scripts)


def test_the_standard_variables_turn_tracing_on_and_identifiers_are_opt_in(
    redis_url: str,
) -> None:
    with OtlpReceiver() as receiver:
        env = {
            **ENV,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": "agents-quota",
        }
        args = ("--redis-url", redis_url, "--trace-identifiers")
        with SidecarProcess(*args, env=env) as process:
            _budget(process.target)
            parent, allowed = _check_in_a_span(process.target, "0.5")
            assert allowed
            # Stopping flushes what the batch still holds: no waiting needed after it.
            assert process.terminate() == 0
        rpc = _rpc_span(receiver.spans, format(parent.trace_id, "032x"))
        assert rpc.resource["service.name"] == "agents-quota"
        assert rpc.attributes["quota.subject.identifiers"] == ["alice"]
        assert rpc.attributes["quota.decision"] == "allowed"
        assert "quota.denial_code" not in rpc.attributes


def test_a_refused_call_is_traced_with_its_status(redis_url: str) -> None:
    with OtlpReceiver() as receiver:
        args = ("--redis-url", redis_url, "--otlp-endpoint", receiver.endpoint)
        env = {**ENV, "QUOTA_SIDECAR_DATA_TOKEN": "secret"}
        with SidecarProcess(*args, env=env) as process:
            with (
                SyncQuotaClient(process.target, "wrong") as quota,
                AGENT.start_as_current_span("agent step") as parent,
                pytest.raises(SidecarError) as refused,
            ):
                quota.check_quota(scope="user", identifier="alice")
            assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
            assert process.terminate() == 0
        rpc = _rpc_span(receiver.spans, format(parent.get_span_context().trace_id, "032x"))
        assert rpc.attributes["rpc.grpc.status_code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]
        assert rpc.status_code != STATUS_ERROR  # the caller's mistake, not a server failure
        # Refused before the servicer ran: no decision, no store call.
        assert "quota.decision" not in rpc.attributes
        assert not [s for s in receiver.spans if s.parent_span_id == rpc.span_id]


def test_every_worker_exports_with_the_flags_it_was_given(redis_url: str) -> None:
    with OtlpReceiver() as receiver:
        listen = f"127.0.0.1:{free_port()}"
        args = ("--redis-url", redis_url, "--listen", listen, "--workers", "2")
        flags = ("--otlp-endpoint", receiver.endpoint, "--trace-identifiers")
        with SidecarProcess(*args, *flags, env=ENV) as process:
            _budget(process.target)
            # New connections are spread over the workers by the kernel: a few calls reach both.
            parents = [_check_in_a_span(process.target, "0.1")[0] for _ in range(6)]
            assert process.terminate() == 0
        for parent in parents:
            rpc = _rpc_span(receiver.spans, format(parent.trace_id, "032x"))
            assert rpc.attributes["quota.subject.identifiers"] == ["alice"]
