"""Bind the gRPC server's listening port, plain or TLS (split out of server/app.py)."""

from __future__ import annotations

import grpc
from grpc import aio

from quota_sidecar.domain.errors import ConfigError
from quota_sidecar.server.options import ServerOptions

__all__ = ["bind"]


def bind(server: aio.Server, opts: ServerOptions, host: str, port: int) -> int:
    """Listen on HOST:PORT; the port bound (PORT 0 picks one). ConfigError when none is."""
    address = f"{host}:{port}"
    try:
        bound = _add_port(server, opts, address)
    except RuntimeError as exc:  # grpc raises when nothing could be bound
        raise ConfigError("listen", f"cannot listen on {address}: {exc}") from None
    if not bound:
        raise ConfigError("listen", f"cannot listen on {address} (in use or not local?)")
    return int(bound)


def _add_port(server: aio.Server, opts: ServerOptions, address: str) -> int:
    if opts.tls_cert is None and opts.tls_key is None:
        bound = server.add_insecure_port(address)
    else:
        if opts.tls_cert is None or opts.tls_key is None:
            raise ConfigError("tls_cert", "TLS needs both --tls-cert and --tls-key")
        ca = opts.tls_client_ca.read_bytes() if opts.tls_client_ca else None
        credentials = grpc.ssl_server_credentials(
            [(opts.tls_key.read_bytes(), opts.tls_cert.read_bytes())],
            root_certificates=ca,
            require_client_auth=ca is not None,
        )
        bound = server.add_secure_port(address, credentials)
    return int(bound)
