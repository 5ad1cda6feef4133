"""What a sidecar is told: ServerOptions (the CLI fills it from flags and environment
variables; tests build it directly) and the HOST:PORT parser its addresses go through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from quota_sidecar.domain.clock import Clock
from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.domain.history import DEFAULT_HISTORY_DAYS, DEFAULT_HISTORY_MONTHS
from quota_sidecar.store.redis import DEFAULT_TIMEOUT

__all__ = ["ServerOptions", "parse_listen"]


@dataclass
class ServerOptions:
    """Everything `serve` can be told; the CLI fills it from flags and environment variables."""

    listen: str = "127.0.0.1:50051"
    redis_url: str | None = None
    config_path: Path | None = None
    # Read only the file's prices: and unpriced: (another worker applies its quotas, webhooks).
    config_prices_only: bool = False
    data_dir: Path = Path("data")
    metrics_listen: str | None = None
    admin_token: str | None = None
    data_token: str | None = None
    # The dashboard: off unless http_listen is set; opened by the admin token or this one.
    http_listen: str | None = None
    dashboard_token: str | None = None
    # More Host names the dashboard answers to (NAME or NAME:PORT; dashboard/hosts.py).
    dashboard_hosts: tuple[str, ...] = ()
    # Serve the dashboard over plain HTTP on a non-loopback address (a TLS proxy in front).
    http_allow_insecure: bool = False
    # Set when the admin token was made up for this run (`--generate-admin-token`, used by
    # `make run`): the server prints it once it serves, as Jupyter prints its token.
    admin_token_generated: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    store_timeout: float = DEFAULT_TIMEOUT
    hold_lease: timedelta = timedelta(minutes=5)
    # Usage history: whole days kept before today, and quota months kept (this one included).
    history_days: int = DEFAULT_HISTORY_DAYS
    history_months: int = DEFAULT_HISTORY_MONTHS
    grace: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    max_metadata_bytes: int = 16 * 1024
    max_concurrent_rpcs: int | None = 1000
    reuse_port: bool = False
    health_interval: float = 1.0
    config_interval: float = 1.0
    alert_heartbeat: float = 15.0
    # OTLP/gRPC collector for traces (None: tracing off, no cost); see server/tracing.py.
    otlp_endpoint: str | None = None
    # Subject identifiers on spans: off by default, they may be personal data.
    trace_identifiers: bool = False
    clock: Clock | None = field(default=None, repr=False)


def parse_listen(
    address: str, what: str = "listen", *, default_host: str | None = None
) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [::1]:PORT) to (host, port); a bare PORT when default_host is given."""
    if default_host is not None and address.isdigit():
        address = f"{default_host}:{address}"
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(what, f"expected HOST:PORT, got {address!r}")
    return host, int(port)
