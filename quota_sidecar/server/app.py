"""Build and run the sidecar's grpc.aio server.

One `Sidecar` owns everything a running server needs: the store, the engine, the gRPC server
(QuotaService, QuotaAdminService, grpc.health.v1, reflection), the metrics endpoint, the
quota-file watcher, the alert streamer and the webhooks. `serve()` runs one until SIGTERM or
SIGINT and then shuts down in order:

  1. health turns NOT_SERVING, so load balancers stop sending;
  2. open alert streams are ended with a status (clients resume from their cursor elsewhere),
     and a quota-file apply in progress stops between two quotas;
  3. calls already sent are drained: the server keeps taking calls until none has arrived for
     a moment (within the grace period), because gRPC core CANCELs every call still queued
     unrequested when the server stops, and those calls were sent before the signal;
  4. the server stops accepting calls; in-flight calls get the rest of the grace period;
  5. the watcher, webhooks, metrics endpoint and store connection are closed; exit code 0.

A signal during start (the quota file may take seconds to apply) stops the start instead.
Every step is bounded, so shutdown ends within the grace period plus a few fixed timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from datetime import timedelta

from envoy.service.ratelimit.v3 import rls_pb2_grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from quota_sidecar.alerting.expiry import OverrideExpirySweeper
from quota_sidecar.config import QuotaDocument
from quota_sidecar.dashboard import DashboardServer
from quota_sidecar.domain.history import HistoryRetention
from quota_sidecar.engine.service import EngineSettings, QuotaService
from quota_sidecar.server.admin_servicer import AdminServicer
from quota_sidecar.server.alert_stream import AlertStreamer
from quota_sidecar.server.auth import AuthPolicy
from quota_sidecar.server.binding import bind
from quota_sidecar.server.dashboard import (
    announce_dashboard,
    check_dashboard_options,
    start_dashboard,
)
from quota_sidecar.server.envoy_servicer import ENVOY_SERVICE, EnvoyRateLimitServicer
from quota_sidecar.server.file_webhooks import FileWebhooks
from quota_sidecar.server.interceptors import SidecarInterceptor
from quota_sidecar.server.metrics import Metrics, MetricsServer
from quota_sidecar.server.options import ServerOptions, parse_listen
from quota_sidecar.server.quota_file_watcher import QuotaFileWatcher
from quota_sidecar.server.quota_servicer import QuotaServicer
from quota_sidecar.server.store_health import StoreHealth
from quota_sidecar.server.tracing import TracingHandle, start_tracing
from quota_sidecar.store.redis import Store
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc

__all__ = ["LIVENESS_SERVICE", "Sidecar", "serve"]

log = logging.getLogger(__name__)
QUOTA_SERVICE = quota_pb2.DESCRIPTOR.services_by_name["QuotaService"].full_name
ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["QuotaAdminService"].full_name
# The health name a liveness probe asks for: SERVING from the moment the server takes calls
# until shutdown, whatever Redis does. The overall health ("") follows the store, which is
# right for readiness but would make a liveness probe restart every pod during a Redis outage.
LIVENESS_SERVICE = "liveness"
_SERVING = health_pb2.HealthCheckResponse.SERVING
# Calls gRPC core may hold before the server takes them (see _make_server).
_PENDING_BACKLOG = 100_000
# Shutdown drain: the queue of sent calls is empty once none has arrived for this long.
_DRAIN_QUIET = 0.25


class Sidecar:
    """A running (or runnable) sidecar server. `async with Sidecar(options)` starts and stops."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.metrics = Metrics()
        self.health = health.aio.HealthServicer()
        self.port = 0
        self.store: Store | None = None
        self._service: QuotaService | None = None
        self._server: aio.Server | None = None
        self._metrics_server: MetricsServer | None = None
        self._watcher: QuotaFileWatcher | None = None
        self._alerts: AlertStreamer | None = None
        self._webhooks: FileWebhooks | None = None
        self._sweeper: OverrideExpirySweeper | None = None
        self._dashboard: DashboardServer | None = None
        self._store_health: StoreHealth | None = None
        self._interceptor: SidecarInterceptor | None = None
        self._envoy: EnvoyRateLimitServicer | None = None
        self._tracing: TracingHandle | None = None
        self._aborting = False
        self._stopped = asyncio.Event()

    @property
    def service(self) -> QuotaService:
        if self._service is None:
            raise RuntimeError("the sidecar is not started")
        return self._service

    @property
    def host(self) -> str:
        return parse_listen(self.options.listen)[0]

    @property
    def target(self) -> str:
        """The address clients dial, for example 127.0.0.1:50051."""
        return f"{self.host}:{self.port}"

    @property
    def dashboard_url(self) -> str | None:
        """http://HOST:PORT/ of the dashboard, when it is served."""
        return self._dashboard.url if self._dashboard else None

    @property
    def metrics_port(self) -> int | None:
        return self._metrics_server.port if self._metrics_server else None

    async def __aenter__(self) -> Sidecar:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- start -----------------------------------------------------------------------------
    async def start(self) -> None:
        opts = self.options
        host, port = parse_listen(opts.listen)
        check_dashboard_options(opts)
        if opts.otlp_endpoint:
            self._tracing = start_tracing(opts.otlp_endpoint, identifiers=opts.trace_identifiers)
        self.store = Store.from_url(
            opts.redis_url, timeout=opts.store_timeout, data_dir=opts.data_dir
        )
        settings = EngineSettings(
            store_timeout=opts.store_timeout,
            hold_lease=opts.hold_lease,
            data_dir=opts.data_dir,
            spool_dir=opts.data_dir / "spool",  # records wait here while Redis is away
            history=HistoryRetention(
                days=timedelta(days=opts.history_days), months=opts.history_months
            ),
        )
        self._service = QuotaService(store=self.store, clock=opts.clock, settings=settings)
        if self._service.spool is not None:
            self.metrics.watch_spool(self._service.spool.waiting_bytes)
        self._envoy = EnvoyRateLimitServicer(self._service, self.metrics)
        self._store_health = StoreHealth(
            self.health,
            ("", QUOTA_SERVICE, ADMIN_SERVICE, ENVOY_SERVICE),
            self.metrics,
            self._service,
            stopped=self._stopped,
            interval=opts.health_interval,
        )
        self.store.on_state_change(self._store_health.state_changed)
        await self._store_health.set(serving=False)
        if opts.config_path is not None:
            await self._load_quota_file()
        self._alerts = self._make_alert_streamer(self.store)
        self._server = self._make_server()
        self.port = bind(self._server, opts, host, port)
        await self._server.start()
        await self.health.set(LIVENESS_SERVICE, _SERVING)
        await self.check_store()  # so health is right from the first call, not a probe later
        self._store_health.start()
        await self._start_background()
        log.info("listening on %s", self.target)

    async def _load_quota_file(self) -> None:
        opts = self.options
        assert opts.config_path is not None
        # Checked with the file in every worker (so all agree on it), sent by one.
        webhooks = FileWebhooks(opts.config_path, run=not opts.config_prices_only)
        self._webhooks = webhooks
        self._watcher = QuotaFileWatcher(
            opts.config_path,
            self.service,
            interval=opts.config_interval,
            on_result=self.metrics.config_result,
            prices_only=opts.config_prices_only,
            on_document=self._document_parsed,
            check_document=webhooks.check,
        )
        await self._watcher.load_initial()  # a bad file stops the start here
        if self._aborting:  # a signal arrived while the file was being applied
            raise asyncio.CancelledError

    async def _start_background(self) -> None:
        """The tasks and endpoints that run beside the gRPC server, once it takes calls."""
        opts = self.options
        assert self.store is not None
        if self._watcher is not None:
            self._watcher.start()
        if self._webhooks is not None:  # started after the first apply; reloads follow
            await self._webhooks.start(self.store, self.metrics.alert_delivered("webhook"))
        # Every replica sweeps: the sweep claims each due override atomically, so exactly one
        # replica announces its expiry.
        self._sweeper = OverrideExpirySweeper(self.store, opts.clock, interval=1.0).start()
        if opts.metrics_listen:
            metrics_host, metrics_port = parse_listen(opts.metrics_listen, "metrics_listen")
            self._metrics_server = MetricsServer(self.metrics, metrics_host, metrics_port)
        if opts.http_listen:
            assert self._alerts is not None
            # One alert reader per process: the dashboard shares StreamAlerts' hub.
            self._dashboard = await start_dashboard(opts, self.service, self._alerts.hub)

    def _document_parsed(self, document: QuotaDocument) -> None:
        """Every version of the quota file that parses: the Envoy mapping and the webhooks
        follow it."""
        if self._envoy is not None:
            self._envoy.configure(document)
        if self._webhooks is not None:
            self._webhooks.follow(document)

    def _make_alert_streamer(self, store: Store) -> AlertStreamer:
        return AlertStreamer(
            store,
            heartbeat_interval=self.options.alert_heartbeat,
            clock=self.options.clock,
            on_delivery=self.metrics.alert_delivered("stream"),
        )

    def _make_server(self) -> aio.Server:
        opts = self.options
        self._interceptor = SidecarInterceptor(
            AuthPolicy(opts.admin_token, opts.data_token),
            self.metrics,
            max_in_flight=opts.max_concurrent_rpcs,
        )
        # No gRPC interceptors: the wrapper steps in at registration (server/interceptors.py).
        server = aio.server(
            options=[
                ("grpc.max_receive_message_length", opts.max_message_bytes),
                ("grpc.max_send_message_length", opts.max_message_bytes),
                # The soft limit alone refuses only some calls between it and the (larger)
                # default hard limit; with both equal, metadata over the limit is always
                # RESOURCE_EXHAUSTED, at the transport, the status gRPC gives every size limit.
                ("grpc.max_metadata_size", opts.max_metadata_bytes),
                ("grpc.absolute_max_metadata_size", opts.max_metadata_bytes),
                # gRPC core cancels calls that wait unrequested past its pending backlog (1000
                # soft, 3000 hard by default): a burst then gets CANCELLED, health checks and
                # admin calls included. The interceptor sheds instead, with RESOURCE_EXHAUSTED
                # and only on the data plane; this backlog is just the memory bound behind it.
                ("grpc.server.max_pending_requests", _PENDING_BACKLOG),
                ("grpc.server.max_pending_requests_hard_limit", _PENDING_BACKLOG),
                # gRPC enables SO_REUSEPORT by default; a sidecar must fail loudly when its port
                # is taken, so it is on only when several workers share the port on purpose.
                ("grpc.so_reuseport", 1 if opts.reuse_port else 0),
            ],
            # Not maximum_concurrent_rpcs: it counts health, admin and open streams alike.
        )
        wrap = self._interceptor.register
        wrap(
            quota_pb2_grpc.add_QuotaServiceServicer_to_server,
            QuotaServicer(
                self.service,
                self.metrics,
                self._alerts,
                default_lease_seconds=opts.hold_lease.total_seconds(),
            ),
            server,
        )
        wrap(
            admin_pb2_grpc.add_QuotaAdminServiceServicer_to_server,
            AdminServicer(self.service),
            server,
        )
        assert self._envoy is not None
        wrap(rls_pb2_grpc.add_RateLimitServiceServicer_to_server, self._envoy, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (
                QUOTA_SERVICE,
                ADMIN_SERVICE,
                ENVOY_SERVICE,
                health.SERVICE_NAME,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        return server

    async def check_store(self) -> bool:
        """Probe the store once; the store's state, and so health, follow the answer."""
        assert self._store_health is not None
        return await self._store_health.check()

    # --- stop ------------------------------------------------------------------------------
    def abort_start(self) -> None:
        """A signal during start: make a start in progress give up at its next step."""
        self._aborting = True
        if self._watcher is not None:
            self._watcher.request_close()

    async def stop(self, grace: float | None = None) -> None:
        """Drain and close everything (safe to call twice)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        grace = self.options.grace if grace is None else grace
        deadline = asyncio.get_running_loop().time() + grace
        await self.health.enter_graceful_shutdown()
        if self._watcher is not None:
            self._watcher.request_close()  # an apply in progress stops between two quotas
        if self._alerts is not None:
            await self._alerts.close()
        if self._dashboard is not None:
            await self._dashboard.close()
        log.debug("alert streams and the dashboard closed")
        if self._server is not None:
            await self._drain(deadline)
            remaining = max(0.0, deadline - asyncio.get_running_loop().time())
            await self._server.stop(remaining)
        log.debug("grpc server stopped")
        if self._store_health is not None:
            await self._store_health.close()  # bounded: at most one more probe
        log.debug("health probe stopped")
        if self._watcher is not None:
            await self._watcher.close()
        if self._webhooks is not None:
            await self._webhooks.close()
        if self._sweeper is not None:
            await self._sweeper.close()
        if self._metrics_server is not None:
            self._metrics_server.close()
        log.debug("watcher, webhooks and metrics closed")
        if self._service is not None:
            with contextlib.suppress(Exception):
                await self._service.close()
        log.debug("engine closed")
        if self.store is not None:
            await self.store.close()
        if self._tracing is not None:
            # Last, so the spans of the drained calls are sent too; the exporter bounds it.
            await asyncio.to_thread(self._tracing.shutdown)
        log.info("stopped")

    async def _drain(self, deadline: float) -> None:
        """Serve the calls already sent until none has arrived for _DRAIN_QUIET (or the grace
        period is over). Calls still queued inside gRPC core when it stops get CANCELLED."""
        interceptor = self._interceptor
        if interceptor is None:
            return
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            quiet_for = time.perf_counter() - interceptor.last_arrival
            if quiet_for >= _DRAIN_QUIET:
                return
            await asyncio.sleep(min(_DRAIN_QUIET - quiet_for, max(0.0, deadline - loop.time())))
        log.warning("calls were still arriving when the grace period ended")

    async def wait_stopped(self) -> None:
        await self._stopped.wait()


async def serve(options: ServerOptions, *, announce: bool = True) -> int:
    """Run a sidecar until SIGTERM or SIGINT; returns the process exit code (0 on a clean stop)."""
    sidecar = Sidecar(options)
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_requested.set)
    starting = asyncio.create_task(sidecar.start(), name="sidecar-start")
    signalled = asyncio.create_task(stop_requested.wait(), name="stop-requested")
    await asyncio.wait({starting, signalled}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        log.info("signal received during start: stopping")
        sidecar.abort_start()
        starting.cancel()
        # Bounded: the watcher gives up between two quotas even if a cancel is absorbed.
        await asyncio.wait({starting}, timeout=options.grace)
        await sidecar.stop(grace=0)
        return 0
    signalled.cancel()
    try:
        starting.result()
    except BaseException:
        await sidecar.stop(grace=0)
        raise
    if announce:
        # Tests and scripts read the bound port from this line (the listen port may be 0).
        print(f"listening on {sidecar.target}", flush=True)
        announce_dashboard(opts=options, url=sidecar.dashboard_url)
    await stop_requested.wait()
    log.info("signal received: draining for up to %.1fs", options.grace)
    await sidecar.stop()
    return 0
