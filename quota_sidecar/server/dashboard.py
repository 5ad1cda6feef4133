"""The dashboard beside the gRPC server: started when --http-listen is given, announced on
stdout with the URL to open (and the admin token, when it was made up for this run)."""

from __future__ import annotations

from quota_sidecar.alerting.hub import AlertHub
from quota_sidecar.dashboard import DashboardServer, SessionBook, build_app
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.errors import ConfigError
from quota_sidecar.server.options import ServerOptions, parse_listen

__all__ = ["announce_dashboard", "check_dashboard_options", "start_dashboard"]


def check_dashboard_options(opts: ServerOptions) -> None:
    """Refuse a bad dashboard setting before anything starts (ConfigError naming the flag)."""
    if not opts.http_listen:
        return
    parse_listen(opts.http_listen, "http_listen", default_host="127.0.0.1")
    if not (opts.admin_token or opts.dashboard_token):
        # A dashboard nobody can log in to is a mistake to report, not a page to serve.
        raise ConfigError(
            "http_listen",
            "the dashboard needs a token to log in with: --admin-token-file or "
            "--dashboard-token-file (or QUOTA_SIDECAR_ADMIN_TOKEN / QUOTA_SIDECAR_DASHBOARD_TOKEN)",
        )


async def start_dashboard(
    opts: ServerOptions, service: QuotaService, hub: AlertHub
) -> DashboardServer:
    assert opts.http_listen is not None
    # A bare port means 127.0.0.1: like the gRPC port, any other address must be asked for.
    host, port = parse_listen(opts.http_listen, "http_listen", default_host="127.0.0.1")
    app = build_app(
        service,
        hub,
        SessionBook(opts.admin_token, opts.dashboard_token),
        heartbeat_interval=opts.alert_heartbeat,
    )
    try:
        return await DashboardServer(app, host, port).start()
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
