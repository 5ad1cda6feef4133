"""The remote client: QuotaClient (asyncio) and SyncQuotaClient over gRPC, the quota guard and
checker, and the transport (channels, retries, status -> error). Imports only `wire` and the
domain, never the engine, the store or the server, so a client pulls in none of them.
"""

from __future__ import annotations

from quota_sidecar.client.guard import QuotaApi, QuotaChecker, QuotaGuard, make_quota_checker
from quota_sidecar.client.quota_client import QuotaClient
from quota_sidecar.client.streams import GuardedStream, StreamSpec, StreamStopped
from quota_sidecar.client.sync import SyncQuotaClient, SyncQuotaGuard
from quota_sidecar.client.transport import (
    RetryPolicy,
    SidecarError,
    SidecarTimeout,
    SidecarUnavailable,
    TlsOptions,
)

__all__ = [
    "GuardedStream",
    "QuotaApi",
    "QuotaChecker",
    "QuotaClient",
    "QuotaGuard",
    "RetryPolicy",
    "SidecarError",
    "SidecarTimeout",
    "SidecarUnavailable",
    "StreamSpec",
    "StreamStopped",
    "SyncQuotaClient",
    "SyncQuotaGuard",
    "TlsOptions",
    "make_quota_checker",
]
