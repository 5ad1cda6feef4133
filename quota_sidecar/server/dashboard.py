"""The dashboard beside the gRPC server: started when --http-listen is given, announced on
stdout with the URL to open (and the admin token, when it was made up for this run).

It is served over the gRPC port's TLS (--tls-cert/--tls-key, and client certificates when
--tls-client-ca asks for them) when that is configured. Without TLS it listens on a loopback
address only, unless --http-allow-insecure says a TLS proxy in front takes care of it: a token
typed into a plain-HTTP form on a network would travel in the clear.
"""

from __future__ import annotations

import ssl

from quota_sidecar.alerting.hub import AlertHub
from quota_sidecar.dashboard import DashboardServer, SessionBook, build_app
from quota_sidecar.dashboard.hosts import HostAllowList, is_loopback_host
from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.server.options import ServerOptions, parse_listen

__all__ = ["announce_dashboard", "check_dashboard_options", "start_dashboard"]


def _dashboard_address(opts: ServerOptions) -> tuple[str, int]:
    assert opts.http_listen is not None
    # A bare port means 127.0.0.1: like the gRPC port, any other address must be asked for.
    return parse_listen(opts.http_listen, "http_listen", default_host="127.0.0.1")


def check_dashboard_options(opts: ServerOptions) -> None:
    """Refuse a bad dashboard setting before anything starts (ConfigError naming the flag)."""
    if not opts.http_listen:
        return
    host, port = _dashboard_address(opts)
    if not (opts.admin_token or opts.dashboard_token):
        # A dashboard nobody can log in to is a mistake to report, not a page to serve.
        raise ConfigError(
            "http_listen",
            "the dashboard needs a token to log in with: --admin-token-file or "
            "--dashboard-token-file (or QUOTA_SIDECAR_ADMIN_TOKEN / QUOTA_SIDECAR_DASHBOARD_TOKEN)",
        )
    HostAllowList.build(host, port, opts.dashboard_hosts)  # a bad --dashboard-host fails here
    tls = opts.tls_cert is not None or opts.tls_key is not None
    if not tls and not is_loopback_host(host) and not opts.http_allow_insecure:
        raise ConfigError(
            "http_listen",
            f"{opts.http_listen} is not a loopback address and the dashboard has no TLS: "
            "tokens and session cookies would cross the network in the clear. Give "
            "--tls-cert and --tls-key, listen on 127.0.0.1, or, when a TLS proxy in front "
            "terminates HTTPS, say so with --http-allow-insecure "
            "(QUOTA_SIDECAR_HTTP_ALLOW_INSECURE=true)",
        )


def dashboard_tls(opts: ServerOptions) -> ssl.SSLContext | None:
    """The gRPC port's TLS for the dashboard (None without --tls-cert)."""
    if opts.tls_cert is None and opts.tls_key is None:
        return None
    if opts.tls_cert is None or opts.tls_key is None:
        raise ConfigError("tls_cert", "TLS needs both --tls-cert and --tls-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(opts.tls_cert, opts.tls_key)
        if opts.tls_client_ca is not None:  # mTLS on the gRPC port: on the dashboard too
            context.load_verify_locations(cafile=str(opts.tls_client_ca))
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tls_cert", f"the dashboard cannot load the TLS files: {exc}") from None
    return context


async def start_dashboard(
    opts: ServerOptions, service: QuotaService, hub: AlertHub
) -> DashboardServer:
    host, port = _dashboard_address(opts)
    app = build_app(
        service,
        hub,
        SessionBook(opts.admin_token, opts.dashboard_token),
        heartbeat_interval=opts.alert_heartbeat,
    )
    server = DashboardServer(
        app, host, port, ssl_context=dashboard_tls(opts), host_names=opts.dashboard_hosts
    )
    try:
        return await server.start()
    except OSError as exc:
        raise ConfigError("http_listen", f"cannot listen on {opts.http_listen}: {exc}") from None


def announce_dashboard(*, opts: ServerOptions, url: str | None) -> None:
    """Print the URL to open and, when it was made up for this run, the admin token to log in
    with. The token is printed, never put in the URL: the page takes it in its login form."""
    if url:
        print(f"dashboard on {url}", flush=True)
    if opts.admin_token_generated and opts.admin_token:
        print(
            "admin token for this run (the dashboard's login; admin calls send it as "
            f"'authorization: Bearer <token>'):\n    {opts.admin_token}",
            flush=True,
        )
