"""The per-call metrics (server/metrics.py) are plain numbers behind a collector of their own:
their exposition is what prometheus_client's Counter and Histogram write for the same calls,
sample for sample (the _created times aside)."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from quota_sidecar.domain.models import DenialCode, QuotaScope, Subject
from quota_sidecar.domain.results import CheckResult
from quota_sidecar.server.metrics import Metrics

# Observations on and between the bucket bounds, past the last one, and below the first.
SECONDS = [0.0001, 0.0005, 0.0007, 0.001, 0.0049, 0.25, 2.5, 2.6, 99.0]
_CREATED = re.compile(r"^quota_sidecar_\w+_created\{.*$", re.MULTILINE)


def _lines(text: str) -> list[str]:
    return sorted(line for line in _CREATED.sub("", text).splitlines() if line)


def _reference(checks: list[tuple[str, str]]) -> str:
    registry = CollectorRegistry()
    checked = Counter(
        "quota_sidecar_checks",
        "CheckQuota decisions, once per subject checked, by the subject's scope and result "
        "(allowed, shadow_denied or the denial code)",
        ["scope", "result"],
        registry=registry,
    )
    latency = Histogram(
        "quota_sidecar_rpc_duration_seconds",
        "Server-side latency of each RPC (streams: until the stream ends)",
        ["method"],
        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        registry=registry,
    )
    rpcs = Counter(
        "quota_sidecar_rpcs", "RPCs handled, by method and gRPC status", ["method", "code"],
        registry=registry,
    )  # fmt: skip
    for scope, result in checks:
        checked.labels(scope, result).inc()
    for seconds in SECONDS:
        latency.labels("CheckQuota").observe(seconds)
        rpcs.labels("CheckQuota", "OK").inc()
    latency.labels("PutQuota").observe(0.003)
    rpcs.labels("PutQuota", "INVALID_ARGUMENT").inc()
    return generate_latest(registry).decode()


def test_the_tallies_export_what_prometheus_client_would() -> None:
    metrics = Metrics()
    observe, count = metrics.rpc_children("CheckQuota", "OK")
    for seconds in SECONDS:
        observe(seconds)
        count()
    metrics.record_rpc("PutQuota", "INVALID_ARGUMENT", 0.003)
    user, tool = Subject(QuotaScope.USER, "u"), Subject(QuotaScope.TOOL, "t")
    metrics.record_check([user, tool], CheckResult(allowed=True))
    metrics.record_check([user], CheckResult(allowed=False, code=DenialCode.RATE_LIMITED))
    checks = [("user", "allowed"), ("tool", "allowed"), ("user", "RATE_LIMITED")]
    ours = [
        line
        for line in _lines(metrics.scrape())
        if re.match(r"(# (HELP|TYPE) )?quota_sidecar_(checks|rpcs|rpc_duration)", line)
        and "in_flight" not in line
    ]
    assert ours == _lines(_reference(checks))
    assert metrics.value("quota_sidecar_rpcs_total", method="CheckQuota", code="OK") == 9
    assert metrics.value("quota_sidecar_checks_total", scope="user", result="allowed") == 1
