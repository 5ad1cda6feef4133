"""Bearer-token authentication of the two gRPC services.

* Admin RPCs (QuotaAdminService) always need the admin token. With none configured the admin
  API is closed (PERMISSION_DENIED), never open: a sidecar must not be administrable by default.
* Data-plane RPCs (QuotaService, Envoy's RateLimitService) need the data token only when one
  is configured.
* Health and reflection stay open, so probes and grpcurl work without credentials.

A missing token answers UNAUTHENTICATED, a wrong one PERMISSION_DENIED. Tokens are compared with
hmac.compare_digest, so the comparison takes the same time wherever the first difference is.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from quota_sidecar.domain.errors import ConfigError

__all__ = [
    "ADMIN_SERVICE_PREFIX",
    "DATA_PLANE_PREFIXES",
    "DATA_SERVICE_PREFIX",
    "ENVOY_SERVICE_PREFIX",
    "AuthPolicy",
    "Denial",
    "load_token",
    "token_from_env",
]

ADMIN_SERVICE_PREFIX = "/quota_sidecar.v1.QuotaAdminService/"
DATA_SERVICE_PREFIX = "/quota_sidecar.v1.QuotaService/"
# Envoy's rate limit service is data plane too (Envoy sends the token with the grpc_service's
# initial_metadata).
ENVOY_SERVICE_PREFIX = "/envoy.service.ratelimit.v3.RateLimitService/"
DATA_PLANE_PREFIXES = (DATA_SERVICE_PREFIX, ENVOY_SERVICE_PREFIX)
_BEARER = "bearer "


def load_token(value: str | None, file: Path | str | None, what: str) -> str | None:
    """A token given directly, else read from a file (first line, stripped), else None."""
    if value:
        return value.strip()
    if file:
        path = Path(file)
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(what, f"cannot read token file {path}: {exc.strerror}") from None
        if not token:
            raise ConfigError(what, f"token file {path} is empty")
        return token
    return None


def token_from_env(name: str) -> str | None:
    """QUOTA_SIDECAR_<NAME> or the file named by QUOTA_SIDECAR_<NAME>_FILE."""
    return load_token(
        os.environ.get(f"QUOTA_SIDECAR_{name}"),
        os.environ.get(f"QUOTA_SIDECAR_{name}_FILE"),
        name.lower(),
    )


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a call is refused before it reaches a servicer."""

    code: grpc.StatusCode
    message: str


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """Which token each service needs."""

    admin_token: str | None = None
    data_token: str | None = None

    def check(
        self, method: str, metadata: Sequence[tuple[str, str | bytes]] | None
    ) -> Denial | None:
        """None when the call may proceed; otherwise the status to answer with."""
        if method.startswith(ADMIN_SERVICE_PREFIX):
            if self.admin_token is None:
                return Denial(
                    grpc.StatusCode.PERMISSION_DENIED,
                    "the admin API is disabled: start the server with --admin-token-file "
                    "or QUOTA_SIDECAR_ADMIN_TOKEN",
                )
            return _match(self.admin_token, metadata, "admin")
        if method.startswith(DATA_PLANE_PREFIXES) and self.data_token is not None:
            return _match(self.data_token, metadata, "data-plane")
        return None


def _presented(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode(errors="replace") if isinstance(value, bytes) else value
            if text[: len(_BEARER)].lower() == _BEARER:
                return text[len(_BEARER) :].strip()
            return ""  # present but not a bearer token: treated as a wrong token
    return None


def _match(
    expected: str, metadata: Sequence[tuple[str, str | bytes]] | None, what: str
) -> Denial | None:
    presented = _presented(metadata)
    if presented is None:
        return Denial(
            grpc.StatusCode.UNAUTHENTICATED,
            f"missing {what} token: send the metadata 'authorization: Bearer <token>'",
        )
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        return Denial(grpc.StatusCode.PERMISSION_DENIED, f"wrong {what} token")
    return None
