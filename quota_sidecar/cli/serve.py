"""`quota-sidecar serve`: the sidecar in this process, or N worker processes on one port.

Every `serve` flag also reads an environment variable, QUOTA_SIDECAR_<FLAG> (for example
--redis-url ← QUOTA_SIDECAR_REDIS_URL); a flag given on the command line wins.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import secrets
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from quota_sidecar.domain.errors import ConfigError, InvalidInput

__all__ = ["add_serve_command"]

_PRICES_ONLY_ENV = "QUOTA_SIDECAR_CONFIG_PRICES_ONLY"  # internal: workers after the first
_PARENT_ENV = "QUOTA_SIDECAR_WORKER_PARENT"  # internal: the pid of a worker's `--workers` parent
_PR_SET_PDEATHSIG = 1

log = logging.getLogger("quota_sidecar.cli")
ENV_PREFIX = "QUOTA_SIDECAR_"


def _env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def _add(parser: argparse.ArgumentParser, flag: str, help: str, **kwargs: Any) -> None:
    """A flag whose default comes from QUOTA_SIDECAR_<FLAG>, documented in --help."""
    env = _env_name(flag)
    default = os.environ.get(env, kwargs.pop("default", None))
    suffix = f" [env {env}" + ("; default %(default)s]" if default is not None else "]")
    parser.add_argument(flag, default=default, help=help + suffix, **kwargs)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_serve_command(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the sidecar",
        description="Run the quota sidecar: gRPC QuotaService and QuotaAdminService, health and "
        "reflection. Without --redis-url it starts an embedded Redis that keeps its data in "
        "--data-dir. Every flag can also be set by the environment variable shown. The admin "
        "token can also be given directly as QUOTA_SIDECAR_ADMIN_TOKEN, the data-plane token "
        "as QUOTA_SIDECAR_DATA_TOKEN, the dashboard token as QUOTA_SIDECAR_DASHBOARD_TOKEN.",
    )
    _add_store_flags(p)
    _add_access_flags(p)
    _add_limit_flags(p)
    _add_ops_flags(p)
    p.set_defaults(func=_run_serve)


def _add_store_flags(p: argparse.ArgumentParser) -> None:
    """Where to listen, the store and the quota file."""
    _add(p, "--listen", "HOST:PORT to serve gRPC on (port 0 picks a free one)",
         default="127.0.0.1:50051")  # fmt: skip
    _add(p, "--redis-url", "redis://, rediss://, unix://, redis+cluster:// or "
         "redis+sentinel://host:port[,host:port...]/service_name URL of the store "
         "(unset: an embedded Redis under --data-dir)")  # fmt: skip
    _add(p, "--config", "YAML quota file, applied at start and whenever it changes", type=Path)
    _add(p, "--data-dir", "where the embedded Redis keeps its files", type=Path, default="data")
    _add(p, "--metrics-listen", "HOST:PORT for Prometheus /metrics (unset: no endpoint)")


def _add_access_flags(p: argparse.ArgumentParser) -> None:
    """Tokens, the dashboard and TLS."""
    _add(p, "--admin-token-file", "file holding the admin bearer token (without one the admin "
         "API is closed)", type=Path)  # fmt: skip
    _add(p, "--data-token-file", "file holding the bearer token QuotaService calls must send "
         "(unset: no token needed)", type=Path)  # fmt: skip
    _add(p, "--http-listen", "HOST:PORT (or PORT, on 127.0.0.1) to serve the dashboard on "
         "(unset: no dashboard); log in with the admin or the dashboard token")  # fmt: skip
    _add(p, "--dashboard-token-file", "file holding a read-only token that opens the dashboard "
         "(the admin token opens it too)", type=Path)  # fmt: skip
    host_env = _env_name("--dashboard-host")
    p.add_argument(
        "--dashboard-host",
        action="append",
        metavar="NAME[:PORT]",
        help="another Host name the dashboard answers to (it answers to its listen address, "
        "and to localhost for a loopback listen; any other Host is refused against DNS "
        "rebinding); repeatable; NAME alone allows any port; the variable takes a "
        f"comma-separated list [env {host_env}]",
    )
    _add(p, "--http-allow-insecure", "serve the dashboard over plain HTTP on a non-loopback "
         "--http-listen (only behind a TLS proxy); without it that start is refused; takes "
         "an optional true/false", type=_boolean, nargs="?", const="true",
         default="false")  # fmt: skip
    generate_env = _env_name("--generate-admin-token")
    p.add_argument(
        "--generate-admin-token",
        action="store_true",
        default=os.environ.get(generate_env, "").lower() in ("1", "true", "yes"),
        help="make up a random admin token for this run and print it once serving (to try "
        f"things out: `make run` uses it); not with an admin token given [env {generate_env}=1]",
    )
    _add(p, "--tls-cert", "server certificate (PEM); enables TLS", type=Path)
    _add(p, "--tls-key", "server private key (PEM)", type=Path)
    _add(p, "--tls-client-ca", "CA (PEM) that client certificates must chain to; enables mTLS",
         type=Path)  # fmt: skip


def _add_limit_flags(p: argparse.ArgumentParser) -> None:
    """Timeouts, leases, history retention and message and call limits."""
    _add(p, "--store-timeout-ms", "how long one probe of Redis waits for its answer; four "
         "unanswered in a row make the store unreachable (noticed within about 5x this)",
         type=_positive_int, default="250")  # fmt: skip
    _add(p, "--hold-lease-seconds", "how long an unsettled reservation lives by default",
         type=_positive_int, default="300")  # fmt: skip
    _add(p, "--history-days", "how many whole days of usage history are kept before today "
         "(GetUsageHistory, `usage --history`)", type=_positive_int, default="90")  # fmt: skip
    _add(p, "--history-months", "how many quota months of monthly totals are kept, this one "
         "included", type=_positive_int, default="13")  # fmt: skip
    _add(p, "--grace-seconds", "on SIGTERM, how long in-flight calls may take to finish",
         type=float, default="10")  # fmt: skip
    _add(p, "--max-message-bytes", "largest request or response message", type=_positive_int,
         default=str(4 * 1024 * 1024))  # fmt: skip
    _add(p, "--max-metadata-bytes", "largest request metadata (headers); larger is always "
         "refused with RESOURCE_EXHAUSTED", type=_positive_int,
         default=str(16 * 1024))  # fmt: skip
    _add(p, "--max-concurrent-rpcs", "QuotaService calls served at once; more get "
         "RESOURCE_EXHAUSTED (retryable). Admin, health and alert streams are not counted",
         type=_positive_int, default="1000")  # fmt: skip


def _add_ops_flags(p: argparse.ArgumentParser) -> None:
    """Logging, tracing and worker processes."""
    _add(p, "--log-format", "text or json", choices=["text", "json"], default="text")
    _add(p, "--log-level", "DEBUG, INFO, WARNING or ERROR", default="INFO",
         type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"])  # fmt: skip
    _add(p, "--otlp-endpoint", "OTLP/gRPC collector to export traces to, for example "
         "http://127.0.0.1:4317 (unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or "
         "OTEL_EXPORTER_OTLP_ENDPOINT, else tracing is off)")  # fmt: skip
    _add(p, "--trace-identifiers", "put subject identifiers on spans too (they may be "
         "personal data; the scopes are always there); takes an optional true/false",
         type=_boolean, nargs="?", const="true", default="false")  # fmt: skip
    _add(p, "--workers", "server processes sharing the port (SO_REUSEPORT) and one Redis",
         type=_positive_int, default="1")  # fmt: skip
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)


def _admin_token(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The admin token, and whether it was made up for this run (--generate-admin-token)."""
    from quota_sidecar.server.auth import load_token

    given = load_token(
        os.environ.get("QUOTA_SIDECAR_ADMIN_TOKEN"), args.admin_token_file, "admin_token_file"
    )
    if not args.generate_admin_token:
        return given, False
    if given:
        raise ConfigError(
            "generate_admin_token", "an admin token is already configured: use that one"
        )
    return secrets.token_urlsafe(32), True


def _dashboard_hosts(args: argparse.Namespace) -> tuple[str, ...]:
    """--dashboard-host as given, else QUOTA_SIDECAR_DASHBOARD_HOST split at commas."""
    given = args.dashboard_host or os.environ.get(_env_name("--dashboard-host"), "").split(",")
    return tuple(name.strip() for name in given if name.strip())


def _options_from_args(args: argparse.Namespace) -> Any:
    from quota_sidecar.server.auth import load_token
    from quota_sidecar.server.options import ServerOptions
    from quota_sidecar.server.tracing import otlp_endpoint_from_env

    admin_token, generated = _admin_token(args)
    return ServerOptions(
        listen=args.listen,
        redis_url=args.redis_url or None,
        config_path=args.config,
        data_dir=args.data_dir,
        metrics_listen=args.metrics_listen or None,
        admin_token=admin_token,
        admin_token_generated=generated,
        http_listen=args.http_listen or None,
        dashboard_hosts=_dashboard_hosts(args),
        http_allow_insecure=args.http_allow_insecure,
        dashboard_token=load_token(
            os.environ.get("QUOTA_SIDECAR_DASHBOARD_TOKEN"),
            args.dashboard_token_file,
            "dashboard_token_file",
        ),
        data_token=load_token(
            os.environ.get("QUOTA_SIDECAR_DATA_TOKEN"), args.data_token_file, "data_token_file"
        ),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        store_timeout=args.store_timeout_ms / 1000,
        hold_lease=timedelta(seconds=args.hold_lease_seconds),
        history_days=args.history_days,
        history_months=args.history_months,
        grace=args.grace_seconds,
        max_message_bytes=args.max_message_bytes,
        max_metadata_bytes=args.max_metadata_bytes,
        max_concurrent_rpcs=args.max_concurrent_rpcs,
        reuse_port=args.reuse_port,
        otlp_endpoint=args.otlp_endpoint or otlp_endpoint_from_env(),
        trace_identifiers=args.trace_identifiers,
        # Set by _run_workers for workers after the first: they read only the file's prices.
        config_prices_only=os.environ.get(_PRICES_ONLY_ENV) == "1",
    )


def _run_serve(args: argparse.Namespace) -> int:
    from quota_sidecar.server.logs import configure_logging

    configure_logging(args.log_format, args.log_level)
    # `kill -USR1 <pid>` prints every thread's stack to stderr: how to see where a server hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    _end_with_parent()
    try:
        options = _options_from_args(args)
        if args.workers > 1:
            return _run_workers(args, options)
        return _run_loop(options)
    except InvalidInput as exc:  # ConfigError included: a bad flag, token file or quota file
        print(f"quota-sidecar: {exc}", file=sys.stderr)
        return 2


def _end_with_parent() -> None:
    """A worker of `--workers` asks the kernel for SIGTERM (a graceful stop) when its parent
    dies: a parent killed with SIGKILL forwards nothing, and its workers must not outlive it."""
    parent = os.environ.pop(_PARENT_ENV, "")
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(parent):  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _run_loop(options: Any) -> int:
    from quota_sidecar.server.app import serve

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional on some platforms
        return asyncio.run(serve(options))
    return int(uvloop.run(serve(options)))


def _worker_argv(args: argparse.Namespace, options: Any, redis_url: str, k: int) -> list[str]:
    """The command line of worker `k` (see _run_workers)."""
    from quota_sidecar.server.options import parse_listen

    argv = [sys.executable, "-m", "quota_sidecar", "serve", "--workers", "1", "--reuse-port",
            "--listen", options.listen, "--redis-url", redis_url,
            "--data-dir", str(options.data_dir),
            "--store-timeout-ms", str(args.store_timeout_ms),
            "--hold-lease-seconds", str(args.hold_lease_seconds),
            "--history-days", str(args.history_days),
            "--history-months", str(args.history_months),
            "--grace-seconds", str(args.grace_seconds),
            "--max-message-bytes", str(args.max_message_bytes),
            "--max-metadata-bytes", str(args.max_metadata_bytes),
            "--max-concurrent-rpcs", str(args.max_concurrent_rpcs),
            "--log-format", args.log_format, "--log-level", args.log_level,
            "--trace-identifiers", str(args.trace_identifiers).lower()]  # fmt: skip
    if options.otlp_endpoint:
        argv += ["--otlp-endpoint", options.otlp_endpoint]
    for flag, value in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key),
                        ("--tls-client-ca", args.tls_client_ca)):  # fmt: skip
        if value:
            argv += [flag, str(value)]
    if args.config:
        # Worker 0 applies the quotas (one writer) and runs the webhooks; every worker
        # needs the prices, which live in each process's price book.
        argv += ["--config", str(args.config)]
    if args.http_listen and k == 0:
        argv += ["--http-listen", args.http_listen]  # one dashboard: its sessions live there
        argv += ["--http-allow-insecure", str(options.http_allow_insecure).lower()]
        for name in options.dashboard_hosts:
            argv += ["--dashboard-host", name]
    if args.metrics_listen:
        metrics_host, metrics_port = parse_listen(args.metrics_listen, "metrics_listen")
        argv += [
            "--metrics-listen",
            f"{metrics_host}:{metrics_port + k if metrics_port else 0}",
        ]
    return argv


def _run_workers(args: argparse.Namespace, options: Any) -> int:
    """N copies of `serve` on one port (SO_REUSEPORT) and one Redis. With the embedded Redis
    this parent starts it and the workers share it. Only worker 0 watches the quota file (the
    quotas live in Redis, so one writer is enough and webhooks are not sent N times); worker k
    serves metrics on the metrics port + k."""
    from quota_sidecar.server.dashboard import check_dashboard_options
    from quota_sidecar.server.options import parse_listen
    from quota_sidecar.store.embedded import EmbeddedRedis

    check_dashboard_options(options)  # refused here (exit 2), not in worker 0 after a start
    _host, port = parse_listen(options.listen)
    if port == 0:
        raise ConfigError("listen", "--workers needs a fixed port, not 0")
    if options.http_listen and parse_listen(options.http_listen, "http_listen",
                                            default_host="127.0.0.1")[1] == 0:  # fmt: skip
        raise ConfigError("http_listen", "--workers needs a fixed dashboard port, not 0")
    embedded = None
    redis_url = options.redis_url or os.environ.get("QUOTA_SIDECAR_REDIS_URL")
    if not redis_url:
        embedded = EmbeddedRedis(options.data_dir)
        redis_url = embedded.start()
    env = dict(os.environ)
    tokens = (("ADMIN", options.admin_token), ("DATA", options.data_token),
              ("DASHBOARD", options.dashboard_token))  # fmt: skip
    for name, token in tokens:
        if token:  # through the environment, so tokens never show in `ps`
            env[f"QUOTA_SIDECAR_{name}_TOKEN"] = token
    children: list[subprocess.Popen[str]] = []

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    # Before the first worker starts: a signal during the start reaches every started worker.
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for k in range(args.workers):
        argv = _worker_argv(args, options, redis_url, k)
        child_env = {**env, _PRICES_ONLY_ENV: "1" if k else "", _PARENT_ENV: str(os.getpid())}
        children.append(subprocess.Popen(argv, env=child_env, stdout=subprocess.PIPE, text=True))
    # Announce the port only once every worker listens (each prints one line when it does), so
    # a supervisor that signals right after the announcement never catches a worker mid-start.
    ready = [child.stdout.readline() if child.stdout else "" for child in children]
    if all(line.startswith("listening on ") for line in ready):
        print(f"listening on {options.listen}", flush=True)
        _announce_workers_dashboard(options)
    else:
        log.error("a worker failed to start; stopping the others")
        forward(signal.SIGTERM, None)
    codes = [child.wait() for child in children]
    for child in children:
        if child.stdout:
            child.stdout.close()
    if embedded is not None:
        embedded.stop()
    log.info("workers exited with %s", codes)
    return 0 if all(code == 0 for code in codes) else 1


def _announce_workers_dashboard(options: Any) -> None:
    """Worker 0 serves the dashboard; the parent says where (the port is fixed with workers)."""
    from quota_sidecar.server.dashboard import announce_dashboard
    from quota_sidecar.server.options import parse_listen

    url = None
    if options.http_listen:
        host, port = parse_listen(options.http_listen, "http_listen", default_host="127.0.0.1")
        scheme = "https" if options.tls_cert else "http"
        url = f"{scheme}://{host}:{port}/"
    announce_dashboard(opts=options, url=url)
