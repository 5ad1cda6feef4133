"""A quota's `lease` over the admin API (types.proto LeaseMode): PutQuota stores it, GetQuota
reads it back, a quota without it reads back unset (as before the field), and a value the
contract does not define is INVALID_ARGUMENT naming `config.lease`, with nothing written."""

from __future__ import annotations

import grpc
import pytest

from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from tests.support.sidecar import ADMIN_METADATA, running_sidecar


def _tool(identifier: str, lease: int) -> types_pb2.QuotaConfig:
    return types_pb2.QuotaConfig(
        subject=types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier=identifier),
        rate_limits=types_pb2.RateLimits(requests_per_minute=6000),
        lease=lease,  # type: ignore[arg-type]
    )


async def _get(
    admin: admin_pb2_grpc.QuotaAdminServiceStub, identifier: str
) -> types_pb2.QuotaConfig:
    found = await admin.GetQuota(
        admin_pb2.GetQuotaRequest(
            subject=types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier=identifier)
        ),
        metadata=ADMIN_METADATA,
    )
    return found.config


async def test_the_lease_mode_is_stored_read_back_and_refused_when_unknown(
    redis_url: str,
) -> None:
    async with (
        running_sidecar(redis_url) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        for identifier, lease in (("hot", types_pb2.LEASE_MODE_AUTO), ("plain", 0)):
            await admin.PutQuota(
                admin_pb2.PutQuotaRequest(config=_tool(identifier, lease), actor="t"),
                metadata=ADMIN_METADATA,
            )
        assert (await _get(admin, "hot")).lease == types_pb2.LEASE_MODE_AUTO
        assert (await _get(admin, "plain")).lease == types_pb2.LEASE_MODE_UNSPECIFIED
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.PutQuota(
                admin_pb2.PutQuotaRequest(config=_tool("odd", 7), actor="t"),
                metadata=ADMIN_METADATA,
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "config.lease" in str(refused.value.details())
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await _get(admin, "odd")
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
