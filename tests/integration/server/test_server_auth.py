"""The auth matrix: admin token required (missing → UNAUTHENTICATED, wrong → PERMISSION_DENIED),
the optional data-plane token, health and reflection always open, and TLS/mTLS."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quota_sidecar.domain.models import Subject
from quota_sidecar.v1 import admin_pb2, admin_pb2_grpc, quota_pb2, quota_pb2_grpc, types_pb2
from tests.support.certs import make_test_certs
from tests.support.sidecar import ADMIN_TOKEN, running_sidecar

ALICE = types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier="alice")
DATA_TOKEN = "data-token-123"


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


ADMIN_CASES = [
    (None, grpc.StatusCode.UNAUTHENTICATED),
    (bearer("wrong"), grpc.StatusCode.PERMISSION_DENIED),
    (bearer(ADMIN_TOKEN + "x"), grpc.StatusCode.PERMISSION_DENIED),
    ((("authorization", ADMIN_TOKEN),), grpc.StatusCode.PERMISSION_DENIED),  # not "Bearer …"
    (bearer(DATA_TOKEN), grpc.StatusCode.PERMISSION_DENIED),  # the data token is not admin
    (bearer(ADMIN_TOKEN), grpc.StatusCode.OK),
]


@pytest.mark.parametrize(("metadata", "expected"), ADMIN_CASES)
async def test_admin_calls_need_the_admin_token(
    redis_url: str, metadata: tuple[tuple[str, str], ...] | None, expected: grpc.StatusCode
) -> None:
    async with (
        running_sidecar(redis_url, data_token=DATA_TOKEN) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        request = admin_pb2.PutQuotaRequest(config=types_pb2.QuotaConfig(subject=ALICE), actor="t")
        try:
            await admin.PutQuota(request, metadata=metadata)
            code = grpc.StatusCode.OK
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
        assert code == expected
        # A refused call changed nothing.
        stored = await s.service.get_quota(Subject.parse("user:alice"))
        assert (stored is not None) == (expected == grpc.StatusCode.OK)


async def test_without_an_admin_token_the_admin_api_is_closed(redis_url: str) -> None:
    async with (
        running_sidecar(redis_url, admin_token=None) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        admin = admin_pb2_grpc.QuotaAdminServiceStub(channel)
        for metadata in (None, bearer(""), bearer("anything")):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await admin.ListQuotas(admin_pb2.ListQuotasRequest(), metadata=metadata)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "disabled" in (caught.value.details() or "")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED),
        (bearer("nope"), grpc.StatusCode.PERMISSION_DENIED),
        (bearer(DATA_TOKEN), grpc.StatusCode.OK),
    ],
)
async def test_the_optional_data_token_guards_quota_service(
    redis_url: str, metadata: tuple[tuple[str, str], ...] | None, expected: grpc.StatusCode
) -> None:
    async with (
        running_sidecar(redis_url, data_token=DATA_TOKEN) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        try:
            await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]), metadata=metadata)
            code = grpc.StatusCode.OK
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
        assert code == expected
        # Health stays open even when every service needs a token.
        health = health_pb2_grpc.HealthStub(channel)
        reply = await health.Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_without_a_data_token_quota_service_is_open(redis_url: str) -> None:
    async with (
        running_sidecar(redis_url) as s,
        grpc.aio.insecure_channel(s.target) as channel,
    ):
        quota = quota_pb2_grpc.QuotaServiceStub(channel)
        reply = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]))
        assert reply.allowed


async def test_mutual_tls(redis_url: str, tmp_path: Path) -> None:
    make_test_certs(tmp_path)
    async with running_sidecar(
        redis_url,
        tls_cert=tmp_path / "server.pem",
        tls_key=tmp_path / "server.key",
        tls_client_ca=tmp_path / "ca.pem",
    ) as s:
        ca = (tmp_path / "ca.pem").read_bytes()
        with_client_cert = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=(tmp_path / "client.key").read_bytes(),
            certificate_chain=(tmp_path / "client.pem").read_bytes(),
        )
        async with grpc.aio.secure_channel(s.target, with_client_cert) as channel:
            quota = quota_pb2_grpc.QuotaServiceStub(channel)
            reply = await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]))
            assert reply.allowed
        without_client_cert = grpc.ssl_channel_credentials(root_certificates=ca)
        async with grpc.aio.secure_channel(s.target, without_client_cert) as channel:
            quota = quota_pb2_grpc.QuotaServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        async with grpc.aio.insecure_channel(s.target) as channel:  # plaintext is refused
            quota = quota_pb2_grpc.QuotaServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError):
                await quota.CheckQuota(quota_pb2.CheckQuotaRequest(subjects=[ALICE]), timeout=5)
