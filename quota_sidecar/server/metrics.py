"""Prometheus metrics of one sidecar. Each server owns its own registry (so several servers in one
test process do not collide) and serves it on --metrics-listen when that is given."""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.results import Alert, CheckResult

__all__ = ["Metrics", "MetricsServer"]

log = logging.getLogger(__name__)
# Sidecar calls take about a millisecond; the buckets resolve that range, plus slow outliers.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The buckets' "le" labels, as prometheus_client writes them.
_LATENCY_LE = tuple(
    str(floatToGoString(b))  # type: ignore[no-untyped-call]
    for b in (*_LATENCY_BUCKETS, math.inf)
)
# A live alert arrives within ~100 ms; a webhook's retries and a Redis outage stretch it to hours.
_ALERT_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0)


class Metrics:
    """Every metric the server exports, on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # The per-call metrics (checks, RPC counts and latencies) are plain numbers, turned
        # into their families only when the registry is collected: see _CallTallies.
        self._tallies = _CallTallies()
        r.register(self._tallies)
        # Registered in this order, which is the order of the exposition.
        self._add_serving_metrics(r)
        self._add_event_metrics(r)
        self._add_delivery_metrics(r)
        self._holds: dict[str, float] = {}  # reservation id -> monotonic lease end
        self._hold_ends: list[tuple[float, str]] = []  # a heap of the same, soonest first
        self._holds_lock = threading.Lock()

    def _add_serving_metrics(self, r: CollectorRegistry) -> None:
        """Calls and holds in flight, and the store's state."""
        self.rpcs_in_flight = Gauge(
            "quota_sidecar_rpcs_in_flight",
            "QuotaService unary calls running now; past --max-concurrent-rpcs they are shed",
            registry=r,
        )
        self.streams_open = Gauge(
            "quota_sidecar_streams_open",
            "Open StreamAlerts streams (not counted against --max-concurrent-rpcs)",
            registry=r,
        )
        self.store_errors = Counter(
            "quota_sidecar_store_errors",
            "Store (Redis) failures seen by RPCs: kind is unavailable or timeout",
            ["kind"],
            registry=r,
        )
        self.store_up = Gauge(
            "quota_sidecar_store_up", "1 while the store answers the health probe", registry=r
        )
        self.holds_open = Gauge(
            "quota_sidecar_holds_open",
            "Holds taken through this server that are neither settled nor past their lease",
            registry=r,
        )

    def _add_event_metrics(self, r: CollectorRegistry) -> None:
        """Alerts raised, quota files applied, Envoy decisions."""
        self.alerts_raised = Counter(
            "quota_sidecar_alerts_raised",
            "Alerts raised by RecordUsage calls on this server, by kind",
            ["kind"],
            registry=r,
        )
        self.config_reloads = Counter(
            "quota_sidecar_config_reloads", "Quota files loaded and applied", registry=r
        )
        self.config_reload_errors = Counter(
            "quota_sidecar_config_reload_errors",
            "Quota files rejected (reason=invalid) or not applied (reason=store_unavailable)",
            ["reason"],
            registry=r,
        )
        self.envoy_decisions = Counter(
            "quota_sidecar_envoy_decisions",
            "Envoy ShouldRateLimit answers, by configured domain ('(unknown)' for any other) and "
            "overall code (OK, OVER_LIMIT)",
            ["domain", "code"],
            registry=r,
        )
        self.envoy_unmapped = Counter(
            "quota_sidecar_envoy_unmapped_descriptors",
            "Envoy descriptors that map to no subject (answered OK), by configured domain "
            "('(unknown)' for a domain the quota file does not name)",
            ["domain"],
            registry=r,
        )

    def _add_delivery_metrics(self, r: CollectorRegistry) -> None:
        """Alerts delivered, and records kept in the spool and replayed."""
        self.alert_delivery_lag = Histogram(
            "quota_sidecar_alert_delivery_lag_seconds",
            "From an alert's raising (its stream entry's Redis time) to its delivery, by path: "
            "stream (this process's live reader handed it to StreamAlerts and the dashboard) or "
            "webhook (a webhook POST answered 2xx, retries included)",
            ["path"],
            buckets=_ALERT_LAG_BUCKETS,
            registry=r,
        )
        self.records_spooled = Counter(
            "quota_sidecar_records_spooled",
            "RecordUsage calls the store could not confirm, kept in the local spool (spooled=true)",
            registry=r,
        )
        self.records_replayed = Counter(
            "quota_sidecar_records_replayed",
            "Spooled records recorded in the store once it was back",
            registry=r,
        )
        self.spool_bytes = Gauge(
            "quota_sidecar_spool_bytes",
            "Bytes of records waiting in the spool files under --data-dir (0: nothing waits)",
            registry=r,
        )

    # --- recorders -------------------------------------------------------------------------
    def rpc_children(
        self, method: str, code: str
    ) -> tuple[Callable[[float], None], Callable[[], None]]:
        """The `observe` of the RPC's latency and the `inc` of its count for one method and
        status code, for a caller to keep (the interceptor binds each method's OK pair once)."""
        return self._tallies.rpc(method, code)

    def record_rpc(self, method: str, code: str, seconds: float) -> None:
        observe, count = self._tallies.rpc(method, code)
        observe(seconds)
        count()

    def record_check(self, subjects: Iterable[Subject], result: CheckResult) -> None:
        if result.allowed:
            outcome = "shadow_denied" if result.shadow_denied else "allowed"
        else:
            outcome = result.code.value if result.code else "denied"
        checks = self._tallies.checks
        for subject in subjects:
            found = checks.get((subject.scope, outcome))
            if found is None:
                found = self._tallies.check(subject.scope, outcome)
            found.value += 1
        if result.decided_without_store:
            self.store_errors.labels("unavailable").inc()

    def record_alerts(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            self.alerts_raised.labels(alert.kind.value).inc()

    def hold_opened(self, reservation_id: str, lease_seconds: float) -> None:
        end = time.monotonic() + lease_seconds
        with self._holds_lock:
            self._holds[reservation_id] = end
            heapq.heappush(self._hold_ends, (end, reservation_id))
        self._refresh_holds()

    def hold_closed(self, reservation_id: str) -> None:
        with self._holds_lock:
            self._holds.pop(reservation_id, None)
        self._refresh_holds()

    def _refresh_holds(self) -> None:
        # Holds that ran out of lease are returned by the store on its own; forget them here.
        # The heap makes this O(log n) per call however many holds are open (a scan of every
        # open hold on every check would not be).
        now = time.monotonic()
        with self._holds_lock:
            while self._hold_ends and self._hold_ends[0][0] <= now:
                end, rid = heapq.heappop(self._hold_ends)
                if self._holds.get(rid) == end:
                    del self._holds[rid]
            if len(self._hold_ends) > 2 * len(self._holds) + 1024:
                # Settled holds linger in the heap until their lease; compact now and then.
                self._hold_ends = [(end, rid) for rid, end in self._holds.items()]
                heapq.heapify(self._hold_ends)
            self.holds_open.set(len(self._holds))

    def alert_delivered(self, path: str) -> Callable[[float], None]:
        """The observer a delivery path calls with each alert's lag in seconds."""
        return self.alert_delivery_lag.labels(path).observe

    def watch_spool(self, waiting_bytes: Callable[[], int]) -> None:
        """Read the spool's size at each scrape (no polling in between)."""
        self.spool_bytes.set_function(waiting_bytes)

    def config_result(self, result: str) -> None:
        """Called by the quota-file watcher: "ok", "invalid" or "store_unavailable"."""
        if result == "ok":
            self.config_reloads.inc()
        else:
            self.config_reload_errors.labels(result).inc()

    # --- reading ---------------------------------------------------------------------------
    def scrape(self) -> str:
        """The exposition text, as an HTTP scrape would see it."""
        self._refresh_holds()
        return generate_latest(self.registry).decode()

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent), for tests and the CLI."""
        self._refresh_holds()
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else float(found)


class _Count:
    """One counter's value and creation time; bumped by the event loop's thread only."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0
        self.created = time.time()

    def inc(self) -> None:
        self.value += 1


class _Latency:
    """One histogram's counts per bucket (not cumulative: the last is past every bound)."""

    __slots__ = ("counts", "created", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_LATENCY_BUCKETS) + 1)
        self.total = 0.0
        self.created = time.time()

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(_LATENCY_BUCKETS, seconds)] += 1  # a bucket is "<= bound"
        self.total += seconds


class _CallTallies(Collector):
    """quota_sidecar_checks, quota_sidecar_rpcs and quota_sidecar_rpc_duration_seconds, exported
    as prometheus_client's Counter and Histogram would (the same samples, _created included).

    Why not those classes: each increment there takes a lock and runs four Python calls (an
    observation six), and a check makes five of them, on the event loop that decides the next
    call. Here an increment is one addition. Only the loop's thread writes; a scrape from the
    metrics thread reads numbers at most one call old."""

    def __init__(self) -> None:
        self.checks: dict[tuple[QuotaScope, str], _Count] = {}  # (scope, result)
        self.rpcs: dict[tuple[str, str], _Count] = {}  # (method, code)
        self.latency: dict[str, _Latency] = {}  # method

    def check(self, scope: QuotaScope, result: str) -> _Count:
        return self.checks.setdefault((scope, result), _Count())

    def rpc(self, method: str, code: str) -> tuple[Callable[[float], None], Callable[[], None]]:
        latency = self.latency.get(method) or self.latency.setdefault(method, _Latency())
        count = self.rpcs.get((method, code)) or self.rpcs.setdefault((method, code), _Count())
        return latency.observe, count.inc

    def collect(self) -> Iterable[Metric]:
        checks = CounterMetricFamily(
            "quota_sidecar_checks",
            "CheckQuota decisions, once per subject checked, by the subject's scope and result "
            "(allowed, shadow_denied or the denial code)",
            labels=["scope", "result"],
        )
        for (scope, result), count in list(self.checks.items()):
            checks.add_metric([scope.value, result], count.value, created=count.created)
        latency = HistogramMetricFamily(
            "quota_sidecar_rpc_duration_seconds",
            "Server-side latency of each RPC (streams: until the stream ends)",
            labels=["method"],
        )
        for method, found in list(self.latency.items()):
            counts, running, buckets = list(found.counts), 0, []
            for bound, n in zip(_LATENCY_LE, counts, strict=True):
                running += n
                buckets.append((bound, float(running)))
            latency.add_metric([method], buckets, found.total)
            latency.add_sample(
                "quota_sidecar_rpc_duration_seconds_created", {"method": method}, found.created
            )
        rpcs = CounterMetricFamily(
            "quota_sidecar_rpcs",
            "RPCs handled, by method and gRPC status",
            labels=["method", "code"],
        )
        for (method, code), count in list(self.rpcs.items()):
            rpcs.add_metric([method, code], count.value, created=count.created)
        return [checks, latency, rpcs]


class MetricsServer:
    """The /metrics HTTP endpoint on its own thread."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self._server: Any
        self._server, self._thread = start_http_server(port, addr=host, registry=metrics.registry)
        self.host = host
        self.port = int(self._server.server_port)
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
